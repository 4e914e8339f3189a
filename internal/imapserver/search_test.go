package imapserver_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/traditionalchinese"
)

// noon returns midday UTC of a date: the same calendar day in any zone the
// test may run in.
func noon(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

// searchFixture delivers four messages to alice's INBOX; UIDs and
// sequence numbers are 1 to 4.
func searchFixture(t *testing.T, e *env) {
	t.Helper()
	big5, err := traditionalchinese.Big5.NewEncoder().String("非常感謝信件內容，謝謝。")
	if err != nil {
		t.Fatal(err)
	}
	encSubject := "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("日本語のテスト")) + "?="
	msgs := []struct {
		raw   string
		date  time.Time
		flags []string
	}{
		{"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Hello world\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nplain text body\r\n",
			noon(2020, 3, 10), []string{`\Seen`}},
		{"From: \"Bob Builder\" <bob@example.test>\r\nTo: Carol <carol@example.test>\r\nSubject: " + encSubject + "\r\n" +
			"Date: Wed, 05 May 2010 10:00:00 +0200\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			"I like banana bread.\r\n",
			noon(2021, 6, 15), []string{`\Flagged`, "$Important"}},
		{"From: Wang <wang@example.tw>\r\nTo: Alice <alice@example.test>\r\nSubject: Thanks\r\n" +
			"Date: Sat, 01 Aug 2015 08:00:00 +0800\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte(big5)) + "\r\n",
			noon(2022, 1, 20), nil},
		{"From: Dave <dave@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Big one\r\nX-Custom: yes\r\n" +
			"Date: Tue, 01 Mar 2022 09:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"=E6=84=9F=E8=AC=9D=E4=BF=A1 " + strings.Repeat("x", 5000) + "\r\n",
			noon(2023, 5, 5), nil},
	}
	for _, m := range msgs {
		e.deliver(m.raw, delivery{date: m.date, flags: m.flags})
	}
}

// tag returns the tag the next command of c will carry.
func (c *client) tag() string { return fmt.Sprintf("t%d", c.n+1) }

func TestSearchKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	searchFixture(t, e)
	c := e.login(alice)
	c.ok("SELECT INBOX")

	cases := []struct{ cmd, want string }{
		{"SEARCH ALL", "1 2 3 4"},
		{"SEARCH SEEN", "1"},
		{"SEARCH UNSEEN", "2 3 4"},
		{"SEARCH FLAGGED", "2"},
		{"SEARCH UNFLAGGED", "1 3 4"},
		{"SEARCH KEYWORD $Important", "2"},
		{"SEARCH UNKEYWORD $Important", "1 3 4"},
		{"SEARCH ANSWERED", ""},
		{"SEARCH UNANSWERED DELETED", ""},
		{"SEARCH UNDELETED UNDRAFT", "1 2 3 4"},
		{"SEARCH DRAFT", ""},
		// This session was the first to select INBOX: its messages are
		// \Recent here (RFC 3501 §2.3.2).
		{"SEARCH NEW", "2 3 4"},
		{"SEARCH RECENT", "1 2 3 4"},
		{"SEARCH OLD", ""},
		{"SEARCH 2:3", "2 3"},
		{"SEARCH *", "4"},
		{"SEARCH 1,3:*", "1 3 4"},
		{"UID SEARCH UID 3:*", "3 4"},
		{"UID SEARCH UID 9:*", "4"},
		{"SEARCH UID 2", "2"},
		{"SEARCH LARGER 4000", "4"},
		{"SEARCH SMALLER 4000", "1 2 3"},
		{"SEARCH BEFORE 1-Jun-2021", "1"},
		{"SEARCH ON 15-Jun-2021", "2"},
		{"SEARCH SINCE 15-Jun-2021", "2 3 4"},
		{`SEARCH SINCE "16-Jun-2021"`, "3 4"},
		{"SEARCH SENTBEFORE 1-Jan-2010", "1"},
		{"SEARCH SENTON 5-May-2010", "2"},
		{"SEARCH SENTSINCE 1-Jan-2011", "3 4"},
		{"SEARCH FROM bob", "2"},
		{`SEARCH FROM "Bob Builder"`, "2"},
		{"SEARCH FROM example.tw", "3"},
		{"SEARCH TO carol", "2"},
		{"SEARCH CC carol", ""},
		{"SEARCH SUBJECT hello", "1"},
		{"SEARCH SUBJECT HELLO", "1"},
		{"SEARCH HEADER X-Custom yes", "4"},
		{`SEARCH HEADER X-Custom ""`, "4"},
		{"SEARCH HEADER Subject thanks", "3"},
		{"SEARCH OR FROM bob SUBJECT hello", "1 2"},
		{"SEARCH NOT SEEN", "2 3 4"},
		{"SEARCH (SEEN)", "1"},
		{"SEARCH NOT (OR SEEN FLAGGED)", "3 4"},
		{"SEARCH OR (SEEN FROM alice) LARGER 4000", "1 4"},
		{"SEARCH FROM alice FROM bob", ""},
		{"SEARCH BODY banana", "2"},
		{"SEARCH TEXT banana", "2"},
		{"SEARCH BODY ba", "2"},
		{`SEARCH TEXT "Hello world"`, "1"},
		{`SEARCH BODY "Hello world"`, ""},
		{"SEARCH TEXT wang", "3"},
		{"SEARCH CHARSET US-ASCII BODY BANANA", "2"},
	}
	for _, tc := range cases {
		want := "* SEARCH"
		if tc.want != "" {
			want += " " + tc.want
		}
		lines(t, tc.cmd, c.ok(tc.cmd), want)
	}

	// Non-ASCII strings as literals with CHARSET UTF-8: the RFC 2047
	// subject and CJK words in base64 Big5 and quoted-printable UTF-8
	// bodies, found through the full-text index.
	utf8Search := func(key, word, want string) {
		t.Helper()
		c.send(fmt.Sprintf("u SEARCH CHARSET UTF-8 %s {%d}\r\n", key, len(word)))
		if l := c.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("no continuation: %q", l)
		}
		c.send(word + "\r\n")
		r := c.read("u")
		lines(t, key+" "+word, r, strings.TrimSpace("* SEARCH "+want))
		prefix(t, key+" "+word, r.status(), "OK")
	}
	utf8Search("SUBJECT", "日本語", "2")
	utf8Search("BODY", "感謝信", "3 4")
	utf8Search("TEXT", "感謝信", "3 4")
	utf8Search("BODY", "謝謝", "3")
	utf8Search("FROM", "感謝信", "")
	c.expectStatus("SEARCH CHARSET KOI8-R BODY x", "NO [BADCHARSET (UTF-8 US-ASCII)]")
	c.expectStatus("SEARCH FROB", "BAD")
	c.expectStatus("SEARCH BEFORE 31-Feb-2020", "BAD")

	// A message delivered a moment ago is indexed before the search.
	e.deliver(simpleMsg("Fruit", "a kiwifruit a day\r\n"), delivery{})
	lines(t, "NOOP", c.ok("NOOP"), "* 5 EXISTS", "* 5 RECENT")
	lines(t, "BODY of a new message", c.ok("SEARCH BODY kiwifruit"), "* SEARCH 5")
	lines(t, "UID SEARCH", c.ok("UID SEARCH BODY kiwifruit"), "* SEARCH 5")
}

func TestSearchModSeqAndESearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	searchFixture(t, e)
	c := e.login(alice)
	c.ok("SELECT INBOX")
	c.ok(`STORE 3 +FLAGS (\Answered)`)
	ms := e.modseqs(alice, "INBOX")

	// MODSEQ (RFC 7162 §3.1.5): the highest MODSEQ of the matches is
	// returned with them.
	// The first one enables CONDSTORE (RFC 7162 §3.1).
	lines(t, "SEARCH MODSEQ", c.ok(fmt.Sprintf("SEARCH MODSEQ %d", ms[3])),
		fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", e.mailbox(alice, "INBOX").HighestModSeq),
		fmt.Sprintf("* SEARCH 3 (MODSEQ %d)", ms[3]))
	lines(t, "SEARCH MODSEQ none", c.ok(fmt.Sprintf("SEARCH MODSEQ %d", ms[3]+1)), "* SEARCH")
	lines(t, "SEARCH MODSEQ entry", c.ok(fmt.Sprintf(`SEARCH MODSEQ "/flags/\\answered" all %d`, ms[3])), fmt.Sprintf("* SEARCH 3 (MODSEQ %d)", ms[3]))

	// ESEARCH (RFC 4731).
	tag := c.tag()
	lines(t, "ESEARCH", c.ok("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN"), `* ESEARCH (TAG "`+tag+`") MIN 2 MAX 4 COUNT 3 ALL 2:4`)
	tag = c.tag()
	lines(t, "ESEARCH ()", c.ok("UID SEARCH RETURN () ALL"), `* ESEARCH (TAG "`+tag+`") UID ALL 1:4`)
	tag = c.tag()
	lines(t, "ESEARCH empty", c.ok("SEARCH RETURN (COUNT MIN MAX ALL) KEYWORD nothere"), `* ESEARCH (TAG "`+tag+`") COUNT 0`)
	tag = c.tag()
	lines(t, "ESEARCH MODSEQ", c.ok(fmt.Sprintf("SEARCH RETURN (COUNT) MODSEQ %d", ms[3])), fmt.Sprintf(`* ESEARCH (TAG "%s") COUNT 1 MODSEQ %d`, tag, ms[3]))
	// With MIN or MAX alone, MODSEQ is that of the messages returned
	// (RFC 4731 §3.2), not the highest of all matches.
	tag = c.tag()
	lines(t, "ESEARCH MIN MODSEQ", c.ok("SEARCH RETURN (MIN) MODSEQ 1"), fmt.Sprintf(`* ESEARCH (TAG "%s") MIN 1 MODSEQ %d`, tag, ms[1]))
	tag = c.tag()
	lines(t, "ESEARCH MIN MAX MODSEQ", c.ok("SEARCH RETURN (MIN MAX) 1:2 MODSEQ 1"), fmt.Sprintf(`* ESEARCH (TAG "%s") MIN 1 MAX 2 MODSEQ %d`, tag, max(ms[1], ms[2])))

	// SEARCHRES (RFC 5182): SAVE alone answers nothing; "$" is the saved
	// result.
	lines(t, "SAVE", c.ok("SEARCH RETURN (SAVE) FLAGGED"))
	lines(t, "FETCH $", c.ok("FETCH $ (UID)"), "* 2 FETCH (UID 2)")
	lines(t, "SEARCH $", c.ok("SEARCH $"), "* SEARCH 2")
	lines(t, "UID SEARCH UID $", c.ok("UID SEARCH UID $"), "* SEARCH 2")
	lines(t, "SEARCH OR $ SEEN", c.ok("SEARCH OR $ SEEN"), "* SEARCH 1 2")
	// With MIN or MAX and neither ALL nor COUNT, "$" holds what they
	// returned (RFC 5182 §2.4).
	tag = c.tag()
	lines(t, "SAVE MIN", c.ok("SEARCH RETURN (SAVE MIN) UNSEEN"), `* ESEARCH (TAG "`+tag+`") MIN 2`)
	lines(t, "$ after SAVE MIN", c.ok("FETCH $ (UID)"), "* 2 FETCH (UID 2)")
	tag = c.tag()
	lines(t, "SAVE MIN MAX", c.ok("UID SEARCH RETURN (SAVE MIN MAX) UNSEEN"), `* ESEARCH (TAG "`+tag+`") UID MIN 2 MAX 4`)
	// SEARCH MODSEQ enabled CONDSTORE: FLAGS come with MODSEQ (RFC 7162 §3.1).
	lines(t, "$ after SAVE MIN MAX", c.ok("UID FETCH $ (FLAGS)"),
		fmt.Sprintf(`* 2 FETCH (FLAGS (\Recent \Flagged $Important) UID 2 MODSEQ (%d))`, ms[2]),
		fmt.Sprintf(`* 4 FETCH (FLAGS (\Recent) UID 4 MODSEQ (%d))`, ms[4]))
	tag = c.tag()
	lines(t, "SAVE MIN COUNT", c.ok("SEARCH RETURN (SAVE MIN COUNT) UNSEEN"), `* ESEARCH (TAG "`+tag+`") MIN 2 COUNT 3`)
	lines(t, "$ after SAVE MIN COUNT", c.ok("SEARCH $"), "* SEARCH 2 3 4")
	c.ok(`STORE $ +FLAGS.SILENT (\Seen)`)
	lines(t, "STORE $", c.ok("SEARCH UNSEEN"), "* SEARCH")

	// IMAP4rev2: SEARCH answers with ESEARCH (RFC 9051 §6.4.4).
	v := e.login(alice)
	v.ok("ENABLE IMAP4rev2")
	v.ok("SELECT INBOX")
	tag = v.tag()
	lines(t, "rev2 SEARCH", v.ok("SEARCH FLAGGED"), `* ESEARCH (TAG "`+tag+`") ALL 2`)
	tag = v.tag()
	lines(t, "rev2 SEARCH nothing", v.ok("SEARCH DRAFT"), `* ESEARCH (TAG "`+tag+`")`)
}

func TestSortThread(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	searchFixture(t, e)
	c := e.login(alice)
	c.ok("SELECT INBOX")

	// SORT (RFC 5256 §3).
	lines(t, "SORT REVERSE DATE", c.ok("SORT (REVERSE DATE) UTF-8 ALL"), "* SORT 4 3 2 1")
	lines(t, "SORT DATE", c.ok("SORT (DATE) UTF-8 ALL"), "* SORT 1 2 3 4")
	lines(t, "SORT SUBJECT", c.ok("SORT (SUBJECT) UTF-8 ALL"), "* SORT 4 1 3 2")
	lines(t, "SORT SIZE", c.ok("UID SORT (REVERSE SIZE) US-ASCII ALL"), "* SORT 4 3 2 1")
	lines(t, "SORT FROM", c.ok("SORT (FROM) UTF-8 ALL"), "* SORT 1 2 4 3")
	lines(t, "SORT ARRIVAL with key", c.ok("SORT (ARRIVAL) UTF-8 UNSEEN"), "* SORT 2 3 4")
	c.expectStatus("SORT (BOGUS) UTF-8 ALL", "BAD")

	// THREAD (RFC 5256 §4) on a reply chain.
	c.ok("CREATE Threads")
	thread := []string{
		"Message-ID: <a@x>\r\nSubject: topic\r\nDate: Wed, 01 Jan 2020 10:00:00 +0000\r\n\r\nroot\r\n",
		"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\nSubject: Re: topic\r\nDate: Thu, 02 Jan 2020 10:00:00 +0000\r\n\r\nreply\r\n",
		"Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\nSubject: Re: topic\r\nDate: Fri, 03 Jan 2020 10:00:00 +0000\r\n\r\nreply to reply\r\n",
		"Message-ID: <d@x>\r\nSubject: other\r\nDate: Sat, 04 Jan 2020 10:00:00 +0000\r\n\r\nunrelated\r\n",
		"Message-ID: <e@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\nSubject: Re: topic\r\nDate: Sun, 05 Jan 2020 10:00:00 +0000\r\n\r\nsecond reply\r\n",
	}
	for _, m := range thread {
		e.deliver(m, delivery{mailbox: "Threads"})
	}
	c.ok("SELECT Threads")
	lines(t, "THREAD REFERENCES", c.ok("THREAD REFERENCES UTF-8 ALL"), "* THREAD (1 (2 3)(5))(4)")
	lines(t, "UID THREAD REFERENCES", c.ok("UID THREAD REFERENCES UTF-8 NOT UID 1"), "* THREAD ((2 3)(5))(4)")
	lines(t, "THREAD ORDEREDSUBJECT", c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (1 (2)(3)(5))(4)")
	c.expectStatus("THREAD FOO UTF-8 ALL", "BAD")
}

// TestSearchTextHeaders checks that SEARCH TEXT looks in every header
// field (RFC 9051 §6.4.4: "the header (including MIME header fields)"),
// through the full-text index: fields no envelope holds, the Date, and
// the trace fields served before the message; BODY does not.
func TestSearchTextHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver("Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\nasdfghjkl zxcvbnm\r\n", delivery{})
	e.deliver("Date: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: qwertyuiop\r\n\r\nasdfghjkl\r\n", delivery{})
	e.deliver("Date: Sat, 24 Mar 2007 23:00:00 +0200\r\nX-Header: qwertyuiop\r\n\r\nzxcvbnm\r\n", delivery{})
	e.deliver("Date: Sun, 25 Mar 2007 23:00:00 +0200\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: text/plain\r\nContent-Description: partdescription\r\n\r\nzxcvbnm qwertyuiop\r\n--b--\r\n",
		delivery{prefix: "Received: from tracehost.example\r\n"})
	c := e.login(alice)
	c.ok("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH TEXT qwertyuiop", "2 3 4"},
		{"SEARCH TEXT wertyuio", "2 3 4"},
		{"SEARCH BODY qwertyuiop", "4"},
		{`SEARCH TEXT "24 Mar"`, "1 2 3"},
		{"SEARCH TEXT x-header", "3"},
		{"SEARCH TEXT partdescription", "4"},
		{"SEARCH TEXT tracehost", "4"},
		{"SEARCH BODY tracehost", ""},
		{"SEARCH TEXT Mar", "1 2 3 4"}, // three characters: the trigram index
		{"SEARCH TEXT 25", "4"},        // shorter: the stored text
	} {
		want := "* SEARCH"
		if tc.want != "" {
			want += " " + tc.want
		}
		lines(t, tc.cmd, c.ok(tc.cmd), want)
	}
}

// TestSearchPastMIMELimits (issue 11 item 8): the parser stops taking a
// message apart past 50 levels of nesting or 10,000 parts, and what it
// left whole used to be missing from the full-text index. A word deep
// inside such a message is found by SEARCH BODY and TEXT.
func TestSearchPastMIMELimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var deep strings.Builder
	deep.WriteString("Subject: deep\r\n")
	for i := range 60 {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	deep.WriteString("Content-Type: text/plain\r\n\r\nthe deepword at the bottom\r\n")
	for i := 59; i >= 0; i-- {
		fmt.Fprintf(&deep, "--b%d--\r\n", i)
	}
	var many strings.Builder
	many.WriteString("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range 10050 {
		fmt.Fprintf(&many, "--b\r\nContent-Type: text/plain\r\n\r\nword%d\r\n", i)
	}
	many.WriteString("--b--\r\n")
	e.deliver(deep.String(), delivery{})
	e.deliver(many.String(), delivery{})
	e.deliver(simpleMsg("other", "nothing here\r\n"), delivery{})
	c := e.login(alice)
	c.ok("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH BODY deepword", "* SEARCH 1"},
		{"SEARCH TEXT deepword", "* SEARCH 1"},
		{"SEARCH BODY word10030", "* SEARCH 2"},
		{"SEARCH TEXT word10049", "* SEARCH 2"},
		{"SEARCH BODY word5000", "* SEARCH 2"},
	} {
		lines(t, tc.cmd, c.ok(tc.cmd), tc.want)
	}
}
