package imapparse

import (
	"errors"
	"reflect"
	"testing"
)

func TestFetchItems(t *testing.T) {
	cases := []struct {
		in   string // the item list after "a FETCH 1 "
		want []FetchItem
	}{
		{"ALL", []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}, {Name: "ENVELOPE"}}},
		{"fast", []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}},
		{"Full", []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}, {Name: "ENVELOPE"}, {Name: "BODY"}}},
		{"UID", []FetchItem{{Name: "UID"}}},
		{"BODY[]", []FetchItem{{Name: "BODY", Section: &Section{}}}},
		{"(ENVELOPE flags INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ)",
			[]FetchItem{{Name: "ENVELOPE"}, {Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822"}, {Name: "RFC822.HEADER"},
				{Name: "RFC822.SIZE"}, {Name: "RFC822.TEXT"}, {Name: "BODY"}, {Name: "BODYSTRUCTURE"}, {Name: "UID"}, {Name: "MODSEQ"}}},
		{"(BODY[] BODY.PEEK[HEADER] body[TEXT]<10.20> BODY[1] BODY[1.2.3] BODY[2.MIME] BODY[3.HEADER] BODY[4.1.TEXT])",
			[]FetchItem{
				{Name: "BODY", Section: &Section{}},
				{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER"}},
				{Name: "BODY", Section: &Section{Specifier: "TEXT"}, Partial: &Partial{Offset: 10, Count: 20}},
				{Name: "BODY", Section: &Section{Path: []int{1}}},
				{Name: "BODY", Section: &Section{Path: []int{1, 2, 3}}},
				{Name: "BODY", Section: &Section{Path: []int{2}, Specifier: "MIME"}},
				{Name: "BODY", Section: &Section{Path: []int{3}, Specifier: "HEADER"}},
				{Name: "BODY", Section: &Section{Path: []int{4, 1}, Specifier: "TEXT"}},
			}},
		{"(BODY.PEEK[HEADER.FIELDS (DATE FROM \"Subject\" {2+}\r\nTo)] BODY[1.HEADER.FIELDS.NOT (X-Spam)])",
			[]FetchItem{
				{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"DATE", "FROM", "Subject", "To"}}},
				{Name: "BODY", Section: &Section{Path: []int{1}, Specifier: "HEADER.FIELDS.NOT", Fields: []string{"X-Spam"}}},
			}},
		{"(BINARY[] BINARY.PEEK[1.2]<0.100> BINARY.SIZE[3] binary.size[])",
			[]FetchItem{
				{Name: "BINARY", Section: &Section{}},
				{Name: "BINARY", Peek: true, Section: &Section{Path: []int{1, 2}}, Partial: &Partial{Offset: 0, Count: 100}},
				{Name: "BINARY.SIZE", Section: &Section{Path: []int{3}}},
				{Name: "BINARY.SIZE", Section: &Section{}},
			}},
		{"BODY[]<4294967295.4294967295>", []FetchItem{{Name: "BODY", Section: &Section{}, Partial: &Partial{4294967295, 4294967295}}}},
	}
	for _, c := range cases {
		cmd := mustParse(t, "a FETCH 1 "+c.in+"\r\n")
		if got := cmd.Args.(*Fetch).Items; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}
}

func TestFetchModifiers(t *testing.T) {
	cmd := mustParse(t, "a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n")
	if f := cmd.Args.(*Fetch); f.ChangedSince != 12345 || f.Vanished {
		t.Errorf("CHANGEDSINCE: %+v", f)
	}
	cmd = mustParse(t, "a UID FETCH 1:* FLAGS (VANISHED CHANGEDSINCE 9223372036854775807)\r\n")
	if f := cmd.Args.(*Fetch); f.ChangedSince != 9223372036854775807 || !f.Vanished {
		t.Errorf("VANISHED: %+v", f)
	}
}

func TestFetchErrors(t *testing.T) {
	for _, in := range []string{
		"a FETCH 1 (ALL)",                           // macros stand alone
		"a FETCH 1 (FLAGS FAST)",                    //
		"a FETCH 1 ()",                              // at least one item
		"a FETCH 1 FOO",                             //
		"a FETCH 1 (FLAGS",                          //
		"a FETCH 1 BODY[MIME]",                      // MIME needs a part
		"a FETCH 1 BODY[0]",                         // parts start at 1
		"a FETCH 1 BODY[1.0]",                       //
		"a FETCH 1 BODY[01]",                        //
		"a FETCH 1 BODY[1.]",                        //
		"a FETCH 1 BODY[HEADER.FIELDS]",             // needs a list
		"a FETCH 1 BODY[HEADER.FIELDS ()]",          // a non-empty one
		"a FETCH 1 BODY[HEADER.FIELDS (a:b)]",       // field names
		"a FETCH 1 BODY[HEADER.FIELDS (\"a b\")]",   //
		"a FETCH 1 BODY[FOO]",                       //
		"a FETCH 1 BODY[TEXT",                       //
		"a FETCH 1 BODY.PEEK",                       // PEEK needs a section
		"a FETCH 1 BODY[]<0>",                       // partial needs a count
		"a FETCH 1 BODY[]<0.0>",                     //
		"a FETCH 1 BODY[]<4294967296.1>",            //
		"a FETCH 1 BINARY",                          // BINARY needs a section
		"a FETCH 1 BINARY[HEADER]",                  // numeric paths only
		"a FETCH 1 BINARY[1.TEXT]",                  //
		"a FETCH 1 BINARY[1.MIME]",                  //
		"a FETCH 1 BINARY.SIZE[1]<0.10>",            // no partial
		"a FETCH 1 BINARY.PEEK.SIZE[1]",             //
		"a FETCH 0 FLAGS",                           // no message 0
		"a FETCH 1: FLAGS",                          //
		"a FETCH FLAGS",                             //
		"a FETCH 1 FLAGS (VANISHED CHANGEDSINCE 1)", // not in FETCH
		"a UID FETCH 1 FLAGS (VANISHED)",            // needs CHANGEDSINCE
		"a UID FETCH 1 FLAGS (CHANGEDSINCE 0)",      // mod-sequence-value is positive
		"a UID FETCH 1 FLAGS (CHANGEDSINCE)",        //
		"a UID FETCH 1 FLAGS (FOO)",                 //
		"a UID FETCH 1 FLAGS CHANGEDSINCE 5",        //
	} {
		r, _ := testReader(in+"\r\nb NOOP\r\n", Limits{})
		_, err := r.ReadCommand()
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Tag != "a" {
			t.Errorf("%q: got %v, want ParseError", in, err)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
			t.Errorf("%q: next command: %v", in, err)
		}
	}
}

func TestFetchItemString(t *testing.T) {
	cases := []struct {
		item           FetchItem
		request, reply string
	}{
		{FetchItem{Name: "FLAGS"}, "FLAGS", "FLAGS"},
		{FetchItem{Name: "BODY"}, "BODY", "BODY"},
		{FetchItem{Name: "BODY", Section: &Section{}}, "BODY[]", "BODY[]"},
		{FetchItem{Name: "BODY", Peek: true, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}},
			Partial: &Partial{Offset: 5, Count: 10}},
			"BODY.PEEK[HEADER.FIELDS (From To)]<5.10>", "BODY[HEADER.FIELDS (From To)]<5>"},
		{FetchItem{Name: "BODY", Section: &Section{Path: []int{1, 2}, Specifier: "MIME"}}, "BODY[1.2.MIME]", "BODY[1.2.MIME]"},
		{FetchItem{Name: "BINARY", Peek: true, Section: &Section{Path: []int{3}}}, "BINARY.PEEK[3]", "BINARY[3]"},
		{FetchItem{Name: "BINARY.SIZE", Section: &Section{}}, "BINARY.SIZE[]", "BINARY.SIZE[]"},
	}
	for _, c := range cases {
		if got := c.item.String(); got != c.request {
			t.Errorf("String: got %q, want %q", got, c.request)
		}
		if got := c.item.ResponseName(); got != c.reply {
			t.Errorf("ResponseName: got %q, want %q", got, c.reply)
		}
		// What String renders parses back to the same item.
		cmd := mustParse(t, "a FETCH 1 ("+c.request+")\r\n")
		if got := cmd.Args.(*Fetch).Items[0]; !reflect.DeepEqual(got, c.item) {
			t.Errorf("%q parsed back as %+v", c.request, got)
		}
	}
}
