package imapserver_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
	"github.com/yizhan-mail/yizhan/internal/store"
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
// the write timeout passes, and their sessions end.
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
	e.waitSessions(0, "stalled readers")
	for i, c := range stalled {
		if !c.closed() {
			t.Fatalf("stalled client %d: connection still open", i)
		}
	}
	// The server goes on serving. (A short answer: this client too has
	// only 300 ms to take it.)
	c := e.login(alice)
	c.ok("EXAMINE INBOX")
	c.ok("FETCH 16 (UID RFC822.SIZE)")
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

// A session that cannot drain its change queue (its client stopped
// reading in the middle of a FETCH) holds at most ChangeLimit changes
// while another session runs STORE 1:* again and again.
func TestStalledSessionChangeQueueBounded(t *testing.T) {
	t.Parallel()
	const limit = 40
	e := newEnv(t, func(c *imapserver.Config) {
		c.WriteTimeout = time.Minute // the stalled session stays meanwhile
		c.ChangeLimit = limit
	})
	e.fillBig(16, 1<<20)
	stalled := e.login(alice)
	stalled.ok("SELECT INBOX")
	stalled.send("s1 FETCH 1:* BODY.PEEK[]\r\n")
	other := e.login(alice)
	other.ok("SELECT INBOX")
	for i := 0; i < 20; i++ {
		op := "+FLAGS"
		if i%2 == 1 {
			op = "-FLAGS"
		}
		other.ok("STORE 1:* " + op + ` (\Flagged)`)
		if _, n := e.st.FeedStats(); n > limit {
			t.Fatalf("after %d STOREs a session holds %d changes, over the limit %d", i+1, n, limit)
		}
	}
}

// viewModel is what a client knows of the selected mailbox from the
// server's responses: by position, the UID (0: not learnt) and flags (nil:
// not learnt).
type viewModel struct {
	uids  []uint32
	flags [][]string
}

var (
	expungeRe  = regexp.MustCompile(`^\* (\d+) EXPUNGE$`)
	existsRe   = regexp.MustCompile(`^\* (\d+) EXISTS$`)
	vanishedRe = regexp.MustCompile(`^\* VANISHED ([0-9:,]+)$`)
	fetchRe    = regexp.MustCompile(`^\* (\d+) FETCH \((.*)\)$`)
	flagsRe    = regexp.MustCompile(`FLAGS \(([^)]*)\)`)
	uidRe      = regexp.MustCompile(`UID (\d+)`)
)

// apply updates the model with one untagged response.
func (m *viewModel) apply(t *testing.T, l string) {
	t.Helper()
	if g := expungeRe.FindStringSubmatch(l); g != nil {
		n, _ := strconv.Atoi(g[1])
		if n < 1 || n > len(m.uids) {
			t.Fatalf("%q: no message %d in a view of %d", l, n, len(m.uids))
		}
		m.uids = slices.Delete(m.uids, n-1, n)
		m.flags = slices.Delete(m.flags, n-1, n)
		return
	}
	if g := existsRe.FindStringSubmatch(l); g != nil {
		n, _ := strconv.Atoi(g[1])
		if n < len(m.uids) {
			t.Fatalf("%q: EXISTS below the %d messages known", l, len(m.uids))
		}
		for len(m.uids) < n {
			m.uids = append(m.uids, 0)
			m.flags = append(m.flags, nil)
		}
		return
	}
	if g := vanishedRe.FindStringSubmatch(l); g != nil {
		for _, r := range strings.Split(g[1], ",") {
			lo, hi, _ := strings.Cut(r, ":")
			a, _ := strconv.Atoi(lo)
			b := a
			if hi != "" {
				b, _ = strconv.Atoi(hi)
			}
			for u := a; u <= b; u++ {
				i := slices.Index(m.uids, uint32(u))
				if i < 0 {
					t.Fatalf("%q: UID %d not in the view", l, u)
				}
				m.uids = slices.Delete(m.uids, i, i+1)
				m.flags = slices.Delete(m.flags, i, i+1)
			}
		}
		return
	}
	if g := fetchRe.FindStringSubmatch(l); g != nil {
		n, _ := strconv.Atoi(g[1])
		if n < 1 || n > len(m.uids) {
			t.Fatalf("%q: no message %d in a view of %d", l, n, len(m.uids))
		}
		if u := uidRe.FindStringSubmatch(g[2]); u != nil {
			uid, _ := strconv.Atoi(u[1])
			if m.uids[n-1] != 0 && m.uids[n-1] != uint32(uid) {
				t.Fatalf("%q: message %d has UID %d in the view", l, n, m.uids[n-1])
			}
			m.uids[n-1] = uint32(uid)
		}
		if f := flagsRe.FindStringSubmatch(g[2]); f != nil {
			fl := strings.Fields(f[1])
			fl = slices.DeleteFunc(fl, func(s string) bool { return s == `\Recent` })
			slices.Sort(fl)
			m.flags[n-1] = append([]string{}, fl...)
		}
	}
}

// truth returns the mailbox's UIDs and flags as the store has them.
func (e *env) truth(mailbox string) viewModel {
	e.t.Helper()
	var v viewModel
	err := e.st.EachMeta(context.Background(), e.mailbox(alice, mailbox).ID, func(m *store.MsgMeta) bool {
		v.uids = append(v.uids, m.UID)
		fl := append([]string{}, m.Flags...)
		slices.Sort(fl)
		v.flags = append(v.flags, fl)
		return true
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// differs says how the model differs from the truth, or "" if the client
// knows what is so (messages it has not learnt about aside).
func (m *viewModel) differs(truth viewModel) string {
	if len(m.uids) != len(truth.uids) {
		return fmt.Sprintf("%d messages in the view, %d in the mailbox", len(m.uids), len(truth.uids))
	}
	for i := range m.uids {
		if m.uids[i] != 0 && m.uids[i] != truth.uids[i] {
			return fmt.Sprintf("message %d: UID %d in the view, %d in the mailbox", i+1, m.uids[i], truth.uids[i])
		}
		if m.flags[i] != nil && !slices.Equal(m.flags[i], truth.flags[i]) {
			return fmt.Sprintf("message %d (UID %d): flags %v in the view, %v in the mailbox", i+1, truth.uids[i], m.flags[i], truth.flags[i])
		}
	}
	return ""
}

// overflowChanges makes, from another session, more changes than the
// observer's queue holds: flags on every message (twice), two expunges,
// three arrivals, a flag on an arrival.
func overflowChanges(e *env) {
	other := e.login(alice)
	other.ok("SELECT INBOX")
	other.ok(`STORE 1:* +FLAGS (\Flagged)`)
	other.ok(`STORE 2:4 +FLAGS (\Seen $Work)`)
	other.ok(`UID STORE 5,9 +FLAGS (\Deleted)`)
	other.ok("UID EXPUNGE 5,9")
	for i := 0; i < 3; i++ {
		e.deliver(simpleMsg("new", "body"), delivery{})
	}
	other.ok(`STORE 1:* -FLAGS (\Flagged)`)
	other.ok(`UID STORE 32 +FLAGS (\Answered)`)
	other.ok("LOGOUT")
}

// After its change queue overflowed, a session reads the mailbox again
// and announces the difference: expunges (EXPUNGE, or VANISHED with
// QRESYNC) only where they are allowed, then EXISTS and the flags that
// changed; the client's view is right again.
func TestChangeOverflowResync(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"rev1", "qresync"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *imapserver.Config) { c.ChangeLimit = 20 })
			for i := 0; i < 30; i++ {
				e.deliver(simpleMsg("m", "body"), delivery{})
			}
			c := e.login(alice)
			if mode == "qresync" {
				c.ok("ENABLE QRESYNC")
			}
			var m viewModel
			for _, l := range append(c.ok("SELECT INBOX").untagged, c.ok("FETCH 1:* (UID FLAGS)").untagged...) {
				m.apply(t, l)
			}
			if d := m.differs(e.truth("INBOX")); d != "" {
				t.Fatalf("before: %s", d)
			}
			overflowChanges(e)
			// A FETCH by number may not announce expunges (RFC 9051
			// §7.5.1).
			r := c.ok("FETCH 1 (FLAGS)")
			if len(r.prefixed("* VANISHED")) > 0 || slices.ContainsFunc(r.untagged, func(l string) bool { return strings.HasSuffix(l, " EXPUNGE") }) {
				t.Fatalf("expunge announced during FETCH:\n%s", r)
			}
			for _, l := range r.untagged {
				m.apply(t, l)
			}
			r = c.ok("NOOP")
			for _, l := range r.untagged {
				m.apply(t, l)
			}
			if d := m.differs(e.truth("INBOX")); d != "" {
				t.Fatalf("after NOOP: %s\nFETCH and NOOP said:\n%s", d, r)
			}
			if len(r.untagged) == 0 {
				t.Fatal("NOOP announced nothing")
			}
		})
	}
}

// A session in IDLE whose queue overflows announces the difference at
// once: it sees every expunge, arrival and flag change.
func TestChangeOverflowInIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.ChangeLimit = 20 })
	for i := 0; i < 30; i++ {
		e.deliver(simpleMsg("m", "body"), delivery{})
	}
	c := e.login(alice)
	var m viewModel
	for _, l := range append(c.ok("SELECT INBOX").untagged, c.ok("FETCH 1:* (UID FLAGS)").untagged...) {
		m.apply(t, l)
	}
	c.send("i1 IDLE\r\n")
	prefix(t, "IDLE", c.line(), "+ ")
	overflowChanges(e)
	truth := e.truth("INBOX")
	var said []string
	for m.differs(truth) != "" {
		l, err := c.readLine()
		if err != nil {
			t.Fatalf("IDLE: %v; view: %s; IDLE said:\n%s", err, m.differs(truth), strings.Join(said, "\n"))
		}
		said = append(said, l)
		m.apply(t, l)
	}
	c.send("DONE\r\n")
	r := c.read("i1")
	for _, l := range r.untagged {
		m.apply(t, l)
	}
	if d := m.differs(truth); d != "" {
		t.Fatalf("after IDLE: %s", d)
	}
}

// A NOTIFY session whose queue overflowed with changes to other
// mailboxes stops its notifications with NOTIFICATIONOVERFLOW (RFC 5465
// §5.8), as when its own notification queue is full.
func TestChangeOverflowNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.ChangeLimit = 5 })
	for i := 0; i < 10; i++ {
		e.deliver(simpleMsg("m", "body"), delivery{})
	}
	other := e.login(alice)
	other.ok("CREATE Work")
	c := e.login(alice)
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))")
	// One commit of ten changes to another mailbox.
	other.ok("SELECT INBOX")
	other.ok("COPY 1:* Work")
	r := c.ok("NOOP")
	if !slices.ContainsFunc(r.untagged, func(l string) bool { return strings.Contains(l, "[NOTIFICATIONOVERFLOW]") }) {
		t.Fatalf("no NOTIFICATIONOVERFLOW:\n%s", r)
	}
}

// Changes that wait behind an expunge the client does not allow yet
// (FETCH by number, RFC 9051 §7.5.1) are bounded as well: past
// ChangeLimit they collapse into a resync, which announces everything
// once expunges are allowed.
func TestChangesWaitingBehindExpunge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.ChangeLimit = 10 })
	for i := 0; i < 30; i++ {
		e.deliver(simpleMsg("m", "body"), delivery{})
	}
	c := e.login(alice)
	var m viewModel
	for _, l := range append(c.ok("SELECT INBOX").untagged, c.ok("FETCH 1:* (UID FLAGS)").untagged...) {
		m.apply(t, l)
	}
	other := e.login(alice)
	other.ok("SELECT INBOX")
	other.ok(`UID STORE 3 +FLAGS (\Deleted)`)
	other.ok("UID EXPUNGE 3")
	for i := 1; i <= 29; i++ {
		// One change at a time, each taken by the observer's FETCH and
		// kept waiting behind the expunge.
		other.ok(fmt.Sprintf(`STORE %d +FLAGS (\Flagged)`, i))
		for _, l := range c.ok("FETCH 1 (UID)").untagged {
			if strings.HasSuffix(l, "EXPUNGE") {
				t.Fatalf("expunge announced during FETCH: %q", l)
			}
			m.apply(t, l)
		}
	}
	for _, l := range c.ok("NOOP").untagged {
		m.apply(t, l)
	}
	if d := m.differs(e.truth("INBOX")); d != "" {
		t.Fatalf("after NOOP: %s", d)
	}
}

// Changes lost before a mailbox is selected are in what SELECT reads: the
// session does not announce them again afterwards.
func TestOverflowBeforeSelectForgotten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.ChangeLimit = 20 })
	for i := 0; i < 30; i++ {
		e.deliver(simpleMsg("m", "body"), delivery{})
	}
	c := e.login(alice)
	other := e.login(alice)
	other.ok("SELECT INBOX")
	other.ok(`STORE 1:* +FLAGS (\Flagged)`) // 30 changes: c's queue overflows
	c.ok("SELECT INBOX")
	if r := c.ok("NOOP"); len(r.untagged) != 0 {
		t.Fatalf("NOOP after SELECT announced what SELECT had read:\n%s", r)
	}
}
