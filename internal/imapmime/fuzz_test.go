package imapmime

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// fuzzSeeds are the fixtures of the table tests plus a few odd shapes.
func fuzzSeeds() []string {
	return []string{
		rfc2046Example, mixedMessage, decodeMessage, "",
		"Subject: x\n\nbody",
		crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody1\n--d--\n"),
		crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nContent-Type: multipart/alternative; boundary=c\n\n--c\n\nx\n--b--\n"),
		crlf("Content-Type: text/plain; name*0*=utf-8''%E6%84; name*1*=%9F\nContent-Disposition: inline; filename*=x''%ZZ\n\nx"),
		"To: a:b:c;;,<@x:y@z>(c)\r\n\r\n",
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := string(data)
		p, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse failed on in-memory input: %v", err)
		}
		// Offsets, sizes, line counts and the IMAP syntax of the output.
		checkStructure(t, p, msg)

		// The result does not depend on how the input is chunked.
		if len(data) < 4096 {
			q, err := Parse(iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("byte-at-a-time parse differs: %v", err)
			}
		}

		// The cache encoding round-trips exactly.
		b := p.Marshal()
		q, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal()): %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip differs\n got %+v\nwant %+v", q, p)
		}

		// Every section can be extracted with the announced size; every
		// part decodes to its announced size.
		forEachSection(p, func(s Section) {
			r, n, err := Extract(bytes.NewReader(data), p, s)
			if err != nil {
				t.Fatalf("Extract(%+v): %v", s, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || int64(len(got)) != n {
				t.Fatalf("Extract(%+v): %d bytes announced, %d read, %v", s, n, len(got), err)
			}
			if s.Specifier == "" {
				dr, err := Decode(bytes.NewReader(data), p, s.Path)
				if err != nil {
					return // unknown transfer encoding
				}
				dec, err := io.ReadAll(dr)
				if err != nil {
					t.Fatalf("Decode(%v): %v", s.Path, err)
				}
				if size, err := DecodedSize(bytes.NewReader(data), p, s.Path); err != nil || size != int64(len(dec)) {
					t.Fatalf("DecodedSize(%v) = %d, %v; Decode gave %d", s.Path, size, err, len(dec))
				}
			}
		})

		headers, body, err := Text(bytes.NewReader(data), p, 1000)
		if err != nil {
			t.Fatalf("Text: %v", err)
		}
		if len(headers)+len(body) > 1000 || !utf8.ValidString(headers) || !utf8.ValidString(body) {
			t.Fatalf("Text: %d bytes, valid %v %v", len(headers)+len(body), utf8.ValidString(headers), utf8.ValidString(body))
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds() {
		p, err := Parse(strings.NewReader(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Marshal())
	}
	f.Add([]byte{formatVersion})
	f.Fuzz(checkUnmarshal)
}

// checkUnmarshal is the body of FuzzUnmarshal.
func checkUnmarshal(t *testing.T, data []byte) {
	{
		p, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same tree and give valid
		// IMAP output, and serving sections must not panic.
		q, err := Unmarshal(p.Marshal())
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-marshal round trip: %v", err)
		}
		for _, ext := range []bool{false, true} {
			out := string(p.AppendBodyStructure(nil, ext, false))
			if err := checkSyntax(out, false, func(c *syntaxChecker) { c.body(ext) }); err != nil {
				t.Fatalf("body %q: %v", out, err)
			}
		}
		env := string(p.Envelope.AppendIMAP(nil, true))
		if err := checkSyntax(env, true, func(c *syntaxChecker) { c.envelope() }); err != nil {
			t.Fatalf("envelope %q: %v", env, err)
		}
		msg := bytes.NewReader([]byte(mixedMessage))
		forEachSection(p, func(s Section) {
			if r, _, err := Extract(msg, p, s); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<16))
			}
		})
		_, _, _ = Text(msg, p, 100)
		p.Shift(7)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("SGVsbG8sIOS4lueVjA==\r\n"))
	f.Add([]byte("caf=C3=A9 =\r\nsoft   \r\nhard=3D\r\n=ZZ bad =\r\n"))
	f.Add([]byte("=\r\n=4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tt := range []struct {
			name string
			dec  func(io.Reader) io.Reader
		}{
			{"base64", func(r io.Reader) io.Reader { return newBase64Reader(r) }},
			{"quoted-printable", func(r io.Reader) io.Reader { return newQPReader(r) }},
		} {
			got, err := io.ReadAll(tt.dec(bytes.NewReader(data)))
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			// Chunking must not change the result: escapes and groups
			// cut across reads are put back together.
			slow, err := io.ReadAll(tt.dec(iotest.OneByteReader(bytes.NewReader(data))))
			if err != nil || !bytes.Equal(got, slow) {
				t.Fatalf("%s: byte-at-a-time read differs: %q vs %q", tt.name, slow, got)
			}
		}
		// On input the standard library accepts, the results agree.
		clean := strings.NewReplacer("\r", "", "\n", "").Replace(string(data))
		if want, err := base64.StdEncoding.DecodeString(clean); err == nil {
			got, _ := io.ReadAll(newBase64Reader(bytes.NewReader(data)))
			if !bytes.Equal(got, want) {
				t.Fatalf("base64 of %q = %q, stdlib %q", data, got, want)
			}
		}
		if want, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(data))); err == nil && strictQP(data) {
			got, _ := io.ReadAll(newQPReader(bytes.NewReader(data)))
			if !bytes.Equal(got, want) {
				t.Fatalf("quoted-printable of %q = %q, stdlib %q", data, got, want)
			}
		}
	})
}

// strictQP reports input within RFC 2045 §6.7 that both decoders must
// read the same: printable ASCII, tabs and CRLF line breaks only, every
// "=" starting an upper-case escape or a soft line break.
func strictQP(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '=':
			rest := b[i+1:]
			switch {
			case len(rest) >= 2 && isUpperHex(rest[0]) && isUpperHex(rest[1]):
				i += 2
			case len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n':
			default:
				return false
			}
		case c == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' || i > 0 && (b[i-1] == ' ' || b[i-1] == '\t') {
				return false
			}
		case c == '\n':
			if i == 0 || b[i-1] != '\r' {
				return false
			}
		case c == '\t' || ' ' <= c && c <= '~':
		default:
			return false
		}
	}
	return len(b) == 0 || b[len(b)-1] == '\n'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func FuzzAddressList(f *testing.F) {
	for _, s := range []string{
		`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`,
		`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`,
		`<@a,@b:c@d>, "x\"y" <z@w>`, `a@b c@d`, `::;;<<>>@@`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list := ParseAddressList(s)
		inGroup := false
		for _, a := range list {
			switch {
			case a.IsGroupEnd():
				if !inGroup {
					t.Fatalf("group end outside a group: %#v", list)
				}
				inGroup = false
			case a.IsGroupStart():
				if inGroup || a.Name != "" || a.Adl != "" {
					t.Fatalf("bad group start: %#v", list)
				}
				inGroup = true
			case a.Mailbox == "" || a.Host == "":
				t.Fatalf("mailbox without local part or domain: %#v", a)
			}
		}
		if inGroup {
			t.Fatalf("unterminated group: %#v", list)
		}
		out := string((&Envelope{To: list}).AppendIMAP(nil, false))
		if err := checkSyntax(out, false, func(c *syntaxChecker) { c.envelope() }); err != nil {
			t.Fatalf("envelope %q: %v", out, err)
		}
	})
}

// FuzzEncodeNULParts checks that re-encoding the parts that hold NUL
// keeps the message's shape and every part's decoded content, and leaves
// no NUL in a part it re-encoded.
func FuzzEncodeNULParts(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	f.Add([]byte("Content-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\r\n\r\n"))
	f.Add([]byte(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding:\n binary\n\nx\x00y\n--b\nContent-Type: message/rfc822\n\nSubject: i\n\na\x00\n--b--\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		checkEncodeNUL(t, data)
	})
}
