package sasl

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestDecodeResponse(t *testing.T) {
	for in, want := range map[string]string{
		"=":                "",
		"":                 "",
		"AGFsaWNlAHB3":     "\x00alice\x00pw",
		"YWxpY2U=":         "alice",
		"dXNlcm5hbWU6IGE=": "username: a",
	} {
		got, err := DecodeResponse([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("DecodeResponse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"*", "YWxpY2U", "YWxp Y2U=", "==", "YW=xpY2U", "\x00"} {
		if _, err := DecodeResponse([]byte(in)); !errors.Is(err, ErrBase64) {
			t.Errorf("DecodeResponse(%q) = %v, want ErrBase64", in, err)
		}
	}
}

func TestParsePlain(t *testing.T) {
	for in, want := range map[string]Plain{
		"\x00alice\x00pw":     {"", "alice", "pw"},
		"bob\x00alice\x00pw":  {"bob", "alice", "pw"},
		"\x00\x00":            {},
		"\x00alice\x00p w 密码": {"", "alice", "p w 密码"},
	} {
		got, err := ParsePlain([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParsePlain(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "alice", "\x00alice", "\x00a\x00b\x00c", "a\x00b\x00c\x00"} {
		if _, err := ParsePlain([]byte(in)); !errors.Is(err, ErrPlain) {
			t.Errorf("ParsePlain(%q) = %v, want ErrPlain", in, err)
		}
	}
}

// FuzzDecodeResponse: any line a client sends decodes to bytes that
// encode back to a response decoding to the same bytes, or is refused
// with ErrBase64; nothing panics.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{"=", "", "AGFsaWNlAHB3", "YWxpY2U=", "YWxpY2U", "====", "*", "YQ==YQ==", "\r\n", "Y\nQ=="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, ErrBase64) {
				t.Fatalf("DecodeResponse(%q) = %v", b, err)
			}
			return
		}
		again, err := DecodeResponse([]byte(base64.StdEncoding.EncodeToString(out)))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("DecodeResponse(%q) = %q, which does not survive re-encoding: %q, %v", b, out, again, err)
		}
	})
}

// FuzzParsePlain: a PLAIN message with exactly two NULs splits into
// fields that join back to it; any other is refused with ErrPlain.
func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{"\x00alice\x00pw", "bob\x00alice\x00pw", "", "\x00\x00\x00", "alice", "\xff\x00\xfe\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := ParsePlain(msg)
		nuls := bytes.Count(msg, []byte{0})
		if err != nil {
			if !errors.Is(err, ErrPlain) || nuls == 2 {
				t.Fatalf("ParsePlain(%q) = %v with %d NULs", msg, err, nuls)
			}
			return
		}
		if nuls != 2 || p.Authz+"\x00"+p.Authc+"\x00"+p.Passwd != string(msg) {
			t.Fatalf("ParsePlain(%q) = %+v", msg, p)
		}
	})
}
