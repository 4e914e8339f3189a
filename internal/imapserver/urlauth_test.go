package imapserver_test

import (
	"regexp"
	"strings"
	"testing"
)

var genURLAuthRe = regexp.MustCompile(`^\* GENURLAUTH "([^"]+)"$`)

// genURL asks c for the URLAUTH form of a rump URL and returns it.
func genURL(t *testing.T, c *client, rump string) string {
	t.Helper()
	r := c.ok(`GENURLAUTH "` + rump + `" INTERNAL`)
	if len(r.untagged) != 1 {
		t.Fatalf("GENURLAUTH %s: %s", rump, r)
	}
	m := genURLAuthRe.FindStringSubmatch(r.untagged[0])
	if m == nil || !strings.HasPrefix(m[1], rump+":internal:01") || len(m[1]) != len(rump)+len(":internal:")+66 {
		t.Fatalf("GENURLAUTH %s: %s", rump, r)
	}
	return m[1]
}

// TestURLAuth checks URLAUTH (RFC 4467): GENURLAUTH signs a rump URL
// of the user's own mailbox, URLFETCH returns its data to whom the
// access identifier admits and NIL otherwise (a changed token or URL,
// an expired URL, another user, a submit+ URL), and RESETKEY revokes.
func TestURLAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	multi := "From: a@example.test\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/x-second\r\n\r\nsecond part\r\n--b--\r\n"
	e.deliver(multi, delivery{})
	c := e.login(alice)
	if !caps(t, c.ok("CAPABILITY").untagged[0])["URLAUTH"] {
		t.Fatal("URLAUTH not announced")
	}
	base := "imap://alice@example.test/INBOX/;uid=1"
	mine := genURL(t, c, base+";urlauth=user+alice@example.test")
	anyUser := genURL(t, c, "imap://alice%40example.test@mail.example.test/INBOX/;UID=1/;SECTION=2;URLAUTH=authuser")
	submit := genURL(t, c, base+";urlauth=submit+alice@example.test")
	expired := genURL(t, c, base+";EXPIRE=2001-01-01T00:00:00Z;urlauth=anonymous")
	later := genURL(t, c, base+"/;partial=0.4;EXPIRE=2999-01-01T00:00:00Z;urlauth=anonymous")

	lines(t, "URLFETCH of our own URL", c.ok(`URLFETCH "`+mine+`"`), `* URLFETCH "`+mine+`" `+literal(multi))
	lines(t, "URLFETCH of several", c.ok(`URLFETCH "`+anyUser+`" "`+later+`" "`+expired+`" "`+submit+`"`),
		`* URLFETCH "`+anyUser+`" `+literal("second part")+` "`+later+`" `+literal("From")+` "`+expired+`" NIL "`+submit+`" NIL`)
	bad := strings.Replace(mine, ":internal:01", ":internal:00", 1)
	otherUID := strings.Replace(mine, "uid=1", "uid=2", 1)
	lines(t, "URLFETCH of altered URLs", c.ok(`URLFETCH "`+bad+`" "`+otherUID+`" "/INBOX/;UID=1" "imap://x@y/INBOX/;uid=1;urlauth=anonymous"`),
		`* URLFETCH "`+bad+`" NIL "`+otherUID+`" NIL "/INBOX/;UID=1" NIL "imap://x@y/INBOX/;uid=1;urlauth=anonymous" NIL`)

	// Another user: authuser admits, user+alice does not.
	b := e.login(bob)
	lines(t, "bob's URLFETCH", b.ok(`URLFETCH "`+anyUser+`" "`+mine+`"`),
		`* URLFETCH "`+anyUser+`" `+literal("second part")+` "`+mine+`" NIL`)

	// GENURLAUTH refuses with BAD what it must not sign (RFC 4467 §7).
	for _, rump := range []string{
		"imap://bob@example.test/INBOX/;uid=1;urlauth=anonymous", // not our key table
		base, // no access identifier
		"imap://alice@example.test/Nope/;uid=1;urlauth=anonymous",
		"imap://alice@example.test/INBOX;UIDVALIDITY=1/;uid=1;urlauth=anonymous",
		mine,                              // already signed
		"/INBOX/;uid=1;urlauth=anonymous", // relative
	} {
		c.expectStatus(`GENURLAUTH "`+rump+`" INTERNAL`, "BAD")
	}
	c.expectStatus(`GENURLAUTH "`+base+`;urlauth=anonymous" XSAMPLE`, "BAD")

	// RESETKEY of a mailbox revokes its URLs; a new URL works.
	c.expectStatus("RESETKEY Nope", "NO")
	c.expectStatus("RESETKEY INBOX XSAMPLE", "NO")
	eq(t, "RESETKEY INBOX", c.ok("RESETKEY INBOX").status(), "OK [URLMECH INTERNAL] Key reset")
	lines(t, "URLFETCH after RESETKEY", b.ok(`URLFETCH "`+anyUser+`"`), `* URLFETCH "`+anyUser+`" NIL`)
	fresh := genURL(t, c, base+";urlauth=authuser")
	lines(t, "URLFETCH of a new URL", b.ok(`URLFETCH "`+fresh+`"`), `* URLFETCH "`+fresh+`" `+literal(multi))
	// RESETKEY alone removes every key.
	c.ok("RESETKEY")
	lines(t, "URLFETCH after RESETKEY of all", b.ok(`URLFETCH "`+fresh+`"`), `* URLFETCH "`+fresh+`" NIL`)
}
