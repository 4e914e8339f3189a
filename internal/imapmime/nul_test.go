package imapmime

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// leafContents returns the decoded content of each leaf part in order,
// nil for a part in an unknown transfer encoding, and whether its stored
// body holds a NUL.
func leafContents(t testing.TB, msg []byte, root *Part) (out [][]byte, rawNUL []bool) {
	t.Helper()
	var walk func(p *Part)
	walk = func(p *Part) {
		switch {
		case p.isMultipart():
			for _, c := range p.Parts {
				walk(c)
			}
		case p.Message != nil:
			walk(p.Message)
		default:
			rawNUL = append(rawNUL, p.BodyStart <= p.End && p.End <= int64(len(msg)) && bytes.IndexByte(msg[p.BodyStart:p.End], 0) >= 0)
			d, err := decodeBody(bytes.NewReader(msg), p)
			if err != nil {
				out = append(out, nil)
				return
			}
			b, err := io.ReadAll(d)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	walk(root)
	return out, rawNUL
}

// checkEncodeNUL checks EncodeNULParts on msg: the result parses to the
// same tree of parts with the same decoded contents, and no part it could
// re-encode keeps a NUL.
func checkEncodeNUL(t testing.TB, msg []byte) (out []byte, root *Part) {
	t.Helper()
	p, err := Parse(bytes.NewReader(msg))
	if err != nil {
		return nil, nil
	}
	out, changed := EncodeNULParts(msg, p)
	if !changed {
		if !bytes.Equal(out, msg) {
			t.Fatal("unchanged but different")
		}
		return out, p
	}
	q, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("result does not parse: %v\n%q", err, out)
	}
	before, nul := leafContents(t, msg, p)
	after, _ := leafContents(t, out, q)
	if len(before) != len(after) {
		t.Fatalf("%d parts before, %d after:\n%q\n%q", len(before), len(after), msg, out)
	}
	for i := range before {
		if before[i] != nil && !bytes.Equal(before[i], after[i]) {
			t.Fatalf("part %d: content %q became %q\n%q", i, before[i], after[i], out)
		}
		if before[i] != nil && nul[i] {
			// Re-encoded: the stored body holds no NUL any more.
			var leaf *Part
			var n int
			var find func(p *Part)
			find = func(p *Part) {
				switch {
				case p.isMultipart():
					for _, c := range p.Parts {
						find(c)
					}
				case p.Message != nil:
					find(p.Message)
				default:
					if n == i {
						leaf = p
					}
					n++
				}
			}
			find(q)
			if bytes.IndexByte(out[leaf.BodyStart:leaf.End], 0) >= 0 || leaf.Encoding != "BASE64" {
				t.Fatalf("part %d still has NUL or is %s:\n%q", i, leaf.Encoding, out)
			}
		}
	}
	return out, q
}

func TestEncodeNULParts(t *testing.T) {
	// imaptest's append-binary message: one part, binary, with a NUL.
	single := "From: user@domain.org\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\r\n\r\n"
	out, root := checkEncodeNUL(t, []byte(single))
	want := "From: user@domain.org\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kDQoNCg==\r\n"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
	if bs := string(root.AppendBodyStructure(nil, false, false)); !strings.Contains(bs, `"BASE64"`) {
		t.Fatalf("BODYSTRUCTURE %s", bs)
	}

	// A multipart with a folded CTE field, an untouched part, a
	// quoted-printable part and a forwarded message with a NUL inside.
	long := strings.Repeat("\x00\x01binary", 20)
	multi := crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nplain part\n--b\n"+
		"Content-Type: application/octet-stream\nContent-Transfer-Encoding:\n binary\nX-After: kept\n\n") + long + crlf("\n--b\n"+
		"Content-Transfer-Encoding: quoted-printable\n\nqp=3D\x00x\n--b\nContent-Type: message/rfc822\n\n"+
		"Subject: inner\nContent-Transfer-Encoding: 8bit\n\ninner\x00body\n--b\nContent-Transfer-Encoding: x-unknown\n\nodd\x00\n--b--\n")
	out, _ = checkEncodeNUL(t, []byte(multi))
	s := string(out)
	for _, w := range []string{
		"--b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b\r\n",                                         // untouched
		"Content-Type: application/octet-stream\r\nX-After: kept\r\nContent-Transfer-Encoding: base64\r\n\r\n", // folded field gone
		"Subject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\naW5uZXIAYm9keQ==\r\n--b",                   // inside the forwarded message
		"x-unknown\r\n\r\nodd\x00\r\n--b--",                                                                    // unknown encoding: left alone
	} {
		if !strings.Contains(s, w) {
			t.Errorf("result lacks %q:\n%q", w, s)
		}
	}
	for _, l := range strings.Split(s, "\r\n") {
		if len(l) > 76 && !strings.Contains(l, "multipart") {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
	}
	// Without NUL nothing changes.
	if _, changed := EncodeNULParts([]byte(mixedMessage), mustParse(t, mixedMessage)); changed {
		t.Error("a message without NUL changed")
	}
}
