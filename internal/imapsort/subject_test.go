package imapsort

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestBaseSubject(t *testing.T) {
	cases := []struct {
		in, want string
		reply    bool
	}{
		{"", "", false},
		{"foo", "foo", false},
		{"Re: foo", "foo", true},
		{"RE: Re: re:foo", "foo", true},
		{"Fwd: foo", "foo", true},
		{"FW: foo", "foo", true},
		{"fwd : foo", "foo", true},
		{"Re[2]: foo", "foo", true},
		{"Re [2]: foo", "foo", true},
		{"[list] Re: foo", "foo", true},
		{"Re: [list] foo", "foo", true},
		{"[list] foo", "foo", false},
		{"[a][b] foo", "foo", false},
		{"[a] [b] Re: [c] Fwd: foo", "foo", true},
		{"[PATCH 1/2] Re: [PATCH] x", "x", true},
		{"[list]", "[list]", false},
		{"[a] [b]", "[b]", false},
		{"[a][b]", "[b]", false},
		{"foo (fwd)", "foo", true},
		{"foo (FWD) (fwd)  ", "foo", true},
		{"foo(fwd)", "foo", true},
		{"(fwd)", "", true},
		{"[fwd: foo]", "foo", true},
		{"[Fwd: Re: foo (fwd)]", "foo", true},
		{"Re: [fwd: [list] Re: foo]", "foo", true},
		{"[fwd: [fwd: foo]]", "foo", true},
		{"[fwd:]", "", true},
		{"[fwd: foo", "[fwd: foo", false},
		{"[fwd: a] b]", "b]", false},
		{"  foo \t bar  ", "foo bar", false},
		{"foo\r\n\tbar", "foo bar", false},
		{"Re:", "", true},
		{"Re: ", "", true},
		{"Reply: foo", "Reply: foo", false},
		{"Re foo", "Re foo", false},
		{"Fwd foo: bar", "Fwd foo: bar", false},
		{"Regards: foo", "Regards: foo", false},
		{"Re: [unclosed foo", "[unclosed foo", true},
		{"Re: [讨论组] 中文", "中文", true},
		{"=?utf-8?q?Re=3A_foo?=", "foo", true},
		{"Re: Straße", "Straße", true},
	}
	for _, c := range cases {
		got, reply := baseSubject(c.in)
		if got != c.want || reply != c.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", c.in, got, reply, c.want, c.reply)
		}
		if got := BaseSubject(c.in); got != c.want {
			t.Errorf("BaseSubject(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// Encoded words in the legacy Chinese charsets and in UTF-8 must give the
// same base subject as the plain text, so such messages sort and thread
// together.
func TestBaseSubjectEncodedWords(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	big5 := []byte{0xa4, 0xa4, 0xa4, 0xe5}   // 中文 in Big5
	gb2312 := []byte{0xd6, 0xd0, 0xce, 0xc4} // 中文 in GB2312
	const plain = "中文"
	cases := []string{
		"=?Big5?B?" + b64(big5) + "?=",
		"=?big5?Q?=A4=A4=A4=E5?=",
		"Re: =?GB2312?B?" + b64(gb2312) + "?=",
		"=?gb2312?q?Re:_=D6=D0=CE=C4?=",
		"=?UTF-8?B?" + b64([]byte("Fwd: 中文")) + "?=",
		"=?utf-8?q?=E4=B8=AD?= =?utf-8?q?=E6=96=87?=", // adjacent words join (RFC 2047 §6.2)
		"[list] Re: " + plain,
		"=?GBK?B?" + b64(gb2312) + "?= (fwd)",
	}
	for _, in := range cases {
		if got := BaseSubject(in); got != plain {
			t.Errorf("BaseSubject(%q) = %q; want %q", in, got, plain)
		}
	}
}

func TestDecodeWordsUnknownCharset(t *testing.T) {
	// One word in a charset nobody knows keeps its ASCII and does not stop
	// the other words from being decoded.
	got := BaseSubject("=?x-unknown?q?abc=FF?= =?utf-8?q?d=C3=A9f?=")
	if want := "abc\uFFFDdéf"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	// A malformed encoded word stays as it is.
	if got, want := BaseSubject("=?utf-8?B?!!!?= x"), "=?utf-8?B?!!!?= x"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// The extraction is linear: a quadratic implementation would not finish
// these within the test timeout.
func TestBaseSubjectLongInputs(t *testing.T) {
	const n = 200000
	cases := []struct{ in, want string }{
		{strings.Repeat("[x] ", n) + "foo", "foo"},
		{strings.Repeat("Re: ", n) + "foo", "foo"},
		{strings.Repeat("[x] Re: ", n) + "foo", "foo"},
		{strings.Repeat("[fwd: ", n) + "foo" + strings.Repeat("]", n), "foo"},
		{"foo" + strings.Repeat(" (fwd)", n), "foo"},
		{strings.Repeat("[", n), strings.Repeat("[", n)},
		{strings.Repeat("Re [", n), strings.Repeat("Re [", n)},
	}
	for _, c := range cases {
		if got := BaseSubject(c.in); got != c.want {
			t.Errorf("BaseSubject(%.20q...) = %.20q... (len %d); want %.20q... (len %d)", c.in, got, len(got), c.want, len(c.want))
		}
	}
}

func TestCompareKey(t *testing.T) {
	equal := [][]string{
		{"foo", "FOO", "Foo", "fOO"},
		{"Émile", "émile", "ÉMILE", "e\u0301mile"},
		{"ΣΊΣΥΦΟΣ", "σίσυφος"},
		{"ǆ", "ǅ", "Ǆ"}, // titlecase digraph
		{"ﬁx", "fix", "FIX"},
		{"中文", "中文"},
	}
	for _, set := range equal {
		for _, s := range set[1:] {
			if a, b := CompareKey(set[0]), CompareKey(s); a != b {
				t.Errorf("CompareKey(%q) = %q != CompareKey(%q) = %q", set[0], a, s, b)
			}
		}
	}
	// Accented letters sort right after their base letter.
	order := []string{"", "a", "B", "e", "É", "f", "z"}
	for i := 1; i < len(order); i++ {
		if a, b := CompareKey(order[i-1]), CompareKey(order[i]); a >= b {
			t.Errorf("CompareKey(%q) = %q not before CompareKey(%q) = %q", order[i-1], a, order[i], b)
		}
	}
	// Different raw 8-bit bytes stay different.
	if CompareKey("\xff") == CompareKey("\xfe") {
		t.Error("CompareKey maps different invalid bytes to the same key")
	}
}
