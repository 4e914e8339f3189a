package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readerConn is an imapConn reading canned server output.
func readerConn(s string) *imapConn {
	return &imapConn{r: bufio.NewReaderSize(strings.NewReader(s), 16)} // tiny buffer: lines span refills
}

type wantResp struct {
	kind respKind
	line string // c.line afterwards
	lit  string // literal data received
}

func TestIMAPReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []wantResp
	}{
		{"literal in FETCH, read by length", "* 1 FETCH (UID 5 BODY[] {11}\r\nhello\r\nworl FLAGS (\\Seen))\r\na1 OK done\r\n", []wantResp{
			{respUntagged, `* 1 FETCH (UID 5 BODY[] {11} FLAGS (\Seen))`, "hello\r\nworl"},
			{respTagged, "a1 OK done", ""},
		}},
		{"literal holding a tagged line and a literal announcement", "* 2 FETCH (BODY[] {28}\r\na1 OK fake\r\n* 3 EXISTS {9}\r\n)\r\n", []wantResp{
			{respUntagged, "* 2 FETCH (BODY[] {28})", "a1 OK fake\r\n* 3 EXISTS {9}\r\n"},
		}},
		{"two literals, one empty, one literal8", "* 3 FETCH (BODY[1] {0}\r\n BINARY[2] ~{3}\r\nabc UID 9)\r\n", []wantResp{
			{respUntagged, "* 3 FETCH (BODY[1] {0} BINARY[2] ~{3} UID 9)", "abc"},
		}},
		{"literal in LIST", "* LIST () \"/\" {5}\r\nIN\r\nB\r\n", []wantResp{
			{respUntagged, `* LIST () "/" {5}`, "IN\r\nB"},
		}},
		{"status response text is not a literal", "* OK [ALERT] see {5}\r\na2 NO too big {5}\r\n+ send {3}\r\n* BYE {2}\r\n", []wantResp{
			{respUntagged, "* OK [ALERT] see {5}", ""},
			{respTagged, "a2 NO too big {5}", ""},
			{respContinuation, "+ send {3}", ""},
			{respUntagged, "* BYE {2}", ""},
		}},
		{"bare LF, long line", "* SEARCH " + strings.Repeat("12345 ", 50) + "6\na3 OK\n", []wantResp{
			{respUntagged, "* SEARCH " + strings.Repeat("12345 ", 50) + "6", ""},
			{respTagged, "a3 OK", ""},
		}},
		{"brace text that is no literal", "* 4 FETCH (FLAGS (a}))\r\n* 5 FETCH (X {a})\r\n", []wantResp{
			{respUntagged, "* 4 FETCH (FLAGS (a}))", ""},
			{respUntagged, "* 5 FETCH (X {a})", ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := readerConn(tc.in)
			for i, w := range tc.want {
				var lit bytes.Buffer
				c.lit = &lit
				c.litBytes = 0
				kind, err := c.readResponse()
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if kind != w.kind || string(c.line) != w.line || lit.String() != w.lit || c.litBytes != int64(len(w.lit)) {
					t.Errorf("response %d: kind %d line %q literal %q (%d bytes counted)\nwant kind %d line %q literal %q",
						i, kind, c.line, lit.String(), c.litBytes, w.kind, w.line, w.lit)
				}
			}
			if _, err := c.readResponse(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last response: %v, want EOF", err)
			}
		})
	}
}

func TestIMAPReadResponseErrors(t *testing.T) {
	for _, in := range []string{
		"* 1 FETCH (BODY[] {10}\r\nshort",              // the server hangs up inside a literal
		"* 1 FETCH (BODY[] {3}\r\nabc",                 // ... or before the rest of the response
		"* 1 FETCH (BODY[] {99999999999}\r\n",          // absurd size
		"* 1 FETCH (UID 1 FLAGS (\\Seen)) no end",      // no line end
		"* 1 FETCH (BODY[] {2}\r\nab\r\n" + "\r\n"[:0], // complete: checked below as a control
	} {
		c := readerConn(in)
		_, err := c.readResponse()
		if strings.HasSuffix(in, "ab\r\n") {
			if err != nil {
				t.Errorf("%q: %v", in, err)
			}
			continue
		}
		if err == nil || errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: err %v, want a failure other than a clean EOF", in, err)
		}
	}
}

// Untagged responses update what the modes need, whatever the case.
func TestIMAPUntagged(t *testing.T) {
	c := readerConn("* 17 EXISTS\r\n* 3 expunge\r\n* 4 FETCH (FLAGS (\\Seen) UID 77)\r\n* 5 fetch (uid 78)\r\n" +
		"* 6 FETCH (XUID 5 FLAGS ())\r\n* SEARCH 2 4 8\r\n* SEARCH\r\n* OK [UIDVALIDITY 123] ok\r\n" +
		"* ESEARCH (TAG \"a1\") UID ALL 3:5,9,12:10\r\n* ESEARCH (TAG \"a2\") UID COUNT 40 ALL 1:40\r\n* ESEARCH (TAG \"a3\")\r\n" +
		"* CAPABILITY IMAP4rev1 literal+ IDLE\r\n* BYE later\r\n")
	var uids []uint32
	c.onUID = func(u uint32) { uids = append(uids, u) }
	for {
		kind, err := c.readResponse()
		if err != nil {
			break
		}
		if kind != respUntagged {
			t.Fatalf("kind %d for %q", kind, c.line)
		}
		c.untagged()
	}
	if c.exists != 16 || c.fetches != 3 || c.searchHits != 3+7+40 || c.uidValidity != 123 || c.bye != "* BYE later" ||
		!c.caps["LITERAL+"] || !c.caps["IDLE"] || c.capsSeen != 1 {
		t.Errorf("exists=%d fetches=%d hits=%d uidvalidity=%d bye=%v caps=%v", c.exists, c.fetches, c.searchHits, c.uidValidity, c.bye, c.caps)
	}
	if len(uids) != 2 || uids[0] != 77 || uids[1] != 78 {
		t.Errorf("UIDs %v, want [77 78]", uids)
	}
}

func TestIMAPTaggedAndCodes(t *testing.T) {
	c := readerConn("a1 OK [APPENDUID 9 4021] done\r\na1 no [CANNOT] refused\r\na2 OK\r\na1 MAYBE\r\n")
	c.readResponse()
	r, err := c.tagged("a1")
	if err != nil || r.status != "OK" || r.code != "APPENDUID 9 4021" || r.err("APPEND") != nil {
		t.Errorf("%+v %v", r, err)
	}
	if uid, ok := appendUID(r.code); !ok || uid != 4021 {
		t.Errorf("appendUID = %d, %v", uid, ok)
	}
	c.readResponse()
	r, _ = c.tagged("a1")
	var ie *imapError
	if err := r.err("UID STORE"); !errors.As(err, &ie) || err.Error() != "UID STORE: NO [CANNOT] refused" {
		t.Errorf("NO: %v", err)
	}
	c.readResponse()
	if _, err := c.tagged("a1"); err == nil {
		t.Error("completion for another tag accepted")
	}
	c.readResponse()
	if _, err := c.tagged("a1"); err == nil {
		t.Error("status MAYBE accepted")
	}
	for _, code := range []string{"", "APPENDUID 9", "APPENDUID 9 1:3", "COPYUID 9 1 2"} {
		if _, ok := appendUID(code); ok {
			t.Errorf("appendUID(%q) ok", code)
		}
	}
}

func TestIMAPAstring(t *testing.T) {
	for in, want := range map[string]any{
		"INBOX":              "INBOX",
		"alice@example.test": "alice@example.test",
		"":                   `""`,
		"two words":          `"two words"`,
		`q"uo\te`:            `"q\"uo\\te"`,
		"(paren)":            `"(paren)"`,
		"wild*":              `"wild*"`,
		"感謝信":                literal("感謝信"),
		"line\r\nbreak":      literal("line\r\nbreak"),
		"nul\x00":            literal("nul\x00"),
	} {
		got := astring(in)
		if l, ok := want.(literal); ok {
			if g, ok := got.(literal); !ok || string(g) != string(l) {
				t.Errorf("astring(%q) = %#v, want literal", in, got)
			}
		} else if got != want {
			t.Errorf("astring(%q) = %#v, want %#v", in, got, want)
		}
	}
	if p := searchCommand(" TEXT ", "感謝信"); len(p) != 2 || p[0] != "UID SEARCH CHARSET UTF-8 TEXT " {
		t.Errorf("non-ASCII search %#v", p)
	}
	if p := searchCommand(" SUBJECT ", "invoice"); len(p) != 1 || p[0] != "UID SEARCH SUBJECT invoice" {
		t.Errorf("ASCII search %#v", p)
	}
}

// The command writer: literal announcements follow the capabilities
// (RFC 7888), a synchronising literal waits for the continuation, and a
// refusal instead of a continuation ends the command.
func TestIMAPCommandLiterals(t *testing.T) {
	for _, tc := range []struct {
		caps     []string
		size     int
		wantPlus bool
	}{
		{nil, 10, false},
		{[]string{"LITERAL+"}, 100000, true},
		{[]string{"LITERAL-"}, 4096, true},
		{[]string{"LITERAL-"}, 4097, false},
		{[]string{"IMAP4REV2"}, 4096, true},
		{[]string{"IMAP4REV2"}, 5000, false},
	} {
		server := "+ go\r\na1 OK done\r\n"
		if tc.wantPlus {
			server = "a1 OK done\r\n"
		}
		var out bytes.Buffer
		c := readerConn(server)
		c.w = bufio.NewWriter(&out)
		c.conn = nopDeadlineConn{}
		c.srv = &IMAPServer{}
		c.caps = map[string]bool{}
		for _, k := range tc.caps {
			c.caps[k] = true
		}
		data := strings.Repeat("x", tc.size)
		r, err := c.exec("APPEND INBOX ", literal(data))
		if err != nil || r.status != "OK" {
			t.Errorf("caps %v size %d: %+v %v", tc.caps, tc.size, r, err)
			continue
		}
		announce := "{" + strconv.Itoa(tc.size) + "}"
		if tc.wantPlus {
			announce = "{" + strconv.Itoa(tc.size) + "+}"
		}
		if want := "a1 APPEND INBOX " + announce + "\r\n" + data + "\r\n"; out.String() != want {
			t.Errorf("caps %v size %d: wrote %.60q, want %.60q", tc.caps, tc.size, out.String(), want)
		}
	}

	// Refused at the literal: the data is never sent.
	var out bytes.Buffer
	c := readerConn("* OK hold on\r\na1 NO [TOOBIG] no thanks\r\n")
	c.w, c.conn, c.srv = bufio.NewWriter(&out), nopDeadlineConn{}, &IMAPServer{}
	r, err := c.exec("APPEND INBOX ", literal("secret data"))
	if err != nil || r.status != "NO" || r.code != "TOOBIG" || strings.Contains(out.String(), "secret") {
		t.Errorf("refused literal: %+v %v, wrote %q", r, err, out.String())
	}
}

// FuzzIMAPReadResponse feeds arbitrary server output to the response
// reader: it must not panic, must count no more literal bytes than it was
// given, and must end (every call consumes input or fails).
func FuzzIMAPReadResponse(f *testing.F) {
	for _, s := range []string{
		"* 1 FETCH (UID 5 BODY[] {11}\r\nhello\r\nworl FLAGS (\\Seen))\r\na1 OK done\r\n",
		"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n+ idling\r\na2 NO [CANNOT] x {5}\r\n",
		"* 3 FETCH (BODY[1] {0}\r\n BINARY[2] ~{3}\r\nabc UID 9)\r\n* SEARCH 1 2 3\r\n",
		"* 1 FETCH (BODY[] {99999999999}\r\n",
		"* 2 EXISTS\n* 1 EXPUNGE\r\n* 9 FETCH (UID 4294967296)\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &imapConn{r: bufio.NewReaderSize(bytes.NewReader(in), 16), onUID: func(uint32) {}}
		var total int64
		for range len(in) + 1 {
			c.litBytes = 0
			kind, err := c.readResponse()
			if err != nil {
				break
			}
			total += c.litBytes
			if kind == respUntagged {
				c.untagged()
			}
			if kind == respTagged {
				c.tagged("a1")
			}
		}
		if total > int64(len(in)) {
			t.Errorf("%d literal bytes counted from %d bytes of input", total, len(in))
		}
	})
}

// nopDeadlineConn stands for the connection where only its deadline is
// touched: reads and writes go through the imapConn's buffers.
type nopDeadlineConn struct{ net.Conn }

func (nopDeadlineConn) SetDeadline(time.Time) error { return nil }
