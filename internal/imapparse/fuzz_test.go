package imapparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxLine: 200, MaxLiteral: 40, MaxAppend: 300, MaxNesting: 6, MaxLiterals: 60, MaxAppendTotal: 450}

// argType maps each command to the type of its Args.
func argType(name string) reflect.Type {
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NAMESPACE":
		return nil
	}
	return reflect.TypeOf(map[string]any{
		"EXPUNGE": &Expunge{}, "LOGIN": &Login{}, "AUTHENTICATE": &Authenticate{}, "ENABLE": &Enable{},
		"ID": &ID{}, "SELECT": &Select{}, "EXAMINE": &Select{}, "CREATE": &Create{}, "DELETE": &MailboxArg{},
		"SUBSCRIBE": &MailboxArg{}, "UNSUBSCRIBE": &MailboxArg{}, "GETQUOTAROOT": &MailboxArg{},
		"RENAME": &Rename{}, "LIST": &List{}, "LSUB": &List{}, "STATUS": &Status{}, "APPEND": &Append{},
		"SEARCH": &Search{}, "FETCH": &Fetch{}, "STORE": &Store{}, "COPY": &Copy{}, "MOVE": &Copy{},
		"SORT": &Sort{}, "THREAD": &Thread{}, "GETQUOTA": &Quota{}, "SETQUOTA": &Quota{}, "COMPRESS": &Compress{}, "CANCELUPDATE": &CancelUpdate{}, "NOTIFY": &Notify{},
		"GENURLAUTH": &GenURLAuth{}, "RESETKEY": &ResetKey{}, "URLFETCH": &URLFetch{},
	}[name])
}

// result is one outcome of ReadCommand, comparable across runs.
type result struct {
	cmd *Command
	err string
}

// readAll reads commands until a fatal error, checking the invariants that
// hold for every command, and returns the outcomes.
func readAll(t *testing.T, src io.Reader, size, inputLen, maxConts int) []result {
	cr := &countingReader{r: src}
	br := bufio.NewReaderSize(cr, size)
	conts := 0
	r := NewReader(br, func() error { conts++; return nil }, fuzzLimits)
	var out []result
	consumed := 0
	for {
		cmd, err := r.ReadCommand()
		now := cr.n - br.Buffered()
		if err == nil || !isFatal(err) {
			// Every command, good or bad, consumes input: the loop ends.
			if now <= consumed {
				t.Fatalf("no progress at offset %d: %v %v", now, cmd, err)
			}
		}
		consumed = now
		if conts > maxConts {
			t.Fatalf("%d continuation requests for %d literal announcements", conts, maxConts)
		}
		if len(out) > inputLen+1 {
			t.Fatalf("%d commands from %d octets", len(out), inputLen)
		}
		if err != nil {
			checkError(t, err)
			out = append(out, result{err: err.Error()})
			if isFatal(err) {
				return out
			}
			continue
		}
		checkCommand(t, cmd)
		out = append(out, result{cmd: cmd})
	}
}

func isFatal(err error) bool {
	var (
		pe *ParseError
		tb *TooBigError
		bc *BadCharsetError
	)
	return !errors.As(err, &pe) && !errors.As(err, &tb) && !errors.As(err, &bc)
}

func checkError(t *testing.T, err error) {
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		for i := 0; i < len(pe.Msg); i++ {
			if pe.Msg[i] < 0x20 || pe.Msg[i] > 0x7e {
				t.Fatalf("unprintable octet in error message %q", pe.Msg)
			}
		}
		if pe.Msg == "" || len(pe.Msg) > 300 {
			t.Fatalf("error message of %d octets", len(pe.Msg))
		}
	case !isFatal(err):
	case err == io.EOF, err == io.ErrUnexpectedEOF, errors.Is(err, ErrDiscardLimit):
	default:
		t.Fatalf("unexpected error %T %v", err, err)
	}
}

func checkCommand(t *testing.T, cmd *Command) {
	if cmd.Tag == "" || cmd.Tag == "*" || strings.ContainsAny(cmd.Tag, " +(){%*\"\\") {
		t.Fatalf("bad tag %q", cmd.Tag)
	}
	if got, want := reflect.TypeOf(cmd.Args), argType(cmd.Name); got != want {
		t.Fatalf("%s has Args %v, want %v", cmd.Name, got, want)
	}
	if cmd.UID {
		switch cmd.Name {
		case "COPY", "MOVE", "FETCH", "STORE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		default:
			t.Fatalf("UID %s", cmd.Name)
		}
	}
	switch a := cmd.Args.(type) {
	case *Append:
		checkAppend(t, cmd, a)
	case *Select:
		checkMailbox(t, cmd, a.Mailbox)
	case *List:
		for _, p := range a.Patterns {
			checkMailbox(t, nil, p)
		}
	case *Fetch:
		if len(a.Items) == 0 {
			t.Fatal("FETCH without items")
		}
		for _, it := range a.Items {
			// What String renders must parse back to the same item.
			r := NewReader(bufio.NewReader(strings.NewReader("a FETCH 1 ("+it.String()+")\r\n")), nil, Limits{})
			back, err := r.ReadCommand()
			if err != nil || !reflect.DeepEqual(back.Args.(*Fetch).Items[0], it) {
				t.Fatalf("fetch item %+v renders as %q: %v", it, it.String(), err)
			}
		}
	case *Search:
		checkKey(t, a.Key, 0)
	}
}

func checkAppend(t *testing.T, cmd *Command, a *Append) {
	checkMailbox(t, cmd, a.Mailbox)
	if len(a.Messages) == 0 {
		t.Fatal("APPEND without messages")
	}
	var total int64
	literal := func(b []byte, binary bool) {
		if int64(len(b)) > fuzzLimits.MaxAppend {
			t.Fatalf("message literal of %d octets", len(b))
		}
		if !binary && bytes.IndexByte(b, 0) >= 0 {
			t.Fatal("NUL in a non-binary literal")
		}
		total += int64(len(b))
	}
	for _, m := range a.Messages {
		if (m.Catenate == nil) == (m.Message == nil) {
			t.Fatalf("message with both or neither of a literal and parts: %+v", m)
		}
		if m.UTF8 && !m.Binary {
			t.Fatal("UTF8 message not binary")
		}
		literal(m.Message, m.Binary)
		for _, p := range m.Catenate {
			if (p.URL == "") == (p.Text == nil) && p.URL != "" {
				t.Fatalf("part with both a URL and text: %+v", p)
			}
			literal(p.Text, p.Binary)
		}
	}
	if total > fuzzLimits.MaxAppendTotal {
		t.Fatalf("APPEND literals of %d octets together", total)
	}
}

// checkMailbox checks a decoded name: UTF-8, unless the command reports
// it as a bad name (cmd may be nil where that cannot be).
func checkMailbox(t *testing.T, cmd *Command, name string) {
	if cmd != nil && cmd.BadName != nil {
		if cmd.BadName.Error() == "" {
			t.Fatal("empty BadName")
		}
		return
	}
	if !utf8.ValidString(name) {
		t.Fatalf("mailbox %q is not UTF-8", name)
	}
}

func checkKey(t *testing.T, k *SearchKey, depth int) {
	if depth > fuzzLimits.MaxNesting+1 {
		t.Fatalf("search key %d deep", depth)
	}
	if (k.Op == "NOT" && len(k.Children) != 1) || (k.Op == "OR" && len(k.Children) != 2) || (k.Op == "AND" && len(k.Children) == 0) {
		t.Fatalf("%s with %d children", k.Op, len(k.Children))
	}
	for _, c := range k.Children {
		checkKey(t, c, depth+1)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// fuzzSeeds are commands of every kind, good and bad.
var fuzzSeeds = []string{
	"a1 UID FETCH 1:* (FLAGS)\r\n",
	"a2 FETCH 1,3:5 (UID BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.100> BINARY[1.2] BINARY.SIZE[] MODSEQ) (CHANGEDSINCE 5)\r\n",
	"a3 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
	"a4 APPEND INBOX (\\Seen) \" 1-Jan-2024 10:00:00 +0100\" ~{3+}\r\na\x00c\r\n",
	"a5 APPEND INBOX UTF8 (~{2}\r\nhi)\r\n",
	"d1 APPEND INBOX {2+}\r\nhi (\\Seen) ~{1+}\r\n\x00 CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=2/;SECTION=1.MIME\" TEXT {3}\r\nabc UTF8 (~{1}\r\nx))\r\n",
	"d2 APPEND INBOX {200+}\r\n" + strings.Repeat("x", 200) + " {200+}\r\n" + strings.Repeat("y", 200) + "\r\nd3 NOOP\r\n",
	"a6 SEARCH RETURN (MIN MAX) CHARSET UTF-8 OR (FROM x SINCE 1-Feb-2024) NOT UID 1:*,$ MODSEQ \"/flags/\\\\seen\" all 5\r\n",
	"a7 SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)) CONDSTORE)\r\n",
	"a8 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX &ZeVnLIqe-/%) RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n",
	"a9 SORT (REVERSE DATE) UTF-8 ALL\r\nb0 THREAD REFERENCES UTF-8 ALL\r\n",
	"b1 STORE 1:3 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\\Deleted $Junk)\r\n",
	"b2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\nb3 ID (\"name\" NIL)\r\n",
	"b4 CREATE x (USE (\\Drafts))\r\nb5 SETQUOTA \"\" (STORAGE 10)\r\nb6 COMPRESS DEFLATE\r\n",
	"b7 FOO {5+}\r\nhello {3}\r\nb8 NOOP\r\n",
	"b9 LOGIN {999}\r\nc1 LOGIN {99+}\r\nx\r\n",
	"c2 SEARCH ((((((((ALL))))))))\r\n",
	"n1 NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)]) messageexpunge FlagChange)) (subtree (INBOX {3+}\r\nA/b) (MessageNew MessageExpunge)) (personal NONE)\r\nn2 NOTIFY NONE\r\n",
	"u1 GENURLAUTH \"imap://a@b/INBOX/;uid=1;urlauth=anonymous\" INTERNAL {5+}\r\nimap: internal\r\nu2 RESETKEY\r\nu3 RESETKEY INBOX INTERNAL\r\nu4 URLFETCH \"imap://a@b/INBOX/;uid=1;urlauth=authuser:internal:0123456789abcdef0123456789abcdef\" x\r\n",
	"e1 UID SORT RETURN (MIN PARTIAL 5:1 UPDATE CONTEXT) (REVERSE ARRIVAL) UTF-8 ALL\r\ne2 SEARCH RETURN (PARTIAL 1:2 COUNT) ALL\r\ne3 CANCELUPDATE \"e1\" \"x\"\r\n",
	"\r\n+\r\n" + strings.Repeat("x", 300) + "{2+}\r\nab\r\nc3 IDLE\r\n",
}

// FuzzReadCommand feeds arbitrary octets to ReadCommand: it must not panic,
// must make progress on every call, must keep within the limits, and must
// give the same results however the input is cut into reads.
func FuzzReadCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		maxConts := bytes.Count(data, []byte("{"))
		a := readAll(t, bytes.NewReader(data), 4096, len(data), maxConts)
		b := readAll(t, iotest.OneByteReader(bytes.NewReader(data)), 16, len(data), maxConts)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("results depend on read sizes:\n%s\n%s", dumpResults(a), dumpResults(b))
		}
	})
}

func dumpResults(rs []result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.cmd != nil {
			fmt.Fprintf(&b, "%s %s %+v\n", r.cmd.Tag, r.cmd.Name, r.cmd.Args)
		} else {
			fmt.Fprintf(&b, "error: %s\n", r.err)
		}
	}
	return b.String()
}

// FuzzParseSeqSet checks that what ParseSeqSet accepts renders to a set
// with the same members, whatever "*" stands for.
func FuzzParseSeqSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "5:2,7,*", "$", "1,$", "4294967295:1", "0", "1,,2", "2:3,1:4,9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseSeqSet(s)
		if err != nil {
			return
		}
		if len(set.Ranges) == 0 && !set.Dollar {
			t.Fatalf("%q: empty set", s)
		}
		str := set.String()
		back, err := ParseSeqSet(str)
		if err != nil {
			t.Fatalf("%q renders as %q, which does not parse: %v", s, str, err)
		}
		if back.String() != str || back.Dollar != set.Dollar || back.Dynamic() != set.Dynamic() {
			t.Fatalf("%q -> %q -> %q", s, str, back.String())
		}
		probe := []uint32{0, 1, 2, 3, 100, 4294967294, 4294967295}
		for _, r := range set.Ranges {
			probe = append(probe, r.Start, r.Stop, r.Start-1, r.Start+1, r.Stop-1, r.Stop+1)
		}
		for _, max := range []uint32{0, 1, 5, 1000, 4294967295} {
			for _, n := range probe {
				if set.Contains(n, max) != back.Contains(n, max) {
					t.Fatalf("%q and %q differ on %d (max %d)", s, str, n, max)
				}
			}
		}
	})
}

// FuzzMUTF7 checks both directions: any UTF-8 string survives Encode and
// Decode, and whatever Decode accepts is the canonical encoding of its
// result.
func FuzzMUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "Entw&APw-rfe", "&ZeVnLIqe-", "&-", "&2D3c5w-", "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		"日本語", "a&b", "\x00", "&ZeV-", "&AGE-&-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := EncodeMUTF7(s)
			dec, err := DecodeMUTF7(enc)
			if err != nil || dec != s {
				t.Fatalf("%q encodes as %q, decodes as %q, %v", s, enc, dec, err)
			}
			for i := 0; i < len(enc); i++ {
				if enc[i] < 0x20 || enc[i] > 0x7e {
					t.Fatalf("%q encodes as %q with octet %#x", s, enc, enc[i])
				}
			}
		}
		dec, err := DecodeMUTF7(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("%q decodes to invalid UTF-8 %q", s, dec)
		}
		if enc := EncodeMUTF7(dec); enc != s {
			t.Fatalf("%q decodes to %q, which encodes as %q", s, dec, enc)
		}
	})
}

// FuzzParseDateTime checks APPEND date-times: what parses formats back to
// the same instant.
func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"17-Jul-1996 02:44:25 -0700", " 1-jan-2000 00:00:60 +1400", "29-Feb-2023 00:00:00 +0000", "1-Feb-2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseDate(s); ok {
			back, ok := parseDate(d.Format("2-Jan-2006"))
			if !ok || !back.Equal(d) {
				t.Fatalf("date %q -> %v -> %v", s, d, back)
			}
		}
		tm, ok := parseDateTime(s)
		if !ok {
			return
		}
		back, ok := parseDateTime(tm.Format("02-Jan-2006 15:04:05 -0700"))
		if !ok || !back.Equal(tm) {
			t.Fatalf("%q -> %v -> %v", s, tm, back)
		}
		if tm.Year() < 0 || tm.Year() > 9999 || tm.Sub(back) != 0 {
			t.Fatalf("%q -> %v", s, tm)
		}
	})
}
