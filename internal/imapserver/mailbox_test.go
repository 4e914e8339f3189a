package imapserver_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// mutf7 encodes a mailbox name in modified UTF-7 (RFC 3501 §5.1.3),
// written here independently of the server's encoder.
func mutf7(s string) string {
	enc := base64.StdEncoding.WithPadding(base64.NoPadding)
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		var raw []byte
		for _, u := range utf16.Encode(run) {
			raw = append(raw, byte(u>>8), byte(u))
		}
		b.WriteString("&" + strings.ReplaceAll(enc.EncodeToString(raw), "/", ",") + "-")
		run = nil
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			run = append(run, r)
		}
	}
	flush()
	return b.String()
}

func TestMUTF7Helper(t *testing.T) {
	// RFC 3501 §5.1.3's own example, to check the helper the other tests
	// rely on.
	eq(t, "RFC 3501 example", mutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-")
	eq(t, "台灣", mutf7("台灣"), "&U,BwYw-")
	eq(t, "ampersand", mutf7("A&B"), "A&-B")
}

func TestCreateDeleteRename(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)

	c.ok("CREATE Work/Projects")
	lines(t, "LIST after CREATE with hierarchy", c.ok(`LIST "" "Work*"`),
		`* LIST (\HasChildren) "/" "Work"`,
		`* LIST (\HasNoChildren) "/" "Work/Projects"`)
	c.expectStatus("CREATE Work", "NO [ALREADYEXISTS]")
	c.expectStatus("CREATE INBOX", "NO")
	c.ok("CREATE Notes/") // a trailing separator is allowed (RFC 9051 §6.3.4)
	lines(t, "LIST Notes", c.ok(`LIST "" Notes`), `* LIST (\HasNoChildren) "/" "Notes"`)

	// CREATE-SPECIAL-USE (RFC 6154 §3).
	c.ok(`CREATE MyDrafts (USE (\Drafts))`)
	lines(t, "LIST special use", c.ok(`LIST "" MyDrafts`), `* LIST (\HasNoChildren \Drafts) "/" "MyDrafts"`)
	c.expectStatus(`CREATE Odd (USE (\Bogus))`, "NO [USEATTR]")
	lines(t, "LIST Odd", c.ok(`LIST "" Odd`))

	// DELETE (RFC 9051 §6.3.5).
	c.expectStatus("DELETE INBOX", "NO")
	c.expectStatus("DELETE inbox", "NO")
	c.expectStatus("DELETE Work", "NO [HASCHILDREN]")
	c.expectStatus("DELETE Nope", "NO [NONEXISTENT]")
	v1 := e.mailbox(alice, "Notes").UIDValidity
	c.ok("DELETE Notes")
	lines(t, "LIST deleted", c.ok(`LIST "" Notes`))
	// A mailbox created again under the same name gets a new UIDVALIDITY
	// (RFC 9051 §2.3.1.1).
	c.ok("CREATE Notes")
	if v2 := e.mailbox(alice, "Notes").UIDValidity; v2 == v1 {
		t.Fatalf("re-created mailbox kept UIDVALIDITY %d", v1)
	}
	c.ok("DELETE Notes")

	// RENAME moves the children along (RFC 9051 §6.3.6).
	e.deliver(simpleMsg("In work", "x"), delivery{mailbox: "Work/Projects"})
	c.ok("RENAME Work Play")
	lines(t, "LIST after RENAME", c.ok(`LIST "" "*"`),
		`* LIST (\HasNoChildren \Archive) "/" "Archive"`,
		`* LIST (\HasNoChildren \Drafts) "/" "Drafts"`,
		`* LIST (\HasNoChildren) "/" "INBOX"`,
		`* LIST (\HasNoChildren \Junk) "/" "Junk"`,
		`* LIST (\HasNoChildren \Drafts) "/" "MyDrafts"`,
		`* LIST (\HasChildren) "/" "Play"`,
		`* LIST (\HasNoChildren) "/" "Play/Projects"`,
		`* LIST (\HasNoChildren \Sent) "/" "Sent"`,
		`* LIST (\HasNoChildren \Trash) "/" "Trash"`)
	lines(t, "STATUS of renamed child", c.ok("STATUS Play/Projects (MESSAGES)"), `* STATUS "Play/Projects" (MESSAGES 1)`)
	c.expectStatus("RENAME Nope Other", "NO [NONEXISTENT]")
	c.expectStatus("RENAME Play Sent", "NO [ALREADYEXISTS]")

	// Renaming INBOX moves its messages to the new mailbox and leaves
	// INBOX empty (RFC 9051 §6.3.6).
	e.deliver(simpleMsg("One", "1"), delivery{})
	e.deliver(simpleMsg("Two", "2"), delivery{})
	before := e.mailbox(alice, "INBOX")
	c.ok("RENAME INBOX Old/Inbox")
	lines(t, "STATUS INBOX after RENAME", c.ok("STATUS INBOX (MESSAGES UIDVALIDITY)"),
		fmt.Sprintf(`* STATUS "INBOX" (MESSAGES 0 UIDVALIDITY %d)`, before.UIDValidity))
	lines(t, "STATUS new mailbox", c.ok("STATUS Old/Inbox (MESSAGES)"), `* STATUS "Old/Inbox" (MESSAGES 2)`)
	r := c.ok("SELECT Old/Inbox")
	if !r.has("* 2 EXISTS") {
		t.Fatalf("SELECT renamed INBOX: %s", r)
	}
	lines(t, "FETCH renamed", c.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"),
		"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] "+literal("Subject: One\r\n\r\n")+")",
		"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] "+literal("Subject: Two\r\n\r\n")+")")
	r = c.ok("SELECT INBOX")
	if !r.has("* 0 EXISTS") {
		t.Fatalf("SELECT INBOX after RENAME: %s", r)
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	// CREATE does not subscribe (RFC 9051 §6.3.4 leaves it to the client).
	c.ok("CREATE Lists/Go")
	lines(t, "LSUB none", c.ok(`LSUB "" "Lists*"`))
	c.ok("UNSUBSCRIBE Lists") // not subscribed: nothing to do
	c.expectStatus("SUBSCRIBE Nope", "NO")
	c.ok("SUBSCRIBE Lists/Go")
	lines(t, "LSUB", c.ok(`LSUB "" "Lists*"`), `* LSUB () "/" "Lists/Go"`)
	// The unsubscribed parent of a subscribed name that "%" does not
	// reach is listed \Noselect (RFC 3501 §6.3.9).
	lines(t, "LSUB %", c.ok(`LSUB "" "L%"`), `* LSUB (\Noselect) "/" "Lists"`)
	lines(t, "LIST (SUBSCRIBED)", c.ok(`LIST (SUBSCRIBED) "" "Lists*"`), `* LIST (\HasNoChildren \Subscribed) "/" "Lists/Go"`)
	lines(t, "LIST RETURN (SUBSCRIBED)", c.ok(`LIST "" "Lists*" RETURN (SUBSCRIBED)`),
		`* LIST (\HasChildren) "/" "Lists"`,
		`* LIST (\HasNoChildren \Subscribed) "/" "Lists/Go"`)
	// RECURSIVEMATCH: the unsubscribed parent is listed for its
	// subscribed child, with CHILDINFO (RFC 5258 §3.5)...
	lines(t, "LIST (SUBSCRIBED RECURSIVEMATCH)", c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "L%"`),
		`* LIST (\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))`)
	// ... but not when that child is listed itself.
	lines(t, "RECURSIVEMATCH child listed", c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Lists" "Lists/Go")`),
		`* LIST (\HasNoChildren \Subscribed) "/" "Lists/Go"`)
	c.expectStatus(`LIST (RECURSIVEMATCH) "" "%"`, "BAD")

	// DELETE does not unsubscribe: the name is listed \NonExistent
	// (RFC 5258 §3.4, RFC 9051 §6.3.9).
	c.ok("CREATE Gone")
	c.ok("SUBSCRIBE Gone")
	c.ok("DELETE Gone")
	lines(t, "LIST (SUBSCRIBED) deleted", c.ok(`LIST (SUBSCRIBED) "" "Gone"`), `* LIST (\Subscribed \NonExistent) "/" "Gone"`)
	lines(t, "LIST deleted", c.ok(`LIST "" "Gone"`))
	lines(t, "LSUB deleted", c.ok(`LSUB "" "Gone"`), `* LSUB (\Noselect) "/" "Gone"`)
	c.ok("UNSUBSCRIBE Gone")
	lines(t, "LSUB after UNSUBSCRIBE", c.ok(`LSUB "" "Gone"`))

	// RENAME takes the subscriptions along.
	c.ok("RENAME Lists Feeds")
	lines(t, "LSUB after RENAME", c.ok(`LSUB "" "*s*"`),
		`* LSUB () "/" "Drafts"`, `* LSUB () "/" "Feeds/Go"`, `* LSUB () "/" "Trash"`)

	c.ok("UNSUBSCRIBE Feeds/Go")
	lines(t, "RECURSIVEMATCH without subscribed child", c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "F%"`))
	// The mailboxes every account starts with start subscribed.
	lines(t, "LSUB of a new account", c.ok(`LSUB "" "*"`),
		`* LSUB () "/" "Archive"`, `* LSUB () "/" "Drafts"`, `* LSUB () "/" "INBOX"`,
		`* LSUB () "/" "Junk"`, `* LSUB () "/" "Sent"`, `* LSUB () "/" "Trash"`)
}

func TestListPatterns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	c.ok("CREATE A/B/C")
	c.ok("CREATE A/D")

	lines(t, `LIST "" ""`, c.ok(`LIST "" ""`), `* LIST (\Noselect) "/" ""`)
	lines(t, `LIST "" "%"`, c.ok(`LIST "" "%"`),
		`* LIST (\HasChildren) "/" "A"`,
		`* LIST (\HasNoChildren \Archive) "/" "Archive"`,
		`* LIST (\HasNoChildren \Drafts) "/" "Drafts"`,
		`* LIST (\HasNoChildren) "/" "INBOX"`,
		`* LIST (\HasNoChildren \Junk) "/" "Junk"`,
		`* LIST (\HasNoChildren \Sent) "/" "Sent"`,
		`* LIST (\HasNoChildren \Trash) "/" "Trash"`)
	lines(t, `LIST "" "A/%"`, c.ok(`LIST "" "A/%"`),
		`* LIST (\HasChildren) "/" "A/B"`,
		`* LIST (\HasNoChildren) "/" "A/D"`)
	lines(t, `LIST "" "A/*"`, c.ok(`LIST "" "A/*"`),
		`* LIST (\HasChildren) "/" "A/B"`,
		`* LIST (\HasNoChildren) "/" "A/B/C"`,
		`* LIST (\HasNoChildren) "/" "A/D"`)
	lines(t, `LIST "A/" "%"`, c.ok(`LIST "A/" "%"`),
		`* LIST (\HasChildren) "/" "A/B"`,
		`* LIST (\HasNoChildren) "/" "A/D"`)
	lines(t, `LIST "" "*/C"`, c.ok(`LIST "" "*/C"`), `* LIST (\HasNoChildren) "/" "A/B/C"`)
	lines(t, `LIST "" "%/C"`, c.ok(`LIST "" "%/C"`))
	lines(t, `LIST "" inbox`, c.ok(`LIST "" inbox`), `* LIST (\HasNoChildren) "/" "INBOX"`)
	// INBOX is case-insensitive also as the first level of a name
	// (RFC 9051 §5.1).
	c.ok("CREATE inbox/Sub")
	lines(t, `LIST "" "Inbox*"`, c.ok(`LIST "" "Inbox*"`),
		`* LIST (\HasChildren) "/" "INBOX"`,
		`* LIST (\HasNoChildren) "/" "INBOX/Sub"`)
	lines(t, `LIST (SPECIAL-USE) "" "*"`, c.ok(`LIST (SPECIAL-USE) "" "*"`),
		`* LIST (\HasNoChildren \Archive) "/" "Archive"`,
		`* LIST (\HasNoChildren \Drafts) "/" "Drafts"`,
		`* LIST (\HasNoChildren \Junk) "/" "Junk"`,
		`* LIST (\HasNoChildren \Sent) "/" "Sent"`,
		`* LIST (\HasNoChildren \Trash) "/" "Trash"`)
	lines(t, "LIST with several patterns", c.ok(`LIST "" ("INBOX" "A/D")`),
		`* LIST (\HasNoChildren) "/" "A/D"`,
		`* LIST (\HasChildren) "/" "INBOX"`)
}

func TestListReturnStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("Seen", "a"), delivery{flags: []string{`\Seen`}})
	e.deliver(simpleMsg("Unseen", "b"), delivery{})
	c := e.login(alice)
	c.ok("CREATE Sent/2024")
	r := c.ok(`LIST "" "*" RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UNSEEN))`)
	lines(t, "LIST-STATUS", r,
		`* LIST (\HasNoChildren \Archive) "/" "Archive"`, `* STATUS "Archive" (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasNoChildren \Drafts) "/" "Drafts"`, `* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasNoChildren) "/" "INBOX"`, `* STATUS "INBOX" (MESSAGES 2 UNSEEN 1)`,
		`* LIST (\HasNoChildren \Junk) "/" "Junk"`, `* STATUS "Junk" (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasChildren \Sent) "/" "Sent"`, `* STATUS "Sent" (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasNoChildren) "/" "Sent/2024"`, `* STATUS "Sent/2024" (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasNoChildren \Trash) "/" "Trash"`, `* STATUS "Trash" (MESSAGES 0 UNSEEN 0)`)
}

func TestNonASCIIMailboxNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	taiwan, japan := mutf7("台灣"), mutf7("日本")

	// A client that has not enabled UTF-8 speaks modified UTF-7.
	c := e.login(alice)
	c.ok(`CREATE "` + taiwan + `/Rock &- Roll"`)
	lines(t, "LIST modified UTF-7", c.ok(`LIST "" "`+taiwan+`*"`),
		`* LIST (\HasChildren) "/" "`+taiwan+`"`,
		`* LIST (\HasNoChildren) "/" "`+taiwan+`/Rock &- Roll"`)
	lines(t, "STATUS modified UTF-7", c.ok(`STATUS "`+taiwan+`" (MESSAGES)`), `* STATUS "`+taiwan+`" (MESSAGES 0)`)
	c.expectStatus(`CREATE "&Jjo!"`, "NO") // not valid modified UTF-7

	// After ENABLE UTF8=ACCEPT names are UTF-8 both ways (RFC 6855 §3).
	u := e.login(alice)
	u.ok("ENABLE UTF8=ACCEPT")
	lines(t, "LIST UTF-8", u.ok(`LIST "" "台*"`),
		`* LIST (\HasChildren) "/" "台灣"`,
		`* LIST (\HasNoChildren) "/" "台灣/Rock & Roll"`)
	u.ok(`CREATE "日本"`)
	e.deliver(simpleMsg("Konnichiwa", "x"), delivery{mailbox: "日本"})
	r := u.ok(`SELECT "日本"`)
	if !r.has("* 1 EXISTS") {
		t.Fatalf("SELECT UTF-8 name: %s", r)
	}
	lines(t, "LIST modified UTF-7 of a UTF-8 CREATE", c.ok(`LIST "" "`+japan+`"`), `* LIST (\HasNoChildren) "/" "`+japan+`"`)
	r = c.ok(`SELECT "` + japan + `"`)
	if !r.has("* 1 EXISTS") {
		t.Fatalf("SELECT modified UTF-7 name: %s", r)
	}
	// IMAP4rev2 implies UTF-8 names (RFC 9051 §5.1).
	v := e.login(alice)
	v.ok("ENABLE IMAP4rev2")
	lines(t, "LIST after IMAP4rev2", v.ok(`LIST "" "日本"`), `* LIST (\HasNoChildren) "/" "日本"`)
	if r = v.ok(`EXAMINE "日本"`); !r.has(`* LIST () "/" "日本"`) {
		t.Fatalf("EXAMINE UTF-8 name: %s", r)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.AppendLimit = 12345 })
	m1, m2, m3 := simpleMsg("A", "aaaa"), simpleMsg("B", "bbbbbbbb"), simpleMsg("C", "c")
	prefix := "Return-Path: <x@example.org>\r\n"
	e.deliver(m1, delivery{flags: []string{`\Seen`}})
	e.deliver(m2, delivery{flags: []string{`\Deleted`, `\Seen`}, prefix: prefix})
	e.deliver(m3, delivery{})
	mb := e.mailbox(alice, "INBOX")
	size := len(m1) + len(m2) + len(prefix) + len(m3)
	c := e.login(alice)
	r := c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
	lines(t, "STATUS", r, fmt.Sprintf(`* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY %d UNSEEN 1 DELETED 1 SIZE %d HIGHESTMODSEQ %d)`,
		mb.UIDValidity, size, mb.HighestModSeq))
	// RFC 7889 §3: STATUS APPENDLIMIT.
	lines(t, "STATUS APPENDLIMIT", c.ok("STATUS Trash (APPENDLIMIT MESSAGES)"), `* STATUS "Trash" (APPENDLIMIT 12345 MESSAGES 0)`)
	c.expectStatus("STATUS Nope (MESSAGES)", "NO [NONEXISTENT]")
	c.expectStatus("STATUS INBOX (BOGUS)", "BAD")
}

func TestSelectExamine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("One", "1"), delivery{flags: []string{`\Seen`, "$Work"}})
	e.deliver(simpleMsg("Two", "2"), delivery{})
	mb := e.mailbox(alice, "INBOX")
	c := e.login(alice)

	// IMAP4rev1 SELECT (RFC 3501 §6.3.1) with HIGHESTMODSEQ (RFC 7162).
	r := c.ok("SELECT INBOX")
	eq(t, "SELECT tagged", strings.HasPrefix(r.status(), "OK [READ-WRITE]"), true)
	lines(t, "SELECT", r,
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		"* 2 EXISTS",
		"* 2 RECENT", // the first session to see them (RFC 3501 §2.3.2)
		"* OK [UNSEEN 2] First unseen",
		fmt.Sprintf("* OK [UIDVALIDITY %d] UIDs valid", mb.UIDValidity),
		"* OK [UIDNEXT 3] Predicted next UID",
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
		fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", mb.HighestModSeq))

	// EXAMINE is read-only: no PERMANENTFLAGS, no STORE, no EXPUNGE, and
	// BODY[] does not set \Seen.
	r = c.ok("EXAMINE INBOX")
	eq(t, "EXAMINE tagged", strings.HasPrefix(r.status(), "OK [READ-ONLY]"), true)
	if !r.has("* OK [PERMANENTFLAGS ()] Read-only mailbox") || !r.has("* 2 EXISTS") {
		t.Fatalf("EXAMINE: %s", r)
	}
	c.expectStatus(`STORE 2 +FLAGS (\Seen)`, "NO")
	c.expectStatus(`UID STORE 2 +FLAGS (\Seen)`, "NO")
	c.expectStatus("EXPUNGE", "NO")
	c.expectStatus("UID EXPUNGE 1", "NO")
	c.expectStatus("MOVE 1 Trash", "NO")
	lines(t, "FETCH BODY[] in EXAMINE", c.ok("FETCH 2 (BODY[TEXT])"), "* 2 FETCH (BODY[TEXT] "+literal("2")+")")
	lines(t, "flags unchanged", c.ok("FETCH 2 (FLAGS)"), "* 2 FETCH (FLAGS ())")
	c.ok("COPY 1 Trash") // COPY is allowed from a read-only mailbox

	// A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
	c.expectStatus("SELECT Nope", "NO [NONEXISTENT]")
	c.expectStatus("FETCH 1 (FLAGS)", "BAD")

	// IMAP4rev2: no RECENT nor UNSEEN, and [CLOSED] when a mailbox is
	// replaced (RFC 9051 §6.3.2).
	v := e.login(alice)
	v.ok("ENABLE IMAP4rev2")
	r = v.ok("SELECT INBOX")
	if len(r.prefixed("* 0 RECENT")) != 0 || len(r.prefixed("* OK [UNSEEN")) != 0 {
		t.Fatalf("IMAP4rev2 SELECT with rev1 responses: %s", r)
	}
	if !r.has(`* LIST () "/" "INBOX"`) {
		t.Fatalf("IMAP4rev2 SELECT without LIST (RFC 9051 §6.3.2): %s", r)
	}
	r = v.ok("EXAMINE Trash")
	if len(r.untagged) == 0 || !strings.HasPrefix(r.untagged[0], "* OK [CLOSED]") {
		t.Fatalf("no [CLOSED] before the new mailbox: %s", r)
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	inbox := e.mailbox(alice, "INBOX")
	c := e.login(alice)
	msg := simpleMsg("Appended", "Hello from APPEND\r\n")

	// Synchronising literal: continuation, then APPENDUID (RFC 4315 §3).
	c.send(fmt.Sprintf("a1 APPEND INBOX (\\Seen $Work) \"17-Jul-1996 02:44:25 -0700\" {%d}\r\n", len(msg)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND continuation: %q", l)
	}
	c.send(msg + "\r\n")
	r := c.read("a1")
	eq(t, "APPENDUID", r.status(), fmt.Sprintf("OK [APPENDUID %d 1] APPEND completed", inbox.UIDValidity))

	// LITERAL+ (RFC 7888) and no flags or date.
	before := time.Now().Add(-2 * time.Second)
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	r = c.read("a2")
	eq(t, "APPENDUID 2", r.status(), fmt.Sprintf("OK [APPENDUID %d 2] APPEND completed", inbox.UIDValidity))

	c.ok("SELECT INBOX")
	date := time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)).Local().Format("02-Jan-2006 15:04:05 -0700")
	lines(t, "FETCH appended", c.ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
		fmt.Sprintf(`* 1 FETCH (FLAGS (\Recent \Seen $Work) INTERNALDATE "%s" RFC822.SIZE %d BODY[] %s)`, date, len(msg), literal(msg)))
	r = c.ok("FETCH 2 (FLAGS INTERNALDATE)")
	d, err := time.Parse(`02-Jan-2006 15:04:05 -0700")`, strings.TrimPrefix(r.untagged[0], `* 2 FETCH (FLAGS (\Recent) INTERNALDATE "`))
	if err != nil || d.Before(before) || d.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("INTERNALDATE of APPEND without date: %s (%v)", r, err)
	}

	// APPEND to the selected mailbox announces the new message.
	c.send(fmt.Sprintf("a3 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	r = c.read("a3")
	if !r.has("* 3 EXISTS") {
		t.Fatalf("no EXISTS after APPEND to the selected mailbox: %s", r)
	}

	// A missing mailbox: NO [TRYCREATE] (RFC 9051 §6.3.12).
	c.send(fmt.Sprintf("a4 APPEND Nope {%d+}\r\n%s\r\n", len(msg), msg))
	eq(t, "APPEND to missing mailbox", strings.HasPrefix(c.read("a4").status(), "NO [TRYCREATE]"), true)
	// literal8 (RFC 3516 §4.4): binary content may hold NUL.
	bin := "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nab\x00cd"
	c.send(fmt.Sprintf("a6 APPEND INBOX ~{%d+}\r\n%s\r\n", len(bin), bin))
	r = c.read("a6")
	prefix(t, "APPEND literal8", r.status(), fmt.Sprintf("OK [APPENDUID %d 4]", inbox.UIDValidity))
	lines(t, "BINARY of literal8", c.ok("UID FETCH 4 (BINARY.PEEK[1] BINARY.SIZE[1])"),
		"* 4 FETCH (BINARY[1] ~"+literal("ab\x00cd")+" BINARY.SIZE[1] 5 UID 4)")
	c.send("a5 APPEND INBOX (\\Recent) {1+}\r\nx\r\n")
	eq(t, `APPEND with \Recent`, strings.HasPrefix(c.read("a5").status(), "BAD"), true)
	c.ok("NOOP")
}

func TestAppendLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.AppendLimit = 200 })
	c := e.login(alice)
	r := c.ok("CAPABILITY")
	if !caps(t, r.untagged[0])["APPENDLIMIT=200"] {
		t.Fatalf("APPENDLIMIT not advertised: %s", r)
	}
	// Synchronising literal over the limit: NO [TOOBIG] at once, no
	// continuation request (RFC 7889 §4).
	c.send("a1 APPEND INBOX {201}\r\n")
	l := c.line()
	if !strings.HasPrefix(l, "a1 NO [TOOBIG]") {
		t.Fatalf("APPEND over the limit: %q", l)
	}
	// LITERAL+: the data is read, dropped, and refused the same way.
	c.send("a2 APPEND INBOX (\\Seen) {300+}\r\n" + strings.Repeat("z", 300) + "\r\n")
	if r := c.read("a2"); !strings.HasPrefix(r.status(), "NO [TOOBIG]") {
		t.Fatalf("LITERAL+ APPEND over the limit: %s", r)
	}
	small := "Subject: S\r\n\r\n" + strings.Repeat("s", 200-len("Subject: S\r\n\r\n"))
	c.send(fmt.Sprintf("a3 APPEND INBOX {%d+}\r\n%s\r\n", len(small), small))
	if r := c.read("a3"); !strings.HasPrefix(r.status(), "OK [APPENDUID") {
		t.Fatalf("APPEND within the limit: %s", r)
	}
	lines(t, "STATUS", c.ok("STATUS INBOX (MESSAGES)"), `* STATUS "INBOX" (MESSAGES 1)`)

	// A LITERAL+ too big even to read past ends the connection, with BYE
	// (RFC 7888 §4).
	c.send("a4 APPEND INBOX {100000000+}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("huge LITERAL+: %q", l)
	}
	if !c.closed() {
		t.Fatal("connection open after BYE")
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	msg := simpleMsg("Q", strings.Repeat("q", 3000))
	e.deliver(msg, delivery{})
	if err := e.st.SetQuota(context.Background(), alice, 5000); err != nil {
		t.Fatal(err)
	}
	c := e.login(alice)
	used := (len(msg) + 1023) / 1024
	lines(t, "GETQUOTAROOT", c.ok("GETQUOTAROOT INBOX"),
		`* QUOTAROOT "INBOX" ""`,
		fmt.Sprintf(`* QUOTA "" (STORAGE %d 4)`, used))
	lines(t, "GETQUOTA", c.ok(`GETQUOTA ""`), fmt.Sprintf(`* QUOTA "" (STORAGE %d 4)`, used))
	c.expectStatus(`GETQUOTA "other"`, "NO")
	c.expectStatus("GETQUOTAROOT Nope", "NO [NONEXISTENT]")
	c.expectStatus(`SETQUOTA "" (STORAGE 100)`, "NO")

	// RFC 9208 §5.1: over quota, APPEND fails with [OVERQUOTA].
	c.send(fmt.Sprintf("a1 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	if r := c.read("a1"); !strings.HasPrefix(r.status(), "NO [OVERQUOTA]") {
		t.Fatalf("APPEND over quota: %s", r)
	}
	small := simpleMsg("S", "s")
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s\r\n", len(small), small))
	if r := c.read("a2"); !strings.HasPrefix(r.status(), "OK") {
		t.Fatalf("APPEND within quota: %s", r)
	}
	// COPY over quota fails the same way.
	c.ok("SELECT INBOX")
	c.expectStatus("COPY 1 Archive", "NO [OVERQUOTA]")

	// Without a limit the QUOTA response has no resources.
	if err := e.st.SetQuota(context.Background(), alice, 0); err != nil {
		t.Fatal(err)
	}
	lines(t, "GETQUOTA without limit", c.ok(`GETQUOTA ""`), `* QUOTA "" ()`)
}

// TestInvalidMailboxNames checks that a name that is not valid modified
// UTF-7 in a session that has not enabled UTF-8 is a NO naming what the
// client sent (the syntax is right; the name is not), and that LIST with
// such a pattern simply matches nothing.
func TestInvalidMailboxNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	c.ok("CREATE Work")
	for _, cmd := range []string{
		`CREATE "项目"`, // mbsync sends UTF-8 to rev1 servers
		`SELECT "项目"`,
		`EXAMINE "项目"`,
		`DELETE "项目"`,
		`SUBSCRIBE "项目"`,
		`UNSUBSCRIBE "项目"`,
		`STATUS "项目" (MESSAGES)`,
		`RENAME Work "项目"`,
		`RENAME "项目" Work2`,
		`GETQUOTAROOT "项目"`,
		"APPEND \"项目\" {3+}\r\nx\r\n",
	} {
		r := c.do(cmd)
		prefix(t, cmd, r.status(), `NO [CANNOT] Mailbox name "项目" is not valid modified UTF-7`)
	}
	c.ok("SELECT Work")
	for _, cmd := range []string{`COPY 1:* "项目"`, `MOVE 1:* "项目"`} {
		prefix(t, cmd, c.do(cmd).status(), `NO [CANNOT] Mailbox name "项目"`)
	}
	// imaptest's atoms script: every atom character, which happens to be
	// bad modified BASE64 after "&".
	atoms := "!#$&'+,-.0123456789:;<=>?@^_`|[}"
	prefix(t, "SELECT atoms", c.do("SELECT "+atoms).status(), `NO [CANNOT] Mailbox name "!#$&'+,-.0123456789:;<=>?@^_`+"`"+`|[}" is not valid modified UTF-7`)
	lines(t, "LIST atoms", c.ok(`LIST "" `+atoms+"%*"))
	lines(t, "LIST bad pattern", c.ok(`LIST "" "项*"`))
	lines(t, "LIST bad reference", c.ok(`LIST "项" "*"`))
	lines(t, "LSUB bad pattern", c.ok(`LSUB "" "项*"`))
	lines(t, "LIST one good pattern of two", c.ok(`LIST "" ("项*" "Work")`), `* LIST (\HasNoChildren) "/" "Work"`)
	// Bytes that are not UTF-8 either are shown escaped.
	prefix(t, "Latin-1", c.do("CREATE {4+}\r\ncaf\xe9").status(), `NO [CANNOT] Mailbox name "caf\xe9" is not valid modified UTF-7`)
	// None of this counts as a protocol error: the session goes on.
	c.ok("NOOP")

	// In UTF-8 mode the same names are fine (RFC 6855 §3).
	u := e.login(alice)
	u.ok("ENABLE UTF8=ACCEPT")
	u.ok(`CREATE "项目"`)
	lines(t, "LIST UTF-8", u.ok(`LIST "" "项*"`), `* LIST (\HasNoChildren) "/" "项目"`)
	prefix(t, "invalid UTF-8", u.do("CREATE {4+}\r\ncaf\xe9").status(), `NO [CANNOT] Mailbox name "caf\xe9" is not valid UTF-8`)
}
