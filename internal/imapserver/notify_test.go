package imapserver_test

import (
	"bufio"
	"compress/flate"
	"fmt"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// appendMsg appends a small message to mailbox through c.
func appendMsg(t *testing.T, c *client, mailbox, subject string) {
	t.Helper()
	msg := simpleMsg(subject, "body\r\n")
	tag := c.nextTag()
	c.send(fmt.Sprintf("%s APPEND %s {%d+}\r\n%s\r\n", tag, mailbox, len(msg), msg))
	prefix(t, "APPEND", c.read(tag).status(), "OK")
}

// TestNotifyOtherMailboxes checks NOTIFY for mailboxes other than the
// selected one (RFC 5465 §3.1, §5.1–§5.3): STATUS with the items each
// event asks for, now (SET STATUS) and as changes happen while no
// command runs, nothing for this session's own changes or for mailboxes
// not asked for, and nothing after NOTIFY NONE.
func TestNotifyOtherMailboxes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	arch := e.mailbox(alice, "Archive")
	c := e.login(alice)
	if !caps(t, c.ok("CAPABILITY").untagged[0])["NOTIFY"] {
		t.Fatal("NOTIFY not announced")
	}
	lines(t, "NOTIFY SET STATUS", c.ok("NOTIFY SET STATUS (mailboxes Archive (MessageNew MessageExpunge FlagChange))"),
		fmt.Sprintf(`* STATUS "Archive" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %d HIGHESTMODSEQ %d)`, arch.UIDValidity, arch.HighestModSeq))
	o := e.login(alice)
	// Pushed while c sends nothing (§3.1: the client listens all the time).
	appendMsg(t, o, "Archive", "one")
	eq(t, "STATUS after a new message", c.line(), `* STATUS "Archive" (MESSAGES 1 UIDNEXT 2)`)
	o.ok("SELECT Archive")
	o.ok(`STORE 1 +FLAGS (\Seen)`)
	eq(t, "STATUS after a flag change", c.line(), `* STATUS "Archive" (UNSEEN 0)`)
	c.ok("ENABLE CONDSTORE")
	o.ok(`STORE 1 +FLAGS (\Flagged)`)
	ms := e.modseqs(alice, "Archive")
	eq(t, "STATUS after a flag change with CONDSTORE", c.line(),
		fmt.Sprintf(`* STATUS "Archive" (UIDVALIDITY %d HIGHESTMODSEQ %d)`, arch.UIDValidity, ms[1]))
	o.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	prefix(t, "STATUS after a flag change", c.line(), `* STATUS "Archive" (UIDVALIDITY `)
	o.ok("EXPUNGE")
	// HIGHESTMODSEQ comes with QRESYNC only (§5.3).
	eq(t, "STATUS after an expunge", c.line(), `* STATUS "Archive" (MESSAGES 0 UIDNEXT 2)`)
	c.ok("ENABLE QRESYNC")
	o.ok("UNSELECT")
	appendMsg(t, o, "Archive", "two")
	eq(t, "STATUS after a new message with CONDSTORE", c.line(),
		fmt.Sprintf(`* STATUS "Archive" (MESSAGES 1 UIDNEXT 3 HIGHESTMODSEQ %d)`, e.mailbox(alice, "Archive").HighestModSeq))

	// Not watched: Trash. Our own APPEND to Archive: not reported (§5).
	appendMsg(t, o, "Trash", "elsewhere")
	appendMsg(t, c, "Archive", "mine")
	r := c.ok("NOOP")
	if len(r.prefixed("* STATUS")) != 0 {
		t.Fatalf("STATUS for an unwatched mailbox or an own change: %s", r)
	}

	// Unsupported events: NO [BADEVENT] with what is supported (§3.1);
	// only message events with SELECTED (§6.1): BAD.
	c.expectStatus("NOTIFY SET (personal (AnnotationChange))", "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]")
	c.expectStatus("NOTIFY SET (selected (MailboxName))", "BAD")
	c.expectStatus("NOTIFY SET (selected (MessageNew)) (selected-delayed (MessageNew))", "BAD")

	c.ok("NOTIFY NONE")
	appendMsg(t, o, "Archive", "after none")
	r = c.ok("NOOP")
	if len(r.prefixed("* STATUS")) != 0 {
		t.Fatalf("STATUS after NOTIFY NONE: %s", r)
	}
}

// TestNotifySelected checks NOTIFY for the selected mailbox (RFC 5465
// §5.1–§5.3, §6.1): EXISTS and the FETCH asked for with MessageNew,
// flag changes with their UID, and expunges, all while no command runs;
// with SELECTED-DELAYED expunges wait for a command.
func TestNotifySelected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("first", "1\r\n"), delivery{})
	c := e.login(alice)
	c.ok("ENABLE IMAP4rev2") // no \Recent
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange))")
	e.deliver(simpleMsg("second", "2\r\n"), delivery{})
	eq(t, "EXISTS", c.line(), "* 2 EXISTS")
	eq(t, "FETCH of the new message", c.line(), "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] "+literal("Subject: second\r\n\r\n")+")")
	o := e.login(alice)
	o.ok("SELECT INBOX")
	o.ok(`STORE 2 +FLAGS (\Seen)`)
	eq(t, "flag change", c.line(), `* 2 FETCH (FLAGS (\Seen) UID 2)`)
	o.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	c.line() // the flag change of message 1
	o.ok("EXPUNGE")
	eq(t, "expunge", c.line(), "* 1 EXPUNGE")
	lines(t, "nothing more", c.ok("NOOP"))
	// Our own APPEND: EXISTS, but no FETCH of it (§5.2).
	msg := simpleMsg("mine", "3\r\n")
	c.send(fmt.Sprintf("a1 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	lines(t, "own APPEND", c.read("a1"), "* 2 EXISTS")

	// SELECTED-DELAYED: an expunge waits for a command that may report it.
	c.ok("NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
	o.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	o.ok("EXPUNGE")
	e.deliver(simpleMsg("third", "4\r\n"), delivery{})
	r := c.ok("NOOP")
	if !r.has("* 1 EXPUNGE") || !r.has("* 2 EXISTS") {
		t.Fatalf("SELECTED-DELAYED: the expunge and the arrival at NOOP:\n%s", r)
	}
}

// TestNotifyMailboxList checks MailboxName and SubscriptionChange (RFC
// 5465 §5.4, §5.5): LIST responses for another session's CREATE,
// SUBSCRIBE, RENAME (OLDNAME) and DELETE (\NonExistent), none for our
// own.
func TestNotifyMailboxList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	c.ok("NOTIFY SET (personal (MailboxName SubscriptionChange))")
	o := e.login(alice)
	o.ok("CREATE Work")
	eq(t, "CREATE", c.line(), `* LIST (\HasNoChildren) "/" "Work"`)
	o.ok("SUBSCRIBE Work")
	eq(t, "SUBSCRIBE", c.line(), `* LIST (\HasNoChildren \Subscribed) "/" "Work"`)
	o.ok("RENAME Work Play")
	eq(t, "RENAME", c.line(), `* LIST (\HasNoChildren \Subscribed) "/" "Play" ("OLDNAME" ("Work"))`)
	o.ok("DELETE Play")
	eq(t, "DELETE", c.line(), `* LIST (\NonExistent \Subscribed) "/" "Play"`)
	o.ok("CREATE Work/Sub")
	eq(t, "CREATE of a parent", c.line(), `* LIST (\HasChildren) "/" "Work"`)
	eq(t, "CREATE of a child", c.line(), `* LIST (\HasNoChildren) "/" "Work/Sub"`)
	eq(t, "its parent", c.line(), `* LIST (\HasChildren) "/" "Work"`)
	c.ok("CREATE Mine")
	c.ok("SUBSCRIBE Mine")
	r := c.ok("NOOP")
	if len(r.prefixed("* LIST")) != 0 {
		t.Fatalf("LIST for our own CREATE/SUBSCRIBE: %s", r)
	}
}

// TestNotifyOverflow checks NOTIFICATIONOVERFLOW (RFC 5465 §5.8): with
// more changes waiting than the server keeps, the client is told and
// notifications stop, as after NOTIFY NONE.
func TestNotifyOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.NotifyLimit = 3 })
	c := e.login(alice)
	c.ok("NOTIFY SET (personal (MessageNew MessageExpunge))")
	// While c's session waits for a literal, no notification goes out:
	// the changes pile up.
	c.send("a1 APPEND Drafts {1}\r\n")
	prefix(t, "continuation", c.line(), "+ ")
	o := e.login(alice)
	for i := 0; i < 5; i++ {
		appendMsg(t, o, "Archive", fmt.Sprint("m", i))
	}
	c.send("x\r\n")
	r := c.read("a1")
	if len(r.prefixed("* OK [NOTIFICATIONOVERFLOW]")) != 1 || len(r.prefixed("* STATUS")) != 0 {
		if !strings.HasPrefix(c.line(), "* OK [NOTIFICATIONOVERFLOW]") {
			t.Fatalf("no NOTIFICATIONOVERFLOW: %s", r)
		}
	}
	appendMsg(t, o, "Archive", "after")
	r = c.ok("NOOP")
	if len(r.prefixed("* STATUS")) != 0 {
		t.Fatalf("STATUS after an overflow: %s", r)
	}
}

// TestNotifyCompressed checks that notifications between commands reach
// a COMPRESS=DEFLATE session too, and that its next command still reads:
// the wait for that command is never cut short under the inflater.
func TestNotifyCompressed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	c.ok("COMPRESS DEFLATE")
	fw, err := flate.NewWriter(c.conn, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	c.r = bufio.NewReader(flate.NewReader(c.r))
	c.w = fw
	c.flush = fw.Flush
	c.ok("NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))")
	o := e.login(alice)
	for i := 1; i <= 2; i++ {
		appendMsg(t, o, "Archive", fmt.Sprint("m", i))
		eq(t, "STATUS over DEFLATE", c.line(), fmt.Sprintf(`* STATUS "Archive" (MESSAGES %d UIDNEXT %d)`, i, i+1))
	}
	lines(t, "STATUS command after notifications", c.ok("STATUS Archive (MESSAGES)"), `* STATUS "Archive" (MESSAGES 2)`)
}
