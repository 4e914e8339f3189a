package imapserver_test

import (
	"context"
	"fmt"
	"testing"
)

// TestRecent checks \Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2): a
// message is recent in exactly one session, the first to select its
// mailbox after it arrived or the one that has it selected when it
// arrives; EXAMINE and STATUS look without taking. IMAP4rev2 sessions
// see none of it (RFC 9051 removed \Recent).
func TestRecent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "x"), delivery{flags: []string{`\Seen`}})
	e.deliver(simpleMsg("Two", "x"), delivery{})

	a := e.login(alice)
	b := e.login(alice)
	// EXAMINE shows the recent messages without taking them.
	r := a.ok("EXAMINE INBOX")
	if !r.has("* 2 RECENT") {
		t.Fatalf("EXAMINE: %s", r)
	}
	lines(t, "FETCH after EXAMINE", a.ok("FETCH 1:* (FLAGS)"),
		`* 1 FETCH (FLAGS (\Recent \Seen))`, `* 2 FETCH (FLAGS (\Recent))`)
	lines(t, "STATUS RECENT", b.ok("STATUS INBOX (MESSAGES RECENT)"), `* STATUS "INBOX" (MESSAGES 2 RECENT 2)`)
	// SELECT takes them.
	r = a.ok("SELECT INBOX")
	if !r.has("* 2 RECENT") {
		t.Fatalf("SELECT: %s", r)
	}
	lines(t, "SEARCH RECENT", a.ok("SEARCH RECENT"), "* SEARCH 1 2")
	lines(t, "SEARCH NEW", a.ok("SEARCH NEW"), "* SEARCH 2")
	lines(t, "SEARCH OLD", a.ok("SEARCH OLD"), "* SEARCH")
	lines(t, "STATUS RECENT after SELECT", b.ok("STATUS INBOX (RECENT)"), `* STATUS "INBOX" (RECENT 0)`)
	r = b.ok("SELECT INBOX")
	if !r.has("* 0 RECENT") {
		t.Fatalf("second SELECT: %s", r)
	}
	lines(t, "other session's FETCH", b.ok("FETCH 1:* (FLAGS)"), `* 1 FETCH (FLAGS (\Seen))`, `* 2 FETCH (FLAGS ())`)
	lines(t, "other session's SEARCH OLD", b.ok("SEARCH OLD"), "* SEARCH 1 2")
	lines(t, "other session's SEARCH NEW", b.ok("SEARCH NEW"), "* SEARCH")

	// A message that arrives while both have INBOX selected is recent in
	// the first to be told of it, and RECENT goes with EXISTS.
	e.deliver(simpleMsg("Three", "x"), delivery{})
	lines(t, "NOOP first", a.ok("NOOP"), "* 3 EXISTS", "* 3 RECENT")
	lines(t, "NOOP second", b.ok("NOOP"), "* 3 EXISTS", "* 0 RECENT")
	// \Recent stays in the flags a STORE reports.
	lines(t, "STORE", a.ok(`STORE 3 +FLAGS (\Flagged)`), `* 3 FETCH (FLAGS (\Recent \Flagged))`)

	// A copy is recent in its new mailbox.
	a.ok("COPY 1 Archive")
	lines(t, "STATUS of the copy", b.ok("STATUS Archive (RECENT)"), `* STATUS "Archive" (RECENT 1)`)
	r = b.ok("SELECT Archive")
	if !r.has("* 1 RECENT") {
		t.Fatalf("SELECT Archive: %s", r)
	}

	// IMAP4rev2: no RECENT, no \Recent, and nothing taken.
	e.deliver(simpleMsg("Four", "x"), delivery{mailbox: "Junk"})
	v := e.login(alice)
	v.ok("ENABLE IMAP4rev2")
	r = v.ok("SELECT Junk")
	if len(r.prefixed("* 1 RECENT")) != 0 || len(r.prefixed("* 0 RECENT")) != 0 {
		t.Fatalf("rev2 SELECT: %s", r)
	}
	lines(t, "rev2 FETCH", v.ok("FETCH 1 (FLAGS)"), `* 1 FETCH (FLAGS ())`)
	lines(t, "rev1 STATUS after rev2 SELECT", b.ok("STATUS Junk (RECENT)"), `* STATUS "Junk" (RECENT 1)`)
	e.deliver(simpleMsg("Five", "x"), delivery{mailbox: "Junk"})
	lines(t, "rev2 NOOP", v.ok("NOOP"), "* 2 EXISTS")
	lines(t, "rev1 STATUS after rev2 NOOP", b.ok("STATUS Junk (RECENT)"), fmt.Sprintf(`* STATUS "Junk" (RECENT %d)`, 2))
}

// takeRecent claims the \Recent of a mailbox's messages as another
// session's SELECT would, for tests about other things: their sessions
// then show no \Recent.
func (e *env) takeRecent(user, mailbox string) {
	e.t.Helper()
	mb := e.mailbox(user, mailbox)
	if _, err := e.st.ClaimRecent(context.Background(), mb, mb.UIDNext); err != nil {
		e.t.Fatal(err)
	}
}
