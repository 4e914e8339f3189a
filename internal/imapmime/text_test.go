package imapmime

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"unicode/utf8"
)

func decodeAll(t *testing.T, msg string, root *Part, path []int) string {
	t.Helper()
	r, err := Decode(strings.NewReader(msg), root, path)
	if err != nil {
		t.Fatalf("Decode(%v): %v", path, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Decode(%v) read: %v", path, err)
	}
	n, err := DecodedSize(strings.NewReader(msg), root, path)
	if err != nil {
		t.Fatalf("DecodedSize(%v): %v", path, err)
	}
	if n != int64(len(b)) {
		t.Errorf("DecodedSize(%v) = %d, Decode gave %d bytes", path, n, len(b))
	}
	return string(b)
}

var decodeMessage = crlf(`Content-Type: multipart/mixed; boundary=b

--b
Content-Transfer-Encoding: base64

SGVsbG8sIOS4lueVjA==
--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: Quoted-Printable

caf=C3=A9 =
soft   
hard=3D
=ZZ bad =
--b
Content-Transfer-Encoding: base64

SGVs bG8*
=
V29y
bGQ=
--b
Content-Transfer-Encoding: x-uuencode

begin 644 x
--b
Content-Transfer-Encoding: 8bit

raw =41 bytes
--b--
`)

func TestDecode(t *testing.T) {
	msg := decodeMessage
	p := mustParse(t, msg)
	tests := []struct {
		path []int
		want string
	}{
		{[]int{1}, "Hello, 世界"},
		// RFC 2045 §6.7: soft line breaks removed, trailing white space
		// dropped, a bad escape kept, line breaks kept.
		{[]int{2}, "café soft\r\nhard=\r\n=ZZ bad "},
		// Junk ignored, "=" ends a group early and decoding goes on.
		{[]int{3}, "HelloWorld"},
		{[]int{5}, "raw =41 bytes"},
		{[]int{9}, ""},
		{nil, msg},
	}
	for _, tt := range tests {
		if got := decodeAll(t, msg, p, tt.path); got != tt.want {
			t.Errorf("Decode(%v) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if _, err := Decode(strings.NewReader(msg), p, []int{4}); !errors.Is(err, ErrUnknownCTE) {
		t.Errorf("Decode of x-uuencode: err = %v, want ErrUnknownCTE", err)
	}
	if _, err := DecodedSize(strings.NewReader(msg), p, []int{4}); !errors.Is(err, ErrUnknownCTE) {
		t.Errorf("DecodedSize of x-uuencode: err = %v, want ErrUnknownCTE", err)
	}
}

// failingReaderAt fails every read.
type failingReaderAt struct{}

var errDisk = errors.New("disk on fire")

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

func TestDecodeReadError(t *testing.T) {
	p := mustParse(t, decodeMessage)
	if _, err := DecodedSize(failingReaderAt{}, p, []int{1}); !errors.Is(err, errDisk) {
		t.Errorf("DecodedSize read error = %v", err)
	}
	if _, _, err := Text(failingReaderAt{}, p, 0); !errors.Is(err, errDisk) {
		t.Errorf("Text read error = %v", err)
	}
}

// TestDecodersAgreeWithStdlib checks the lenient decoders against the
// standard library on well-formed input, across read sizes.
func TestDecodersAgreeWithStdlib(t *testing.T) {
	data := make([]byte, 20000)
	for i := range data {
		data[i] = byte(i*7 + i/13)
	}
	var enc bytes.Buffer
	b64 := base64.StdEncoding.EncodeToString(data)
	for i := 0; i < len(b64); i += 76 {
		enc.WriteString(b64[i:min(i+76, len(b64))] + "\r\n")
	}
	got, err := io.ReadAll(newBase64Reader(&enc))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("base64: %v, %d bytes, equal=%v", err, len(got), bytes.Equal(got, data))
	}

	text := strings.Repeat("Ünïcödé text with = signs and trailing space \r\nand a very long line "+strings.Repeat("x", 300)+"\r\n", 50)
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(qp.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(newQPReader(bytes.NewReader(qp.Bytes())))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("quoted-printable differs from mime/quotedprintable: %v\n got %q\nwant %q", err, got, want)
	}
}

// b64lines base64-encodes b in 76-character lines.
func b64lines(b string) string {
	s := base64.StdEncoding.EncodeToString([]byte(b))
	var out strings.Builder
	for i := 0; i < len(s); i += 76 {
		out.WriteString(s[i:min(i+76, len(s))] + "\n")
	}
	return out.String()
}

// The word 感謝信 ("thank-you letter") in the charsets Chinese mail uses.
const (
	word     = "感謝信"
	wordGBK  = "\xb8\xd0\xd6\x78\xd0\xc5" // GBK, which mail labels gb2312
	wordBig5 = "\xb7\x50\xc1\xc2\xab\x48"
)

func TestText(t *testing.T) {
	msg := crlf(`From: =?UTF-8?B?5byg5LiJ?= <zhang@example.cn>
To: Team: "Li Si" <li@example.cn>;, =?big5?B?` + base64.StdEncoding.EncodeToString([]byte(wordBig5)) + `?= <big5@example.tw>
Subject: =?GB2312?B?` + base64.StdEncoding.EncodeToString([]byte(wordGBK)) + `?= re
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=gb2312
Content-Transfer-Encoding: base64

` + b64lines("GB: "+wordGBK+" end") + `--b
Content-Type: text/plain; charset="big5"
Content-Transfer-Encoding: base64

` + b64lines("Big5: "+wordBig5+" end") + `--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

` + b64lines("UTF-8: "+word+" end") + `--b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><title>T</title><style>p { color: red }</style>
<script>var x =3D "<b>=E7=A7=98=E5=AF=86</b>";</script></head>
<body><p>HTML: =E6=84=9F=E8=AC=9D=E4=BF=A1 &amp; caf&eacute;&nbsp;&#20320;&#x597D;</p><!-- a hidden -- comment -->=
<div>1 &lt; 2 & 3 > 0</div></body></html>
--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Latin: caf=E9
--b
Content-Type: text/plain
Content-Disposition: attachment; filename=secret.txt

ATTACHEDWORD
--b
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b
Content-Type: message/rfc822

Subject: =?UTF-8?Q?forwarded_subject?=

forwarded body
--b--
`)
	p := mustParse(t, msg)
	headers, body, err := Text(strings.NewReader(msg), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every field of every header: the message's, its parts' MIME
	// fields and the forwarded message's (RFC 9051 §6.4.4 TEXT: "the
	// header (including MIME header fields)"), encoded words decoded.
	for _, want := range []string{
		"From: 张三 <zhang@example.cn>\n",
		"To: Team: \"Li Si\" <li@example.cn>;, 感謝信 <big5@example.tw>\n",
		"Subject: 感謝信 re\n",
		"Content-Type: multipart/mixed; boundary=b\n",
		"Content-Disposition: attachment; filename=secret.txt\n",
		"Content-Type: message/rfc822\n",
		"Subject: forwarded subject\n",
	} {
		if !strings.Contains(headers, want) {
			t.Errorf("headers lack %q:\n%s", want, headers)
		}
	}
	if strings.Contains(headers, "=?") {
		t.Errorf("encoded words left in headers:\n%s", headers)
	}
	for _, want := range []string{
		"GB: " + word + " end", "Big5: " + word + " end", "UTF-8: " + word + " end",
		"HTML: " + word + " & café 你好", "1 < 2 & 3 > 0", "Latin: café",
		"forwarded subject", // RFC 2047 §4.2: "_" is a space in Q encoding
		"forwarded body",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	for _, absent := range []string{"秘密", "color", "hidden", "ATTACHEDWORD", "iVBOR", "<p>", "&amp;", "=E6"} {
		if strings.Contains(body, absent) {
			t.Errorf("body contains %q:\n%s", absent, body)
		}
	}
	if !utf8.ValidString(body) || !utf8.ValidString(headers) {
		t.Errorf("text is not valid UTF-8")
	}
}

func TestTextRawHeaderCharset(t *testing.T) {
	// 8-bit GBK in a header without encoded words: converted with the
	// body's charset.
	msg := "Subject: " + wordGBK + "\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n" + wordGBK + "\r\n"
	p := mustParse(t, msg)
	headers, body, err := Text(strings.NewReader(msg), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: " + word + "\nContent-Type: text/plain; charset=gb2312\n"; headers != want || body != word+"\r\n\n" {
		t.Errorf("got %q, %q", headers, body)
	}
}

func TestTextInvalidUTF8(t *testing.T) {
	for _, cs := range []string{"", "; charset=utf-8", "; charset=us-ascii", "; charset=x-no-such-charset"} {
		msg := "Content-Type: text/plain" + cs + "\r\n\r\nok \xff\xfe " + word + " end\r\n"
		p := mustParse(t, msg)
		_, body, err := Text(strings.NewReader(msg), p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := "ok \uFFFD\uFFFD " + word + " end"; !strings.Contains(body, want) || !utf8.ValidString(body) {
			t.Errorf("charset %q: body %q, want it to contain %q", cs, body, want)
		}
	}
}

func TestTextBudget(t *testing.T) {
	msg := crlf("Subject: " + word + "\nContent-Type: text/plain; charset=utf-8\n\n" + strings.Repeat(word, 1000) + "\n")
	p := mustParse(t, msg)
	for _, max := range []int{1, 5, 10, 11, 12, 100, 1001} {
		headers, body, err := Text(strings.NewReader(msg), p, max)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(headers) + len(body); n > max || n < max-3 {
			t.Errorf("max %d: %d bytes of text", max, n)
		}
		if !utf8.ValidString(headers) || !utf8.ValidString(body) {
			t.Errorf("max %d: text cut inside a character: %q %q", max, headers, body)
		}
	}
}

func TestHTMLText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a<b>b</b>c", "abc"},
		{"a < b", "a < b"},
		{"x<br>y<p>z</p>", "x\ny\nz\n"},
		{"a  \r\n\t b", "a b"},
		{`<a href="x>y">link</a>`, "link"},
		{"<script>alert(1)</script>ok", "ok"},
		{"<script>if (a<b) x()</script>ok", "ok"},
		{"<STYLE type=text/css>b{}</STYLE>ok", "ok"},
		{"<!-- c --> <!DOCTYPE html>ok", " ok"},
		{"&lt;&gt;&quot;&#39;&#x41;&copy", `<>"'A©`},
		{"&bogus; &", "&bogus; &"},
		{"tail &amp", "tail &"},
	}
	for _, tt := range tests {
		var s textSink
		s.left = -1
		h := &htmlText{w: &s}
		// Feed byte by byte: state must carry across writes.
		for i := range len(tt.in) {
			if _, err := h.Write([]byte{tt.in[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.flush(); err != nil {
			t.Fatal(err)
		}
		if got := s.take(); got != tt.want {
			t.Errorf("html %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTextAllHeaderFields checks that fields no envelope holds are
// searchable: unknown X- fields, Date, folded fields, and the trace
// fields before the message's own header (the served prefix).
func TestTextAllHeaderFields(t *testing.T) {
	prefix := "Received: from relay.example (qwertyhost)\r\n"
	msg := prefix + crlf(`Date: Sat, 24 Mar 2007 23:00:00 +0200
X-Header: qwertyuiop
X-Folded: first
	second line
X-Encoded: =?UTF-8?B?`+base64.StdEncoding.EncodeToString([]byte(word))+`?=
X-Long: `+strings.Repeat("v", 3*readBufSize)+` tail
X-After: long

body
`)
	p := mustParse(t, msg[len(prefix):])
	p.Shift(int64(len(prefix)))
	headers, body, err := Text(strings.NewReader(msg), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Received: from relay.example (qwertyhost)\n",
		"Date: Sat, 24 Mar 2007 23:00:00 +0200\n",
		"X-Header: qwertyuiop\n",
		"X-Folded: first\tsecond line\n",
		"X-Encoded: " + word + "\n",
		"v tail\nX-After: long\n", // a line longer than the read buffer is one field
	} {
		if !strings.Contains(headers, want) {
			t.Errorf("headers lack %q:\n%s", want, headers)
		}
	}
	if body != "body\r\n\n" {
		t.Errorf("body %q", body)
	}
}

// deepMessage nests depth multiparts with a text part holding word at the
// bottom.
func deepMessage(depth int, word string) string {
	var b strings.Builder
	b.WriteString("Subject: deep\r\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nthe " + word + " at the bottom\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

// manyPartsMessage has n text parts, part i holding "w<i>".
func manyPartsMessage(n int) string {
	var b strings.Builder
	b.WriteString("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range n {
		fmt.Fprintf(&b, "--b\r\nContent-Type: text/plain\r\n\r\nw%d\r\n", i)
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

// TestTextPastLimits (issue 11 item 8): entities past the nesting or part
// limits of Parse are opaque leaves; their text is indexed flat (raw),
// so a word deep inside stays searchable. Parts within the limits keep
// their decoded text.
func TestTextPastLimits(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		words     []string
	}{
		{"depth", deepMessage(2*maxDepth, "deepword"), []string{"deepword"}},
		{"depth within", deepMessage(maxDepth/2, "shallowword"), []string{"shallowword"}},
		{"parts", manyPartsMessage(maxParts + 50), []string{"w0\n", "w9000\n", "w10020\r\n", "w10049\r\n"}},
		{"encapsulated", "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte("Subject: x\r\n\r\nencapsulatedword\r\n")) + "\r\n", []string{"encapsulatedword"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.msg)
			// The indexer's budget: the headers of 10,000 parts
			// alone are more than it.
			_, body, err := Text(strings.NewReader(tc.msg), p, 256<<10)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.words {
				if !strings.Contains(body, w) {
					t.Errorf("body text lacks %q (%d bytes)", w, len(body))
				}
			}
		})
	}
}
