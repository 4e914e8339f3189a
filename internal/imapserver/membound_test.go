package imapserver_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// Memory per client is bounded (issue 11 item 5): a session whose client
// stops reading is ended once the write timeout passes, and what it held
// is released.

// fillBig delivers n messages of about size bytes each to alice's INBOX.
func (e *env) fillBig(n, size int) {
	e.t.Helper()
	line := strings.Repeat("x", 76) + "\r\n"
	body := strings.Repeat(line, size/len(line))
	for i := 0; i < n; i++ {
		e.deliver(simpleMsg("big", body), delivery{})
	}
}

// waitSessions waits until the server holds at most n sessions, failing
// the test if it still holds more after wait.
func (e *env) waitSessions(n int, why string) {
	e.t.Helper()
	end := time.Now().Add(wait)
	for e.srv.SessionCount() > n {
		if time.Now().After(end) {
			e.t.Fatalf("%s: server still holds %d sessions after %v, want %d", why, e.srv.SessionCount(), wait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Clients that send FETCH 1:* BODY[] and never read are disconnected once
// the write timeout passes, and their sessions end; a client that reads
// gets the whole answer meanwhile.
func TestStalledReadersDisconnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.WriteTimeout = 300 * time.Millisecond })
	// 16 MiB: more than the socket buffers of both ends hold.
	e.fillBig(16, 1<<20)
	var stalled []*client
	for i := 0; i < 3; i++ {
		c := e.login(alice)
		c.ok("EXAMINE INBOX")
		c.send("s1 FETCH 1:* BODY[]\r\n")
		stalled = append(stalled, c)
	}
	reader := e.login(alice)
	reader.ok("EXAMINE INBOX")
	r := reader.ok("FETCH 1:* BODY[]")
	eq(t, "FETCH responses to the reading client", len(r.prefixed("* ")), 16)
	e.waitSessions(1, "stalled readers")
	for i, c := range stalled {
		if !c.closed() {
			t.Fatalf("stalled client %d: connection still open", i)
		}
	}
	reader.ok("NOOP")
}

// A FETCH over more messages than it loads at a time answers each once,
// in order, with \Seen set on all of them.
func TestFetchInBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const n = 300 // more than one batch
	for i := 0; i < n; i++ {
		e.deliver(simpleMsg("m", "body"), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	r := c.ok("FETCH 1:* (UID BODY[TEXT])")
	eq(t, "responses", len(r.untagged), n)
	for i, l := range r.untagged {
		want := "* " + strconv.Itoa(i+1) + " FETCH (UID " + strconv.Itoa(i+1) + ` BODY[TEXT] {4}` + "\r\n" + `body FLAGS (\Recent \Seen))`
		eq(t, "response", l, want)
	}
	r = c.ok("SEARCH UNSEEN")
	lines(t, "unseen after FETCH", r, "* SEARCH")
}
