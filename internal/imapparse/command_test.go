package imapparse

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func set(s string) SeqSet {
	ss, err := ParseSeqSet(s)
	if err != nil {
		panic(err)
	}
	return ss
}

func setp(s string) *SeqSet {
	ss := set(s)
	return &ss
}

func TestCommands(t *testing.T) {
	cases := []struct {
		in   string
		want Command
	}{
		// Commands without arguments; names are case-insensitive.
		{"a1 CAPABILITY\r\n", Command{Tag: "a1", Name: "CAPABILITY"}},
		{"a2 noop\r\n", Command{Tag: "a2", Name: "NOOP"}},
		{"a3 Logout\r\n", Command{Tag: "a3", Name: "LOGOUT"}},
		{"a4 STARTTLS\r\n", Command{Tag: "a4", Name: "STARTTLS"}},
		{"a5 CHECK\r\n", Command{Tag: "a5", Name: "CHECK"}},
		{"a6 CLOSE\r\n", Command{Tag: "a6", Name: "CLOSE"}},
		{"a7 UNSELECT\r\n", Command{Tag: "a7", Name: "UNSELECT"}},
		{"a8 IDLE\r\n", Command{Tag: "a8", Name: "IDLE"}},
		{"a9 NAMESPACE\r\n", Command{Tag: "a9", Name: "NAMESPACE"}},
		{"a.b]c NOOP\n", Command{Tag: "a.b]c", Name: "NOOP"}}, // bare LF; "]" is a tag char

		{"e1 EXPUNGE\r\n", Command{Tag: "e1", Name: "EXPUNGE", Args: &Expunge{}}},
		{"e2 UID EXPUNGE 3000:3002,3005\r\n", Command{Tag: "e2", Name: "EXPUNGE", UID: true,
			Args: &Expunge{Set: setp("3000:3002,3005")}}},
		{"e3 uid expunge $\r\n", Command{Tag: "e3", Name: "EXPUNGE", UID: true,
			Args: &Expunge{Set: &SeqSet{Dollar: true}}}},

		{"l1 LOGIN alice s3cr3t\r\n", Command{Tag: "l1", Name: "LOGIN", Args: &Login{"alice", "s3cr3t"}}},
		{"l2 LOGIN \"al ice\" \"p\\\"w\\\\\"\r\n", Command{Tag: "l2", Name: "LOGIN", Args: &Login{"al ice", `p"w\`}}},
		{"l3 LOGIN {5+}\r\nalice {6+}\r\np w\r\nx\r\n", Command{Tag: "l3", Name: "LOGIN", Args: &Login{"alice", "p w\r\nx"}}},
		{"l4 LOGIN \"\" \"\"\r\n", Command{Tag: "l4", Name: "LOGIN", Args: &Login{"", ""}}},
		{"l5 LOGIN \"用户\" pass]\r\n", Command{Tag: "l5", Name: "LOGIN", Args: &Login{"用户", "pass]"}}},

		{"s1 AUTHENTICATE plain\r\n", Command{Tag: "s1", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "PLAIN"}}},
		{"s2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", Command{Tag: "s2", Name: "AUTHENTICATE",
			Args: &Authenticate{Mechanism: "PLAIN", InitialResponse: []byte("\x00alice\x00secret"), HasInitial: true}}},
		{"s3 AUTHENTICATE EXTERNAL =\r\n", Command{Tag: "s3", Name: "AUTHENTICATE",
			Args: &Authenticate{Mechanism: "EXTERNAL", InitialResponse: []byte{}, HasInitial: true}}},

		{"n1 ENABLE CONDSTORE utf8=accept\r\n", Command{Tag: "n1", Name: "ENABLE",
			Args: &Enable{Caps: []string{"CONDSTORE", "UTF8=ACCEPT"}}}},

		{"i1 ID NIL\r\n", Command{Tag: "i1", Name: "ID", Args: &ID{}}},
		{"i2 ID ()\r\n", Command{Tag: "i2", Name: "ID", Args: &ID{Params: [][2]string{}}}},
		{"i3 ID (\"name\" \"Thunderbird\" \"version\" NIL \"os\" {5+}\r\nLinux)\r\n", Command{Tag: "i3", Name: "ID",
			Args: &ID{Params: [][2]string{{"name", "Thunderbird"}, {"version", ""}, {"os", "Linux"}}}}},

		{"m1 SELECT inbox\r\n", Command{Tag: "m1", Name: "SELECT", Args: &Select{Mailbox: "INBOX"}}},
		{"m2 EXAMINE \"Inbox/Sub\"\r\n", Command{Tag: "m2", Name: "EXAMINE", Args: &Select{Mailbox: "INBOX/Sub"}}},
		{"m3 SELECT INBOXES\r\n", Command{Tag: "m3", Name: "SELECT", Args: &Select{Mailbox: "INBOXES"}}},
		{"m4 SELECT INBOX (CONDSTORE)\r\n", Command{Tag: "m4", Name: "SELECT", Args: &Select{Mailbox: "INBOX", CondStore: true}}},
		{"m5 SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n", Command{Tag: "m5", Name: "SELECT",
			Args: &Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 20050715194045000}}}},
		{"m6 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", Command{Tag: "m6", Name: "SELECT",
			Args: &Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: setp("41,43:211,214:541")}}}},
		// RFC 7162 §3.2.5.2's full example.
		{"m7 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:10,15,20 1:20,41,45)) CONDSTORE)\r\n",
			Command{Tag: "m7", Name: "SELECT", Args: &Select{Mailbox: "INBOX", CondStore: true, QResync: &QResync{
				UIDValidity: 67890007, ModSeq: 90060115194045000, KnownUIDs: setp("41:211,214:541"),
				SeqMatch: setp("1:10,15,20"), UIDMatch: setp("1:20,41,45")}}}},
		{"m8 EXAMINE Archive (QRESYNC (1 2 (3 4)))\r\n", Command{Tag: "m8", Name: "EXAMINE", Args: &Select{Mailbox: "Archive",
			QResync: &QResync{UIDValidity: 1, ModSeq: 2, SeqMatch: setp("3"), UIDMatch: setp("4")}}}},
		{"m9 SELECT {10}\r\n&ZeVnLIqe-\r\n", Command{Tag: "m9", Name: "SELECT", Args: &Select{Mailbox: "日本語"}}},

		{"c1 CREATE owatagusiam/\r\n", Command{Tag: "c1", Name: "CREATE", Args: &Create{Mailbox: "owatagusiam/"}}},
		{"c2 CREATE MyDrafts (USE (\\drafts \\Sent \\X-Custom))\r\n", Command{Tag: "c2", Name: "CREATE",
			Args: &Create{Mailbox: "MyDrafts", SpecialUse: []string{`\Drafts`, `\Sent`, `\X-Custom`}}}},
		{"c3 CREATE x (USE ())\r\n", Command{Tag: "c3", Name: "CREATE", Args: &Create{Mailbox: "x"}}},
		{"c4 CREATE Entw&APw-rfe\r\n", Command{Tag: "c4", Name: "CREATE", Args: &Create{Mailbox: "Entwürfe"}}},

		{"d1 DELETE blurdybloop\r\n", Command{Tag: "d1", Name: "DELETE", Args: &MailboxArg{"blurdybloop"}}},
		{"d2 SUBSCRIBE #news.comp.mail.mime\r\n", Command{Tag: "d2", Name: "SUBSCRIBE", Args: &MailboxArg{"#news.comp.mail.mime"}}},
		{"d3 UNSUBSCRIBE \"a b\"\r\n", Command{Tag: "d3", Name: "UNSUBSCRIBE", Args: &MailboxArg{"a b"}}},
		{"d4 GETQUOTAROOT INBOX\r\n", Command{Tag: "d4", Name: "GETQUOTAROOT", Args: &MailboxArg{"INBOX"}}},

		{"r1 RENAME blurdybloop sarasoop\r\n", Command{Tag: "r1", Name: "RENAME", Args: &Rename{"blurdybloop", "sarasoop"}}},
		{"r2 RENAME inbox/x &U,BTFw-\r\n", Command{Tag: "r2", Name: "RENAME", Args: &Rename{"INBOX/x", "台北"}}},

		{"t1 LIST \"\" *\r\n", Command{Tag: "t1", Name: "LIST", Args: &List{Patterns: []string{"*"}}}},
		{"t2 LIST ~/Mail/ %\r\n", Command{Tag: "t2", Name: "LIST", Args: &List{Reference: "~/Mail/", Patterns: []string{"%"}}}},
		{"t3 LIST \"\" inbox\r\n", Command{Tag: "t3", Name: "LIST", Args: &List{Patterns: []string{"INBOX"}}}},
		{"t4 LIST \"\" (\"INBOX\" Sent* {3+}\r\na%b)\r\n", Command{Tag: "t4", Name: "LIST",
			Args: &List{Patterns: []string{"INBOX", "Sent*", "a%b"}, Extended: true}}},
		{"t5 LIST () \"\" %\r\n", Command{Tag: "t5", Name: "LIST", Args: &List{Patterns: []string{"%"}, Extended: true}}},
		{"t6 LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) \"\" % RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
			Command{Tag: "t6", Name: "LIST", Args: &List{Patterns: []string{"%"}, SelectSubscribed: true,
				SelectRecursiveMatch: true, SelectRemote: true, ReturnChildren: true,
				ReturnStatus: []string{"MESSAGES", "UNSEEN"}, Extended: true}}},
		{"t7 LIST \"\" % RETURN (subscribed special-use)\r\n", Command{Tag: "t7", Name: "LIST",
			Args: &List{Patterns: []string{"%"}, ReturnSubscribed: true, ReturnSpecialUse: true, Extended: true}}},
		{"t8 LIST (SPECIAL-USE) \"\" * RETURN ()\r\n", Command{Tag: "t8", Name: "LIST",
			Args: &List{Patterns: []string{"*"}, SelectSpecialUse: true, Extended: true}}},
		{"t9 LSUB \"#news.\" comp.mail.*\r\n", Command{Tag: "t9", Name: "LSUB",
			Args: &List{Reference: "#news.", Patterns: []string{"comp.mail.*"}}}},
		{"t10 LIST \"\" &ZeVnLIqe-/%\r\n", Command{Tag: "t10", Name: "LIST", Args: &List{Patterns: []string{"日本語/%"}}}},

		{"u1 STATUS blurdybloop (UIDNEXT messages SIZE DELETED HIGHESTMODSEQ)\r\n", Command{Tag: "u1", Name: "STATUS",
			Args: &Status{Mailbox: "blurdybloop", Items: []string{"UIDNEXT", "MESSAGES", "SIZE", "DELETED", "HIGHESTMODSEQ"}}}},

		{"p1 APPEND saved-messages {5}\r\nHello\r\n", Command{Tag: "p1", Name: "APPEND",
			Args: &Append{Mailbox: "saved-messages", Messages: []AppendMessage{{Message: []byte("Hello")}}}}},
		{"p2 APPEND Drafts (\\seen $Forwarded) {3+}\r\nabc\r\n", Command{Tag: "p2", Name: "APPEND",
			Args: &Append{Mailbox: "Drafts", Messages: []AppendMessage{{Flags: []string{`\Seen`, "$Forwarded"}, Message: []byte("abc")}}}}},
		{"p3 APPEND Drafts () ~{3}\r\na\x00c\r\n", Command{Tag: "p3", Name: "APPEND",
			Args: &Append{Mailbox: "Drafts", Messages: []AppendMessage{{Flags: []string{}, Message: []byte("a\x00c"), Binary: true}}}}},
		{"p4 APPEND INBOX UTF8 (~{4+}\r\nH\xc3\xa9!)\r\n", Command{Tag: "p4", Name: "APPEND",
			Args: &Append{Mailbox: "INBOX", Messages: []AppendMessage{{Message: []byte("Hé!"), Binary: true, UTF8: true}}}}},
		{"p5 APPEND {5+}\r\nINBOX {0}\r\n\r\n", Command{Tag: "p5", Name: "APPEND",
			Args: &Append{Mailbox: "INBOX", Messages: []AppendMessage{{Message: []byte{}}}}}},
		// MULTIAPPEND (RFC 3502 §6): each message with its own options.
		{"p6 APPEND INBOX {3+}\r\nabc (\\Seen) {2+}\r\nde \"01-Jan-2000 00:00:00 +0000\" ~{1+}\r\nf UTF8 (~{1+}\r\ng)\r\n",
			Command{Tag: "p6", Name: "APPEND", Args: &Append{Mailbox: "INBOX", Messages: []AppendMessage{
				{Message: []byte("abc")},
				{Flags: []string{`\Seen`}, Message: []byte("de")},
				{Date: time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 0)), HasDate: true, Message: []byte("f"), Binary: true},
				{Message: []byte("g"), Binary: true, UTF8: true},
			}}}},
		// CATENATE (RFC 4469 §5), alone and mixed with plain messages.
		{"p7 APPEND Drafts (\\Draft) CATENATE (URL \"/Drafts;UIDVALIDITY=3/;UID=20/;section=HEADER\" TEXT {4+}\r\n\r\nab url {4+}\r\n/x;a TEXT ~{1+}\r\n\x00 UTF8 (~{1+}\r\nz)) catenate (url /INBOX/;UID=1) {1+}\r\nq\r\n",
			Command{Tag: "p7", Name: "APPEND", Args: &Append{Mailbox: "Drafts", Messages: []AppendMessage{
				{Flags: []string{`\Draft`}, Catenate: []CatPart{
					{URL: "/Drafts;UIDVALIDITY=3/;UID=20/;section=HEADER"},
					{Text: []byte("\r\nab")},
					{URL: "/x;a"},
					{Text: []byte("\x00"), Binary: true},
					{Text: []byte("z"), Binary: true},
				}},
				{Catenate: []CatPart{{URL: "/INBOX/;UID=1"}}},
				{Message: []byte("q")},
			}}}},

		{"h1 FETCH 1:* (FLAGS)\r\n", Command{Tag: "h1", Name: "FETCH",
			Args: &Fetch{Set: set("1:*"), Items: []FetchItem{{Name: "FLAGS"}}}}},
		{"h2 UID FETCH 300:* FLAGS (CHANGEDSINCE 12345 VANISHED)\r\n", Command{Tag: "h2", Name: "FETCH", UID: true,
			Args: &Fetch{Set: set("300:*"), Items: []FetchItem{{Name: "FLAGS"}}, ChangedSince: 12345, Vanished: true}}},
		{"h3 FETCH $ fast\r\n", Command{Tag: "h3", Name: "FETCH", Args: &Fetch{Set: SeqSet{Dollar: true},
			Items: []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}}}},
		{"h4 FETCH 2 (BODY[HEADER.FIELDS (From Subject)]<0.512>)\r\n", Command{Tag: "h4", Name: "FETCH",
			Args: &Fetch{Set: set("2"), Items: []FetchItem{{Name: "BODY",
				Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "Subject"}},
				Partial: &Partial{Offset: 0, Count: 512}}}}}},

		{"w1 STORE 2:4 +FLAGS (\\Deleted)\r\n", Command{Tag: "w1", Name: "STORE",
			Args: &Store{Set: set("2:4"), Mode: StoreAdd, Flags: []string{`\Deleted`}}}},
		{"w2 UID STORE 1 -flags.silent \\seen $Junk\r\n", Command{Tag: "w2", Name: "STORE", UID: true,
			Args: &Store{Set: set("1"), Mode: StoreRemove, Silent: true, Flags: []string{`\Seen`, "$Junk"}}}},
		{"w3 STORE 7,5:3 (UNCHANGEDSINCE 320162338) FLAGS ()\r\n", Command{Tag: "w3", Name: "STORE",
			Args: &Store{Set: set("7,5:3"), Mode: StoreReplace, Flags: []string{}, UnchangedSince: 320162338, HasUnchangedSince: true}}},
		{"w4 STORE 1 (UNCHANGEDSINCE 0) FLAGS.SILENT (\\ANSWERED \\flagged \\Draft)\r\n", Command{Tag: "w4", Name: "STORE",
			Args: &Store{Set: set("1"), Silent: true, Flags: []string{`\Answered`, `\Flagged`, `\Draft`}, HasUnchangedSince: true}}},

		{"y1 COPY 2:4 MEETING\r\n", Command{Tag: "y1", Name: "COPY", Args: &Copy{Set: set("2:4"), Mailbox: "MEETING"}}},
		{"y2 UID MOVE 42:69 foo\r\n", Command{Tag: "y2", Name: "MOVE", UID: true, Args: &Copy{Set: set("42:69"), Mailbox: "foo"}}},
		{"y3 MOVE $ {7+}\r\nArchive\r\n", Command{Tag: "y3", Name: "MOVE", Args: &Copy{Set: SeqSet{Dollar: true}, Mailbox: "Archive"}}},
		{"y4 UID COPY 1 inbox\r\n", Command{Tag: "y4", Name: "COPY", UID: true, Args: &Copy{Set: set("1"), Mailbox: "INBOX"}}},

		{"o1 SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n", Command{Tag: "o1", Name: "SORT", Args: &Sort{
			Criteria: []SortCriterion{{Key: "DATE", Reverse: true}, {Key: "SUBJECT"}}, Charset: "UTF-8",
			Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "ALL"}}}}}},
		{"o2 UID SORT (ARRIVAL cc reverse from SIZE TO) us-ascii UNDELETED SINCE 1-Feb-1994\r\n", Command{Tag: "o2", Name: "SORT", UID: true,
			Args: &Sort{Criteria: []SortCriterion{{Key: "ARRIVAL"}, {Key: "CC"}, {Key: "FROM", Reverse: true}, {Key: "SIZE"}, {Key: "TO"}},
				Charset: "US-ASCII", Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "UNDELETED"},
					{Op: "SINCE", Date: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)}}}}}},

		// ESORT and CONTEXT=SORT (RFC 5267 §3, §4).
		{"o3 UID SORT RETURN (MIN PARTIAL 1:10 UPDATE) (ARRIVAL) US-ASCII ALL\r\n", Command{Tag: "o3", Name: "SORT", UID: true, Args: &Sort{
			Criteria: []SortCriterion{{Key: "ARRIVAL"}}, Charset: "US-ASCII", Return: []string{"MIN", "PARTIAL", "UPDATE"}, HasReturn: true,
			Partial: &PartialRange{First: 1, Last: 10}, Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "ALL"}}}}}},
		{"o4 SORT RETURN () (SIZE) UTF-8 1:5\r\n", Command{Tag: "o4", Name: "SORT", Args: &Sort{
			Criteria: []SortCriterion{{Key: "SIZE"}}, Charset: "UTF-8", Return: []string{}, HasReturn: true,
			Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "SEQSET", Set: setp("1:5")}}}}}},
		{"o6 SORT (DISPLAYFROM reverse displayto) UTF-8 ALL\r\n", Command{Tag: "o6", Name: "SORT", Args: &Sort{
			Criteria: []SortCriterion{{Key: "DISPLAYFROM"}, {Key: "DISPLAYTO", Reverse: true}}, Charset: "UTF-8",
			Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "ALL"}}}}}},
		{"o5 CANCELUPDATE \"o3\" \"x y\"\r\n", Command{Tag: "o5", Name: "CANCELUPDATE", Args: &CancelUpdate{Tags: []string{"o3", "x y"}}}},

		{"v1 THREAD REFERENCES UTF-8 ALL\r\n", Command{Tag: "v1", Name: "THREAD", Args: &Thread{Algorithm: "REFERENCES",
			Charset: "UTF-8", Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "ALL"}}}}}},
		{"v2 UID THREAD orderedsubject \"UTF-8\" SUBJECT {6+}\r\n日本\r\n", Command{Tag: "v2", Name: "THREAD", UID: true,
			Args: &Thread{Algorithm: "ORDEREDSUBJECT", Charset: "UTF-8",
				Key: &SearchKey{Op: "AND", Children: []*SearchKey{{Op: "SUBJECT", Value: "日本"}}}}}},

		{"q1 GETQUOTA \"\"\r\n", Command{Tag: "q1", Name: "GETQUOTA", Args: &Quota{Root: ""}}},
		{"q2 SETQUOTA \"\" (STORAGE 512 message 1000)\r\n", Command{Tag: "q2", Name: "SETQUOTA",
			Args: &Quota{Root: "", Limits: []QuotaLimit{{"STORAGE", 512}, {"MESSAGE", 1000}}}}},
		{"q3 SETQUOTA user.alice ()\r\n", Command{Tag: "q3", Name: "SETQUOTA", Args: &Quota{Root: "user.alice", Limits: []QuotaLimit{}}}},

		{"z1 COMPRESS deflate\r\n", Command{Tag: "z1", Name: "COMPRESS", Args: &Compress{Mechanism: "DEFLATE"}}},
	}
	for _, c := range cases {
		got := mustParse(t, c.in)
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", c.in, got.Args, c.want.Args)
			if got.Tag != c.want.Tag || got.Name != c.want.Name || got.UID != c.want.UID {
				t.Errorf("  tag/name/uid: got %q %q %v", got.Tag, got.Name, got.UID)
			}
		}
	}
}

func TestSelectUTF8Mode(t *testing.T) {
	// In UTF-8 mode "&" is an ordinary character and raw UTF-8 is taken.
	r, _ := testReader("a SELECT \"&ZeVnLIqe-\"\r\nb SELECT \"日本語\"\r\nc SELECT {1}\r\n\xff\r\nd SELECT \"Entw&APw-rfe\"\r\n", Limits{})
	r.SetUTF8(true)
	for _, want := range []string{"&ZeVnLIqe-", "日本語", "", "Entw&APw-rfe"} {
		cmd, err := r.ReadCommand()
		if want == "" {
			if err != nil || cmd.BadName == nil || !cmd.BadName.UTF8 {
				t.Fatalf("invalid UTF-8 accepted: %v %v", cmd, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cmd.Args.(*Select).Mailbox; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// Back in modified UTF-7 mode, raw UTF-8 is an invalid encoding.
	r, _ = testReader("a SELECT \"日本語\"\r\n", Limits{})
	if cmd, err := r.ReadCommand(); err != nil || cmd.BadName == nil {
		t.Error("raw UTF-8 accepted as modified UTF-7")
	}
}

func TestAppendDate(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		{`"17-Jul-1996 02:44:25 -0700"`, time.Date(1996, 7, 17, 9, 44, 25, 0, time.UTC)},
		{`" 7-jul-1996 02:44:25 +0130"`, time.Date(1996, 7, 7, 1, 14, 25, 0, time.UTC)},
		{`"29-Feb-2024 23:59:59 +0000"`, time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
	}
	for _, c := range cases {
		cmd := mustParse(t, "a APPEND INBOX (\\Seen) "+c.in+" {1}\r\nx\r\n")
		a := cmd.Args.(*Append).Messages[0]
		if !a.HasDate || !a.Date.Equal(c.want) {
			t.Errorf("%s: got %v (has %v), want %v", c.in, a.Date, a.HasDate, c.want)
		}
		if c.in[1] != ' ' && a.Date.Format("02-Jan-2006 15:04:05 -0700") != c.in[1:len(c.in)-1] {
			t.Errorf("%s: zone not kept: %v", c.in, a.Date)
		}
	}
	cmd := mustParse(t, "a APPEND INBOX \"01-Jan-2000 00:00:00 +0000\" {1}\r\nx\r\n")
	if a := cmd.Args.(*Append).Messages[0]; a.Flags != nil || !a.HasDate {
		t.Errorf("date without flags: %+v", a)
	}
	for _, bad := range []string{
		`"1-Jan-2024 00:00:00 +0000"`,  // day must be two wide
		`"31-Feb-2024 00:00:00 +0000"`, // no such day
		`"01-Foo-2024 00:00:00 +0000"`,
		`"01-Jan-2024 24:00:00 +0000"`,
		`"01-Jan-2024 00:60:00 +0000"`,
		`"01-Jan-2024 00:00:00 0000"`,
		`"01-Jan-2024 00:00:00 +0060"`,
		`"01-Jan-24 00:00:00 +0000"`,
		`"01-Jan-2024T00:00:00 +0000"`,
	} {
		if _, err := parseOne(t, "a APPEND INBOX "+bad+" {1}\r\n"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestLiteralEverywhere rewrites each quoted string of a command as a
// synchronising and as a non-synchronising literal: every astring position
// must accept both, with the same result.
func TestLiteralEverywhere(t *testing.T) {
	for _, base := range []string{
		`a LOGIN "alice" "se cret"`,
		`a SELECT "inbox/x" (CONDSTORE)`,
		`a EXAMINE "&ZeVnLIqe-"`,
		`a CREATE "Drafts" (USE (\Drafts))`,
		`a DELETE "x"`,
		`a SUBSCRIBE "x"`,
		`a UNSUBSCRIBE "x"`,
		`a RENAME "a" "b"`,
		`a LIST "" ("INBOX" "Sent*") RETURN (CHILDREN)`,
		`a LIST (SUBSCRIBED) "~/" "%"`,
		`a LSUB "#news." "comp.*"`,
		`a STATUS "INBOX" (MESSAGES)`,
		`a ID ("name" "x" "os" NIL)`,
		`a SEARCH CHARSET "UTF-8" HEADER "X-Spam" "yes" SUBJECT "日本" OR BODY "a" TEXT "b"`,
		`a SEARCH BCC "a" CC "b" FROM "c" TO "d" NOT (SUBJECT "e")`,
		`a SORT (DATE) "UTF-8" FROM "bob"`,
		`a THREAD REFERENCES "UTF-8" TO "x"`,
		`a COPY 1 "Archive"`,
		`a UID MOVE 1 "Junk"`,
		`a FETCH 1 BODY.PEEK[HEADER.FIELDS ("From" "To")]`,
		`a GETQUOTA "root"`,
		`a SETQUOTA "root" (STORAGE 5)`,
		`a GETQUOTAROOT "INBOX"`,
		"a APPEND \"INBOX\" (\\Seen) {3+}\r\nabc",
	} {
		want := mustParse(t, base+"\r\n")
		var quoted [][2]int // start and end (after the closing quote) of each quoted string
		for i := 0; i < len(base); i++ {
			if base[i] == '"' {
				j := i + 1 + strings.IndexByte(base[i+1:], '"')
				quoted = append(quoted, [2]int{i, j + 1})
				i = j
			}
		}
		for _, q := range quoted {
			content := base[q[0]+1 : q[1]-1]
			for _, plus := range []string{"", "+"} {
				in := fmt.Sprintf("%s{%d%s}\r\n%s%s\r\n", base[:q[0]], len(content), plus, content, base[q[1]:])
				r, conts := testReader(in, Limits{})
				got, err := r.ReadCommand()
				if err != nil {
					t.Errorf("%q: %v", in, err)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%q:\n got %+v\nwant %+v", in, got.Args, want.Args)
				}
				if wantConts := len(plus) ^ 1; *conts != wantConts {
					t.Errorf("%q: %d continuation requests, want %d", in, *conts, wantConts)
				}
			}
		}
	}
}

// TestBadMailboxNames checks that a name that is a valid astring but not
// valid in the session's encoding is no syntax error: the command parses,
// with the name as sent in its arguments and in BadName.
func TestBadMailboxNames(t *testing.T) {
	cases := []struct {
		in, raw string
	}{
		{"a1 SELECT &Jjo\r\n", "&Jjo"},   // modified UTF-7 not closed
		{"a1 SELECT &AGE-\r\n", "&AGE-"}, // "a" must not be encoded
		{"a1 CREATE \"项目\"\r\n", "项目"},   // raw UTF-8 without UTF-8 mode
		{"a1 RENAME INBOX/x \"é\"\r\n", "é"},
		{"a1 APPEND \"é\" {1+}\r\nx\r\n", "é"},
		{"a1 STATUS \"é\" (MESSAGES)\r\n", "é"},
	}
	for _, c := range cases {
		r, _ := testReader(c.in+"b NOOP\r\n", Limits{})
		cmd, err := r.ReadCommand()
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if cmd.BadName == nil || cmd.BadName.Raw != c.raw || cmd.BadName.UTF8 {
			t.Fatalf("%q: BadName %+v, want raw %q", c.in, cmd.BadName, c.raw)
		}
		// The next command parses normally, without BadName.
		if cmd, err = r.ReadCommand(); err != nil || cmd.Name != "NOOP" || cmd.BadName != nil {
			t.Fatalf("%q: next command %+v %v", c.in, cmd, err)
		}
	}
	// The message names the octet, not a Latin-1 reading of it.
	r, _ := testReader("a CREATE \"项目\"\r\n", Limits{})
	cmd, _ := r.ReadCommand()
	if got := cmd.BadName.Reason; !strings.Contains(got, "octet 0xe9 at 0") {
		t.Errorf("reason %q", got)
	}

	// LIST leaves bad patterns out, and everything for a bad reference.
	for _, c := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"a LIST \"\" \"项*\"\r\n", nil, true},
		{"a LIST \"\" (\"项*\" Work %)\r\n", []string{"Work", "%"}, true},
		{"a LIST \"项\" (Work %)\r\n", nil, true},
		{"a LSUB \"\" &Jjo%\r\n", nil, true},
		{"a LIST \"\" \"Work\" RETURN ()\r\n", []string{"Work"}, false},
	} {
		r, _ := testReader(c.in, Limits{})
		cmd, err := r.ReadCommand()
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := cmd.Args.(*List).Patterns; !slices.Equal(got, c.want) {
			t.Errorf("%q: patterns %q, want %q", c.in, got, c.want)
		}
		if (cmd.BadName != nil) != c.bad {
			t.Errorf("%q: BadName %+v", c.in, cmd.BadName)
		}
	}
}
