package imapparse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in   string
		want URL
	}{
		{"/INBOX/;UID=20", URL{Mailbox: "INBOX", UID: 20}},
		{"/inbox;uidvalidity=385759045/;uid=20/;section=HEADER", URL{Mailbox: "INBOX", UIDValidity: 385759045, UID: 20,
			Section: &Section{Specifier: "HEADER"}}},
		{"/Drafts;UIDVALIDITY=3/;UID=20/;Section=1.MIME", URL{Mailbox: "Drafts", UIDValidity: 3, UID: 20,
			Section: &Section{Path: []int{1}, Specifier: "MIME"}}},
		{"/a/b%20c/;UID=1/;SECTION=2.HEADER.FIELDS%20(To%20%22From%22)/;PARTIAL=0.10", URL{Mailbox: "a/b c", UID: 1,
			Section: &Section{Path: []int{2}, Specifier: "HEADER.FIELDS", Fields: []string{"To", "From"}},
			Partial: &URLPartial{Length: 10, HasLength: true}}},
		{"/%E6%97%A5%E6%9C%AC/;UID=4294967295/;partial=100000", URL{Mailbox: "日本", UID: 4294967295,
			Partial: &URLPartial{Offset: 100000}}},
		{"/x/;UID=1/;SECTION=1.2.3", URL{Mailbox: "x", UID: 1, Section: &Section{Path: []int{1, 2, 3}}}},
	}
	for _, c := range cases {
		got, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, *got, c.want)
		}
	}
	for _, bad := range []string{
		"", "/", "INBOX/;UID=1", "imap://alice@example.test/INBOX/;UID=1", "//host/INBOX/;UID=1",
		"/INBOX", "/INBOX;UID=1", "/;UID=1", "/INBOX/;UID=0", "/INBOX/;UID=01", "/INBOX/;UID=4294967296",
		"/INBOX/;UID=x", "/INBOX;UIDVALIDITY=0/;UID=1", "/INBOX;UIDVALIDITY=5;UID=1", "/INBOX/;UID=1/",
		"/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;SECTION=FOO", "/INBOX/;UID=1/;SECTION=1.MIME.X",
		"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20{3}", "/INBOX/;UID=1/;SECTION=MIME",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=", "/INBOX/;UID=1/;PARTIAL=a.b",
		"/INBOX/;UID=1/;PARTIAL=1/;SECTION=1", "/IN BOX/;UID=1", "/IN%2/;UID=1", "/%FF/;UID=1",
		"/INBOX/;UID=1;URLAUTH=anonymous", "/INBOX/;UID=1/;SECTION=1/;SECTION=2",
	} {
		if u, err := ParseURL(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, u)
		}
	}
	if _, err := ParseURL("imap://a@b/INBOX/;UID=1"); !errors.Is(err, ErrURLScope) {
		t.Errorf("absolute URL: %v, want ErrURLScope", err)
	}
}

// FuzzParseURL checks that ParseURL never panics and that what it accepts
// is well-formed: a UTF-8 mailbox, a UID, a section FETCH would take.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"/INBOX/;UID=20", "/inbox;uidvalidity=3/;uid=2/;section=1.2.HEADER.FIELDS.NOT%20(A%20B)/;partial=5.6",
		"/%E6%97%A5/;UID=1/;SECTION=TEXT", "/a%2Fb/;UID=1/;partial=0", "imap://u@h/INBOX/;UID=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error with a line break: %q", err)
			}
			return
		}
		if u.UID == 0 || u.Mailbox == "" {
			t.Fatalf("%q: %+v", s, u)
		}
		checkMailbox(t, nil, u.Mailbox)
		if u.Section != nil {
			it := FetchItem{Name: "BODY", Section: u.Section}
			r := NewReader(nil, nil, Limits{})
			r.line = []byte(it.String()[len("BODY"):])
			back, err := r.section()
			if err != nil || !reflect.DeepEqual(back, u.Section) {
				t.Fatalf("%q: section %+v does not render back: %v", s, u.Section, err)
			}
		}
	})
}
