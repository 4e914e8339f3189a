package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// TestMultiAppend checks MULTIAPPEND (RFC 3502): several messages in one
// APPEND, each with its own flags and date, stored together and answered
// with one APPENDUID holding the UID set (RFC 4315 §3).
func TestMultiAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	inbox := e.mailbox(alice, "INBOX")
	c := e.login(alice)
	if !caps(t, c.ok("CAPABILITY").untagged[0])["MULTIAPPEND"] {
		t.Fatal("MULTIAPPEND not announced")
	}
	c.ok("SELECT INBOX")
	m1, m2, m3 := simpleMsg("one", "1\r\n"), simpleMsg("two", "2\r\n"), simpleMsg("three", "3\r\n")
	// A synchronising literal for each message after the first: the
	// server asks for each in turn (RFC 3502 §6.3.11).
	c.send(fmt.Sprintf("a1 APPEND INBOX (\\Seen) {%d+}\r\n%s (\\Flagged $Work) \"17-Jul-1996 02:44:25 -0700\" {%d}\r\n", len(m1), m1, len(m2)))
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation for the second message: %q", l)
	}
	c.send(fmt.Sprintf("%s {%d}\r\n", m2, len(m3)))
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation for the third message: %q", l)
	}
	c.send(m3 + "\r\n")
	r := c.read("a1")
	eq(t, "APPENDUID with a UID set", r.status(), fmt.Sprintf("OK [APPENDUID %d 1:3] APPEND completed", inbox.UIDValidity))
	if !r.has("* 3 EXISTS") {
		t.Fatalf("no EXISTS for the appended messages: %s", r)
	}
	lines(t, "FETCH the appended messages", c.ok("FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"),
		`* 1 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: one\r\n\r\n")+`)`,
		`* 2 FETCH (FLAGS (\Flagged $Work) BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: two\r\n\r\n")+`)`,
		`* 3 FETCH (FLAGS () BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: three\r\n\r\n")+`)`)
	prefix(t, "INTERNALDATE of the second", c.ok("FETCH 2 (INTERNALDATE)").untagged[0], `* 2 FETCH (INTERNALDATE "17-Jul-1996 `)

	// One APPEND of a single message still answers with one UID.
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s\r\n", len(m1), m1))
	eq(t, "APPENDUID of one", c.read("a2").status(), fmt.Sprintf("OK [APPENDUID %d 4] APPEND completed", inbox.UIDValidity))
}

// TestMultiAppendAllOrNothing checks that a MULTIAPPEND that fails
// stores none of its messages (RFC 3502 §6.3.11), whichever message or
// check fails.
func TestMultiAppendAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.AppendLimit = 300 })
	c := e.login(alice)
	small := simpleMsg("s", "s\r\n")
	count := func(what string) {
		t.Helper()
		lines(t, what, c.ok("STATUS Drafts (MESSAGES UIDNEXT)"), `* STATUS "Drafts" (MESSAGES 0 UIDNEXT 1)`)
	}

	// A missing mailbox: NO [TRYCREATE], after the whole command.
	c.send(fmt.Sprintf("a1 APPEND Nope {%d+}\r\n%s {%d+}\r\n%s\r\n", len(small), small, len(small), small))
	prefix(t, "MULTIAPPEND to a missing mailbox", c.read("a1").status(), "NO [TRYCREATE]")

	// The second message over APPENDLIMIT: refused before it is asked
	// for, and the first is not stored either.
	c.send(fmt.Sprintf("a2 APPEND Drafts {%d+}\r\n%s {301}\r\n", len(small), small))
	prefix(t, "second message over APPENDLIMIT", c.line(), "a2 NO [TOOBIG]")
	count("after a refused second message")

	// Each message fits, but together they exceed what one command may
	// hold (the APPENDLIMIT).
	m200 := simpleMsg("m", strings.Repeat("m", 200-len(simpleMsg("m", ""))))
	c.send(fmt.Sprintf("a3 APPEND Drafts {200+}\r\n%s {200}\r\n", m200))
	prefix(t, "messages together over the limit", c.line(), "a3 NO [TOOBIG]")
	count("after messages over the limit together")

	// A syntax error in the last message: BAD, nothing stored.
	c.send(fmt.Sprintf("a4 APPEND Drafts {%d+}\r\n%s (\\Bogus) {1+}\r\nx\r\n", len(small), small))
	prefix(t, "bad flag in the second message", c.read("a4").status(), "BAD")
	count("after a syntax error")

	// Over quota only with the second message: neither is stored.
	used, _, err := e.st.Quota(context.Background(), e.ids[alice])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetQuota(context.Background(), alice, used+int64(len(small))+10); err != nil {
		t.Fatal(err)
	}
	c.send(fmt.Sprintf("a5 APPEND Drafts {%d+}\r\n%s {%d+}\r\n%s\r\n", len(small), small, len(small), small))
	prefix(t, "MULTIAPPEND over quota", c.read("a5").status(), "NO [OVERQUOTA]")
	count("after a MULTIAPPEND over quota")
	c.send(fmt.Sprintf("a6 APPEND Drafts {%d+}\r\n%s\r\n", len(small), small))
	prefix(t, "one message within quota", c.read("a6").status(), "OK [APPENDUID")
}
