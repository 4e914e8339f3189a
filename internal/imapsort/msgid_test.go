package imapsort

import (
	"slices"
	"testing"
)

func TestAppendMsgIDs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"no brackets", nil},
		{"<a@x>", []string{"a@x"}},
		{"<a@x> <b@x>\r\n\t<c@x>", []string{"a@x", "b@x", "c@x"}},
		{"<a@x><b@x>", []string{"a@x", "b@x"}},
		{"<a@\r\n x>", []string{"a@x"}},
		{"<A@X> <a@x>", []string{"A@X", "a@x"}}, // case-sensitive
		{"<1234@example.net> (from Joe <joe@example.net>)", []string{"1234@example.net"}},
		{`"Joe <joe@example.net>" <5678@example.net>`, []string{"5678@example.net"}},
		{"<> <a@x>", []string{"a@x"}},
		{"<broken <a@x>", []string{"a@x"}},
		{"<a@x> <unclosed", []string{"a@x"}},
		{"(unclosed <a@x>", nil},
	}
	for _, c := range cases {
		if got := appendMsgIDs(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("appendMsgIDs(%q) = %q; want %q", c.in, got, c.want)
		}
	}
	if got := firstMsgID("junk <first@x> <second@x>"); got != "first@x" {
		t.Errorf("firstMsgID = %q", got)
	}
}
