package imapparse

import (
	"errors"
	"testing"
)

func TestMUTF7(t *testing.T) {
	cases := []struct{ utf8, mutf7 string }{
		{"", ""},
		{"INBOX", "INBOX"},
		{"&", "&-"},
		{"&-", "&--"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"日本語", "&ZeVnLIqe-"},
		// RFC 3501 §5.1.3's example.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"中文", "&Ti1lhw-"},
		{"邮件/草稿", "&kK5O9g-/&g0l6Pw-"},
		{"受信トレイ", "&U9dP4TDIMOwwpA-"},
		{"📧", "&2D3c5w-"}, // a surrogate pair
		{"a\x01b", "a&AAE-b"},
		{"é&ü", "&AOk-&-&APw-"},
	}
	for _, c := range cases {
		if got := EncodeMUTF7(c.utf8); got != c.mutf7 {
			t.Errorf("EncodeMUTF7(%q) = %q, want %q", c.utf8, got, c.mutf7)
		}
		got, err := DecodeMUTF7(c.mutf7)
		if err != nil || got != c.utf8 {
			t.Errorf("DecodeMUTF7(%q) = %q, %v; want %q", c.mutf7, got, err, c.utf8)
		}
	}
}

func TestMUTF7Invalid(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"&Jjo", errMUTF7Unclosed},
		{"a&", errMUTF7Unclosed},
		{"&AGE-", errMUTF7Needless},                // "a" encoded
		{"&ACY-", errMUTF7Needless},                // "&" encoded
		{"&ZeVnLIqe-&ZeVnLIqe-", errMUTF7Adjacent}, // null shift
		{"&ZeV-", errMUTF7Base64},                  // bits left over
		{"&ZeVnLB-", errMUTF7Base64},               // non-zero padding bits
		{"&ZeVn-", errMUTF7Incomplete},             // half a character
		{"&ZQ-", errMUTF7Incomplete},
		{"&Ze!-", errMUTF7Base64},
		{"&Ze/-", errMUTF7Base64}, // "/" is "," in modified BASE64
		{"&Ze=-", errMUTF7Base64},
		{"&2D0-", errMUTF7Incomplete},      // lone high surrogate
		{"&3DM-", errMUTF7UTF16},           // lone low surrogate
		{"&2D3YPQ-", errMUTF7UTF16},        // two high surrogates
		{"&2D0AQQ-", errMUTF7UTF16},        // high surrogate then a BMP character
		{"é", errMUTF7Octet},               // raw 8-bit
		{"a\tb", errMUTF7Octet},            // controls must be encoded
		{"a\x7fb", errMUTF7Octet},          //
		{"&ZeVnLIqe\r\n-", errMUTF7Base64}, // base64 decoders that skip CRLF would take it
	}
	for _, c := range cases {
		got, err := DecodeMUTF7(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("DecodeMUTF7(%q) = %q, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestEncodeMUTF7InvalidUTF8(t *testing.T) {
	// Invalid UTF-8 becomes U+FFFD, which decodes as such.
	enc := EncodeMUTF7("a\xffb")
	if enc != "a&,,0-b" {
		t.Errorf("got %q", enc)
	}
	if dec, err := DecodeMUTF7(enc); err != nil || dec != "a\ufffdb" {
		t.Errorf("decoded %q, %v", dec, err)
	}
}

func TestNormalizeInbox(t *testing.T) {
	for in, want := range map[string]string{
		"inbox":     "INBOX",
		"InBoX":     "INBOX",
		"inbox/foo": "INBOX/foo",
		"INBOX/Foo": "INBOX/Foo",
		"inboxfoo":  "inboxfoo",
		"inbox.foo": "inbox.foo",
		"foo/inbox": "foo/inbox",
		"inbo":      "inbo",
		"":          "",
	} {
		if got := NormalizeInbox(in); got != want {
			t.Errorf("NormalizeInbox(%q) = %q, want %q", in, got, want)
		}
	}
}
