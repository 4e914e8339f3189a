package imapparse

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseNotify(t *testing.T) {
	cases := []struct {
		in   string
		want Notify
	}{
		{"NONE", Notify{None: true}},
		{"SET (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew))",
			Notify{Groups: []NotifyGroup{
				{Filter: FilterSelected, Events: []NotifyEvent{
					{Name: EventMessageNew, Fetch: []FetchItem{{Name: "UID"},
						{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"from", "to", "subject"}}}}},
					{Name: EventMessageExpunge}}},
				{Filter: FilterSubtree, Mailboxes: []string{"Lists"}, Events: []NotifyEvent{{Name: EventMessageNew}}},
			}}},
		{"set status (MAILBOXES (inbox \"a b\" &ZeVnLIqe-) (messagenew messageexpunge flagchange)) (Personal (MailboxName SubscriptionChange Foo)) (selected-delayed NONE)",
			Notify{Status: true, Groups: []NotifyGroup{
				{Filter: FilterMailboxes, Mailboxes: []string{"INBOX", "a b", "日本語"}, Events: []NotifyEvent{
					{Name: EventMessageNew}, {Name: EventMessageExpunge}, {Name: EventFlagChange}}},
				{Filter: FilterPersonal, Events: []NotifyEvent{{Name: EventMailboxName}, {Name: EventSubscriptionChange}, {Name: "Foo"}}},
				{Filter: FilterSelectedDelayed},
			}}},
		// A name that is not valid modified UTF-7 names no mailbox: left out.
		{"SET (mailboxes (&Jjo x) (MessageNew))", Notify{Groups: []NotifyGroup{
			{Filter: FilterMailboxes, Mailboxes: []string{"x"}, Events: []NotifyEvent{{Name: EventMessageNew}}}}}},
	}
	for _, c := range cases {
		cmd := mustParse(t, "a NOTIFY "+c.in+"\r\n")
		if got := cmd.Args.(*Notify); !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, *got, c.want)
		}
	}
	for _, bad := range []string{
		"", "FOO", "SET", "SET STATUS", "SET ()", "SET (selected)", "SET (selected ())",
		"SET (selected (MessageNew)) (selected-delayed (MessageNew))",
		"SET (selected (MailboxName))",
		"SET (personal (MessageNew (UID)))",
		"SET (selected (MessageNew (FOO)))",
		"SET (subtree (MessageNew))",
		"SET (mailboxes () (MessageNew))",
		"SET (inboxes MessageNew)",
		"SET (nosuch (MessageNew))",
		"SET (personal (MessageNew) ",
		"NONE x",
	} {
		_, err := parseOne(t, "a NOTIFY "+bad+"\r\n")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a ParseError", bad, err)
		}
	}
}
