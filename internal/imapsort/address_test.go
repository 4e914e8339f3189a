package imapsort

import "testing"

func TestFirstAddress(t *testing.T) {
	cases := []struct {
		in   string
		want address
		ok   bool
	}{
		{"", address{}, false},
		{"   ", address{}, false},
		{"alice@example.test", address{"alice", "example.test", ""}, true},
		{"Alice <ALICE@example.test>", address{"ALICE", "example.test", "Alice"}, true},
		{`"Joe Q. Public" <john.q.public@example.com>`, address{"john.q.public", "example.com", "Joe Q. Public"}, true},
		{"Mary Smith <mary@x.test>, jdoe@example.org", address{"mary", "x.test", "Mary Smith"}, true},
		{`"john doe"@example.test`, address{"john doe", "example.test", ""}, true},
		{"=?utf-8?q?J=C3=B6rg?= <joerg@example.test>", address{"joerg", "example.test", "Jörg"}, true},
		{"=?gb2312?B?1tDOxA==?= <zw@example.test>", address{"zw", "example.test", "中文"}, true},
		{"用户 <用户@例子.台灣>", address{"用户", "例子.台灣", "用户"}, true},
		{"undisclosed-recipients:;", address{}, false},
		{"team: bob@example.test, carol@example.test;", address{"bob", "example.test", ""}, true},
		{"foo@example.test (Foo Bar)", address{"foo", "example.test", "Foo Bar"}, true},
		{"Folded\r\n <folded@example.test>", address{"folded", "example.test", "Folded"}, true},
		// Not RFC 5322; the tolerant scan still finds the address.
		{"Foo [Sales] <foo@example.test>", address{"foo", "example.test", "Foo [Sales]"}, true},
		{"team: Foo [Sales] <foo@example.test>;", address{"foo", "example.test", "Foo [Sales]"}, true},
		{`"Foo" foo@example.test`, address{"foo", "example.test", ""}, true},
		{"Foo Bar foo@example.test, x@example.test", address{"foo", "example.test", ""}, true},
		{"<@relay.test:user@example.test>", address{"user", "example.test", ""}, true},
		{"Bad, Name <bad@example.test>", address{"bad", "example.test", "Bad, Name"}, true},
		{"nobody", address{"nobody", "", ""}, true},
	}
	for _, c := range cases {
		got, ok := firstAddress(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("firstAddress(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestDisplayKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"Alice <alice@example.test>", "Alice"},
		{`"" <bob@example.test>`, "bob@example.test"},
		{"carol@example.test", "carol@example.test"},
		{"=?utf-8?q?Zo=C3=AB?= <zoe@example.test>", "Zoë"},
		{"undisclosed-recipients:;", ""},
	}
	for _, c := range cases {
		if got := displayKey(c.in); got != c.want {
			t.Errorf("displayKey(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
