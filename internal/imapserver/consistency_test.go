package imapserver_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fetchModSeq matches the sequence number and MODSEQ of a FETCH response.
var fetchModSeq = regexp.MustCompile(`^\* (\d+) FETCH \(.*MODSEQ \((\d+)\)`)

// checkModSeqs fails if a message's MODSEQ goes down within the lines
// (seen holds what earlier responses reported, by sequence number).
func checkModSeqs(t *testing.T, what string, seen map[string]int64, r *resp) {
	t.Helper()
	for _, l := range r.untagged {
		m := fetchModSeq.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseInt(m[2], 10, 64)
		if prev, ok := seen[m[1]]; ok && ms < prev {
			t.Fatalf("%s: MODSEQ of message %s went back from %d to %d:\n%s", what, m[1], prev, ms, r)
		}
		seen[m[1]] = ms
	}
}

// TestModSeqNeverGoesBack: another session changes a message twice; the
// FETCH that reads its current state must not be followed by the queued
// notices of the older states (imaptest: "MODSEQ dropped").
func TestModSeqNeverGoesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 3 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	a := e.login(alice)
	a.ok("SELECT INBOX (CONDSTORE)")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	seen := map[string]int64{}
	for _, items := range []string{"(FLAGS MODSEQ)", "(BODY.PEEK[HEADER] FLAGS)", "(UID)"} {
		b.ok(`STORE 1 +FLAGS (\Flagged)`)
		b.ok(`STORE 1 +FLAGS (\Answered)`)
		b.ok(`STORE 1 -FLAGS (\Flagged \Answered)`)
		r := a.ok("FETCH 1 " + items)
		checkModSeqs(t, "FETCH "+items, seen, r)
		if len(r.prefixed("* 1 FETCH")) == 0 {
			t.Fatalf("FETCH %s: no answer for message 1:\n%s", items, r)
		}
		checkModSeqs(t, "NOOP", seen, a.ok("NOOP"))
	}
	// The session's own STORE, then another's queued change to the same
	// message: only the newest state is ever shown after the newer one.
	b.ok(`STORE 2 +FLAGS (\Seen)`)
	r := a.ok(`STORE 2 +FLAGS (\Draft)`)
	checkModSeqs(t, "own STORE", seen, r)
	checkModSeqs(t, "NOOP", seen, a.ok("NOOP"))
}

// TestFetchAcrossExpunge: messages another session expunged are left out
// of a FETCH with NO [EXPUNGEISSUED] (RFC 5530 §3, RFC 9051 §7.1); the
// others are all returned.
func TestFetchAcrossExpunge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 4 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	b.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	for _, items := range []string{"(BODY.PEEK[] FLAGS)", "(FLAGS)", "(ENVELOPE)", "(RFC822.SIZE)"} {
		r := a.do("FETCH 1:4 " + items)
		prefix(t, "FETCH "+items+" status", r.status(), "NO [EXPUNGEISSUED]")
		for _, seq := range []string{"1", "3", "4"} {
			if len(r.prefixed("* "+seq+" FETCH")) != 1 {
				t.Fatalf("FETCH %s: message %s not returned once:\n%s", items, seq, r)
			}
		}
		if len(r.prefixed("* 2 FETCH")) != 0 {
			t.Fatalf("FETCH %s: expunged message returned:\n%s", items, r)
		}
	}
	// A UID FETCH ignores the UID that is gone (RFC 9051 §6.4.9) and
	// may announce the expunge at once.
	lines(t, "UID FETCH", a.ok("UID FETCH 1:4 (FLAGS)"),
		"* 1 FETCH (FLAGS () UID 1)", "* 3 FETCH (FLAGS () UID 3)", "* 4 FETCH (FLAGS () UID 4)", "* 2 EXPUNGE")
	// Once the expunge is announced, numbers shift and nothing is missing.
	r := a.ok("FETCH 1:3 (FLAGS)")
	eq(t, "after NOOP", len(r.prefixed("* ")), 3)
}

// TestFetchDuringExpunges: a session fetches bodies over and over while
// another expunges messages one by one. Every FETCH answers OK or NO
// [EXPUNGEISSUED], never a server error, and every message still in the
// store is returned.
func TestFetchDuringExpunges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const n = 60
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\r\n", 2000) // spills to a file
	for i := range n {
		body := "body"
		if i%3 == 0 {
			body = big
		}
		e.deliver(simpleMsg(fmt.Sprint("M", i), body), delivery{})
	}
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for uid := 1; uid <= n; uid += 2 {
			b.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uid))
			b.ok(fmt.Sprintf("UID EXPUNGE %d", uid))
		}
	}()
	for range 30 {
		r := a.do("FETCH 1:* (UID BODY.PEEK[] BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS)")
		st := r.status()
		if !strings.HasPrefix(st, "OK") && !strings.HasPrefix(st, "NO [EXPUNGEISSUED]") {
			t.Fatalf("FETCH during expunges: %s", st)
		}
	}
	wg.Wait()
	a.ok("NOOP")
	r := a.ok("FETCH 1:* (UID)")
	eq(t, "left", len(r.prefixed("* ")), n/2)
}

// TestKeywordsAnnounced: a keyword new to the mailbox reaches every
// session with it selected as FLAGS and PERMANENTFLAGS before any FETCH
// that shows it (RFC 9051 §7.3.5; imaptest: "Keyword used without being
// in FLAGS").
func TestKeywordsAnnounced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{})
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	ro := e.login(alice)
	ro.ok("EXAMINE INBOX")

	// Its own STORE.
	lines(t, "own STORE", b.ok(`STORE 1 +FLAGS ($Work)`),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
		`* 1 FETCH (FLAGS ($Work))`)
	// Another session's STORE, announced with the change.
	lines(t, "other STORE", a.ok("NOOP"),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
		`* 1 FETCH (FLAGS ($Work))`)
	// A read-only session gets FLAGS; its PERMANENTFLAGS stay empty.
	lines(t, "read-only", ro.ok("NOOP"),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* 1 FETCH (FLAGS ($Work))`)
	// Known keywords are not announced again.
	b.ok(`STORE 1 -FLAGS ($Work)`)
	lines(t, "known keyword", a.ok("NOOP"), `* 1 FETCH (FLAGS ())`)

	// A delivery with a new keyword, then a FETCH that shows it.
	e.deliver(simpleMsg("Two", "2"), delivery{flags: []string{"$Urgent"}})
	lines(t, "delivery", a.ok("NOOP"),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Urgent)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Urgent \*)] Flags permitted`,
		"* 2 EXISTS", "* 1 RECENT")
	lines(t, "FETCH after delivery", a.ok("FETCH 2 FLAGS"), `* 2 FETCH (FLAGS (\Recent $Urgent))`)
	// A session that has not heard of the delivery yet learns of the
	// keyword from the FETCH that shows it.
	e.deliver(simpleMsg("Two and a half", "2"), delivery{flags: []string{"$Later"}})
	b.ok("NOOP")
	b.ok(`STORE 2 +FLAGS.SILENT ($Later)`)
	lines(t, "FETCH before NOOP", a.ok("FETCH 2 FLAGS"),
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Urgent $Later)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Urgent $Later \*)] Flags permitted`,
		`* 2 FETCH (FLAGS (\Recent $Urgent $Later))`,
		"* 3 EXISTS", "* 1 RECENT")
	var r *resp
	// COPY and APPEND with new keywords into the selected mailbox.
	b.ok(`STORE 1 +FLAGS ($Copied)`)
	a.ok("NOOP")
	b.ok("CREATE Other")
	b.ok(`APPEND Other ($Appended) ` + literal(simpleMsg("Three", "3")))
	b.ok(`SELECT Other`)
	b.ok(`COPY 1 INBOX`)
	r = a.ok("NOOP")
	if !r.has("* 4 EXISTS") ||
		!r.has(`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work $Urgent $Later $Copied $Appended)`) {
		t.Fatalf("COPY of a message with a new keyword:\n%s", r)
	}
	lines(t, "FETCH after COPY", a.ok("FETCH 4 FLAGS"), `* 4 FETCH (FLAGS (\Recent $Appended))`)
}

// TestArrivedAndGone: a message that arrived and was expunged before a
// session heard of either is never shown to it (imaptest's checkpoint
// found sessions holding such a ghost, one message more than the rest).
func TestArrivedAndGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{})
	a := e.login(alice)
	a.ok("SELECT INBOX")
	b := e.login(alice)
	b.ok("SELECT INBOX")
	b.ok(`APPEND INBOX (\Deleted) ` + literal(simpleMsg("Ghost", "g")))
	b.ok("EXPUNGE")
	lines(t, "NOOP", a.ok("NOOP"))
	lines(t, "view", a.ok("FETCH 1:* (UID)"), "* 1 FETCH (UID 1)")
	// The same while a FETCH holds expunges back.
	b.ok(`APPEND INBOX (\Deleted) ` + literal(simpleMsg("Ghost 2", "g")))
	b.ok("EXPUNGE")
	lines(t, "FETCH", a.ok("FETCH 1 (UID)"), "* 1 FETCH (UID 1)")
	lines(t, "NOOP after", a.ok("NOOP"))
}
