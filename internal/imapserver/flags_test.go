package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// modseqs returns the MODSEQ of each message of a mailbox by UID.
func (e *env) modseqs(user, mailbox string) map[uint32]int64 {
	e.t.Helper()
	ms, err := e.st.MessageRange(context.Background(), e.mailbox(user, mailbox).ID, 1, 1<<31, false)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint32]int64{}
	for _, m := range ms {
		out[m.UID] = m.ModSeq
	}
	return out
}

func TestStoreFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")

	// A new keyword is announced before the FETCH that shows it.
	lines(t, "+FLAGS", c.ok(`STORE 1 +FLAGS (\Flagged $Work)`),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
		`* 1 FETCH (FLAGS (\Recent \Flagged $Work))`)
	// \Recent is the session's, not a stored flag: FLAGS () keeps it
	// (RFC 3501 §2.3.2).
	lines(t, "-FLAGS", c.ok(`STORE 1 -FLAGS (\Flagged)`), `* 1 FETCH (FLAGS (\Recent $Work))`)
	lines(t, "FLAGS", c.ok(`STORE 1 FLAGS (\Seen)`), `* 1 FETCH (FLAGS (\Recent \Seen))`)
	lines(t, "FLAGS without parentheses", c.ok(`STORE 2 +FLAGS \Answered $Later`),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Later)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Later \*)] Flags permitted`,
		`* 2 FETCH (FLAGS (\Recent \Answered $Later))`)
	lines(t, "+FLAGS.SILENT", c.ok(`STORE 1:2 +FLAGS.SILENT (\Draft)`))
	lines(t, "UID STORE", c.ok(`UID STORE 1 -FLAGS (\Draft)`), `* 1 FETCH (FLAGS (\Recent \Seen) UID 1)`)
	lines(t, "STORE of what is set already", c.ok(`STORE 1 +FLAGS (\Seen)`), `* 1 FETCH (FLAGS (\Recent \Seen))`)
	lines(t, "FLAGS ()", c.ok(`STORE 3 FLAGS ()`), `* 3 FETCH (FLAGS (\Recent))`)
	lines(t, "flags now", c.ok("FETCH 1:3 FLAGS"),
		`* 1 FETCH (FLAGS (\Recent \Seen))`,
		`* 2 FETCH (FLAGS (\Recent \Answered $Later \Draft))`,
		`* 3 FETCH (FLAGS (\Recent))`)
	c.expectStatus(`STORE 1 +FLAGS (\Recent)`, "BAD")
	c.expectStatus(`STORE 1 +FLAGS (\Bogus)`, "BAD")
	c.expectStatus(`STORE 1 FLAGS.LOUD (\Seen)`, "BAD")

	// The keywords become part of FLAGS and PERMANENTFLAGS (RFC 9051
	// §7.3.5, §7.1).
	r := c.ok("SELECT INBOX")
	if !r.has(`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Later)`) ||
		!r.has(`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Later \*)] Flags permitted`) {
		t.Fatalf("keywords missing from SELECT: %s", r)
	}
	// Flags are stored per message and seen by other sessions.
	o := e.login(alice)
	o.ok("EXAMINE INBOX")
	lines(t, "other session", o.ok("FETCH 2 FLAGS"), `* 2 FETCH (FLAGS (\Answered $Later \Draft))`)
}

func TestCondStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	c := e.login(alice)
	r := c.ok("SELECT INBOX (CONDSTORE)")
	mb := e.mailbox(alice, "INBOX")
	if !r.has(fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", mb.HighestModSeq)) {
		t.Fatalf("SELECT (CONDSTORE): %s", r)
	}
	start := mb.HighestModSeq

	// With CONDSTORE on, STORE answers carry UID and MODSEQ (RFC 7162
	// §3.1.3), also with .SILENT.
	r = c.ok(`STORE 2 +FLAGS (\Flagged)`)
	ms := e.modseqs(alice, "INBOX")
	if ms[2] <= start {
		t.Fatalf("MODSEQ did not grow: %d <= %d", ms[2], start)
	}
	lines(t, "STORE with CONDSTORE", r, fmt.Sprintf(`* 2 FETCH (FLAGS (\Flagged) UID 2 MODSEQ (%d))`, ms[2]))
	r = c.ok(`STORE 3 +FLAGS.SILENT (\Seen)`)
	ms = e.modseqs(alice, "INBOX")
	lines(t, "STORE .SILENT with CONDSTORE", r, fmt.Sprintf(`* 3 FETCH (UID 3 MODSEQ (%d))`, ms[3]))

	// UNCHANGEDSINCE: message 1 passes, 2 and 3 changed since start and
	// fail with [MODIFIED] (RFC 7162 §3.1.3).
	r = c.do(fmt.Sprintf(`STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\Answered)`, start))
	ms = e.modseqs(alice, "INBOX")
	lines(t, "UNCHANGEDSINCE", r, fmt.Sprintf(`* 1 FETCH (FLAGS (\Answered) UID 1 MODSEQ (%d))`, ms[1]))
	prefix(t, "MODIFIED", r.status(), "OK [MODIFIED 2:3]")
	r = c.do(fmt.Sprintf(`UID STORE 2,3 (UNCHANGEDSINCE %d) -FLAGS (\Flagged)`, ms[3]-1))
	ms2 := e.modseqs(alice, "INBOX")
	lines(t, "UID UNCHANGEDSINCE", r, fmt.Sprintf(`* 2 FETCH (FLAGS () UID 2 MODSEQ (%d))`, ms2[2]))
	prefix(t, "UID MODIFIED", r.status(), "OK [MODIFIED 3]")
	r = c.do(`STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\Deleted)`)
	prefix(t, "UNCHANGEDSINCE 0", r.status(), "OK [MODIFIED 1]")
	lines(t, "UNCHANGEDSINCE 0 changes nothing", r)

	// FETCH with CONDSTORE: MODSEQ with FLAGS; CHANGEDSINCE filters.
	ms = e.modseqs(alice, "INBOX")
	lines(t, "FETCH FLAGS with CONDSTORE", c.ok("FETCH 1 (FLAGS)"), fmt.Sprintf(`* 1 FETCH (FLAGS (\Answered) MODSEQ (%d))`, ms[1]))
	lines(t, "CHANGEDSINCE", c.ok(fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", ms[1])),
		fmt.Sprintf(`* 2 FETCH (FLAGS () MODSEQ (%d))`, ms[2]))
	lines(t, "UID FETCH CHANGEDSINCE", c.ok(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", start)),
		fmt.Sprintf(`* 1 FETCH (FLAGS (\Answered) UID 1 MODSEQ (%d))`, ms[1]),
		fmt.Sprintf(`* 2 FETCH (FLAGS () UID 2 MODSEQ (%d))`, ms[2]),
		fmt.Sprintf(`* 3 FETCH (FLAGS (\Seen) UID 3 MODSEQ (%d))`, ms[3]))
	// The HIGHESTMODSEQ grew with every change.
	lines(t, "STATUS HIGHESTMODSEQ", c.ok("STATUS INBOX (HIGHESTMODSEQ)"),
		fmt.Sprintf(`* STATUS "INBOX" (HIGHESTMODSEQ %d)`, max(ms[1], ms[2], ms[3])))
}

func TestCopyMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 4 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{flags: []string{"$K" + fmt.Sprint(i)}})
	}
	archive, trash := e.mailbox(alice, "Archive"), e.mailbox(alice, "Trash")
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	c := e.login(alice)
	c.ok("SELECT INBOX")

	// COPYUID (RFC 4315 §3).
	prefix(t, "COPY", c.ok("COPY 1:2 Archive").status(), fmt.Sprintf("OK [COPYUID %d 1:2 1:2]", archive.UIDValidity))
	prefix(t, "UID COPY", c.ok("UID COPY 4 Archive").status(), fmt.Sprintf("OK [COPYUID %d 4 3]", archive.UIDValidity))
	c.expectStatus("COPY 1 Nope", "NO [TRYCREATE]")
	c.expectStatus("MOVE 1 Nope", "NO [TRYCREATE]")
	c.expectStatus("UID MOVE 1 Nope", "NO [TRYCREATE]")
	lines(t, "copied", c.ok("STATUS Archive (MESSAGES)"), `* STATUS "Archive" (MESSAGES 3)`)

	// MOVE: untagged OK [COPYUID] first, then EXPUNGE (RFC 6851 §4.3).
	r := c.ok("MOVE 2 Trash")
	lines(t, "MOVE", r, fmt.Sprintf("* OK [COPYUID %d 2 1] Moved", trash.UIDValidity), "* 2 EXPUNGE")
	r = c.ok("UID MOVE 3:4 Trash")
	lines(t, "UID MOVE", r, fmt.Sprintf("* OK [COPYUID %d 3:4 2:3] Moved", trash.UIDValidity), "* 2 EXPUNGE", "* 2 EXPUNGE")
	lines(t, "left in INBOX", c.ok("UID FETCH 1:* (FLAGS)"), "* 1 FETCH (FLAGS ($K0) UID 1)")
	c.ok("EXAMINE Trash")
	// New in Trash, so \Recent, which EXAMINE shows without taking.
	lines(t, "moved", c.ok("UID FETCH 1:* (FLAGS)"),
		"* 1 FETCH (FLAGS (\\Recent $K1) UID 1)", "* 2 FETCH (FLAGS (\\Recent $K2) UID 2)", "* 3 FETCH (FLAGS (\\Recent $K3) UID 3)")
	// With QRESYNC a MOVE answers with VANISHED (RFC 7162 §3.2.10).
	q := e.login(alice)
	q.ok("ENABLE QRESYNC")
	q.ok("SELECT Trash")
	r = q.ok("UID MOVE 1 Archive")
	lines(t, "MOVE with QRESYNC", r, fmt.Sprintf("* OK [COPYUID %d 1 4] Moved", archive.UIDValidity), "* VANISHED 1")
	r = q.ok("MOVE 1:* INBOX") // a sequence set
	inbox := e.mailbox(alice, "INBOX")
	lines(t, "MOVE all", r, fmt.Sprintf("* OK [COPYUID %d 2:3 5:6] Moved", inbox.UIDValidity), "* VANISHED 2:3")

	// A MOVE into the selected mailbox itself: the expunge is announced
	// before the arrival, so EXISTS never counts a message twice (the
	// order Dovecot uses and imaptest's move script expects).
	c.ok("SELECT INBOX")
	r = c.ok("MOVE 1 INBOX")
	lines(t, "MOVE to itself", r, fmt.Sprintf("* OK [COPYUID %d 1 7] Moved", inbox.UIDValidity), "* 1 EXPUNGE", "* 3 EXISTS", "* 3 RECENT")
}

func TestExpunge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 6 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	c := e.login(alice)
	c.ok("SELECT INBOX")
	c.ok(`STORE 2,3,5 +FLAGS.SILENT (\Deleted)`)
	lines(t, "EXPUNGE", c.ok("EXPUNGE"), "* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE")
	lines(t, "left", c.ok("FETCH 1:* (UID)"), "* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)", "* 3 FETCH (UID 6)")

	// UID EXPUNGE removes only the given UIDs (RFC 4315 §2.1).
	c.ok(`STORE 1:3 +FLAGS.SILENT (\Deleted)`)
	lines(t, "UID EXPUNGE", c.ok("UID EXPUNGE 4:5"), "* 2 EXPUNGE")
	lines(t, "still deleted", c.ok("FETCH 1:* (UID FLAGS)"), `* 1 FETCH (UID 1 FLAGS (\Deleted))`, `* 2 FETCH (UID 6 FLAGS (\Deleted))`)

	// UNSELECT does not expunge (RFC 3691); CLOSE does, silently
	// (RFC 9051 §6.4.1).
	lines(t, "UNSELECT", c.ok("UNSELECT"))
	lines(t, "after UNSELECT", c.ok("STATUS INBOX (MESSAGES)"), `* STATUS "INBOX" (MESSAGES 2)`)
	c.expectStatus("FETCH 1 FLAGS", "BAD")
	c.ok("EXAMINE INBOX")
	lines(t, "CLOSE after EXAMINE", c.ok("CLOSE"))
	lines(t, "after CLOSE of EXAMINE", c.ok("STATUS INBOX (MESSAGES)"), `* STATUS "INBOX" (MESSAGES 2)`)
	c.ok("SELECT INBOX")
	lines(t, "CLOSE", c.ok("CLOSE"))
	lines(t, "after CLOSE", c.ok("STATUS INBOX (MESSAGES)"), `* STATUS "INBOX" (MESSAGES 0)`)
	c.expectStatus("CLOSE", "BAD")

	// EXPUNGE with CONDSTORE reports the new HIGHESTMODSEQ (RFC 7162
	// §3.1.9 does not require it; we check it is right when given).
	e.deliver(simpleMsg("X", "x"), delivery{flags: []string{`\Deleted`}})
	c.ok("SELECT INBOX (CONDSTORE)")
	r := c.ok("EXPUNGE")
	if hm := e.mailbox(alice, "INBOX").HighestModSeq; !strings.Contains(r.tagged, fmt.Sprintf("[HIGHESTMODSEQ %d]", hm)) {
		t.Fatalf("EXPUNGE with CONDSTORE: %s (highest %d)", r, hm)
	}
}

// TestCondStoreEnablingCommands checks that every CONDSTORE enabling
// command of RFC 7162 §3.1 switches CONDSTORE on: a STORE after it
// reports UID and MODSEQ, and the first one issued with a mailbox
// selected announces HIGHESTMODSEQ in an untagged OK.
func TestCondStoreEnablingCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	highest := func() string {
		return fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", e.mailbox(alice, "INBOX").HighestModSeq)
	}
	for _, tc := range []struct {
		name   string
		cmd    string // issued with INBOX selected (without CONDSTORE)
		inAuth bool   // issued before SELECT instead
	}{
		{name: "FETCH MODSEQ", cmd: "FETCH 1 (MODSEQ)"},
		{name: "UID FETCH MODSEQ", cmd: "UID FETCH 1 (FLAGS MODSEQ)"},
		{name: "FETCH CHANGEDSINCE", cmd: "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)"},
		{name: "SEARCH MODSEQ", cmd: "SEARCH MODSEQ 1"},
		{name: "UID SEARCH MODSEQ entry", cmd: `UID SEARCH MODSEQ "/flags/\\seen" all 1`},
		{name: "SORT MODSEQ", cmd: "SORT (ARRIVAL) UTF-8 MODSEQ 1"},
		{name: "STORE UNCHANGEDSINCE", cmd: "STORE 3 (UNCHANGEDSINCE 1) +FLAGS ($Nothing)"},
		{name: "STATUS HIGHESTMODSEQ selected", cmd: "STATUS Sent (HIGHESTMODSEQ)"},
		{name: "STATUS HIGHESTMODSEQ", cmd: "STATUS INBOX (HIGHESTMODSEQ)", inAuth: true},
		{name: "ENABLE CONDSTORE", cmd: "ENABLE CONDSTORE", inAuth: true},
		{name: "LIST RETURN STATUS HIGHESTMODSEQ", cmd: `LIST "" "Sent" RETURN (STATUS (HIGHESTMODSEQ))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.login(alice)
			if tc.inAuth {
				c.ok(tc.cmd)
				r := c.ok("SELECT INBOX")
				if !r.has(highest()) {
					t.Fatalf("SELECT: %s", r)
				}
			} else {
				c.ok("SELECT INBOX")
				want := highest()
				r := c.ok(tc.cmd)
				if !r.has(want) {
					t.Fatalf("%s: first CONDSTORE enabling command without %q (RFC 7162 §3.1):\n%s", tc.cmd, want, r)
				}
				// Only the first one.
				r = c.ok(tc.cmd)
				if len(r.prefixed("* OK [HIGHESTMODSEQ")) != 0 {
					t.Fatalf("%s again: HIGHESTMODSEQ repeated:\n%s", tc.cmd, r)
				}
			}
			r := c.ok(`STORE 1 FLAGS (\Seen $T` + fmt.Sprint(len(tc.name)) + `)`)
			ms := e.modseqs(alice, "INBOX")
			f := r.prefixed("* 1 FETCH")
			if len(f) != 1 || !strings.HasSuffix(f[0], fmt.Sprintf(" UID 1 MODSEQ (%d))", ms[1])) {
				t.Fatalf("STORE after %s lacks UID and MODSEQ:\n%s", tc.cmd, r)
			}
		})
	}
}
