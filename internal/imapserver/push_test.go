package imapserver_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// idle starts IDLE on c.
func (c *client) idle() {
	c.t.Helper()
	c.send("idle IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		c.t.Fatalf("IDLE: %q", l)
	}
}

// done ends IDLE and returns what came with the tagged answer.
func (c *client) done() *resp {
	c.t.Helper()
	c.send("DONE\r\n")
	r := c.read("idle")
	if !strings.HasPrefix(r.status(), "OK") {
		c.t.Fatalf("DONE: %s", r)
	}
	return r
}

// TestIdlePush checks that every kind of change reaches a session in IDLE
// on the mailbox, whoever made it (RFC 2177, RFC 9051 §7.4, §7.5).
func TestIdlePush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{})
	inbox := e.mailbox(alice, "INBOX")
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	b.idle()

	// SMTP delivery.
	e.deliver(simpleMsg("Two", "2"), delivery{})
	eq(t, "delivery", b.line(), "* 2 EXISTS")
	// The first session told of it has it \Recent (RFC 3501 §2.3.2).
	eq(t, "delivery", b.line(), "* 1 RECENT")
	lines(t, "NOOP", a.ok("NOOP"), "* 2 EXISTS", "* 1 RECENT")
	// Another IMAP session's STORE.
	a.ok(`STORE 1 +FLAGS (\Flagged)`)
	eq(t, "STORE", b.line(), `* 1 FETCH (FLAGS (\Flagged))`)
	// Its EXPUNGE.
	a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	eq(t, "STORE .SILENT", b.line(), `* 2 FETCH (FLAGS (\Recent \Deleted))`)
	lines(t, "EXPUNGE", a.ok("EXPUNGE"), "* 2 EXPUNGE")
	eq(t, "EXPUNGE", b.line(), "* 2 EXPUNGE")
	// Its APPEND and COPY into the mailbox.
	msg := simpleMsg("Three", "3")
	a.send(fmt.Sprintf("ap APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	a.read("ap")
	eq(t, "APPEND", b.line(), "* 2 EXISTS")
	// Which of a (after its own APPEND) and b (woken) is told first,
	// and so has the message \Recent, is a race.
	recentLine(t, "APPEND", b.line())
	a.ok("COPY 1 INBOX")
	eq(t, "COPY", b.line(), "* 3 EXISTS")
	recentLine(t, "COPY", b.line())
	// A POP3 deletion goes through st.Expunge.
	if err := e.st.Expunge(context.Background(), inbox.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	eq(t, "POP3 deletion", b.line(), "* 1 EXPUNGE")
	// Changes to another mailbox are not reported.
	e.deliver(simpleMsg("Elsewhere", "x"), delivery{mailbox: "Archive"})
	e.deliver(simpleMsg("Four", "4"), delivery{})
	eq(t, "delivery after one elsewhere", b.line(), "* 3 EXISTS")
	recentLine(t, "delivery after one elsewhere", b.line())
	lines(t, "DONE", b.done())
	lines(t, "view after IDLE", b.ok("FETCH 1:* (UID)"), "* 1 FETCH (UID 3)", "* 2 FETCH (UID 4)", "* 3 FETCH (UID 5)")

	// The session's own changes are not echoed a second time.
	r := b.ok(`STORE 1 +FLAGS (\Seen)`)
	if len(r.untagged) != 1 || !strings.HasSuffix(r.untagged[0], `\Seen))`) {
		t.Fatalf("own STORE: %s", r)
	}
	lines(t, "NOOP after own STORE", b.ok("NOOP"))
	r = a.ok("NOOP")
	if len(r.untagged) != 4 || r.untagged[0] != "* 1 EXPUNGE" || !strings.HasPrefix(r.untagged[1], "* 1 FETCH (FLAGS (") ||
		!strings.HasSuffix(r.untagged[1], `\Seen))`) || r.untagged[2] != "* 3 EXISTS" {
		t.Fatalf("other session sees it: %s", r)
	}
	recentLine(t, "other session sees it", r.untagged[3])
}

// TestFlagsOfNewMessage checks that a flag change on a message the client
// has not heard of yet comes after the EXISTS that announces it: a FETCH
// response may only name a message number the client knows (RFC 9051
// §7.4.1, §7.5.2).
func TestFlagsOfNewMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{})
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	e.deliver(simpleMsg("Two", "2"), delivery{})
	lines(t, "NOOP", a.ok("NOOP"), "* 2 EXISTS", "* 2 RECENT")
	a.ok(`STORE 2 +FLAGS (\Flagged)`)
	lines(t, "EXISTS then FETCH", b.ok("NOOP"), "* 2 EXISTS", "* 0 RECENT", `* 2 FETCH (FLAGS (\Flagged))`)

	// The same in IDLE.
	b.idle()
	e.deliver(simpleMsg("Three", "3"), delivery{})
	eq(t, "delivery", b.line(), "* 3 EXISTS")
	eq(t, "delivery", b.line(), "* 1 RECENT")
	e.deliver(simpleMsg("Four", "4"), delivery{})
	eq(t, "delivery", b.line(), "* 4 EXISTS")
	eq(t, "delivery", b.line(), "* 2 RECENT")
	lines(t, "NOOP", a.ok("NOOP"), "* 4 EXISTS", "* 2 RECENT")
	a.ok(`STORE 4 +FLAGS (\Seen)`)
	eq(t, "flags in IDLE", b.line(), `* 4 FETCH (FLAGS (\Recent \Seen))`)
	b.done()
}

// TestIdlePushQResync checks the QRESYNC forms of the same announcements:
// VANISHED instead of EXPUNGE and FETCH with UID and MODSEQ (RFC 7162
// §3.2.10, §3.1).
func TestIdlePushQResync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "x"), delivery{})
	}
	inbox := e.mailbox(alice, "INBOX")
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("ENABLE QRESYNC")
	b.ok("SELECT INBOX")
	b.idle()

	a.ok(`STORE 1 +FLAGS (\Flagged)`)
	eq(t, "STORE", b.line(), fmt.Sprintf(`* 1 FETCH (FLAGS (\Flagged) UID 1 MODSEQ (%d))`, e.modseqs(alice, "INBOX")[1]))
	a.ok(`STORE 2:3 +FLAGS.SILENT (\Deleted)`)
	ms := e.modseqs(alice, "INBOX")
	eq(t, "STORE 2", b.line(), fmt.Sprintf(`* 2 FETCH (FLAGS (\Deleted) UID 2 MODSEQ (%d))`, ms[2]))
	eq(t, "STORE 3", b.line(), fmt.Sprintf(`* 3 FETCH (FLAGS (\Deleted) UID 3 MODSEQ (%d))`, ms[3]))
	a.ok("UID EXPUNGE 2")
	eq(t, "EXPUNGE", b.line(), "* VANISHED 2")
	if err := e.st.Expunge(context.Background(), inbox.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	eq(t, "POP3 deletion", b.line(), "* VANISHED 3")
	e.deliver(simpleMsg("New", "x"), delivery{})
	eq(t, "delivery", b.line(), "* 2 EXISTS")
	eq(t, "delivery", b.line(), "* 1 RECENT")
	lines(t, "DONE", b.done())

	// Several changes answered at once: the VANISHED comes before the
	// FETCH and EXISTS whose numbers depend on it.
	lines(t, "NOOP", a.ok("NOOP"), "* 2 EXPUNGE", "* 2 EXISTS", "* 1 RECENT") // a is not QRESYNC
	a.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	a.ok("EXPUNGE")
	e.deliver(simpleMsg("Newer", "x"), delivery{})
	a.ok("NOOP")
	a.ok(`STORE 2 +FLAGS.SILENT (\Seen)`) // UID 5, the newest
	a.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	ms = e.modseqs(alice, "INBOX")
	a.ok("EXPUNGE")
	// Flag changes of messages expunged since are not shown: a notice
	// shows a message's current flags, and these have none.
	// The FETCH of UID 5 needs the EXISTS that numbers it first; the
	// VANISHED of UID 1 goes before both, that of UID 4 after.
	lines(t, "VANISHED first", b.ok("NOOP"),
		"* VANISHED 1",
		"* 2 EXISTS",
		"* 1 RECENT", // UID 4 is b's; UID 5 is a's, which was told first
		fmt.Sprintf(`* 2 FETCH (FLAGS (\Seen) UID 5 MODSEQ (%d))`, ms[5]),
		"* VANISHED 4")
	lines(t, "view", b.ok("UID FETCH 1:* (UID)"), "* 1 FETCH (UID 5)")
}

// TestExpungeDeferred checks RFC 9051 §7.5.1: no EXPUNGE while a FETCH,
// STORE or SEARCH by sequence number runs, so that the numbers the client
// uses keep their meaning; the expunge comes with the next command that
// allows it.
func TestExpungeDeferred(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 4 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "x"), delivery{})
	}
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	a.ok("EXPUNGE")

	noExpunge := func(what string, r *resp) {
		t.Helper()
		for _, l := range r.untagged {
			if strings.Contains(l, "EXPUNGE") || strings.Contains(l, "VANISHED") {
				t.Fatalf("%s: expunge announced during the command:\n%s", what, r)
			}
		}
	}
	// The expunged message is left out, and said to be (RFC 5530).
	r := b.expectStatus("FETCH 1:4 (UID)", "NO [EXPUNGEISSUED]")
	noExpunge("FETCH", r)
	if !r.has("* 1 FETCH (UID 1)") || !r.has("* 3 FETCH (UID 3)") || !r.has("* 4 FETCH (UID 4)") {
		t.Fatalf("FETCH numbers changed: %s", r)
	}
	r = b.ok(`STORE 3 +FLAGS (\Seen)`)
	noExpunge("STORE", r)
	if !r.has(`* 3 FETCH (FLAGS (\Seen))`) {
		t.Fatalf("STORE on sequence number 3: %s", r)
	}
	r = b.ok("SEARCH SEEN")
	noExpunge("SEARCH", r)
	if !r.has("* SEARCH 3") {
		t.Fatalf("SEARCH numbers changed: %s", r)
	}
	// A message delivered meanwhile waits too: announcing it as "5
	// EXISTS" would be wrong before the expunge and "4" would be a
	// shrinking EXISTS.
	e.deliver(simpleMsg("Late", "x"), delivery{})
	noExpunge("FETCH after delivery", b.ok("FETCH 1 (UID)"))
	lines(t, "NOOP", b.ok("NOOP"), "* 2 EXPUNGE", "* 4 EXISTS", "* 1 RECENT")
	lines(t, "numbers after NOOP", b.ok("FETCH 2:* (UID)"), "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)", "* 4 FETCH (UID 5)")

	// UID commands may carry expunges (RFC 9051 §7.5.1).
	a.ok(`UID STORE 3 +FLAGS.SILENT (\Deleted)`)
	a.ok("UID EXPUNGE 3")
	r = b.ok("UID FETCH 1 (UID)")
	if !r.has("* 2 EXPUNGE") {
		t.Fatalf("UID FETCH without the pending expunge: %s", r)
	}
}

// heldConn buffers what is written while hold is set, so a test can send
// a TLS record in pieces.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	held []byte
}

func (h *heldConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// TestIdleWakeMidRecord: a session in IDLE is woken by a change while
// only part of the TLS record carrying DONE has arrived. The wake-up cuts
// the server's read short; the part already read must survive it, so that
// DONE still ends IDLE once the rest arrives.
func TestIdleWakeMidRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{})
	raw, err := net.DialTimeout("tcp", e.tls, wait)
	if err != nil {
		t.Fatal(err)
	}
	hc := &heldConn{Conn: raw}
	c := newClient(t, tls.Client(hc, clientTLS()))
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting: %q", g)
	}
	c.ok("LOGIN " + alice + " " + pass)
	c.ok("SELECT INBOX")
	c.idle()

	hc.mu.Lock()
	hc.hold = true
	hc.mu.Unlock()
	c.send("DONE\r\n")
	hc.mu.Lock()
	record := hc.held
	hc.hold = false
	hc.mu.Unlock()
	if len(record) < 10 {
		t.Fatalf("record of %d bytes", len(record))
	}
	if _, err := raw.Write(record[:7]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server read the first piece
	e.deliver(simpleMsg("Two", "2"), delivery{})
	eq(t, "delivery during a partial record", c.line(), "* 2 EXISTS")
	if _, err := raw.Write(record[7:]); err != nil {
		t.Fatal(err)
	}
	if r := c.read("idle"); !strings.HasPrefix(r.status(), "OK") {
		t.Fatalf("DONE: %s", r)
	}
	c.ok("NOOP")
}

// recentLine checks an untagged RECENT line whose count depends on which
// session was told of new messages first.
func recentLine(t *testing.T, what, l string) {
	t.Helper()
	if !regexp.MustCompile(`^\* \d+ RECENT$`).MatchString(l) {
		t.Fatalf("%s: %q, want * n RECENT", what, l)
	}
}
