package imapparse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func and(children ...*SearchKey) *SearchKey { return &SearchKey{Op: "AND", Children: children} }
func key(op string) *SearchKey              { return &SearchKey{Op: op} }
func date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func TestSearch(t *testing.T) {
	cases := []struct {
		in   string // after "a SEARCH "
		want Search
	}{
		{"ALL", Search{Key: and(key("ALL"))}},
		// Every key without an argument, in mixed case.
		{"answered Deleted DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
			Search{Key: and(key("ANSWERED"), key("DELETED"), key("DRAFT"), key("FLAGGED"), key("NEW"), key("OLD"),
				key("RECENT"), key("SEEN"), key("UNANSWERED"), key("UNDELETED"), key("UNDRAFT"), key("UNFLAGGED"), key("UNSEEN"))}},
		// String keys, as atom, quoted string and literal.
		{"BCC bob BODY \"hello world\" CC {3+}\r\na b FROM \"\" SUBJECT \"\\\"q\\\"\" TEXT x TO y]",
			Search{Key: and(&SearchKey{Op: "BCC", Value: "bob"}, &SearchKey{Op: "BODY", Value: "hello world"},
				&SearchKey{Op: "CC", Value: "a b"}, &SearchKey{Op: "FROM", Value: ""},
				&SearchKey{Op: "SUBJECT", Value: `"q"`}, &SearchKey{Op: "TEXT", Value: "x"}, &SearchKey{Op: "TO", Value: "y]"})}},
		{"HEADER Message-ID \"<x@y>\" KEYWORD $Forwarded UNKEYWORD Junk",
			Search{Key: and(&SearchKey{Op: "HEADER", Field: "Message-ID", Value: "<x@y>"},
				&SearchKey{Op: "KEYWORD", Value: "$Forwarded"}, &SearchKey{Op: "UNKEYWORD", Value: "Junk"})}},
		// Dates, bare and quoted, one- and two-digit days.
		{"BEFORE 1-Feb-2024 ON \"29-feb-2024\" SINCE 01-Jan-2000 SENTBEFORE 31-Dec-1999 SENTON 5-Mar-2021 SENTSINCE \"7-Jul-2007\"",
			Search{Key: and(&SearchKey{Op: "BEFORE", Date: date(2024, 2, 1)}, &SearchKey{Op: "ON", Date: date(2024, 2, 29)},
				&SearchKey{Op: "SINCE", Date: date(2000, 1, 1)}, &SearchKey{Op: "SENTBEFORE", Date: date(1999, 12, 31)},
				&SearchKey{Op: "SENTON", Date: date(2021, 3, 5)}, &SearchKey{Op: "SENTSINCE", Date: date(2007, 7, 7)})}},
		{"LARGER 1024 SMALLER 9223372036854775807",
			Search{Key: and(&SearchKey{Op: "LARGER", Number: 1024}, &SearchKey{Op: "SMALLER", Number: 9223372036854775807})}},
		// Sets: bare, UID, reversed, "*" and "$".
		{"1:5,7 UID 10:* 5:2 $ UID $",
			Search{Key: and(&SearchKey{Op: "SEQSET", Set: setp("1:5,7")}, &SearchKey{Op: "UID", Set: setp("10:*")},
				&SearchKey{Op: "SEQSET", Set: setp("5:2")}, &SearchKey{Op: "SEQSET", Set: setp("$")},
				&SearchKey{Op: "UID", Set: setp("$")})}},
		// NOT, OR and parentheses, nested.
		{"OR (FROM a SEEN) NOT (OR TO b NOT DELETED) UNSEEN",
			Search{Key: and(
				&SearchKey{Op: "OR", Children: []*SearchKey{
					and(&SearchKey{Op: "FROM", Value: "a"}, key("SEEN")),
					{Op: "NOT", Children: []*SearchKey{and(&SearchKey{Op: "OR", Children: []*SearchKey{
						{Op: "TO", Value: "b"}, {Op: "NOT", Children: []*SearchKey{key("DELETED")}}}})}},
				}},
				key("UNSEEN"))}},
		{"OR OR SEEN FLAGGED ((DRAFT))",
			Search{Key: and(&SearchKey{Op: "OR", Children: []*SearchKey{
				{Op: "OR", Children: []*SearchKey{key("SEEN"), key("FLAGGED")}}, and(and(key("DRAFT")))}})}},
		// MODSEQ (RFC 7162 §3.1.5), with and without an entry.
		{"MODSEQ 620162338", Search{Key: and(&SearchKey{Op: "MODSEQ", ModSeq: 620162338})}},
		{"MODSEQ \"/flags/\\\\draft\" all 620162338",
			Search{Key: and(&SearchKey{Op: "MODSEQ", Field: `/flags/\draft`, Value: "all", ModSeq: 620162338})}},
		// CHARSET and RETURN (RFC 4731, RFC 5182).
		{"CHARSET UTF-8 SUBJECT {6}\r\n日本", Search{Charset: "UTF-8", Key: and(&SearchKey{Op: "SUBJECT", Value: "日本"})}},
		{"charset \"us-ascii\" ALL", Search{Charset: "US-ASCII", Key: and(key("ALL"))}},
		{"RETURN (MIN MAX COUNT ALL save) UNDELETED",
			Search{Return: []string{"MIN", "MAX", "COUNT", "ALL", "SAVE"}, HasReturn: true, Key: and(key("UNDELETED"))}},
		{"RETURN () CHARSET UTF-8 ALL", Search{Return: []string{}, HasReturn: true, Charset: "UTF-8", Key: and(key("ALL"))}},
		// CONTEXT=SEARCH (RFC 5267 §5): a reversed range is the same range.
		{"RETURN (UPDATE context PARTIAL 500:400 COUNT count) ALL", Search{Return: []string{"UPDATE", "CONTEXT", "PARTIAL", "COUNT"},
			HasReturn: true, Partial: &PartialRange{First: 400, Last: 500}, Key: and(key("ALL"))}},
	}
	for _, c := range cases {
		cmd := mustParse(t, "a SEARCH "+c.in+"\r\n")
		if !reflect.DeepEqual(cmd.Args, &c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.in, dumpSearch(cmd.Args.(*Search)), dumpSearch(&c.want))
		}
	}
	cmd := mustParse(t, "a UID SEARCH 1\r\n")
	if cmd.Name != "SEARCH" || !cmd.UID {
		t.Errorf("UID SEARCH: %+v", cmd)
	}
}

// dumpSearch renders a search for failure messages.
func dumpSearch(s *Search) string {
	var b strings.Builder
	var walk func(k *SearchKey)
	walk = func(k *SearchKey) {
		b.WriteString("(" + k.Op)
		if k.Set != nil {
			b.WriteString(" set=" + k.Set.String())
		}
		if k.Field != "" || k.Value != "" {
			b.WriteString(" " + k.Field + "=" + k.Value)
		}
		if !k.Date.IsZero() {
			b.WriteString(" " + k.Date.String())
		}
		for _, c := range k.Children {
			b.WriteByte(' ')
			walk(c)
		}
		b.WriteByte(')')
	}
	b.WriteString(s.Charset + " " + strings.Join(s.Return, ",") + " ")
	walk(s.Key)
	return b.String()
}

func TestSearchErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"FOO",
		"ALL  SEEN",
		"(ALL",
		"()",
		"ALL)",
		"OR SEEN",
		"NOT",
		"BEFORE 31-Feb-2024",
		"BEFORE 1-Feb-24",
		"SINCE 001-Feb-2024",
		"ON \"1-Feb-2024",
		"LARGER -1",
		"LARGER 9223372036854775808",
		"UID 0",
		"UID 1:",
		"KEYWORD \\Seen",
		"HEADER Subject",
		"MODSEQ \"/flags/\\\\Draft\" mine 5",
		"MODSEQ \"/other/x\" all 5",
		"MODSEQ x",
		"RETURN (MIN FOO) ALL",
		"RETURN MIN ALL",
		"RETURN (PARTIAL 1) ALL",
		"RETURN (PARTIAL 1:*) ALL",
		"RETURN (PARTIAL *:1) ALL",
		"RETURN (PARTIAL 0:1) ALL",
		"RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
		"RETURN (PARTIAL 1:2 ALL) ALL",
		"RETURN (ALL PARTIAL 1:2) ALL",
		"RETURN (PARTIAL) ALL",
		"CHARSET",
		"SUBJECT \"\xff\"",
		"SUBJECT {1}\r\n\xff",
		"CHARSET UTF-8 SUBJECT {2}\r\n\xc3(",
	} {
		_, err := parseOne(t, "a SEARCH "+in+"\r\n")
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Tag != "a" {
			t.Errorf("%q: got %v, want ParseError", in, err)
		}
	}
}

func TestBadCharset(t *testing.T) {
	for _, in := range []string{
		"a SEARCH CHARSET KOI8-R SUBJECT {4}\r\n\xf0\xf2\xe9\xf7\r\n",
		"a SORT (DATE) ISO-8859-1 ALL\r\n",
		"a UID THREAD REFERENCES \"Shift_JIS\" ALL\r\n",
	} {
		r, _ := testReader(in+"b NOOP\r\n", Limits{})
		_, err := r.ReadCommand()
		var bc *BadCharsetError
		if !errors.As(err, &bc) || bc.Tag != "a" || bc.Charset == "" {
			t.Errorf("%q: got %v, want BadCharsetError", in, err)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
			t.Errorf("%q: next command: %v %v", in, cmd, err)
		}
	}
}

func TestSortThreadErrors(t *testing.T) {
	for _, in := range []string{
		"a SORT () UTF-8 ALL",
		"a SORT (SUBJECT) ALL",
		"a SORT (REVERSE) UTF-8 ALL",
		"a SORT (FOO) UTF-8 ALL",
		"a SORT DATE UTF-8 ALL",
		"a SORT (DATE) UTF-8",
		"a THREAD FOO UTF-8 ALL",
		"a THREAD REFERENCES ALL",
	} {
		_, err := parseOne(t, in+"\r\n")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want ParseError", in, err)
		}
	}
}

func TestSearchNesting(t *testing.T) {
	lim := Limits{MaxNesting: 4}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"(((ALL)))", true},    // 4 levels with the key itself
		{"((((ALL))))", false}, // 5
		{"NOT NOT NOT ALL", true},
		{"NOT NOT NOT NOT ALL", false},
		{"OR (ALL) OR ALL NOT ALL", true},
		{"OR (ALL) OR ALL (NOT ALL)", false},
		{"OR ALL OR ALL OR ALL (ALL)", false},
	} {
		r, _ := testReader("a SEARCH "+c.in+"\r\nb NOOP\r\n", lim)
		_, err := r.ReadCommand()
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.in, err, c.ok)
		}
		if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
			t.Errorf("%q: next command: %v", c.in, err)
		}
	}
	// The default limit stops a deep nesting well before the stack notices.
	deep := strings.Repeat("(", 10000) + "ALL" + strings.Repeat(")", 10000)
	if _, err := parseOne(t, "a SEARCH "+deep+"\r\n"); err == nil {
		t.Error("10000 levels accepted")
	}
	deep = strings.Repeat("NOT ", DefaultMaxNesting-1) + "ALL"
	if _, err := parseOne(t, "a SEARCH "+deep+"\r\n"); err != nil {
		t.Errorf("%d levels refused: %v", DefaultMaxNesting, err)
	}
}
