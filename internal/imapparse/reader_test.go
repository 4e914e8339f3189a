package imapparse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestSyntaxErrors checks that each bad command gives a ParseError with the
// right tag and that the command after it parses: the bad one, with any
// non-synchronising literals it announced, was consumed in full.
func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		in  string // the bad command, CRLF included
		tag string // expected ParseError.Tag
	}{
		{"\r\n", "*"},
		{"   \r\n", "*"},
		{"+ NOOP\r\n", "*"},
		{"a{ NOOP\r\n", "*"},
		{"a1\r\n", "a1"},
		{"a1 \r\n", "a1"},
		{"a1 FOO\r\n", "a1"},
		{"a1 FOO {5+}\r\nhello more {3+}\r\nabc\r\n", "a1"},
		{"a1 FOO {5}\r\n", "a1"}, // synchronising: the client sends nothing more
		{"a1 NOOP extra\r\n", "a1"},
		{"a1 NOOP \r\n", "a1"},
		{"a1  NOOP\r\n", "a1"},
		{"a1 UID\r\n", "a1"},
		{"a1 UID NOOP\r\n", "a1"},
		{"a1 UID LOGIN a b\r\n", "a1"},
		{"a1 EXPUNGE 1\r\n", "a1"},
		{"a1 UID EXPUNGE\r\n", "a1"},
		{"a1 LOGIN alice\r\n", "a1"},
		{"a1 LOGIN alice \r\n", "a1"},
		{"a1 LOGIN alice \"unterminated\r\n", "a1"},
		{"a1 LOGIN alice \"bad\\escape\"\r\n", "a1"},
		{"a1 LOGIN alice \"a\x01\rb\"\r\n", "a1"},
		{"a1 LOGIN alice \"\xff\"\r\n", "a1"},
		{"a1 LOGIN {5} alice x\r\n", "a1"},        // announcement must end the line
		{"a1 LOGIN {} x\r\n", "a1"},               //
		{"a1 LOGIN {5+}\r\nal\x00ce x\r\n", "a1"}, // NUL in a literal
		{"a1 LOGIN ~{5+}\r\nalice x\r\n", "a1"},   // literal8 only for APPEND
		{"a1 LOGIN {5+}\r\nalice x y\r\n", "a1"},  // error after a literal
		{"a1 LOGIN {5+}\r\nalice {3+}\r\nabc extra {2+}\r\nxy\r\n", "a1"},
		{"a1 AUTHENTICATE\r\n", "a1"},
		{"a1 AUTHENTICATE PLAIN AGFsaWNl!\r\n", "a1"},
		{"a1 AUTHENTICATE PLAIN AGFsaWNlAA\r\n", "a1"}, // padding missing
		{"a1 ENABLE\r\n", "a1"},
		{"a1 ID\r\n", "a1"},
		{"a1 ID (\"name\")\r\n", "a1"},
		{"a1 ID (name \"x\")\r\n", "a1"},
		{"a1 ID FOO\r\n", "a1"},
		{"a1 SELECT\r\n", "a1"},
		{"a1 SELECT INBOX ()\r\n", "a1"},
		{"a1 SELECT INBOX (FOO)\r\n", "a1"},
		{"a1 SELECT INBOX (CONDSTORE\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (0 5))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 0))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 5 1:*))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 5 $))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 5 1:9 (1:3)))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 5 1:9 (1:3 1:*)))\r\n", "a1"},
		{"a1 SELECT INBOX (QRESYNC (1 5 1:9 x))\r\n", "a1"},
		{"a1 CREATE x (USE (Drafts))\r\n", "a1"},
		{"a1 CREATE x (FOO (\\Drafts))\r\n", "a1"},
		{"a1 CREATE x (USE (\\Drafts  \\Sent))\r\n", "a1"},
		{"a1 RENAME a\r\n", "a1"},
		{"a1 LIST \"\"\r\n", "a1"},
		{"a1 LIST (RECURSIVEMATCH) \"\" *\r\n", "a1"}, // RFC 5258 §3.1
		{"a1 LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n", "a1"},
		{"a1 LIST (FOO) \"\" *\r\n", "a1"},
		{"a1 LIST \"\" * RETURN (FOO)\r\n", "a1"},
		{"a1 LIST \"\" * RETURN (STATUS ())\r\n", "a1"},
		{"a1 LIST \"\" * RETURN (STATUS (FOO))\r\n", "a1"},
		{"a1 LIST \"\" * FOO (CHILDREN)\r\n", "a1"},
		{"a1 LIST \"\" ()\r\n", "a1"},
		{"a1 LSUB () \"\" *\r\n", "a1"},
		{"a1 LSUB \"\" (a b)\r\n", "a1"},
		{"a1 STATUS INBOX ()\r\n", "a1"},
		{"a1 STATUS INBOX (MESSAGES FOO)\r\n", "a1"},
		{"a1 STATUS INBOX MESSAGES\r\n", "a1"},
		{"a1 APPEND INBOX\r\n", "a1"},
		{"a1 APPEND INBOX (\\Recent) {1}\r\n", "a1"},
		{"a1 APPEND INBOX (\\Foo) {1}\r\n", "a1"},
		{"a1 APPEND INBOX hello\r\n", "a1"},
		{"a1 APPEND INBOX UTF8 ({3+}\r\nabc)\r\n", "a1"}, // UTF8 needs literal8
		{"a1 APPEND INBOX UTF8 (~{3+}\r\nabc\r\n", "a1"},
		{"a1 APPEND INBOX {3+}\r\na\x00c\r\n", "a1"},         // NUL needs literal8
		{"a1 APPEND INBOX {3+}\r\nabc{3+}\r\ndef\r\n", "a1"}, // MULTIAPPEND: a space between messages
		{"a1 APPEND INBOX {3+}\r\nabc \r\n", "a1"},
		{"a1 APPEND INBOX {3+}\r\nabc x\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE ()\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (TEXT x)\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (URL)\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (FOO {1+}\r\nx)\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (TEXT {1+}\r\nx\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (TEXT {1+}\r\nx  URL x)\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE TEXT {1+}\r\nx\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (UTF8 ({1+}\r\nx))\r\n", "a1"},
		{"a1 APPEND INBOX CATENATE (TEXT {1+}\r\n\x00)\r\n", "a1"}, // NUL needs literal8
		{"a1 STORE 1 FLAGS\r\n", "a1"},
		{"a1 STORE 1 FLAGS (\\Recent)\r\n", "a1"},
		{"a1 STORE 1 +FLAGS \\Seen \\Foo\r\n", "a1"},
		{"a1 STORE 1 *FLAGS (\\Seen)\r\n", "a1"},
		{"a1 STORE 1 FLAG (\\Seen)\r\n", "a1"},
		{"a1 STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n", "a1"},
		{"a1 STORE 1 (FOO 1) FLAGS ()\r\n", "a1"},
		{"a1 STORE 1 FLAGS (a(b)\r\n", "a1"},
		{"a1 COPY 1\r\n", "a1"},
		{"a1 COPY x INBOX\r\n", "a1"},
		{"a1 MOVE 1,,2 INBOX\r\n", "a1"},
		{"a1 GETQUOTA\r\n", "a1"},
		{"a1 SETQUOTA \"\" (STORAGE)\r\n", "a1"},
		{"a1 SETQUOTA \"\" (STORAGE x)\r\n", "a1"},
		{"a1 SETQUOTA \"\" STORAGE 5\r\n", "a1"},
		{"a1 COMPRESS\r\n", "a1"},
		{"a1 CANCELUPDATE\r\n", "a1"},
		{"a1 CANCELUPDATE a1\r\n", "a1"},
		{"a1 CANCELUPDATE \"a1\" \r\n", "a1"},
		{"a1 SORT RETURN (PARTIAL 1) (ARRIVAL) UTF-8 ALL\r\n", "a1"},
		{"a1 SORT RETURN (ALL) UTF-8 ALL\r\n", "a1"},
	}
	for _, c := range cases {
		r, conts := testReader(c.in+"b NOOP\r\n", Limits{})
		_, err := r.ReadCommand()
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want ParseError", c.in, err)
			continue
		}
		if pe.Tag != c.tag {
			t.Errorf("%q: tag %q, want %q", c.in, pe.Tag, c.tag)
		}
		if pe.Msg == "" || strings.ContainsAny(pe.Msg, "\r\n") {
			t.Errorf("%q: bad message %q", c.in, pe.Msg)
		}
		cmd, err := r.ReadCommand()
		if err != nil || cmd.Tag != "b" || cmd.Name != "NOOP" {
			t.Errorf("%q: next command: %+v %v", c.in, cmd, err)
		}
		if *conts > 1 {
			t.Errorf("%q: %d continuation requests", c.in, *conts)
		}
	}
}

// TestContinuations checks that cont is called once per synchronising
// literal, before its data is read, and never for {n+} or ~{n+}.
func TestContinuations(t *testing.T) {
	cases := []struct {
		parts []string // what the client sends, cut where it waits for "+"
		conts int
	}{
		{[]string{"a LOGIN {5}\r\n", "alice {6}\r\n", "secret\r\n"}, 2},
		{[]string{"a LOGIN {5+}\r\nalice {6}\r\n", "secret\r\n"}, 1},
		{[]string{"a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n"}, 0},
		{[]string{"a APPEND {5}\r\n", "INBOX (\\Seen) {3}\r\n", "abc\r\n"}, 2},
		{[]string{"a APPEND INBOX ~{3}\r\n", "a\x00c\r\n"}, 1},
		{[]string{"a APPEND INBOX UTF8 (~{3+}\r\nabc)\r\n"}, 0},
		{[]string{"a SEARCH CHARSET UTF-8 SUBJECT {6}\r\n", "日本 BODY {1}\r\n", "x\r\n"}, 2},
		{[]string{"a LIST {0}\r\n", " {1}\r\n", "*\r\n"}, 2},
	}
	for _, c := range cases {
		g := &gatedReader{parts: append([]string(nil), c.parts...)}
		r := NewReader(bufio.NewReader(g), g.open, Limits{})
		cmd, err := r.ReadCommand()
		if err != nil {
			t.Errorf("%q: %v", c.parts, err)
			continue
		}
		if g.opened != c.conts {
			t.Errorf("%q: %d continuation requests, want %d", c.parts, g.opened, c.conts)
		}
		if _, err := r.ReadCommand(); err != io.EOF {
			t.Errorf("%q: after %v: %v", c.parts, cmd, err)
		}
	}
	// The callback's error ends the session, and is returned as it is.
	errNet := errors.New("write: broken pipe")
	r := NewReader(bufio.NewReader(strings.NewReader("a LOGIN {5}\r\nalice x\r\n")), func() error { return errNet }, Limits{})
	if _, err := r.ReadCommand(); err != errNet {
		t.Errorf("cont error: got %v", err)
	}
}

func TestLineLimit(t *testing.T) {
	lim := Limits{MaxLine: 64}
	long := "a1 LOGIN " + strings.Repeat("x", 100) + " y\r\n"
	cases := []struct {
		in  string
		tag string
	}{
		{long, "a1"},
		{strings.Repeat("x", 200) + "\r\n", "*"},
		{strings.Repeat("x", 300) + " NOOP\r\n", "*"},
		{strings.Repeat("x", 100) + " NOOP\r\n", "*"}, // a tag must end within MaxLine+1 octets
		{strings.Repeat("x", 50) + " NOOP " + strings.Repeat("y", 100) + "\r\n", strings.Repeat("x", 50)},
		{"a1 LOGIN " + strings.Repeat("x", 100) + "\n", "a1"},                 // bare LF
		{"a1 LOGIN " + strings.Repeat("x", 60) + " {5+}\r\nb NOOP\r\n", "a1"}, // the literal is part of the bad line
		{"a1 LOGIN {5+}\r\nalice " + strings.Repeat("y", 100) + "\r\n", "a1"}, // a later segment too long
		{"a1 LOGIN {5+}\r\nalice " + strings.Repeat("y", 50) + "{5+}\r\nb NOOP" + strings.Repeat("z", 30) + "\r\n", "a1"},
	}
	for _, c := range cases {
		r, _ := testReader(c.in+"c NOOP\r\n", lim)
		_, err := r.ReadCommand()
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Tag != c.tag || !strings.Contains(pe.Msg, "too long") {
			t.Errorf("%.40q: got %v, want line too long for %q", c.in, err, c.tag)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "c" {
			t.Errorf("%.40q: next command: %+v %v", c.in, cmd, err)
		}
	}
	// Exactly MaxLine octets, CRLF apart, is fine, over several segments too.
	exact := "a LOGIN x " + strings.Repeat("p", 64-len("a LOGIN x "))
	if _, err := mustRead(exact+"\r\n", lim); err != nil {
		t.Errorf("line of MaxLine octets: %v", err)
	}
	if _, err := mustRead(exact+"p\r\n", lim); err == nil {
		t.Errorf("line of MaxLine+1 octets accepted")
	}
	if _, err := mustRead(exact+"\n", lim); err != nil {
		t.Errorf("line of MaxLine octets and LF: %v", err)
	}
	if _, err := mustRead(exact+"p\n", lim); err == nil {
		t.Errorf("line of MaxLine+1 octets and LF accepted")
	}
	split := "a LOGIN {1+}\r\nx " + strings.Repeat("p", 64-len("a LOGIN {1+} "))
	if _, err := mustRead(split+"\r\n", lim); err != nil {
		t.Errorf("segments of MaxLine octets: %v", err)
	}
	if _, err := mustRead(split+"p\r\n", lim); err == nil {
		t.Errorf("segments of MaxLine+1 octets accepted")
	}
	// A line longer than bufio's buffer: the limit still holds.
	big := strings.Repeat("z", 3*DefaultMaxLine)
	r := NewReader(bufio.NewReaderSize(strings.NewReader("a1 LOGIN "+big+" x\r\nb NOOP\r\n"), 16), nil, Limits{})
	if _, err := r.ReadCommand(); err == nil {
		t.Error("line of 192 KiB accepted")
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Errorf("after a huge line: %v", err)
	}
}

// mustRead reads one command from input with lim.
func mustRead(input string, lim Limits) (*Command, error) {
	r, _ := testReader(input, lim)
	return r.ReadCommand()
}

func TestLiteralLimits(t *testing.T) {
	lim := Limits{MaxLiteral: 10, MaxAppend: 100, MaxLiterals: 15, MaxLine: 1000}
	cases := []struct {
		in     string
		append bool
		conts  int
	}{
		{"a LOGIN {11}\r\n", false, 0},
		{"a LOGIN {11+}\r\n01234567890 pass\r\n", false, 0},
		{"a LOGIN {11+}\r\n01234567890 {20+}\r\n01234567890123456789\r\n", false, 0},
		{"a LOGIN {99999999999999999999}\r\n", false, 0},
		{"a LOGIN {8}\r\n", false, 1}, // fine, but with the next one
		{"a APPEND {11}\r\n", false, 0},
		{"a APPEND INBOX {101}\r\n", true, 0},
		{"a APPEND INBOX ~{101+}\r\n" + strings.Repeat("m", 101) + "\r\n", true, 0},
		{"a APPEND INBOX UTF8 (~{101+}\r\n" + strings.Repeat("m", 101) + ")\r\n", true, 0},
	}
	// The second literal of "a LOGIN {8}" goes over MaxLiterals.
	cases[4].in += "01234567 {8}\r\n"
	for _, c := range cases {
		r, conts := testReader(c.in+"b NOOP\r\n", lim)
		_, err := r.ReadCommand()
		var tb *TooBigError
		if !errors.As(err, &tb) || tb.Tag != "a" || tb.Append != c.append {
			t.Errorf("%.30q: got %v, want TooBigError (append %v)", c.in, err, c.append)
		}
		if *conts != c.conts {
			t.Errorf("%.30q: %d continuation requests, want %d", c.in, *conts, c.conts)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
			t.Errorf("%.30q: next command: %+v %v", c.in, cmd, err)
		}
	}
	// Up to the limits is fine; the message may exceed MaxLiteral.
	msg := strings.Repeat("m", 100)
	cmd, err := mustRead("a APPEND {10}\r\n0123456789 {100}\r\n"+msg+"\r\n", lim)
	if err != nil || string(cmd.Args.(*Append).Messages[0].Message) != msg {
		t.Errorf("APPEND at the limits: %v", err)
	}
	if _, err := mustRead("a LOGIN {10}\r\n0123456789 {5}\r\n01234\r\n", lim); err != nil {
		t.Errorf("literals at MaxLiterals: %v", err)
	}
	// MULTIAPPEND and CATENATE: every message literal and TEXT part counts
	// against MaxAppendTotal (MaxAppend by default); the one that does not
	// fit is refused before it is asked for.
	m60 := strings.Repeat("m", 60)
	for _, in := range []string{
		"a APPEND INBOX {60+}\r\n" + m60 + " {41}\r\n",
		"a APPEND INBOX CATENATE (TEXT {60+}\r\n" + m60 + " TEXT {41}\r\n",
		"a APPEND INBOX CATENATE (TEXT {60+}\r\n" + m60 + ") {41}\r\n",
	} {
		r, conts := testReader(in+"b NOOP\r\n", lim)
		_, err := r.ReadCommand()
		var tb *TooBigError
		if !errors.As(err, &tb) || !tb.Append || !tb.Total || tb.Limit != 100 || tb.Size != 41 {
			t.Errorf("%.40q: got %v, want TooBigError for the total", in, err)
		}
		if *conts != 0 {
			t.Errorf("%.40q: %d continuation requests", in, *conts)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
			t.Errorf("%.40q: next command: %+v %v", in, cmd, err)
		}
	}
	cmd, err = mustRead("a APPEND INBOX {60}\r\n"+m60+" CATENATE (URL /x TEXT {40}\r\n"+m60[:40]+")\r\n", lim)
	if err != nil || len(cmd.Args.(*Append).Messages) != 2 {
		t.Errorf("APPEND messages at MaxAppendTotal: %v", err)
	}
	lim.MaxAppendTotal = 120
	if _, err := mustRead("a APPEND INBOX {60}\r\n"+m60+" {60}\r\n"+m60+"\r\n", lim); err != nil {
		t.Errorf("APPEND messages within a raised MaxAppendTotal: %v", err)
	}
}

// TestDiscardLimit checks that a non-synchronising literal too large to
// skip ends the session instead of being read.
func TestDiscardLimit(t *testing.T) {
	lim := Limits{MaxLiteral: 10, MaxAppend: 100, MaxLine: 100}
	for _, in := range []string{
		"a LOGIN {201+}\r\n", // over its limit and over MaxAppend+MaxLine
		"a FOO {201+}\r\n",   // after a syntax error
		"a APPEND INBOX {201+}\r\n",
		"a FOO {150+}\r\n" + strings.Repeat("x", 150) + " {51+}\r\n",
		"a FOO " + strings.Repeat("x", 300) + "{5+}\r\n", // over-long line
	} {
		r, _ := testReader(in+strings.Repeat("y", 300)+"\r\nb NOOP\r\n", lim)
		_, err := r.ReadCommand()
		if !errors.Is(err, ErrDiscardLimit) {
			t.Errorf("%.30q: got %v, want ErrDiscardLimit", in, err)
		}
	}
}

func TestIOErrors(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"a NOOP", io.ErrUnexpectedEOF},
		{"a LOGIN {5}\r\nali", io.ErrUnexpectedEOF},
		{"a LOGIN {5+}\r\nalice", io.ErrUnexpectedEOF},
		{"a APPEND INBOX {100000}\r\nabc", io.ErrUnexpectedEOF},
		{"a FOO {5+}\r\nab", io.ErrUnexpectedEOF},
		{"a FOO {5+}\r\nabcde more", io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		r, _ := testReader(c.in, Limits{})
		if _, err := r.ReadCommand(); err != c.want {
			t.Errorf("%q: got %v, want %v", c.in, err, c.want)
		}
	}
	errNet := errors.New("read: connection reset")
	r := NewReader(bufio.NewReader(&errorReader{data: "a NOOP\r\nb LOG", err: errNet}), nil, Limits{})
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatalf("first command: %v", err)
	}
	if _, err := r.ReadCommand(); err != errNet {
		t.Errorf("got %v, want the reader's error", err)
	}
}

func TestReadLine(t *testing.T) {
	r, _ := testReader("AGFsaWNlAHNlY3JldA==\r\nDONE\n\r\n"+strings.Repeat("x", 100)+"\r\n*\r\n", Limits{MaxLine: 64})
	for _, w := range []struct {
		line string
		bad  bool
	}{{"AGFsaWNlAHNlY3JldA==", false}, {"DONE", false}, {"", false}, {"", true}, {"*", false}} {
		line, err := r.ReadLine()
		var pe *ParseError
		if w.bad {
			if !errors.As(err, &pe) || pe.Tag != "" {
				t.Errorf("over-long line: %q %v", line, err)
			}
			continue
		}
		if err != nil || string(line) != w.line {
			t.Errorf("got %q %v, want %q", line, err, w.line)
		}
	}
	r, _ = testReader(strings.Repeat("x", 100)+"{5+}\r\na NOOP\r\n", Limits{MaxLine: 64})
	_, err := r.ReadLine()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Tag != "" {
		t.Errorf("over-long line: %v", err)
	}
	// ReadLine knows no literals: the next line is the next command.
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "a" {
		t.Errorf("after over-long line: %v", err)
	}
	// The returned line is the caller's to keep.
	r, _ = testReader("first\r\nsecond\r\n", Limits{})
	a, _ := r.ReadLine()
	b, _ := r.ReadLine()
	if !bytes.Equal(a, []byte("first")) || !bytes.Equal(b, []byte("second")) {
		t.Errorf("lines %q %q", a, b)
	}
	if _, err := r.ReadLine(); err != io.EOF {
		t.Errorf("at end: %v", err)
	}
}

// TestPipelined reads several commands sent at once, as clients may
// (RFC 9051 §5.5).
func TestPipelined(t *testing.T) {
	in := "a1 SELECT INBOX\r\nBAD\r\na2 FETCH 1:* (FLAGS)\r\na3 APPEND x {3+}\r\nabc\r\na4 IDLE\r\nDONE\r\na5 LOGOUT\r\n"
	r, _ := testReader(in, Limits{})
	var got []string
	for {
		cmd, err := r.ReadCommand()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		switch {
		case errors.As(err, &pe):
			got = append(got, "BAD:"+pe.Tag)
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, cmd.Tag+":"+cmd.Name)
			if cmd.Name == "IDLE" {
				if line, err := r.ReadLine(); err != nil || string(line) != "DONE" {
					t.Fatalf("DONE: %q %v", line, err)
				}
			}
		}
	}
	want := "a1:SELECT BAD:BAD a2:FETCH a3:APPEND a4:IDLE a5:LOGOUT"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
