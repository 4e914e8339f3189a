package address

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, local, domain string
		err               error
	}{
		{"alice@example.test", "alice", "example.test", nil},
		{"Alice@EXAMPLE.Test.", "Alice", "example.test", nil},
		{"用户@例子.台灣", "用户", "例子.台灣", nil},
		{"用户@xn--fsqu00a.xn--kpry57d", "用户", "例子.台灣", nil},
		{`"john doe"@example.test`, "john doe", "example.test", nil},
		{"a+tag@example.test", "a+tag", "example.test", nil},
		{"@relay.test:user@example.test", "", "", ErrRelayHack},
		{"@a.test,@b.test:user@example.test", "", "", ErrRelayHack},
		{"user%other.test@example.test", "", "", ErrRelayHack},
		{"user@other.test@example.test", "", "", ErrRelayHack},
		{"host!user@example.test", "", "", ErrRelayHack},
		{`"user@other"@example.test`, "", "", ErrRelayHack},
		{"user@[127.0.0.1]", "", "", ErrRelayHack},
		{"user@[127.0.0.1]", "", "", ErrAddressLiteral},
		{"user@[IPv6:2001:db8::1]", "", "", ErrAddressLiteral},
		{"noat", "", "", ErrSyntax},
		{"a..b@example.test", "", "", ErrSyntax},
		{"a b@example.test", "", "", ErrSyntax},
		{"a@-bad-.test", "", "", ErrSyntax},
		{"a@exa_mple.test", "", "", ErrSyntax},
		{"@example.test", "", "", ErrRelayHack},
		{"a@", "", "", ErrSyntax},
		{"\xff@example.test", "", "", ErrSyntax},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if !errors.Is(err, c.err) {
			t.Errorf("%q: err %v, want %v", c.in, err, c.err)
			continue
		}
		if err == nil && (a.Local != c.local || a.Domain != c.domain) {
			t.Errorf("%q: got %+v", c.in, a)
		}
	}
}

func TestKeyBaseString(t *testing.T) {
	a, _ := Parse("Alice+News@Example.test")
	if a.Key() != "alice+news@example.test" {
		t.Fatal(a.Key())
	}
	b, tag, ok := a.Base()
	if !ok || b.Key() != "alice@example.test" || tag != "News" {
		t.Fatal(b, tag, ok)
	}
	q, _ := Parse(`"john \"j\" doe"@example.test`)
	if q.String() != `"john \"j\" doe"@example.test` {
		t.Fatal(q.String())
	}
	if r, err := Parse(q.String()); err != nil || r != q {
		t.Fatal(r, err)
	}
	if ASCIIDomain("例子.台灣") != "xn--fsqu00a.xn--kpry57d" {
		t.Fatal(ASCIIDomain("例子.台灣"))
	}
}

// FuzzParse: never panics; what parses round-trips through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a@b.c", `"x y"@b.c`, "用户@例子.台灣", "@a:b@c", "a%b@c", `"\"@b`, "a@xn--fsqu00a.xn--kpry57d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(a.Local) || a.Domain == "" {
			t.Fatalf("%q parsed to %+v", s, a)
		}
		b, err := Parse(a.String())
		if err != nil || b != a {
			t.Fatalf("%q: %+v does not round-trip via %q: %+v %v", s, a, a.String(), b, err)
		}
	})
}

// TestLongSRSLocalPart: SRS addresses may exceed the 64-octet local part
// limit (up to 255); other addresses may not.
func TestLongSRSLocalPart(t *testing.T) {
	long := strings.Repeat("a", 70)
	if _, err := Parse("SRS0=HASHHH=AB=remote.test=" + long + "@example.test"); err != nil {
		t.Errorf("long SRS address refused: %v", err)
	}
	if _, err := Parse(long + "@example.test"); err == nil {
		t.Error("70-octet local part accepted")
	}
	if _, err := Parse("SRS0=" + strings.Repeat("a", 251) + "@example.test"); err == nil {
		t.Error("256-octet SRS local part accepted")
	}
}
