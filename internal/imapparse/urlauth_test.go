package imapparse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURLAuthCommands(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{`a GENURLAUTH "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred" INTERNAL`,
			&GenURLAuth{URLs: []string{"imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"}, Mechs: []string{"INTERNAL"}}},
		{`a GENURLAUTH "u1" internal "u2" X-Other`, &GenURLAuth{URLs: []string{"u1", "u2"}, Mechs: []string{"INTERNAL", "X-OTHER"}}},
		{"a RESETKEY", &ResetKey{}},
		{"a RESETKEY inbox", &ResetKey{Mailbox: "INBOX", HasMailbox: true}},
		{"a RESETKEY Drafts INTERNAL xsample", &ResetKey{Mailbox: "Drafts", HasMailbox: true, Mechs: []string{"INTERNAL", "XSAMPLE"}}},
		{`a URLFETCH "u1" u2 {2+}` + "\r\nu3", &URLFetch{URLs: []string{"u1", "u2", "u3"}}},
	}
	for _, c := range cases {
		cmd := mustParse(t, c.in+"\r\n")
		if !reflect.DeepEqual(cmd.Args, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, cmd.Args, c.want)
		}
	}
	for _, bad := range []string{"a GENURLAUTH", `a GENURLAUTH "u"`, `a GENURLAUTH "u" "INTERNAL"`, "a URLFETCH", `a URLFETCH ("u" BINARY)`,
		"a RESETKEY ", "a RESETKEY INBOX (x)"} {
		_, err := parseOne(t, bad+"\r\n")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a ParseError", bad, err)
		}
	}
}

func TestParseAuthURL(t *testing.T) {
	const tok = "0123456789abcdef0123456789ABCDEF00"
	u, err := ParseAuthURL("imap://joe@example.com/INBOX;UIDVALIDITY=7/;uid=20/;section=1.2;EXPIRE=2030-01-02T03:04:05Z;urlauth=submit+fred:internal:" + tok)
	if err != nil {
		t.Fatal(err)
	}
	want := AuthURL{URL: URL{Mailbox: "INBOX", UIDValidity: 7, UID: 20, Section: &Section{Path: []int{1, 2}}},
		User: "joe", Host: "example.com", Expire: "2030-01-02T03:04:05Z", Access: "submit+fred", Mech: "internal", Token: tok,
		Rump: "imap://joe@example.com/INBOX;UIDVALIDITY=7/;uid=20/;section=1.2;EXPIRE=2030-01-02T03:04:05Z;urlauth=submit+fred"}
	if !reflect.DeepEqual(*u, want) {
		t.Errorf("full URL:\n got %+v\nwant %+v", *u, want)
	}
	// A rump with an unencoded "@" in the access user, as clients send it.
	u, err = ParseAuthURL("IMAP://alice%40example.test;AUTH=*@mail.example.test:993/Lists%2FGo/;UID=3;URLAUTH=user+bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if u.User != "alice@example.test" || u.Host != "mail.example.test:993" || u.Mailbox != "Lists/Go" || u.Access != "user+bob@example.test" ||
		u.Mech != "" || u.Rump != "IMAP://alice%40example.test;AUTH=*@mail.example.test:993/Lists%2FGo/;UID=3;URLAUTH=user+bob@example.test" {
		t.Errorf("rump URL: %+v", u)
	}
	for _, bad := range []string{
		"/INBOX/;UID=1;URLAUTH=anonymous",
		"imap://example.com/INBOX/;UID=1;URLAUTH=anonymous",
		"imap://joe@example.com/INBOX/;UID=1",
		"imap://joe@example.com/INBOX;URLAUTH=anonymous",
		"imap://joe@example.com/INBOX/;UID=1;URLAUTH=nobody",
		"imap://joe@example.com/INBOX/;UID=1;URLAUTH=user+",
		"imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:internal:abc",
		"imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:internal",
		"imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:in/ternal:" + tok,
		"imap://joe@example.com/INBOX/;UID=1;EXPIRE=tomorrow;URLAUTH=anonymous",
	} {
		if u, err := ParseAuthURL(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, u)
		}
	}
}

// FuzzParseAuthURL checks that ParseAuthURL never panics and that what it
// accepts is consistent: the rump is a prefix of the URL ending in the
// access identifier, and a full URL is the rump, mechanism and token.
func FuzzParseAuthURL(f *testing.F) {
	for _, s := range []string{
		"imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038",
		"imap://a%40b;AUTH=*@h:1/x;UIDVALIDITY=1/;UID=1/;PARTIAL=0.1;EXPIRE=2030-01-02T03:04:05+08:00;URLAUTH=anonymous",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseAuthURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, u.Rump) || !strings.HasSuffix(u.Rump, u.Access) || u.User == "" || u.UID == 0 {
			t.Fatalf("%q: %+v", s, u)
		}
		if u.Mech != "" && s != u.Rump+":"+u.Mech+":"+u.Token {
			t.Fatalf("%q: full URL is not rump:mech:token: %+v", s, u)
		}
		checkMailbox(t, nil, u.Mailbox)
	})
}
