package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestAppendBinaryNUL checks that content appended with literal8 that
// holds NUL never goes out in a plain literal, where NUL is not allowed
// (RFC 9051 §4.3.1, §9): the part is stored base64 (RFC 3516 §4.4 allows
// changing its transfer encoding without loss), so BODY[] and BODY[1]
// are valid IMAP, BODYSTRUCTURE says BASE64, and BINARY[1] gives back the
// octets appended, in a literal8.
func TestAppendBinaryNUL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	content := "\x00-\xe4\r\n\r\n"
	msg := "From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + content
	c := e.login(alice)
	c.send(fmt.Sprintf("a1 APPEND INBOX ~{%d+}\r\n%s\r\n", len(msg), msg))
	prefix(t, "APPEND", c.read("a1").status(), "OK [APPENDUID")
	c.ok("SELECT INBOX")
	for _, item := range []string{"BODY.PEEK[]", "BODY.PEEK[1]", "RFC822", "BODY.PEEK[TEXT]"} {
		r := c.ok("FETCH 1 (" + item + ")")
		if strings.Contains(r.String(), "\x00") || strings.Contains(r.String(), "~{") {
			t.Fatalf("%s: NUL or literal8 in a BODY response:\n%q", item, r.String())
		}
	}
	lines(t, "BODY[1]", c.ok("FETCH 1 (BODY.PEEK[1])"), "* 1 FETCH (BODY[1] "+literal("AC3kDQoNCg==\r\n")+")")
	lines(t, "BINARY", c.ok("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])"),
		fmt.Sprintf("* 1 FETCH (BINARY.SIZE[1] %d BINARY[1] ~%s)", len(content), literal(content)))
	if r := c.ok("FETCH 1 (BODYSTRUCTURE)"); !strings.Contains(r.untagged[0], `"BASE64"`) {
		t.Fatalf("BODYSTRUCTURE: %s", r)
	}
	// The same through CATENATE (RFC 4469 §3 lets a TEXT part be
	// literal8).
	head := "Subject: cat\r\nContent-Transfer-Encoding: binary\r\n\r\n"
	c.send(fmt.Sprintf("a2 APPEND INBOX CATENATE (TEXT {%d+}\r\n%s TEXT ~{%d+}\r\n%s)\r\n", len(head), head, len(content), content))
	prefix(t, "CATENATE", c.read("a2").status(), "OK [APPENDUID")
	c.ok("NOOP")
	lines(t, "CATENATE BODY[1]", c.ok("FETCH 2 (BODY.PEEK[1])"), "* 2 FETCH (BODY[1] "+literal("AC3kDQoNCg==\r\n")+")")
	lines(t, "CATENATE BINARY[1]", c.ok("FETCH 2 (BINARY.PEEK[1])"), "* 2 FETCH (BINARY[1] ~"+literal(content)+")")

	// A message whose NUL was not fixed at APPEND (one delivered by SMTP)
	// still gets a valid literal: the NUL is sent as 0x80, the length
	// unchanged.
	raw := "Subject: nul\r\n\r\nbefore\x00after\r\n"
	e.deliver(raw, delivery{})
	c.ok("NOOP")
	lines(t, "BODY[] with NUL", c.ok("FETCH 3 (BODY.PEEK[])"), "* 3 FETCH (BODY[] "+literal(strings.ReplaceAll(raw, "\x00", "\x80"))+")")
	lines(t, "BINARY[] keeps it", c.ok("FETCH 3 (BINARY.PEEK[1])"), "* 3 FETCH (BINARY[1] ~"+literal("before\x00after\r\n")+")")
}
