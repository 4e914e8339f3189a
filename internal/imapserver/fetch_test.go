package imapserver_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// The multipart/mixed fixture: a text part, a base64 attachment and a
// nested message/rfc822.
const (
	mixedHeader = "From: Alice Example <alice@example.test>\r\n" +
		"To: Bob <bob@example.test>\r\n" +
		"Subject: Mixed\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <mixed@example.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n" +
		"\r\n"
	part1Header = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	part1Body   = "Hello part one.\r\nSecond line."
	part2Header = "Content-Type: application/octet-stream; name=\"a.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n"
	part3Header = "Content-Type: message/rfc822\r\n\r\n"
	innerHeader = "From: Carol <carol@example.test>\r\nSubject: Inner\r\n\r\n"
	innerBody   = "Inner body."
	tracePrefix = "Return-Path: <alice@example.test>\r\nDelivered-To: bob@example.test\r\n"
)

// attachment holds NUL and 8-bit octets, which BINARY must return as
// they are.
var attachment = "binary\x00data\xff\xfe end"

func mixedMessage() (raw, part2Body string) {
	part2Body = base64.StdEncoding.EncodeToString([]byte(attachment))
	raw = mixedHeader + "preamble\r\n" +
		"--BOUND\r\n" + part1Header + part1Body + "\r\n" +
		"--BOUND\r\n" + part2Header + part2Body + "\r\n" +
		"--BOUND\r\n" + part3Header + innerHeader + innerBody + "\r\n" +
		"--BOUND--\r\n"
	return raw, part2Body
}

func TestFetchItems(t *testing.T) {
	t.Parallel()
	// With the structure parsed at delivery, and without (it is then
	// parsed, over the trace fields too, at the first FETCH and cached;
	// the second round uses the cache).
	for _, noMIME := range []bool{false, true} {
		t.Run(fmt.Sprint("noMIME=", noMIME), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			raw, _ := mixedMessage()
			e.deliver(raw, delivery{prefix: tracePrefix, noMIME: noMIME})
			e.takeRecent(alice, "INBOX") // \Recent is not what this tests
			c := e.login(alice)
			c.ok("SELECT INBOX")
			for range 2 {
				fetchItems(t, c)
				c.ok(`STORE 1 -FLAGS.SILENT (\Seen)`)
			}
		})
	}
}

func fetchItems(t *testing.T, c *client) {
	raw, part2Body := mixedMessage()
	full := tracePrefix + raw

	// RFC822.SIZE is the size of BODY[], trace fields included.
	lines(t, "RFC822.SIZE and BODY[]", c.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[])"),
		fmt.Sprintf("* 1 FETCH (RFC822.SIZE %d BODY[] %s)", len(full), literal(full)))

	env := `("Mon, 02 Jan 2006 15:04:05 +0000" "Mixed" (("Alice Example" NIL "alice" "example.test")) ` +
		`(("Alice Example" NIL "alice" "example.test")) (("Alice Example" NIL "alice" "example.test")) ` +
		`(("Bob" NIL "bob" "example.test")) NIL NIL NIL "<mixed@example.test>")`
	lines(t, "ENVELOPE", c.ok("FETCH 1 ENVELOPE"), "* 1 FETCH (ENVELOPE "+env+")")

	innerEnv := `(NIL "Inner" (("Carol" NIL "carol" "example.test")) (("Carol" NIL "carol" "example.test")) ` +
		`(("Carol" NIL "carol" "example.test")) NIL NIL NIL NIL NIL)`
	inner := innerHeader + innerBody
	// RFC 9051 §7.5.2 BODYSTRUCTURE, extension data included.
	bs := fmt.Sprintf(`(("text" "plain" ("charset" "utf-8") NIL NIL "7BIT" %d 2 NIL NIL NIL NIL)`+
		`("application" "octet-stream" ("name" "a.bin") NIL NIL "BASE64" %d NIL ("attachment" ("filename" "a.bin")) NIL NIL)`+
		`("message" "rfc822" NIL NIL NIL "7BIT" %d %s ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" %d 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)`+
		` "mixed" ("boundary" "BOUND") NIL NIL NIL)`,
		len(part1Body), len(part2Body), len(inner), innerEnv, len(innerBody))
	lines(t, "BODYSTRUCTURE", c.ok("FETCH 1 BODYSTRUCTURE"), "* 1 FETCH (BODYSTRUCTURE "+bs+")")
	body := fmt.Sprintf(`(("text" "plain" ("charset" "utf-8") NIL NIL "7BIT" %d 2)`+
		`("application" "octet-stream" ("name" "a.bin") NIL NIL "BASE64" %d)`+
		`("message" "rfc822" NIL NIL NIL "7BIT" %d %s ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" %d 1) 4)`+
		` "mixed")`,
		len(part1Body), len(part2Body), len(inner), innerEnv, len(innerBody))
	lines(t, "BODY", c.ok("FETCH 1 BODY"), "* 1 FETCH (BODY "+body+")")

	// Sections (RFC 9051 §6.4.5).
	header := tracePrefix + mixedHeader
	sections := []struct{ item, label, want string }{
		{"BODY.PEEK[HEADER]", "BODY[HEADER]", header},
		{"BODY.PEEK[TEXT]", "BODY[TEXT]", strings.TrimPrefix(raw, mixedHeader)},
		{"BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]", "BODY[HEADER.FIELDS (SUBJECT FROM)]",
			"From: Alice Example <alice@example.test>\r\nSubject: Mixed\r\n\r\n"},
		{"BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM Content-Type MIME-Version Date Return-Path)]",
			"BODY[HEADER.FIELDS.NOT (SUBJECT FROM Content-Type MIME-Version Date Return-Path)]",
			"Delivered-To: bob@example.test\r\nTo: Bob <bob@example.test>\r\nMessage-ID: <mixed@example.test>\r\n\r\n"},
		{"BODY.PEEK[1]", "BODY[1]", part1Body},
		{"BODY.PEEK[1.MIME]", "BODY[1.MIME]", part1Header},
		{"BODY.PEEK[2]", "BODY[2]", part2Body},
		{"BODY.PEEK[2.MIME]", "BODY[2.MIME]", part2Header},
		{"BODY.PEEK[3]", "BODY[3]", inner},
		{"BODY.PEEK[3.HEADER]", "BODY[3.HEADER]", innerHeader},
		{"BODY.PEEK[3.TEXT]", "BODY[3.TEXT]", innerBody},
		{"BODY.PEEK[3.1]", "BODY[3.1]", innerBody},
		{"BODY.PEEK[3.HEADER.FIELDS (Subject)]", "BODY[3.HEADER.FIELDS (Subject)]", "Subject: Inner\r\n\r\n"},
		{"BODY.PEEK[4]", "BODY[4]", ""},
		{"BODY.PEEK[]<0.10>", "BODY[]<0>", full[:10]},
		{"BODY.PEEK[]<10.20>", "BODY[]<10>", full[10:30]},
		{"BODY.PEEK[1]<6.100>", "BODY[1]<6>", part1Body[6:]},
		{"BODY.PEEK[]<100000.10>", "BODY[]<100000>", ""},
		{"RFC822.HEADER", "RFC822.HEADER", header},
	}
	for _, s := range sections {
		lines(t, s.item, c.ok("FETCH 1 ("+s.item+")"), "* 1 FETCH ("+s.label+" "+literal(s.want)+")")
	}

	// BINARY (RFC 3516): decoded content as a literal8, and its size.
	lines(t, "BINARY[2]", c.ok("FETCH 1 (BINARY.PEEK[2])"), "* 1 FETCH (BINARY[2] ~"+literal(attachment)+")")
	lines(t, "BINARY.SIZE[2]", c.ok("FETCH 1 (BINARY.SIZE[2])"), fmt.Sprintf("* 1 FETCH (BINARY.SIZE[2] %d)", len(attachment)))
	lines(t, "BINARY.SIZE[1]", c.ok("FETCH 1 (BINARY.SIZE[1])"), fmt.Sprintf("* 1 FETCH (BINARY.SIZE[1] %d)", len(part1Body)))
	lines(t, "BINARY[2]<7.4>", c.ok("FETCH 1 (BINARY.PEEK[2]<7.4>)"), "* 1 FETCH (BINARY[2]<7> ~"+literal(attachment[7:11])+")")

	// Nothing above set \Seen.
	lines(t, "FLAGS after PEEK", c.ok("FETCH 1 (FLAGS)"), "* 1 FETCH (FLAGS ())")
	// BODY[] sets \Seen and the response carries the new FLAGS
	// (RFC 9051 §6.4.5).
	lines(t, "BODY[1] sets \\Seen", c.ok("FETCH 1 (BODY[1])"), "* 1 FETCH (BODY[1] "+literal(part1Body)+` FLAGS (\Seen))`)
	lines(t, "BODY[1] again", c.ok("FETCH 1 (BODY[1])"), "* 1 FETCH (BODY[1] "+literal(part1Body)+")")
	lines(t, "UID FETCH", c.ok("UID FETCH 1 (FLAGS)"), `* 1 FETCH (FLAGS (\Seen) UID 1)`)
}

func TestFetchSetsSeen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 4 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	e.takeRecent(alice, "INBOX") // \Recent is not what this tests
	c := e.login(alice)
	c.ok("SELECT INBOX")
	m4 := simpleMsg("M3", "body")
	lines(t, "BODY.PEEK[]", c.ok("FETCH 4 BODY.PEEK[]"), "* 4 FETCH (BODY[] "+literal(m4)+")")
	// FLAGS asked for shows the flags as BODY[] left them, once.
	lines(t, "BODY[]", c.ok("FETCH 4 (FLAGS BODY[])"), "* 4 FETCH (FLAGS (\\Seen) BODY[] "+literal(m4)+`)`)
	lines(t, "after BODY[]", c.ok("FETCH 4 FLAGS"), `* 4 FETCH (FLAGS (\Seen))`)
	lines(t, "RFC822.TEXT", c.ok("FETCH 1 RFC822.TEXT"), "* 1 FETCH (RFC822.TEXT "+literal("body")+` FLAGS (\Seen))`)
	lines(t, "BINARY", c.ok("FETCH 2 BINARY[1]"), "* 2 FETCH (BINARY[1] ~"+literal("body")+` FLAGS (\Seen))`)
	lines(t, "BODY[HEADER.FIELDS]", c.ok("UID FETCH 3 BODY[HEADER.FIELDS (X-NONE)]"),
		"* 3 FETCH (BODY[HEADER.FIELDS (X-NONE)] "+literal("\r\n")+` UID 3 FLAGS (\Seen))`)
	lines(t, "all seen", c.ok("SEARCH UNSEEN"), "* SEARCH")
}

func TestFetchSequences(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	// An empty mailbox: 1:* matches nothing.
	r := c.ok("SELECT INBOX")
	if !r.has("* 0 EXISTS") {
		t.Fatalf("SELECT: %s", r)
	}
	lines(t, "FETCH 1:* on empty mailbox", c.ok("FETCH 1:* (FLAGS)"))
	lines(t, "UID FETCH 1:* on empty mailbox", c.ok("UID FETCH 1:* (FLAGS)"))

	for i := range 4 {
		e.deliver(simpleMsg(fmt.Sprint("M", i), "body"), delivery{})
	}
	lines(t, "NOOP", c.ok("NOOP"), "* 4 EXISTS", "* 4 RECENT")
	lines(t, "FETCH 3:*", c.ok("FETCH 3:* (UID)"), "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	lines(t, "FETCH *", c.ok("FETCH * (UID)"), "* 4 FETCH (UID 4)")
	lines(t, "FETCH *:3", c.ok("FETCH *:3 UID"), "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	lines(t, "FETCH 1,3", c.ok("FETCH 1,3 (UID)"), "* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)")
	// UID ranges beyond the largest UID still match it (RFC 9051 §6.4.9).
	lines(t, "UID FETCH 9:*", c.ok("UID FETCH 9:* (FLAGS)"), `* 4 FETCH (FLAGS (\Recent) UID 4)`)
	lines(t, "UID FETCH 9", c.ok("UID FETCH 9 (FLAGS)"))
	// Macros.
	r = c.ok("FETCH 1 FAST")
	if len(r.untagged) != 1 || !strings.HasPrefix(r.untagged[0], `* 1 FETCH (FLAGS (\Recent) INTERNALDATE "`) || !strings.Contains(r.untagged[0], " RFC822.SIZE ") {
		t.Fatalf("FETCH FAST: %s", r)
	}
	c.expectStatus("FETCH 1 (BODY[5.FOO])", "BAD")
	c.expectStatus("FETCH 0 (FLAGS)", "BAD")

	// MODSEQ (RFC 7162 §3.1.4).
	ms, err := e.st.MessageRange(context.Background(), e.mailbox(alice, "INBOX").ID, 2, 2, false)
	if err != nil || len(ms) != 1 {
		t.Fatal(err)
	}
	// The first FETCH of MODSEQ enables CONDSTORE (RFC 7162 §3.1).
	lines(t, "MODSEQ", c.ok("FETCH 2 (MODSEQ)"),
		fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", e.mailbox(alice, "INBOX").HighestModSeq),
		fmt.Sprintf("* 2 FETCH (MODSEQ (%d))", ms[0].ModSeq))
}
