package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestQResync checks quick resynchronisation (RFC 7162 §3.2): a client
// that comes back with the UIDVALIDITY and HIGHESTMODSEQ it knew learns
// what vanished and what changed, and nothing else.
func TestQResync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 5 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "x"), delivery{})
	}
	inbox := e.mailbox(alice, "INBOX")
	known := inbox.HighestModSeq

	// Another session changes flags and expunges; a POP3 deletion too.
	a := e.login(alice)
	a.ok("SELECT INBOX")
	a.ok(`STORE 1 +FLAGS (\Seen)`)
	a.ok(`STORE 3 +FLAGS (\Deleted)`)
	a.ok("EXPUNGE")
	if err := e.st.Expunge(context.Background(), inbox.ID, []uint32{4}); err != nil {
		t.Fatal(err)
	}
	ms := e.modseqs(alice, "INBOX")
	highest := e.mailbox(alice, "INBOX").HighestModSeq

	c := e.login(alice)
	c.expectStatus(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", inbox.UIDValidity, known), "BAD") // not enabled
	lines(t, "ENABLE", c.ok("ENABLE QRESYNC"), "* ENABLED QRESYNC")
	r := c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", inbox.UIDValidity, known))
	for _, want := range []string{
		"* 3 EXISTS",
		fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", highest),
		"* VANISHED (EARLIER) 3:4",
		fmt.Sprintf(`* 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (%d))`, ms[1]),
	} {
		if !r.has(want) {
			t.Fatalf("QRESYNC SELECT lacks %q:\n%s", want, r)
		}
	}
	eq(t, "changes reported", len(r.prefixed("* VANISHED"))+len(r.prefixed("* 1 FETCH"))+len(r.prefixed("* 2 FETCH"))+len(r.prefixed("* 3 FETCH")), 2)
	v := strings.Index(r.String(), "* VANISHED")
	f := strings.Index(r.String(), "* 1 FETCH")
	if v > f {
		t.Fatalf("VANISHED (EARLIER) after FETCH (RFC 7162 §3.2.5.1):\n%s", r)
	}

	// Known UIDs limit VANISHED (RFC 7162 §3.2.5.1).
	r = c.ok(fmt.Sprintf("EXAMINE INBOX (QRESYNC (%d %d 1:3))", inbox.UIDValidity, known))
	if !strings.HasPrefix(r.untagged[0], "* OK [CLOSED]") || !r.has("* VANISHED (EARLIER) 3") {
		t.Fatalf("QRESYNC with known UIDs:\n%s", r)
	}
	// Up to date: nothing to report.
	r = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", inbox.UIDValidity, highest))
	if len(r.prefixed("* VANISHED")) != 0 || len(r.prefixed("* 1 FETCH")) != 0 {
		t.Fatalf("QRESYNC when up to date:\n%s", r)
	}
	// Another UIDVALIDITY: the client must forget everything; no
	// resync data.
	r = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", inbox.UIDValidity+1, known))
	if len(r.prefixed("* VANISHED")) != 0 || len(r.prefixed("* 1 FETCH")) != 0 {
		t.Fatalf("QRESYNC with another UIDVALIDITY:\n%s", r)
	}

	// UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC 7162 §3.2.6).
	lines(t, "UID FETCH VANISHED", c.ok(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", known)),
		"* VANISHED (EARLIER) 3:4",
		fmt.Sprintf(`* 1 FETCH (FLAGS (\Seen) UID 1 MODSEQ (%d))`, ms[1]))
	lines(t, "UID FETCH VANISHED in a range", c.ok(fmt.Sprintf("UID FETCH 4:5 (FLAGS) (CHANGEDSINCE %d VANISHED)", known)),
		"* VANISHED (EARLIER) 4")
	c.expectStatus(fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", known), "BAD")
	c.expectStatus("UID FETCH 1:* (FLAGS) (VANISHED)", "BAD")

	// Without QRESYNC, VANISHED is refused.
	p := e.login(alice)
	p.ok("SELECT INBOX")
	p.expectStatus(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", known), "BAD")
}

// TestRestart checks that UIDVALIDITY, UIDs, UIDNEXT, flags and the
// expunge history survive a restart of server and store.
func TestRestart(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "x"), delivery{})
	}
	c := e.login(alice)
	r := c.ok("SELECT INBOX")
	before := e.mailbox(alice, "INBOX")
	if !r.has(fmt.Sprintf("* OK [UIDVALIDITY %d] UIDs valid", before.UIDValidity)) {
		t.Fatalf("SELECT: %s", r)
	}
	c.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	c.ok(`STORE 3 +FLAGS.SILENT (\Flagged $Kept)`)
	c.ok("EXPUNGE")
	c.ok("CREATE Kept/Child")
	known := before.HighestModSeq

	e.stopServer()
	e.st.Close()
	e.openStore()
	e.startServer(nil)

	c = e.login(alice)
	c.ok("ENABLE QRESYNC")
	r = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", before.UIDValidity, known))
	for _, want := range []string{
		"* 2 EXISTS",
		fmt.Sprintf("* OK [UIDVALIDITY %d] UIDs valid", before.UIDValidity),
		"* OK [UIDNEXT 4] Predicted next UID",
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Kept)`,
		"* VANISHED (EARLIER) 2",
	} {
		if !r.has(want) {
			t.Fatalf("SELECT after restart lacks %q:\n%s", want, r)
		}
	}
	lines(t, "UIDs after restart", c.ok("UID FETCH 1:* (FLAGS)"),
		fmt.Sprintf(`* 1 FETCH (FLAGS () UID 1 MODSEQ (%d))`, e.modseqs(alice, "INBOX")[1]),
		fmt.Sprintf(`* 2 FETCH (FLAGS (\Flagged $Kept) UID 3 MODSEQ (%d))`, e.modseqs(alice, "INBOX")[3]))
	msg := simpleMsg("After", "x")
	c.send(fmt.Sprintf("a APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	r = c.read("a")
	prefix(t, "APPENDUID after restart", r.status(), fmt.Sprintf("OK [APPENDUID %d 4]", before.UIDValidity))
	lines(t, "LIST after restart", c.ok(`LIST "" "Kept*"`),
		`* LIST (\HasChildren) "/" "Kept"`, `* LIST (\HasNoChildren) "/" "Kept/Child"`)
}
