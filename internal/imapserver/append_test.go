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
		`* 1 FETCH (FLAGS (\Recent \Seen) BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: one\r\n\r\n")+`)`,
		`* 2 FETCH (FLAGS (\Recent \Flagged $Work) BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: two\r\n\r\n")+`)`,
		`* 3 FETCH (FLAGS (\Recent) BODY[HEADER.FIELDS (SUBJECT)] `+literal("Subject: three\r\n\r\n")+`)`)
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

// TestCatenate checks CATENATE (RFC 4469): messages built from text and
// from messages or parts named by IMAP URLs (RFC 5092), copied octet for
// octet as FETCH BODY[section]<partial> returns them, without setting
// \Seen on the sources.
func TestCatenate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	plain := simpleMsg("plain", "Hello world body\r\n")
	uidPlain := e.deliver(plain, delivery{prefix: "Delivered-To: alice@example.test\r\n"})
	multi := "From: a@example.test\r\nSubject: multi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/x-second\r\n\r\nsecond part\r\n--b--\r\n"
	uidMulti := e.deliver(multi, delivery{})
	inbox := e.mailbox(alice, "INBOX")
	drafts := e.mailbox(alice, "Drafts")
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	c := e.login(alice)
	if !caps(t, c.ok("CAPABILITY").untagged[0])["CATENATE"] {
		t.Fatal("CATENATE not announced")
	}
	appendCat := func(tag, parts string) *resp {
		t.Helper()
		c.send(tag + " APPEND Drafts CATENATE (" + parts + ")\r\n")
		return c.read(tag)
	}
	text := func(s string) string { return fmt.Sprintf("TEXT {%d+}\r\n%s", len(s), s) }
	url := func(u string) string { return `URL "` + u + `"` }

	uv := fmt.Sprint(inbox.UIDValidity)
	cases := []struct {
		parts, want string
	}{
		{text("Subject: t\r\n\r\n") + " " + text("body\r\n"), "Subject: t\r\n\r\nbody\r\n"},
		// The whole message, as served: with its trace prefix.
		{url(fmt.Sprintf("/INBOX/;UID=%d", uidPlain)), "Delivered-To: alice@example.test\r\n" + plain},
		{url(fmt.Sprintf("/inbox;UIDVALIDITY=%s/;uid=%d/;section=HEADER", uv, uidMulti)) + " " + text("new body\r\n"),
			multi[:strings.Index(multi, "\r\n\r\n")+4] + "new body\r\n"},
		{text("Subject: parts\r\n\r\n") + " " + url(fmt.Sprintf("/INBOX/;UID=%d/;SECTION=2.MIME", uidMulti)) + " " +
			url(fmt.Sprintf("/INBOX/;UID=%d/;SECTION=2", uidMulti)),
			"Subject: parts\r\n\r\nContent-Type: text/x-second\r\n\r\nsecond part"},
		{text("X: 1\r\n\r\n") + " " + url(fmt.Sprintf("/INBOX/;UID=%d/;SECTION=TEXT/;PARTIAL=6.5", uidPlain)), "X: 1\r\n\r\nworld"},
		{text("X: 2\r\n\r\n") + " " + url(fmt.Sprintf("/INBOX/;UID=%d/;PARTIAL=100000.1", uidPlain)), "X: 2\r\n\r\n"},
		{text("X: 3\r\n\r\n") + " " + url(fmt.Sprintf("/INBOX/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)", uidMulti)), "X: 3\r\n\r\nSubject: multi\r\n\r\n"},
	}
	for i, cs := range cases {
		r := appendCat(fmt.Sprintf("c%d", i), cs.parts)
		eq(t, fmt.Sprintf("CATENATE %d", i), r.status(), fmt.Sprintf("OK [APPENDUID %d %d] APPEND completed", drafts.UIDValidity, i+1))
	}
	c.ok("EXAMINE Drafts")
	for i, cs := range cases {
		lines(t, fmt.Sprintf("message %d", i+1), c.ok(fmt.Sprintf("FETCH %d BODY.PEEK[]", i+1)),
			fmt.Sprintf("* %d FETCH (BODY[] %s)", i+1, literal(cs.want)))
	}
	c.ok("EXAMINE INBOX")
	lines(t, `sources without \Seen`, c.ok("FETCH 1:2 FLAGS"), "* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())")

	// URLs that name nothing: NO [BADURL url], nothing stored (RFC 4469
	// §4.1). The code carries the first URL that failed.
	for i, bad := range []string{
		fmt.Sprintf("/INBOX;UIDVALIDITY=12345/;UID=%d/;SECTION=HEADER", uidPlain),
		"/INBOX/;UID=999",
		fmt.Sprintf("/Nope/;UID=%d", uidPlain),
		fmt.Sprintf("/INBOX/;UID=%d/;SECTION=3", uidMulti),
		fmt.Sprintf("imap://alice@mail.example.test/INBOX/;UID=%d", uidPlain),
		"INBOX",
		"/INBOX/;UID=1/;SECTION=FOO",
	} {
		tag := fmt.Sprintf("b%d", i)
		r := appendCat(tag, text("X: 1\r\n\r\n")+" "+url(bad)+" "+url(fmt.Sprintf("/INBOX/;UID=%d", uidPlain)))
		prefix(t, "BADURL for "+bad, r.status(), "NO [BADURL "+bad+"] ")
	}
	// The same inside a MULTIAPPEND: the first message is not stored.
	c.send(fmt.Sprintf("m1 APPEND Drafts CATENATE (%s) CATENATE (%s)\r\n", text("X: ok\r\n\r\n"), url("/INBOX/;UID=999")))
	prefix(t, "BADURL in the second message", c.read("m1").status(), "NO [BADURL /INBOX/;UID=999]")
	lines(t, "nothing stored", c.ok("STATUS Drafts (MESSAGES)"), fmt.Sprintf(`* STATUS "Drafts" (MESSAGES %d)`, len(cases)))

	// A missing target mailbox is reported before any URL (TRYCREATE).
	c.send("t1 APPEND Nope CATENATE (" + url("/INBOX/;UID=999") + ")\r\n")
	prefix(t, "CATENATE to a missing mailbox", c.read("t1").status(), "NO [TRYCREATE]")

	// A mailbox only bob has is not alice's to read.
	e.deliver(simpleMsg("bob's", "secret\r\n"), delivery{user: bob})
	r := appendCat("o1", url("/INBOX/;UID=3"))
	prefix(t, "a UID of another account", r.status(), "NO [BADURL /INBOX/;UID=3]")
}

// TestCatenateTooBig checks that a message CATENATE puts together is held
// to APPENDLIMIT like a literal (RFC 4469 §4.2): NO [TOOBIG], nothing
// stored.
func TestCatenateTooBig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.AppendLimit = 300 })
	uid := e.deliver(simpleMsg("big", strings.Repeat("b", 100)), delivery{})
	c := e.login(alice)
	c.send(fmt.Sprintf("a1 APPEND Drafts CATENATE (URL \"/INBOX/;UID=%d\" URL \"/INBOX/;UID=%d\")\r\n", uid, uid))
	prefix(t, "CATENATE over APPENDLIMIT", c.read("a1").status(), "NO [TOOBIG]")
	c.send(fmt.Sprintf("a2 APPEND Drafts CATENATE (URL \"/INBOX/;UID=%d\")\r\n", uid))
	prefix(t, "CATENATE within APPENDLIMIT", c.read("a2").status(), "OK [APPENDUID")
	lines(t, "one message stored", c.ok("STATUS Drafts (MESSAGES)"), `* STATUS "Drafts" (MESSAGES 1)`)
}
