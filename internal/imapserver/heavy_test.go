package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestListPatternAttack (issue 11 item 6): LIST "" "<60,000 *>" took
// 24.7 CPU-seconds (the pattern was a regular expression with a state per
// star). The stars are one wildcard now, and matching costs a few steps
// per byte of the mailbox names; patterns with more wildcards than any
// client needs are refused with NO [LIMIT] (RFC 5530 §3).
func TestListPatternAttack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	const folders = 40
	for i := range folders {
		c.ok(fmt.Sprintf("CREATE Folder/with/a/rather/long/name%d", i))
	}
	all := c.ok(`LIST "" *`)
	nameBytes := 0
	for _, l := range all.untagged {
		nameBytes += len(l)
	}

	before := e.srv.Work().ListSteps
	r := c.ok(`LIST "" ` + strings.Repeat("*", 60000))
	eq(t, "mailboxes listed by 60,000 stars", len(r.untagged), len(all.untagged))
	steps := e.srv.Work().ListSteps - before
	if steps <= 0 || steps > int64(8*(nameBytes+len(all.untagged))) {
		t.Errorf("LIST of 60,000 stars took %d matching steps over %d bytes of names", steps, nameBytes)
	}

	lines(t, "matching with a few wildcards", c.ok(`LIST "" "F*/%/a/*name1"`),
		`* LIST (\HasNoChildren) "/" "Folder/with/a/rather/long/name1"`)
	eq(t, "lines for %/%", len(c.ok(`LIST "" "%/%"`).untagged), 1)
	for _, tc := range []struct{ what, cmd, want string }{
		{"33 wildcards", `LIST "" "` + strings.Repeat("*a", 33) + `"`, "NO [LIMIT]"},
		{"40,000 wildcards", `LIST "" "` + strings.Repeat("%x*", 20000) + `"`, "NO [LIMIT]"},
		{"33 patterns", `LIST "" (` + strings.TrimSpace(strings.Repeat(`"a*" `, 33)) + `)`, "NO [LIMIT]"},
		{"32 patterns", `LIST "" (` + strings.TrimSpace(strings.Repeat(`"a*" `, 32)) + `)`, "OK"},
		{"32 wildcards", `LIST "" "` + strings.Repeat("*a", 32) + `"`, "OK"},
	} {
		if r := c.do(tc.cmd); !strings.HasPrefix(r.status(), tc.want) {
			t.Errorf("LIST with %s: %.200s, want %s", tc.what, r.tagged, tc.want)
		}
	}
}

// TestSearchBodyAttack (issue 11 item 6): SEARCH BODY with a long needle
// of one repeated character over messages of the same character took
// about a minute of CPU: the index walked every position of every
// trigram of the needle in every message. A phrase now has at most six
// trigrams; a longer needle is found through a few of its trigrams and a
// linear search of the messages holding them, which reads each message's
// text at most once.
func TestSearchBodyAttack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const size = 256 << 10
	for range 3 {
		e.deliver(simpleMsg("repeated", strings.Repeat("a", size)+"\r\n"), delivery{})
	}
	e.deliver(simpleMsg("normal", "a few words\r\n"), delivery{})
	c := e.login(alice)
	c.ok("SELECT INBOX")
	before := e.st.TextWork()
	for _, tc := range []struct {
		what, needle, want string
	}{
		{"60,000 a", strings.Repeat("a", 60000), "* SEARCH 1 2 3"},
		{"60,000 a then b", strings.Repeat("a", 60000) + "b", "* SEARCH"},
		{"8 a", strings.Repeat("a", 8), "* SEARCH 1 2 3"},
		{"ab repeated", strings.Repeat("ab", 20000), "* SEARCH"},
		{"a few words", "A FEW WORDS", "* SEARCH 4"},
	} {
		tag := c.nextTag()
		c.send(fmt.Sprintf("%s SEARCH BODY {%d+}\r\n%s\r\n", tag, len(tc.needle), tc.needle))
		r := c.read(tag)
		if !strings.HasPrefix(r.status(), "OK") || len(r.untagged) != 1 || r.untagged[0] != tc.want {
			t.Errorf("SEARCH BODY %s: %.200s, want %s", tc.what, r, tc.want)
		}
	}
	w := e.st.TextWork()
	if w.MaxPhraseTerms > 6 {
		t.Errorf("a phrase query of %d trigrams", w.MaxPhraseTerms)
	}
	// Each long needle reads each repeated message at most once.
	if read := w.Read - before.Read; read > 4*3*(size+1000) {
		t.Errorf("%d characters read for 4 long needles over 3 messages of %d", read, size)
	}
}

// TestSearchProgramLimits (issue 11 item 6): every key of a search is
// evaluated for every message, so a program of thousands of keys (a
// command line holds 64 KiB) multiplied the work over a big mailbox; such
// programs get NO [LIMIT]. Sets of thousands of ranges and the saved
// result ($) are looked up, not walked, for each message.
func TestSearchProgramLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 6 {
		e.deliver(simpleMsg(fmt.Sprintf("m%d", i), "text\r\n"), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	for _, tc := range []struct{ what, cmd, want string }{
		{"256 keys", "SEARCH" + strings.Repeat(" UNSEEN", 256), "OK"},
		{"257 keys", "SEARCH" + strings.Repeat(" UNSEEN", 257), "NO [LIMIT]"},
		{"16 content keys", "SEARCH" + strings.Repeat(" BODY text", 8) + strings.Repeat(" SUBJECT m", 8), "OK"},
		{"17 content keys", "SEARCH" + strings.Repeat(" BODY text", 9) + strings.Repeat(" SUBJECT m", 8), "NO [LIMIT]"},
		{"SORT with 17 content keys", "SORT (DATE) UTF-8" + strings.Repeat(" FROM x", 17), "NO [LIMIT]"},
		{"THREAD with 257 keys", "THREAD REFERENCES UTF-8" + strings.Repeat(" ALL", 257), "NO [LIMIT]"},
	} {
		if r := c.do(tc.cmd); !strings.HasPrefix(r.status(), tc.want) {
			t.Errorf("%s: %.200s, want %s", tc.what, r.tagged, tc.want)
		}
	}
	var odd strings.Builder
	for i := 1; i < 20000; i += 2 {
		if odd.Len() > 0 {
			odd.WriteByte(',')
		}
		fmt.Fprint(&odd, i)
	}
	lines(t, "UID set of 10,000 ranges", c.ok("UID SEARCH UID "+odd.String()), "* SEARCH 1 3 5")
	lines(t, "sequence set with *", c.ok("SEARCH 5:*,2"), "* SEARCH 2 5 6")
	c.ok("SEARCH RETURN (SAVE) UID 2:4,6")
	lines(t, "saved result", c.ok("SEARCH $"), "* SEARCH 2 3 4 6")
	lines(t, "not the saved result", c.ok("SEARCH NOT $"), "* SEARCH 1 5")
}
