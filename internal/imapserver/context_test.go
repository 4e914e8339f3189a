package imapserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestESort checks SORT with return options (ESORT, RFC 5267 §3): an
// ESEARCH response in sort order, ranges only where numbers ascend, and
// PARTIAL windows for SEARCH and SORT (§4.4).
func TestESort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	searchFixture(t, e) // arrival and size order: 1 2 3 4
	c := e.login(alice)
	cp := caps(t, c.ok("CAPABILITY").untagged[0])
	for _, want := range []string{"ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT"} {
		if !cp[want] {
			t.Fatalf("%s not announced", want)
		}
	}
	c.ok("SELECT INBOX")
	esearch := func(cmd, want string) {
		t.Helper()
		tag := c.tag()
		lines(t, cmd, c.ok(cmd), `* ESEARCH (TAG "`+tag+`")`+want)
	}
	// MIN and MAX are the first and last in sort order (§3.1).
	esearch("SORT RETURN (MIN MAX COUNT) (REVERSE ARRIVAL) US-ASCII ALL", " MIN 4 MAX 1 COUNT 4")
	esearch("SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL", " ALL 4,3,2,1")
	esearch("SORT RETURN (ALL) (SUBJECT) UTF-8 ALL", " ALL 4,1,3,2")
	esearch("UID SORT RETURN (ALL COUNT) (ARRIVAL) UTF-8 2:4", " UID ALL 2:4 COUNT 3")
	esearch("SORT RETURN (MIN) (ARRIVAL) UTF-8 DRAFT", "")
	esearch("SORT RETURN (COUNT) (ARRIVAL) UTF-8 DRAFT", " COUNT 0")
	esearch("SORT RETURN (PARTIAL 2:3) (REVERSE SIZE) UTF-8 ALL", " PARTIAL (2:3 3,2)")
	esearch("SORT RETURN (PARTIAL 4:2) (SIZE) UTF-8 ALL", " PARTIAL (2:4 2:4)")
	esearch("SORT RETURN (PARTIAL 1:9) (REVERSE SUBJECT) UTF-8 ALL", " PARTIAL (1:9 2:3,1,4)")
	esearch("SORT RETURN (PARTIAL 5:9) (SIZE) UTF-8 ALL", " PARTIAL (5:9 NIL)")
	// SEARCH PARTIAL: results in mailbox order (§4.4).
	esearch("SEARCH RETURN (PARTIAL 2:3) 1:2,4", " PARTIAL (2:3 2,4)")
	esearch("UID SEARCH RETURN (PARTIAL 1:1 COUNT) UNSEEN", " UID PARTIAL (1:1 2) COUNT 3")
	esearch("SEARCH RETURN (PARTIAL 4:9) UNSEEN", " PARTIAL (4:9 NIL)")
	// SAVE with SORT keeps the set for "$" (RFC 5182).
	c.ok("SORT RETURN (SAVE) (REVERSE SIZE) UTF-8 UNSEEN")
	lines(t, "FETCH $ after SORT SAVE", c.ok("FETCH $ (UID)"), "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	esearch("SORT RETURN (SAVE MAX) (REVERSE SIZE) UTF-8 UNSEEN", " MAX 2")
	lines(t, "FETCH $ after SORT SAVE MAX", c.ok("FETCH $ (UID)"), "* 2 FETCH (UID 2)")
	for _, bad := range []string{
		"SORT RETURN (PARTIAL 1) (ARRIVAL) UTF-8 ALL",
		"SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL",
		"SORT RETURN (ALL PARTIAL 1:2) (ARRIVAL) UTF-8 ALL",
		"SEARCH RETURN (PARTIAL *:1) ALL",
	} {
		c.expectStatus(bad, "BAD")
	}
	// Without RETURN, SORT answers as before (RFC 5256).
	lines(t, "plain SORT", c.ok("SORT (REVERSE ARRIVAL) UTF-8 ALL"), "* SORT 4 3 2 1")
}

// indexOf returns the position of the first untagged line starting with
// p, failing the test if there is none.
func indexOf(t *testing.T, r *resp, p string) int {
	t.Helper()
	i := slices.IndexFunc(r.untagged, func(l string) bool { return strings.HasPrefix(l, p) })
	if i < 0 {
		t.Fatalf("no %q in:\n%s", p, r)
	}
	return i
}

// TestSearchContextUpdate checks SEARCH RETURN (UPDATE) (CONTEXT=SEARCH,
// RFC 5267 §4.3): ADDTO and REMOVEFROM as the result changes by this
// session's STORE, another session's changes, new messages (after their
// EXISTS) and expunges (before their EXPUNGE), until CANCELUPDATE.
func TestSearchContextUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := 1; i <= 5; i++ {
		e.deliver(simpleMsg(fmt.Sprintf("m%d", i), "body\r\n"), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	st := c.tag()
	lines(t, "SEARCH RETURN (UPDATE)", c.ok("SEARCH RETURN (UPDATE) SEEN"), `* ESEARCH (TAG "`+st+`")`)
	ctx := `* ESEARCH (TAG "` + st + `")`

	r := c.ok(`STORE 1,2,4 +FLAGS (\Seen)`)
	if i := indexOf(t, r, ctx); i != len(r.untagged)-1 || r.untagged[i] != ctx+" ADDTO (0 1:2,4)" {
		t.Fatalf("own STORE: want ADDTO after the FETCH responses:\n%s", r)
	}
	r = c.ok(`STORE 1,2 -FLAGS (\Seen)`)
	if !r.has(ctx + " REMOVEFROM (0 1:2)") {
		t.Fatalf("own STORE removing: %s", r)
	}
	// A tag in use by an updating search cannot start another (§4.3).
	c.send(st + " SEARCH RETURN (UPDATE) ALL\r\n")
	prefix(t, "tag reuse", c.read(st).status(), "BAD")

	// Another session's change, seen at NOOP.
	o := e.login(alice)
	o.ok("SELECT INBOX")
	o.ok(`STORE 3 +FLAGS (\Seen)`)
	r = c.ok("NOOP")
	if indexOf(t, r, "* 3 FETCH") > indexOf(t, r, ctx+" ADDTO (0 3)") {
		t.Fatalf("ADDTO before the FETCH that caused it:\n%s", r)
	}
	// A new message that matches: ADDTO after its EXISTS (§4.3.3).
	msg := simpleMsg("m6", "body\r\n")
	o.send(fmt.Sprintf("a1 APPEND INBOX (\\Seen) {%d+}\r\n%s\r\n", len(msg), msg))
	o.read("a1")
	r = c.ok("NOOP")
	if indexOf(t, r, "* 6 EXISTS") > indexOf(t, r, ctx+" ADDTO (0 6)") {
		t.Fatalf("ADDTO before EXISTS:\n%s", r)
	}
	// Expunged matches: REMOVEFROM with the number it had, before the
	// EXPUNGE (§4.3.4). Messages 3, 4 and 6 match now.
	c.ok(`STORE 3:4 +FLAGS.SILENT (\Deleted)`)
	r = c.ok("EXPUNGE")
	lines(t, "EXPUNGE of matches", r,
		ctx+" REMOVEFROM (0 3)", "* 3 EXPUNGE", ctx+" REMOVEFROM (0 3)", "* 3 EXPUNGE")
	// The result is now {6}, sequence number 4.
	tag := c.tag()
	lines(t, "the result", c.ok("SEARCH RETURN (ALL) SEEN"), `* ESEARCH (TAG "`+tag+`") ALL 4`)

	// CANCELUPDATE ends it (§4.3.5); an unknown tag is an error.
	c.expectStatus(`CANCELUPDATE "nosuch"`, "BAD")
	c.ok(`CANCELUPDATE "` + st + `"`)
	r = c.ok(`STORE 1 +FLAGS (\Seen)`)
	if len(r.prefixed("* ESEARCH")) != 0 {
		t.Fatalf("update after CANCELUPDATE: %s", r)
	}
	c.expectStatus(`CANCELUPDATE "`+st+`"`, "BAD")
}

// TestSearchContextFrozen checks that sequence numbers and "$" in an
// updating search stand for the messages they named when it ran (RFC
// 5267 §4.3), and that UID contexts report UIDs, before VANISHED too.
func TestSearchContextFrozen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := 1; i <= 4; i++ {
		e.deliver(simpleMsg(fmt.Sprintf("m%d", i), "body\r\n"), delivery{})
	}
	c := e.login(alice)
	c.ok("ENABLE QRESYNC")
	c.ok("SELECT INBOX")
	st := c.tag()
	lines(t, "UID SEARCH RETURN (UPDATE ALL)", c.ok("UID SEARCH RETURN (UPDATE ALL) 2:3 FLAGGED"), `* ESEARCH (TAG "`+st+`") UID`)
	ctx := `* ESEARCH (TAG "` + st + `") UID`
	c.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	c.ok("EXPUNGE") // message 3 (UID 3) is number 2 now, and UID 4 is 3
	r := c.ok(`STORE 2:3 +FLAGS (\Flagged)`)
	if !r.has(ctx + " ADDTO (0 3)") {
		t.Fatalf("frozen sequence set: want UID 3 only:\n%s", r)
	}
	// Expunging a match: REMOVEFROM before the VANISHED line.
	c.ok(`UID STORE 3 +FLAGS.SILENT (\Deleted)`)
	r = c.ok("EXPUNGE")
	lines(t, "UID context and VANISHED", r, ctx+" REMOVEFROM (0 3)", "* VANISHED 3")

	// "$" is frozen the same way.
	c.ok("SEARCH RETURN (SAVE) UID 2")
	st2 := c.tag()
	c.ok("SEARCH RETURN (UPDATE) $ SEEN")
	c.ok("SEARCH RETURN (SAVE) UID 4")
	r = c.ok(`UID STORE 2,4 +FLAGS (\Seen)`)
	if !r.has(`* ESEARCH (TAG "`+st2+`") ADDTO (0 1)`) || len(r.prefixed(`* ESEARCH (TAG "`+st2+`")`)) != 1 {
		t.Fatalf(`frozen "$": %s`, r)
	}
}

// TestSortContextUpdate checks UID SORT RETURN (UPDATE) (CONTEXT=SORT,
// RFC 5267 §4.3.2): positions in the sort order for what joins and
// leaves the result.
func TestSortContextUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, n := range []int{10, 30, 50} { // UIDs 1, 2, 3 by increasing size
		e.deliver(simpleMsg("s", strings.Repeat("x", n)), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	st := c.tag()
	lines(t, "UID SORT RETURN (UPDATE ALL)", c.ok("UID SORT RETURN (UPDATE ALL) (REVERSE SIZE) UTF-8 UNSEEN"),
		`* ESEARCH (TAG "`+st+`") UID ALL 3,2,1`)
	ctx := `* ESEARCH (TAG "` + st + `") UID`
	// Sizes 40 and 5 go to positions 2 (after 50) and 5 (last).
	e.deliver(simpleMsg("s", strings.Repeat("x", 40)), delivery{})
	e.deliver(simpleMsg("s", strings.Repeat("x", 5)), delivery{})
	r := c.ok("NOOP")
	if !r.has(ctx+" ADDTO (2 4) ADDTO (5 5)") || indexOf(t, r, "* 5 EXISTS") > indexOf(t, r, ctx) {
		t.Fatalf("new messages in a SORT context:\n%s", r)
	}
	// \Seen takes size 30 (position 3) out.
	r = c.ok(`UID STORE 2 +FLAGS (\Seen)`)
	if !r.has(ctx + " REMOVEFROM (3 2)") {
		t.Fatalf("a message leaving a SORT context:\n%s", r)
	}
	// An expunge: 40 is at position 2.
	c.ok(`UID STORE 4 +FLAGS.SILENT (\Deleted)`)
	r = c.ok("EXPUNGE")
	lines(t, "expunge in a SORT context", r, ctx+" REMOVEFROM (2 4)", "* 4 EXPUNGE")
	// Back in: \Seen removed from size 30 puts it at position 2 of 50 10 5.
	r = c.ok(`UID STORE 2 -FLAGS (\Seen)`)
	if !r.has(ctx + " ADDTO (2 2)") {
		t.Fatalf("a message rejoining a SORT context:\n%s", r)
	}
	tag := c.tag()
	lines(t, "the result", c.ok("UID SORT RETURN (ALL) (REVERSE SIZE) UTF-8 UNSEEN"), `* ESEARCH (TAG "`+tag+`") UID ALL 3,2,1,5`)
}

// TestSortDisplay checks SORT=DISPLAY (RFC 5957): DISPLAYFROM and
// DISPLAYTO sort by the display name of the first address, else by
// mailbox@host (§3), and a group by its name, the first IMAP address
// structure of the header.
func TestSortDisplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, to := range []string{
		"foo bar <a@b.c>",                  // "foo bar"
		"b@c.d",                            // "b@c.d"
		"=?utf-8?q?Zo=C3=AB?= <zoe@z.z>",   // "Zoë"
		"team: x@x.org, y@y.org;",          // "team"
		"=?iso-8859-1?q?foo_aar?= <e@f.g>", // "foo aar"
	} {
		e.deliver("From: "+to+"\r\nTo: "+to+"\r\nSubject: s\r\n\r\nbody\r\n", delivery{})
	}
	c := e.login(alice)
	if !caps(t, c.ok("CAPABILITY").untagged[0])["SORT=DISPLAY"] {
		t.Fatal("SORT=DISPLAY not announced")
	}
	c.ok("SELECT INBOX")
	lines(t, "DISPLAYFROM", c.ok("SORT (DISPLAYFROM) UTF-8 ALL"), "* SORT 2 5 1 4 3")
	lines(t, "REVERSE DISPLAYTO", c.ok("UID SORT (REVERSE DISPLAYTO) UTF-8 ALL"), "* SORT 3 4 1 5 2")
	tag := c.tag()
	lines(t, "ESORT DISPLAYTO", c.ok("SORT RETURN (MIN) (DISPLAYTO) UTF-8 ALL"), `* ESEARCH (TAG "`+tag+`") MIN 2`)
}
