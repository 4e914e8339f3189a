package imapmime

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// crlf turns a readable fixture with "\n" line ends into a CRLF message.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func mustParse(t testing.TB, msg string) *Part {
	t.Helper()
	p, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// rfc2046Example is the multipart example of RFC 2046 §5.1.1.
var rfc2046Example = crlf(`From: Nathaniel Borenstein <nsb@bellcore.com>
To: Ned Freed <ned@innosoft.com>
Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)
Subject: Sample message
MIME-Version: 1.0
Content-type: multipart/mixed; boundary="simple boundary"

This is the preamble.  It is to be ignored, though it
is a handy place for composition agents to include an
explanatory note to non-MIME conformant readers.

--simple boundary

This is implicitly typed plain US-ASCII text.
It does NOT end with a linebreak.
--simple boundary
Content-type: text/plain; charset=us-ascii

This is explicitly typed plain US-ASCII text.
It DOES end with a linebreak.

--simple boundary--

This is the epilogue.  It is also to be ignored.
`)

// mixedMessage has most of what real mail carries: encoded words, a group,
// a folded address list, multipart/alternative inside multipart/mixed, a
// base64 attachment with MD5 and RFC 2183 parameters, language and
// location, and a forwarded message.
var mixedMessage = crlf(`Received: from mx.example.cn by mail.example.org; Tue, 2 Jan 2024 00:00:01 +0000
From: =?UTF-8?B?5byg5LiJ?= <zhang@example.cn>
Reply-To: <replies@example.cn>
To: "Bob Smith" <bob@example.org>,
 Team: carol@example.org,
	"Dan \"D\" Jones" <dan@example.org>;
Cc: undisclosed-recipients:;
Subject: =?GB2312?B?uNDQu9DF?=
Date: Tue, 2 Jan 2024 08:00:00 +0800
Message-ID: <mixed@example.cn>
In-Reply-To: <prev@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a multi-part message in MIME format.
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello Bob =E2=80=94 thanks!
--inner
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable
Content-Language: en, zh-CN
Content-Location: http://example.cn/a.html

<p>Hello Bob =E2=80=94 <b>thanks</b>!</p>
--inner--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="report.pdf"; size=12
Content-ID: <pdf1@example.cn>
Content-Description: Quarterly report
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

JVBERi0xLjQKJeLjz9MK
--outer
Content-Type: message/rfc822

From: Carol <carol@example.org>
Subject: fwd
Date: Mon, 1 Jan 2024 00:00:00 +0000

Forwarded body.
--outer--
`)

const carolEnvelope = `("Mon, 1 Jan 2024 00:00:00 +0000" "fwd" (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) NIL NIL NIL NIL NIL)`

func TestBodyStructure(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		body     string // BODY
		extended string // BODYSTRUCTURE; skipped when empty
	}{
		{
			name:     "rfc2046 example",
			msg:      rfc2046Example,
			body:     `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 80 2)("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 78 2) "mixed")`,
			extended: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 80 2 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 78 2 NIL NIL NIL NIL) "mixed" ("boundary" "simple boundary") NIL NIL NIL)`,
		},
		{
			name: "plain without MIME headers",
			msg:  crlf("From: alice@example.com\nSubject: hello\n\nline one\nline two\n"),
			body: `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 20 2)`,
			// RFC 9051 §7.5.2: all extension fields present, NIL.
			extended: `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 20 2 NIL NIL NIL NIL)`,
		},
		{
			name: "last line without line break counts",
			msg:  crlf("Subject: x\n\none\ntwo"),
			body: `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 2)`,
		},
		{
			name:     "empty message",
			msg:      "",
			body:     `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0)`,
			extended: `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)`,
		},
		{
			name: "header only, no blank line",
			msg:  crlf("Subject: only a header\nContent-Type: text/html\n"),
			body: `("text" "html" NIL NIL NIL "7BIT" 0 0)`,
		},
		{
			name: "invalid content-type falls back to text/plain",
			msg:  crlf("Content-Type: text\nContent-Transfer-Encoding: 8BIT (comment)\n\nx\n"),
			body: `("text" "plain" ("charset" "us-ascii") NIL NIL "8BIT" 3 1)`,
		},
		{
			name: "mixed with alternative, attachment and forwarded message",
			msg:  mixedMessage,
			body: `((("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 27 1)` +
				`("text" "html" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 41 1) "alternative")` +
				`("application" "pdf" ("name" "report.pdf") "<pdf1@example.cn>" "Quarterly report" "BASE64" 20)` +
				`("message" "rfc822" NIL NIL NIL "7BIT" 102 ` + carolEnvelope + ` ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 15 1) 5) "mixed")`,
			extended: `((("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 27 1 NIL NIL NIL NIL)` +
				`("text" "html" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 41 1 NIL NIL ("en" "zh-CN") "http://example.cn/a.html")` +
				` "alternative" ("boundary" "inner") NIL NIL NIL)` +
				`("application" "pdf" ("name" "report.pdf") "<pdf1@example.cn>" "Quarterly report" "BASE64" 20 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "report.pdf" "size" "12")) NIL NIL)` +
				`("message" "rfc822" NIL NIL NIL "7BIT" 102 ` + carolEnvelope + ` ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL)` +
				` "mixed" ("boundary" "outer") NIL NIL NIL)`,
		},
		{
			name: "bare LF line ends",
			msg:  "From: a@example.com\nSubject: lf\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\none\ntwo\n--x\nContent-Type: text/html\n\n<i>three</i>\n--x--\n",
			body: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 7 2)("text" "html" NIL NIL NIL "7BIT" 12 1) "mixed")`,
		},
		{
			name: "missing close delimiter ends at the end of input",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\n--b\nContent-Type: text/plain\n\ntwo\n"),
			body: `(("text" "plain" NIL NIL NIL "7BIT" 3 1)("text" "plain" NIL NIL NIL "7BIT" 5 1) "mixed")`,
		},
		{
			name: "unclosed inner multipart ends at the outer boundary; prefix boundaries",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\n\na\n--b\n\nc\n--b--\n"),
			body: `((("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 1) "alternative")("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 1) "mixed")`,
		},
		{
			name: "boundary lines with trailing white space",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b  \t\n\nx\n--b-- \nepilogue\n"),
			body: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 1) "mixed")`,
		},
		{
			name: "boundary-like lines that are not boundaries",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n-- b\n--b--x\n--b--\n"),
			body: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 18 3) "mixed")`,
		},
		{
			name: "digest children default to message/rfc822",
			msg:  crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x@example.com\nSubject: one\n\nbody1\n--d\nContent-Type: text/plain\n\nnot a message\n--d--\n"),
			body: `(("message" "rfc822" NIL NIL NIL "7BIT" 42 (NIL "one" ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 1) 4)("text" "plain" NIL NIL NIL "7BIT" 13 1) "digest")`,
		},
		{
			name: "child header ended by a boundary",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n"),
			body: `(("text" "plain" NIL NIL NIL "7BIT" 0 0) "mixed")`,
		},
		{
			// The delimiter's own line break is the one before the next
			// boundary: the inner part is empty and inside its parent.
			name: "empty nested part between two boundaries",
			msg:  crlf("Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/mixed; boundary=inner\n\n--inner\n--outer--\n"),
			body: `((("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) "mixed") "mixed")`,
		},
		{
			// The blank line ending the encapsulated header is the line
			// break that belongs to the boundary (RFC 2046 §5.1.1).
			name: "encapsulated message with a header only",
			msg:  crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\n--b--\n"),
			body: `(("message" "rfc822" NIL NIL NIL "7BIT" 12 (NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) 1) "mixed")`,
		},
		{
			name:     "multipart without boundary gets an empty part",
			msg:      crlf("Content-Type: multipart/mixed\n\nhello\n"),
			body:     `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) "mixed")`,
			extended: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)`,
		},
		{
			name: "encoded message/rfc822 is not parsed (RFC 2046 §5.2.1)",
			msg:  crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n"),
			body: `("message" "rfc822" NIL NIL NIL "BASE64" 22 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) 1)`,
		},
		{
			name: "message/global is shown like message/rfc822",
			msg:  crlf("Content-Type: message/global\n\nSubject: =?UTF-8?Q?x?=\n\nbody\n"),
			body: `("message" "global" NIL NIL NIL "7BIT" 32 (NIL "=?UTF-8?Q?x?=" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 6 1) 3)`,
		},
		{
			name: "header field names and parameters in any case, comments",
			msg:  crlf("CONTENT-TYPE: Text/HTML (fancy) ; CharSet = \"ISO-8859-1\" ; format=flowed\ncontent-id:<a@b>\n\n<b>x</b>\n"),
			body: `("text" "html" ("charset" "ISO-8859-1" "format" "flowed") "<a@b>" NIL "7BIT" 10 1)`,
		},
		{
			name: "unquoted parameter value with tspecials",
			msg:  crlf("Content-Type: multipart/alternative; boundary=----=_Part_1_2.3\n\n------=_Part_1_2.3\n\nx\n------=_Part_1_2.3--\n"),
			body: `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 1) "alternative")`,
		},
		{
			name: "RFC 2231 continuations and charsets",
			msg: crlf("Content-Type: application/octet-stream;\n name*0*=UTF-8''%E6%84%9F;\n name*1*=%E8%AC%9D; name*2=\".txt\";\n title*=iso-8859-1'en'%A3%20rates\n" +
				"Content-Disposition: attachment; filename=\"fallback.txt\"; filename*=gb2312''%B8%D0%D0%BB%D0%C5.txt\n\nx"),
			body:     "(\"application\" \"octet-stream\" (\"name\" {10}\r\n感謝.txt \"title\" {8}\r\n£ rates) NIL NIL \"7BIT\" 1)",
			extended: "(\"application\" \"octet-stream\" (\"name\" {10}\r\n感謝.txt \"title\" {8}\r\n£ rates) NIL NIL \"7BIT\" 1 NIL (\"attachment\" (\"filename\" {13}\r\n感谢信.txt)) NIL NIL)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.msg)
			if got := string(p.AppendBodyStructure(nil, false, false)); got != tt.body {
				t.Errorf("BODY\n got %s\nwant %s", got, tt.body)
			}
			if tt.extended != "" {
				if got := string(p.AppendBodyStructure(nil, true, false)); got != tt.extended {
					t.Errorf("BODYSTRUCTURE\n got %s\nwant %s", got, tt.extended)
				}
			}
			checkStructure(t, p, tt.msg)
		})
	}
}

// checkStructure checks the invariants every parsed tree must hold, and
// that its IMAP output is valid RFC 9051 syntax in every mode.
func checkStructure(t testing.TB, root *Part, msg string) {
	t.Helper()
	if root.HeaderStart != 0 || root.End != int64(len(msg)) {
		t.Errorf("root spans [%d,%d), message is %d bytes", root.HeaderStart, root.End, len(msg))
	}
	var walk func(p *Part, lo, hi int64)
	walk = func(p *Part, lo, hi int64) {
		if !(lo <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= hi) {
			t.Errorf("offsets %d %d %d outside [%d,%d] or out of order", p.HeaderStart, p.BodyStart, p.End, lo, hi)
			return
		}
		if p.Size != p.End-p.BodyStart {
			t.Errorf("Size %d, End-BodyStart %d", p.Size, p.End-p.BodyStart)
		}
		if p.Lines < 0 || p.Lines > p.Size+1 {
			t.Errorf("Lines %d for %d bytes", p.Lines, p.Size)
		}
		if want := countLines(msg[p.BodyStart:p.End]); p.Lines != want {
			t.Errorf("part at %d: Lines %d, body has %d", p.HeaderStart, p.Lines, want)
		}
		prev := p.BodyStart
		for _, c := range p.Parts {
			walk(c, prev, p.End)
			prev = c.End
		}
		if p.Message != nil {
			if p.Message.HeaderStart != p.BodyStart || p.Message.End != p.End {
				t.Errorf("encapsulated message [%d,%d) is not the body [%d,%d)", p.Message.HeaderStart, p.Message.End, p.BodyStart, p.End)
			}
			if p.Message.Envelope == nil {
				t.Errorf("encapsulated message without envelope")
			}
			walk(p.Message, p.BodyStart, p.End)
		}
	}
	walk(root, 0, int64(len(msg)))
	for _, ext := range []bool{false, true} {
		for _, u := range []bool{false, true} {
			out := string(root.AppendBodyStructure(nil, ext, u))
			if err := checkSyntax(out, u, func(c *syntaxChecker) { c.body(ext) }); err != nil {
				t.Errorf("body (extended=%v utf8=%v) %q: %v", ext, u, out, err)
			}
			env := string(root.Envelope.AppendIMAP(nil, u))
			if err := checkSyntax(env, u, func(c *syntaxChecker) { c.envelope() }); err != nil {
				t.Errorf("envelope (utf8=%v) %q: %v", u, env, err)
			}
		}
	}
}

// countLines is the line count IMAP clients expect: line breaks, plus a
// last line without one.
func countLines(s string) int64 {
	n := int64(strings.Count(s, "\n"))
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// TestRFC3501Examples rebuilds the messages behind the FETCH examples of
// RFC 3501 §6.4.5 and §7.4.2 and compares with the RFC's text, ignoring
// case as the RFC writes types and parameter names upper-case.
func TestRFC3501Examples(t *testing.T) {
	// ENVELOPE and BODY of a one-part message: 92 lines, 3028 octets.
	var body strings.Builder
	for range 91 {
		body.WriteString(strings.Repeat("x", 31) + "\r\n")
	}
	body.WriteString(strings.Repeat("y", 23) + "\r\n")
	msg := crlf(`Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev1 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

`) + body.String()
	p := mustParse(t, msg)
	wantEnv := `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")`
	if got := string(p.Envelope.AppendIMAP(nil, false)); got != wantEnv {
		t.Errorf("ENVELOPE\n got %s\nwant %s", got, wantEnv)
	}
	wantBody := `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`
	if got := string(p.AppendBodyStructure(nil, false, false)); !strings.EqualFold(got, wantBody) {
		t.Errorf("BODY\n got %s\nwant %s", got, wantBody)
	}

	// BODYSTRUCTURE of RFC 3501 §7.4.2: a 23-line text part of 1152
	// octets and a 73-line base64 part of 4554 octets.
	var p1, p2 strings.Builder
	for range 22 {
		p1.WriteString(strings.Repeat("t", 48) + "\r\n")
	}
	p1.WriteString(strings.Repeat("t", 52))
	for range 72 {
		p2.WriteString(strings.Repeat("A", 61) + "\r\n")
	}
	p2.WriteString(strings.Repeat("A", 18))
	msg = crlf("MIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"b\"\n\n--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n") +
		p1.String() +
		crlf("\n--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\nContent-ID: <960723163407.20117h@cac.washington.edu>\nContent-Description: Compiler diff\nContent-Transfer-Encoding: BASE64\n\n") +
		p2.String() + crlf("\n--b--\n")
	p = mustParse(t, msg)
	want := `(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")`
	if got := string(p.AppendBodyStructure(nil, false, false)); !strings.EqualFold(got, want) {
		t.Errorf("BODYSTRUCTURE\n got %s\nwant %s", got, want)
	}
}

func TestEnvelope(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
		utf8 bool
	}{
		{
			name: "mixed message: encoded words kept, group, folding",
			msg:  mixedMessage,
			want: `("Tue, 2 Jan 2024 08:00:00 +0800" "=?GB2312?B?uNDQu9DF?=" (("=?UTF-8?B?5byg5LiJ?=" NIL "zhang" "example.cn")) (("=?UTF-8?B?5byg5LiJ?=" NIL "zhang" "example.cn")) ((NIL NIL "replies" "example.cn")) ` +
				`(("Bob Smith" NIL "bob" "example.org")(NIL NIL "Team" NIL)(NIL NIL "carol" "example.org")("Dan \"D\" Jones" NIL "dan" "example.org")(NIL NIL NIL NIL)) ` +
				`((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL "<prev@example.org>" "<mixed@example.cn>")`,
		},
		{
			name: "missing headers are NIL",
			msg:  crlf("X-Other: 1\n\nbody\n"),
			want: `(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)`,
		},
		{
			name: "folded subject is unfolded, sender kept",
			msg:  crlf("Subject: a long\n  subject line\nFrom: a@example.com\nSender: list@example.com\n\n"),
			want: `(NIL "a long  subject line" ((NIL NIL "a" "example.com")) ((NIL NIL "list" "example.com")) ((NIL NIL "a" "example.com")) NIL NIL NIL NIL NIL)`,
		},
		{
			name: "first of repeated fields wins",
			msg:  crlf("Subject: first\nSubject: second\n\n"),
			want: `(NIL "first" NIL NIL NIL NIL NIL NIL NIL NIL)`,
		},
		{
			name: "8-bit subject is a literal without UTF8",
			msg:  crlf("Subject: 感謝信\nFrom: \"张三\" <zhang@example.cn>\n\n"),
			want: "(NIL {9}\r\n感謝信 (({6}\r\n张三 NIL \"zhang\" \"example.cn\")) (({6}\r\n张三 NIL \"zhang\" \"example.cn\")) (({6}\r\n张三 NIL \"zhang\" \"example.cn\")) NIL NIL NIL NIL NIL)",
		},
		{
			name: "8-bit subject is quoted with UTF8",
			msg:  crlf("Subject: 感謝信\n\n"),
			want: `(NIL "感謝信" NIL NIL NIL NIL NIL NIL NIL NIL)`,
			utf8: true,
		},
		{
			name: "subject with CR LF inside a value becomes a literal",
			msg:  "Subject: a\rb\r\n\r\n",
			want: "(NIL {3}\r\na\rb NIL NIL NIL NIL NIL NIL NIL NIL)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.msg)
			if got := string(p.Envelope.AppendIMAP(nil, tt.utf8)); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{`"Joe Q. Public" <john.q.public@example.com>`, []Address{{Name: "Joe Q. Public", Mailbox: "john.q.public", Host: "example.com"}}},
		// RFC 5322 appendix A.1.2.
		{`Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>`, []Address{
			{Name: "Mary Smith", Mailbox: "mary", Host: "x.test"},
			{Mailbox: "jdoe", Host: "example.org"},
			{Name: "Who?", Mailbox: "one", Host: "y.test"},
		}},
		{`<boss@nil.test>, "Giant; \"Big\" Box" <sysservices@example.net>`, []Address{
			{Mailbox: "boss", Host: "nil.test"},
			{Name: `Giant; "Big" Box`, Mailbox: "sysservices", Host: "example.net"},
		}},
		// RFC 5322 appendix A.1.3: groups.
		{`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`, []Address{
			{Mailbox: "A Group"},
			{Name: "Ed Jones", Mailbox: "c", Host: "a.test"},
			{Mailbox: "joe", Host: "where.test"},
			{Name: "John", Mailbox: "jdoe", Host: "one.test"},
			{},
		}},
		{`Undisclosed recipients:;`, []Address{{Mailbox: "Undisclosed recipients"}, {}}},
		{`Unterminated: a@b.test`, []Address{{Mailbox: "Unterminated"}, {Mailbox: "a", Host: "b.test"}, {}}},
		// RFC 5322 appendix A.5: comments everywhere.
		{`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, []Address{{Name: "Pete", Mailbox: "pete", Host: "silly.test"}}},
		// RFC 5322 §4.4 obsolete route, the IMAP at-domain-list.
		{`<@route1.test,@route2.test:user@host.test>`, []Address{{Adl: "@route1.test,@route2.test", Mailbox: "user", Host: "host.test"}}},
		{`user@example.com (John Doe)`, []Address{{Name: "John Doe", Mailbox: "user", Host: "example.com"}}},
		{`john . doe @ example . com`, []Address{{Mailbox: "john.doe", Host: "example.com"}}},
		{`"john doe"@example.com`, []Address{{Mailbox: `"john doe"`, Host: "example.com"}}},
		{`a@b.test c@d.test`, []Address{{Mailbox: "a", Host: "b.test"}, {Mailbox: "c", Host: "d.test"}}},
		{`bare`, []Address{{Mailbox: "bare", Host: missingDomain}}},
		{`Name <@host.test>`, []Address{{Name: "Name", Mailbox: missingMailbox, Host: "host.test"}}},
		{`<>`, nil},
		{`=?UTF-8?B?5byg5LiJ?= <zhang@example.cn>`, []Address{{Name: "=?UTF-8?B?5byg5LiJ?=", Mailbox: "zhang", Host: "example.cn"}}},
		{`"张三" <zhang@example.cn>`, []Address{{Name: "张三", Mailbox: "zhang", Host: "example.cn"}}},
		{`user@[192.0.2.1]`, []Address{{Mailbox: "user", Host: "[192.0.2.1]"}}},
		{`<unterminated@example.com`, []Address{{Mailbox: "unterminated", Host: "example.com"}}},
		{`,,;;>>`, nil},
	}
	for _, tt := range tests {
		if got := ParseAddressList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddressList(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		in   string
		utf8 bool
		want string
	}{
		{"", false, `""`},
		{"plain", false, `"plain"`},
		{`a"b\c`, false, `"a\"b\\c"`},
		{"a\r\nb", false, "{4}\r\na\r\nb"},
		{"é", false, "{2}\r\né"},
		{"é", true, `"é"`},
		{"\xff", true, "{1}\r\n\xff"},
		{"a\x00b", false, `"ab"`},
		{strings.Repeat("a", maxQuoted+1), false, "{1025}\r\n" + strings.Repeat("a", maxQuoted+1)},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in, tt.utf8)); got != tt.want {
			t.Errorf("AppendString(%q, %v) = %q, want %q", tt.in, tt.utf8, got, tt.want)
		}
	}
	if got := string(AppendNString([]byte("x "), "", true, false)); got != "x NIL" {
		t.Errorf("AppendNString nil = %q", got)
	}
	if got := string(AppendNString(nil, "", false, false)); got != `""` {
		t.Errorf("AppendNString empty = %q", got)
	}
}

func TestFind(t *testing.T) {
	p := mustParse(t, mixedMessage)
	tests := []struct {
		path []int
		want *Part
	}{
		{nil, p},
		{[]int{1}, p.Parts[0]},
		{[]int{1, 2}, p.Parts[0].Parts[1]},
		{[]int{3}, p.Parts[2]},
		{[]int{3, 1}, p.Parts[2].Message}, // non-multipart encapsulated message: part 1 is its body
		{[]int{0}, nil},
		{[]int{4}, nil},
		{[]int{1, 3}, nil},
		{[]int{2, 1}, nil}, // a leaf has no subparts
		{[]int{3, 2}, nil},
		{[]int{3, 1, 1}, nil},
		{[]int{-1}, nil},
	}
	for _, tt := range tests {
		got, ok := p.Find(tt.path)
		if ok != (tt.want != nil) || got != tt.want {
			t.Errorf("Find(%v) = %p, %v; want %p", tt.path, got, ok, tt.want)
		}
	}
	// A non-multipart message has exactly one part, its body.
	single := mustParse(t, crlf("Subject: x\n\nbody\n"))
	if got, ok := single.Find([]int{1}); !ok || got != single {
		t.Errorf("Find([1]) of a single part message = %p, %v", got, ok)
	}
	if _, ok := single.Find([]int{2}); ok {
		t.Errorf("Find([2]) of a single part message found a part")
	}
}

func extract(t *testing.T, msg string, root *Part, s Section) string {
	t.Helper()
	r, n, err := Extract(strings.NewReader(msg), root, s)
	if err != nil {
		t.Fatalf("Extract(%+v): %v", s, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Extract(%+v) read: %v", s, err)
	}
	if int64(len(b)) != n {
		t.Errorf("Extract(%+v) announced %d bytes, gave %d", s, n, len(b))
	}
	return string(b)
}

// section slices the fixture between two markers (end exclusive; "" is the
// end of the message), so that expected sections are read off the text.
func between(t *testing.T, msg, start, end string) string {
	t.Helper()
	i := strings.Index(msg, start)
	if i < 0 {
		t.Fatalf("marker %q not in message", start)
	}
	if end == "" {
		return msg[i:]
	}
	j := strings.Index(msg[i:], end)
	if j < 0 {
		t.Fatalf("marker %q not after %q", end, start)
	}
	return msg[i : i+j]
}

func TestExtract(t *testing.T) {
	msg := mixedMessage
	p := mustParse(t, msg)
	header := between(t, msg, "Received:", "This is a multi-part")
	fwd := "From: Carol <carol@example.org>\r\nSubject: fwd\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nForwarded body."
	fwdHeader := "From: Carol <carol@example.org>\r\nSubject: fwd\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
	tests := []struct {
		s    Section
		want string
	}{
		{Section{}, msg},
		{Section{Specifier: "HEADER"}, header},
		{Section{Specifier: "TEXT"}, between(t, msg, "This is a multi-part", "")},
		{Section{Specifier: "MIME"}, ""}, // the message itself has no MIME header section
		{Section{Path: []int{1}}, between(t, msg, "--inner\r\n", "--inner--") + "--inner--"},
		{Section{Path: []int{1}, Specifier: "MIME"}, "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"},
		{Section{Path: []int{1, 1}}, "Hello Bob =E2=80=94 thanks!"},
		{Section{Path: []int{1, 1}, Specifier: "MIME"}, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"},
		{Section{Path: []int{1, 2}}, "<p>Hello Bob =E2=80=94 <b>thanks</b>!</p>"},
		{Section{Path: []int{2}}, "JVBERi0xLjQKJeLjz9MK"},
		{Section{Path: []int{2}, Specifier: "mime"}, between(t, msg, "Content-Type: application/pdf", "JVBERi0")},
		{Section{Path: []int{2}, Specifier: "HEADER"}, ""}, // not a message/rfc822 part
		{Section{Path: []int{2}, Specifier: "TEXT"}, ""},
		{Section{Path: []int{3}}, fwd},
		{Section{Path: []int{3}, Specifier: "MIME"}, "Content-Type: message/rfc822\r\n\r\n"},
		{Section{Path: []int{3}, Specifier: "HEADER"}, fwdHeader},
		{Section{Path: []int{3}, Specifier: "TEXT"}, "Forwarded body."},
		{Section{Path: []int{3, 1}}, "Forwarded body."},
		{Section{Path: []int{3, 1}, Specifier: "MIME"}, fwdHeader},
		{Section{Path: []int{3}, Specifier: "HEADER.FIELDS", Fields: []string{"SUBJECT"}}, "Subject: fwd\r\n\r\n"},
		// Fields come in message order, whatever the order asked, with
		// their continuation lines, and end with the blank line.
		{Section{Specifier: "HEADER.FIELDS", Fields: []string{"subject", "TO", "from"}},
			between(t, msg, "From: =?UTF-8", "Reply-To:") + between(t, msg, "To: \"Bob", "Cc:") + "Subject: =?GB2312?B?uNDQu9DF?=\r\n\r\n"},
		{Section{Specifier: "HEADER.FIELDS", Fields: []string{"X-Absent"}}, "\r\n"},
		{Section{Specifier: "HEADER.FIELDS.NOT", Fields: []string{"received", "to", "content-type", "mime-version", "message-id", "in-reply-to", "date", "cc", "reply-to", "from"}},
			"Subject: =?GB2312?B?uNDQu9DF?=\r\n\r\n"},
		{Section{Path: []int{4}}, ""},
		{Section{Path: []int{1, 3}, Specifier: "MIME"}, ""},
		{Section{Path: []int{2, 1}}, ""},
		{Section{Path: []int{0}}, ""},
	}
	for _, tt := range tests {
		if got := extract(t, msg, p, tt.s); got != tt.want {
			t.Errorf("Extract(%+v)\n got %q\nwant %q", tt.s, got, tt.want)
		}
	}
	if _, _, err := Extract(strings.NewReader(msg), p, Section{Specifier: "BOGUS"}); err == nil {
		t.Errorf("Extract with an unknown specifier did not fail")
	}
}

func TestExtractHeaderFieldsWithoutBlankLine(t *testing.T) {
	msg := "Subject: s\r\nFrom: a@b.test" // no line break at all after the last field
	p := mustParse(t, msg)
	if got, want := extract(t, msg, p, Section{Specifier: "HEADER.FIELDS", Fields: []string{"from"}}), "From: a@b.test\r\n\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A field longer than the read buffer is kept whole.
	long := "X-Long: " + strings.Repeat("v", 3*readBufSize) + "\r\n"
	msg = "Subject: s\r\n" + long + "To: t@b.test\r\n\r\nbody"
	p = mustParse(t, msg)
	if got, want := extract(t, msg, p, Section{Specifier: "HEADER.FIELDS", Fields: []string{"x-long", "to"}}), long+"To: t@b.test\r\n\r\n"; got != want {
		t.Errorf("long field: got %d bytes, want %d", len(got), len(want))
	}
	if got, want := extract(t, msg, p, Section{Specifier: "HEADER.FIELDS.NOT", Fields: []string{"x-long"}}), "Subject: s\r\nTo: t@b.test\r\n\r\n"; got != want {
		t.Errorf("long field excluded: got %q, want %q", got, want)
	}
}

// TestShift checks that a structure parsed before the server prepends
// trace fields, once shifted, equals the structure of the served message,
// and that every section is then the same bytes.
func TestShift(t *testing.T) {
	trace := "Return-Path: <zhang@example.cn>\r\nDelivered-To: bob@example.org\r\n"
	for _, msg := range []string{mixedMessage, rfc2046Example, crlf("Subject: x\n\nbody\n"), ""} {
		shifted := mustParse(t, msg)
		shifted.Shift(int64(len(trace)))
		served := trace + msg
		want := mustParse(t, served)
		if !reflect.DeepEqual(shifted, want) {
			t.Errorf("shifted structure differs from the structure of the served message\n got %+v\nwant %+v", shifted, want)
		}
		orig := mustParse(t, msg)
		forEachSection(orig, func(s Section) {
			part, _ := orig.Find(s.Path)
			rootHeader := part == orig && (s.Specifier == "MIME" || strings.HasPrefix(s.Specifier, "HEADER"))
			if rootHeader || len(s.Path) == 0 && s.Specifier == "" {
				return // the root header includes the trace fields by design
			}
			if a, b := extract(t, msg, orig, s), extract(t, served, shifted, s); a != b {
				t.Errorf("section %+v: %q before, %q after shifting", s, a, b)
			}
		})
		if a, b := extract(t, msg, orig, Section{Specifier: "HEADER"}), extract(t, served, shifted, Section{Specifier: "HEADER"}); trace+a != b {
			t.Errorf("HEADER after shift = %q, want trace + %q", b, a)
		}
	}
}

// forEachSection calls f with every section of every part of p.
func forEachSection(p *Part, f func(Section)) {
	var walk func(q *Part, path []int)
	walk = func(q *Part, path []int) {
		for _, spec := range []string{"", "MIME", "HEADER", "TEXT"} {
			f(Section{Path: path, Specifier: spec})
		}
		f(Section{Path: path, Specifier: "HEADER.FIELDS", Fields: []string{"subject", "content-type"}})
		children := q.Parts
		if len(path) > 0 && q.Message != nil {
			if q.Message.isMultipart() {
				children = q.Message.Parts
			} else {
				children = []*Part{q.Message}
			}
		} else if len(path) == 0 && !q.isMultipart() {
			children = []*Part{q}
		}
		for i, c := range children {
			if len(path) > 8 {
				return
			}
			walk(c, append(append([]int(nil), path...), i+1))
		}
	}
	walk(p, nil)
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, msg := range []string{mixedMessage, rfc2046Example, "", crlf("Subject: x\n\nbody\n"),
		crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody1\n--d--\n")} {
		p := mustParse(t, msg)
		b := p.Marshal()
		q, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("round trip differs\n got %+v\nwant %+v", q, p)
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Errorf("re-marshalled bytes differ")
		}
		// Every truncation is an error, never a panic or a wrong tree.
		for i := range len(b) {
			if _, err := Unmarshal(b[:i]); err == nil {
				t.Errorf("Unmarshal of %d of %d bytes succeeded", i, len(b))
			}
		}
	}
	// A hand-made tree with shared-looking envelope lists and odd values.
	p := &Part{
		HeaderStart: 5, BodyStart: 3, End: 1, Size: 77, Lines: -2, Type: "x-custom", Subtype: "QUOTED-PRINTABLE",
		Params: [][2]string{{"a", ""}}, Language: []string{"en"}, DispositionParams: [][2]string{{"b", "c"}},
		Envelope: &Envelope{From: []Address{{Name: "n"}}, Sender: []Address{}, ReplyTo: nil},
	}
	for _, env := range []*Envelope{
		p.Envelope,
		// Empty lists equal to From are stored as a flag and must come
		// back empty, not nil (found by FuzzUnmarshal).
		{From: []Address{}, Sender: []Address{}, ReplyTo: nil},
		{From: nil, Sender: nil, ReplyTo: []Address{}},
	} {
		p.Envelope = env
		q, err := Unmarshal(p.Marshal())
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Errorf("hand-made round trip with %#v: %v\n got %+v\nwant %+v", env, err, q, p)
		}
	}
	if _, err := Unmarshal([]byte{99}); err == nil {
		t.Errorf("unknown version accepted")
	}
	if _, err := Unmarshal(append(p.Marshal(), 0)); err == nil {
		t.Errorf("trailing byte accepted")
	}
}

func TestMarshalIsCompact(t *testing.T) {
	p := mustParse(t, mixedMessage)
	if n := len(p.Marshal()); n > 800 {
		t.Errorf("mixed message structure takes %d bytes", n)
	}
}

func TestDepthLimit(t *testing.T) {
	// 2*maxDepth nested messages, each a message/rfc822 part.
	var b strings.Builder
	for range 2 * maxDepth {
		b.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	b.WriteString("Subject: innermost\r\n\r\nbody\r\n")
	msg := b.String()
	p := mustParse(t, msg)
	depth := 0
	for q := p; q.Message != nil; q = q.Message {
		depth++
	}
	if depth != maxDepth-1 {
		t.Errorf("nesting kept to depth %d, want %d", depth, maxDepth-1)
	}
	checkStructure(t, p, msg)
	q, err := Unmarshal(p.Marshal())
	if err != nil || !reflect.DeepEqual(p, q) {
		t.Errorf("deep round trip: %v", err)
	}
}

func TestPartLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range maxParts + 100 {
		b.WriteString("--b\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	msg := b.String()
	p := mustParse(t, msg)
	if n := len(p.Parts); n != maxParts-1 {
		t.Errorf("%d parts kept, want %d", n, maxParts-1)
	}
	checkStructure(t, p, msg)
}

func TestLongLines(t *testing.T) {
	// A body line far longer than the read buffer, then a boundary; a
	// header field longer than the buffer; a boundary cut by the buffer
	// edge cannot be missed since lines are read whole.
	long := strings.Repeat("z", 5*readBufSize+3)
	msg := crlf("Subject: s"+strings.Repeat("u", 2*readBufSize)+"\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n") + long + crlf("\n--b\n\nshort\n--b--\n")
	p := mustParse(t, msg)
	if len(p.Parts) != 2 || p.Parts[0].Size != int64(len(long)) || p.Parts[1].Size != 5 {
		t.Fatalf("got %s", p.AppendBodyStructure(nil, false, false))
	}
	if got := len(p.Envelope.Subject); got != 2*readBufSize+1 {
		t.Errorf("subject of %d bytes, want %d", got, 2*readBufSize+1)
	}
	checkStructure(t, p, msg)
}

func TestHeaderBudget(t *testing.T) {
	// A header field far over the budget is cut, not kept whole.
	msg := "To: " + strings.Repeat("a@b.test, ", maxHeaderBytes/5) + "\r\n\r\nbody"
	p := mustParse(t, msg)
	if n := len(p.Envelope.To); n == 0 || n > maxHeaderBytes/9 {
		t.Errorf("%d addresses kept", n)
	}
	checkStructure(t, p, msg)
}

// errReader fails after its data.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse(&errReader{r: strings.NewReader(mixedMessage), err: boom})
	if !errors.Is(err, boom) {
		t.Errorf("Parse error = %v, want %v", err, boom)
	}
}

// memoryReader yields a multipart message of about size bytes without
// holding it: a header, one big base64 attachment and a closing part.
type memoryReader struct {
	head, tail string
	line       string
	body       int64 // attachment bytes left
	stage      int
	pos        int
}

func newBigMessage(size int64) *memoryReader {
	return &memoryReader{
		head: crlf("From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=BIG\n\n--BIG\nContent-Type: text/plain\n\nsee attachment\n--BIG\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"),
		line: strings.Repeat("QUJD", 19) + "\r\n",
		body: size,
		tail: crlf("\n--BIG--\n"),
	}
}

func (m *memoryReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		var src string
		switch {
		case m.stage == 0:
			src = m.head
		case m.stage == 1 && m.body > 0:
			src = m.line
		case m.stage == 1:
			m.stage, m.pos = 2, 0
			continue
		case m.stage == 2:
			src = m.tail
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		c := copy(p[n:], src[m.pos:])
		n += c
		m.pos += c
		if m.pos == len(src) {
			m.pos = 0
			if m.stage == 1 {
				m.body -= int64(len(src))
			} else {
				m.stage++
			}
		}
	}
	return n, nil
}

func TestParseMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB parse")
	}
	const size = 50 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := Parse(newBigMessage(size))
	runtime.ReadMemStats(&after)
	if err != nil || len(p.Parts) != 2 || p.Parts[1].Size < size {
		t.Fatalf("Parse: %v %v", err, p)
	}
	if n := after.Mallocs - before.Mallocs; n > 500 {
		t.Errorf("%d allocations to parse a 50 MiB message", n)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("%d bytes allocated to parse a 50 MiB message", n)
	}
}
