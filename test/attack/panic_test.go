package attack

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/testhook"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

// TestPanicInASessionKeepsTheServer (issue 11 item 7): nothing recovered
// from a panic, so one panic in any protocol handler killed every
// session. The test binary's hook (internal/testhook) makes a handler
// panic on a command carrying testhook.Marker. On SMTP, IMAP and POP3, a
// logged-in session makes its handler panic: it must get 421, * BYE or
// -ERR and be disconnected, while a session opened before it goes on and
// a new one logs in; the server logs each panic and keeps running.
func TestPanicInASessionKeepsTheServer(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.Submissions, imapsListener, testenv.POP3S},
		ExpectLog: []string{`panic recovered`},
	})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)
	srv.AddUser(t, "bob@example.test", "bob-secret-pw")

	smtpLogin := func(t *testing.T, user, pass string) *lineConn {
		c := dialTLS(t, srv.Addr(t, testenv.Submissions))
		c.readSMTP()
		c.send("EHLO client.test")
		c.readSMTP()
		c.send("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
		if r := c.readSMTP(); !strings.HasPrefix(r, "235 ") {
			t.Fatalf("AUTH as %s: %q", user, r)
		}
		return c
	}
	imapLogin := func(t *testing.T, user, pass string) *lineConn {
		c := dialTLS(t, srv.Addr(t, imapsListener))
		c.readLine()
		c.send(`a LOGIN "%s" "%s"`, user, pass)
		if r := c.readTagged("a"); !strings.HasPrefix(r, "a OK") {
			t.Fatalf("LOGIN as %s: %q", user, r)
		}
		c.send("b SELECT INBOX")
		if r := c.readTagged("b"); !strings.HasPrefix(r, "b OK") {
			t.Fatalf("SELECT: %q", r)
		}
		return c
	}
	pop3Login := func(t *testing.T, user, pass string) *lineConn {
		c := dialTLS(t, srv.Addr(t, testenv.POP3S))
		c.readLine()
		c.send("USER %s", user)
		c.readLine()
		c.send("PASS %s", pass)
		if r := c.readLine(); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("PASS for %s: %q", user, r)
		}
		return c
	}
	protocols := []struct {
		name  string
		login func(t *testing.T, user, pass string) *lineConn
		// panic makes c's handler panic and returns the answer.
		panic func(c *lineConn) string
		want  string
		// alive checks a session still works.
		alive func(t *testing.T, c *lineConn)
	}{
		{"smtp", smtpLogin,
			func(c *lineConn) string { c.send("NOOP %s", testhook.Marker); return c.readSMTP() },
			"421 4.3.0 ",
			func(t *testing.T, c *lineConn) {
				c.send("MAIL FROM:<>")
				if r := c.readSMTP(); !strings.HasPrefix(r, "250 ") {
					t.Errorf("MAIL on the other session: %q", r)
				}
				c.send("RSET")
				c.readSMTP()
			}},
		{"imap", imapLogin,
			func(c *lineConn) string { c.send("%s NOOP", testhook.Marker); return c.readLine() },
			"* BYE [SERVERBUG] ",
			func(t *testing.T, c *lineConn) {
				c.send("n NOOP")
				if r := c.readTagged("n"); !strings.HasPrefix(r, "n OK") {
					t.Errorf("NOOP on the other session: %q", r)
				}
			}},
		{"pop3", pop3Login,
			func(c *lineConn) string { c.send("NOOP %s", testhook.Marker); return c.readLine() },
			"-ERR [SYS/TEMP] ",
			func(t *testing.T, c *lineConn) {
				c.send("STAT")
				if r := c.readLine(); !strings.HasPrefix(r, "+OK") {
					t.Errorf("STAT on the other session: %q", r)
				}
			}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			other := p.login(t, "bob@example.test", "bob-secret-pw")
			victim := p.login(t, alice, alicePW)
			if got := p.panic(victim); !strings.HasPrefix(got, p.want) {
				t.Fatalf("answer to a command whose handler panics: %q, want %q...", got, p.want)
			}
			if l, err := victim.r.ReadString('\n'); err == nil {
				t.Errorf("the session went on after the panic: %q", l)
			}
			if !srv.Running() {
				t.Fatalf("the server exited after a panic in one %s session", p.name)
			}
			p.alive(t, other)
			// The account of the panicking session can log in again
			// (POP3: its maildrop lock was released).
			p.alive(t, p.login(t, alice, alicePW))
		})
	}
	if n := strings.Count(srv.LogTail(10000), `msg="panic recovered"`); n != len(protocols) {
		t.Errorf("the log shows %d recovered panics, want %d", n, len(protocols))
	}
}
