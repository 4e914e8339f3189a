package imapserver_test

import (
	"bufio"
	"compress/flate"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
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
// about a minute of CPU: the index walked every position of a trigram
// again for each time the needle repeated it, in every message. A phrase
// query now holds each trigram once (at most 30 of them); other needles
// are found through a few of their trigrams and a linear search of the
// messages holding them, which reads each message's text at most once.
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
	if w.MaxPhraseRepeat > 1 || w.MaxPhraseTerms > 30 {
		t.Errorf("a phrase query of %d trigrams, one of them %d times", w.MaxPhraseTerms, w.MaxPhraseRepeat)
	}
	// Each needle of repeated trigrams reads each message at most once.
	if read := w.Read - before.Read; read > 4*3*(size+1000) {
		t.Errorf("%d characters read for 4 needles over 3 messages of %d", read, size)
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
		{"16 content keys", "SEARCH" + strings.Repeat(" BODY text", 4) + strings.Repeat(" SUBJECT m", 12), "OK"},
		{"17 content keys", "SEARCH" + strings.Repeat(" BODY text", 4) + strings.Repeat(" SUBJECT m", 13), "NO [LIMIT]"},
		{"5 text keys", "SEARCH OR BODY t1 TEXT t2 BODY t3 NOT TEXT t4 BODY t5", "NO [LIMIT]"},
		{"4 text keys, repeated", "SEARCH OR BODY t1 TEXT t2 BODY t3 NOT TEXT t4 BODY t1 TEXT t2", "OK"},
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

// blockFirstStep makes the first message a search evaluates wait until
// the command's context ends (or wait passes, which the caller reports
// as a failure): a search that a test can hold in the middle.
type blockFirstStep struct {
	started   chan struct{}
	release   chan struct{}
	steps     atomic.Int64 // messages evaluated, the blocked one included
	cancelled atomic.Bool  // the context ended while blocked
}

func holdSearch(e *env) *blockFirstStep {
	b := &blockFirstStep{started: make(chan struct{}), release: make(chan struct{})}
	e.srv.SetSearchStep(func(ctx context.Context) {
		if b.steps.Add(1) != 1 {
			return // only the first message is held; other searches go on
		}
		close(b.started)
		select {
		case <-ctx.Done():
			b.cancelled.Store(true)
		case <-b.release:
		case <-time.After(wait):
		}
	})
	return b
}

func (b *blockFirstStep) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(wait):
		t.Fatal("the search did not start")
	}
}

// TestSearchCancelledOnHangup (issue 11 item 6): a client that sent a
// long search and left kept it running to the end (LIST "" "<60,000 *>"
// ran on for seconds after the client was gone). The session watches the
// connection while an expensive command runs; the hang-up ends the
// command's context and the search stops at the next message.
func TestSearchCancelledOnHangup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const msgs = 20
	for i := range msgs {
		e.deliver(simpleMsg(fmt.Sprintf("m%d", i), "text\r\n"), delivery{})
	}
	b := holdSearch(e)
	c := e.login(alice)
	c.ok("SELECT INBOX")
	c.send("s1 SEARCH FROM nobody\r\n")
	b.waitStarted(t)
	c.conn.Close()
	e.waitSessions(0, "after the client hung up mid-search")
	if !b.cancelled.Load() {
		t.Fatal("the search's context did not end when the client hung up")
	}
	if n := b.steps.Load(); n != 1 {
		t.Errorf("the search evaluated %d messages, want it stopped after the first (of %d)", n, msgs)
	}
	eq(t, "Work().Cancelled", e.srv.Work().Cancelled, 1)
}

// TestExpensiveCommandsPipelined: what the hang-up watch reads while a
// search runs is the next commands, and they are answered in order, also
// under COMPRESS=DEFLATE (the watch reads below the inflater).
func TestExpensiveCommandsPipelined(t *testing.T) {
	t.Parallel()
	for _, compressed := range []bool{false, true} {
		t.Run(fmt.Sprint("compressed=", compressed), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.deliver(simpleMsg("hello", "text\r\n"), delivery{})
			b := holdSearch(e)
			c := e.login(alice)
			if compressed {
				c.ok("COMPRESS DEFLATE")
				fw, err := flate.NewWriter(c.conn, flate.DefaultCompression)
				if err != nil {
					t.Fatal(err)
				}
				c.r = bufio.NewReader(flate.NewReader(c.r))
				c.w = fw
				c.flush = fw.Flush
			}
			c.ok("SELECT INBOX")
			c.send("s1 SEARCH SUBJECT hello\r\n")
			b.waitStarted(t)
			c.send("s2 NOOP\r\ns3 SEARCH SUBJECT hello\r\n")
			c.send("s4 LIST \"\" INBOX*\r\n")
			close(b.release)
			lines(t, "held search", c.read("s1"), "* SEARCH 1")
			c.read("s2")
			lines(t, "pipelined search", c.read("s3"), "* SEARCH 1")
			lines(t, "pipelined LIST", c.read("s4"), `* LIST (\HasNoChildren) "/" "INBOX"`)
			c.ok("LOGOUT")
			eq(t, "Work().Cancelled", e.srv.Work().Cancelled, 0)
		})
	}
}

// TestExpensiveCommandsPerAccount (issue 11 item 6): an account may run
// MaxExpensive expensive commands at once; one more waits
// ExpensiveWait for a turn and then gets NO [LIMIT] (RFC 5530 §3).
// Other accounts and cheap commands are not held up.
func TestExpensiveCommandsPerAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) {
		c.MaxExpensive = 1
		c.ExpensiveWait = time.Millisecond
	})
	e.deliver(simpleMsg("hello", "text\r\n"), delivery{})
	e.deliver(simpleMsg("hello", "text\r\n"), delivery{user: bob})
	b := holdSearch(e)
	c1 := e.login(alice)
	c1.ok("SELECT INBOX")
	c1.send("s1 SEARCH SUBJECT hello\r\n")
	b.waitStarted(t)

	c2 := e.login(alice)
	c2.ok("SELECT INBOX")
	c2.expectStatus("SEARCH SUBJECT hello", "NO [LIMIT]")
	c2.expectStatus(`LIST "" *`, "NO [LIMIT]")
	lines(t, "a cheap search", c2.ok("SEARCH UNSEEN"), "* SEARCH 1")
	lines(t, "LIST without wildcards", c2.ok(`LIST "" INBOX`), `* LIST (\HasNoChildren) "/" "INBOX"`)
	eq(t, "Work().Limited", e.srv.Work().Limited, 2)

	other := e.login(bob)
	other.ok("SELECT INBOX")
	lines(t, "another account's search", other.ok("SEARCH SUBJECT hello"), "* SEARCH 1")

	close(b.release)
	lines(t, "the held search", c1.read("s1"), "* SEARCH 1")
	lines(t, "a search once the first is done", c2.ok("SEARCH SUBJECT hello"), "* SEARCH 1")
}
