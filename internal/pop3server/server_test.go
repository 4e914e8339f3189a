package pop3server

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

func plain(authz, authc, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + authc + "\x00" + pass))
}

func TestGreetingAndQuit(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dial()
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off")
	c.expectEOF()

	c = env.dialTLS()
	c.expect("quit", "+OK pop.example.com Yizhan POP3 server signing off")
	c.expectEOF()
}

func TestCapa(t *testing.T) {
	env := newTestEnv(t, nil)
	plainCaps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION Yizhan"}
	tlsCaps := []string{"TOP", "UIDL", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION Yizhan"}
	txCaps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION Yizhan"}

	c := env.dial()
	c.expect("CAPA", "+OK Capability list follows")
	if got := c.multiLines(); !slices.Equal(got, plainCaps) {
		t.Errorf("CAPA before TLS = %q, want %q", got, plainCaps)
	}
	c.stls()
	c.expect("capa", "+OK Capability list follows")
	if got := c.multiLines(); !slices.Equal(got, tlsCaps) {
		t.Errorf("CAPA after STLS = %q, want %q", got, tlsCaps)
	}
	c.expectPrefix("CAPA extra", "-ERR CAPA takes no arguments")

	c = env.dialTLS()
	c.expect("CAPA", "+OK Capability list follows")
	if got := c.multiLines(); !slices.Equal(got, tlsCaps) {
		t.Errorf("CAPA on pop3s = %q, want %q", got, tlsCaps)
	}
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.expect("CAPA", "+OK Capability list follows")
	if got := c.multiLines(); !slices.Equal(got, txCaps) {
		t.Errorf("CAPA in TRANSACTION = %q, want %q", got, txCaps)
	}
}

// loginCmd sends USER and returns the PASS command, for expectPrefix.
func (c *client) loginCmd(user, pass string) string {
	c.t.Helper()
	c.expect("USER "+user, "+OK Send PASS")
	return "PASS " + pass
}

func TestPlaintextLoginRefused(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dial()
	for _, cmd := range []string{
		"USER alice@example.com",
		"PASS secret pw",
		"AUTH",
		"AUTH PLAIN",
		"auth plain " + plain("", "alice@example.com", "secret pw"),
	} {
		c.expect(cmd, replyPlaintextRefused)
	}
	if n, _, _ := env.backend.stats(); n != 0 {
		t.Errorf("backend asked to authenticate %d times over plaintext", n)
	}
	c.expect("STAT", "-ERR STAT not allowed before login")
	// After STLS the same connection may log in.
	c.stls()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 0 messages")
	if !strings.Contains(env.logs.String(), "USER before TLS") {
		t.Error("refusal not logged")
	}
}

func TestSTLSDiscardsPipelinedInput(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dial()
	// An attacker in the path appends a command after STLS; it must not
	// run inside the TLS session.
	if _, err := io.WriteString(c.conn, "STLS\r\nUSER mallory\r\nNOOP\r\n"); err != nil {
		t.Fatal(err)
	}
	if l := c.line(); l != "+OK Begin TLS negotiation" {
		t.Fatalf("STLS reply %q", l)
	}
	c.handshake()
	// Had "USER mallory" been kept, PASS would be accepted as its
	// continuation; had NOOP been kept, its +OK would come first.
	c.expect("PASS hunter2", "-ERR Send USER first")
	c.expect("STLS", "-ERR Already using TLS")
	c.expectPrefix(c.loginCmd("bob@example.com", "hunter2"), "+OK")
	c.expect("STLS", "-ERR STLS not allowed after login")
	if !strings.Contains(env.logs.String(), "discarding input pipelined before the TLS handshake") {
		t.Error("discarded input not logged")
	}

	t2 := env.dialTLS()
	t2.expect("STLS", "-ERR Already using TLS")
}

func TestUserPass(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dialTLS()
	c.expect("PASS secret pw", "-ERR Send USER first")
	c.expect("USER", "-ERR USER needs exactly one argument, the user name")
	c.expect("USER a b", "-ERR USER needs exactly one argument, the user name")
	c.expect("USER alice@example.com", "+OK Send PASS")
	c.expect("PASS", "-ERR PASS needs a password")
	c.expect("PASS wrong", replyAuthFailed)
	// A failed PASS forgets USER (RFC 1939 §7).
	c.expect("PASS secret pw", "-ERR Send USER first")
	// The password is the rest of the line, spaces included.
	c.expect("User alice@example.com", "+OK Send PASS")
	c.expect("pass secret pw", "+OK Maildrop has 0 messages (0 octets)")
	c.expect("USER x", "-ERR USER not allowed after login")
	c.expect("PASS x", "-ERR PASS not allowed after login")
	c.expect("AUTH PLAIN", "-ERR AUTH not allowed after login")
}

func TestAuthPlain(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dialTLS()

	// Mechanism listing without an argument.
	c.expect("AUTH", "+OK Supported mechanisms follow")
	if got := c.multiLines(); !slices.Equal(got, []string{"PLAIN"}) {
		t.Errorf("AUTH list = %q", got)
	}
	c.expect("AUTH CRAM-MD5", "-ERR Unsupported SASL mechanism")
	c.expect("AUTH PLAIN a b", "-ERR AUTH takes a mechanism and an optional initial response")
	c.expect("AUTH PLAIN !!!", "-ERR Invalid base64 in SASL response")
	c.expect("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("no-nuls")), "-ERR Malformed PLAIN response")
	c.expect("AUTH PLAIN =", "-ERR Malformed PLAIN response")
	c.expect("AUTH PLAIN "+plain("", "alice@example.com", "bad"), replyAuthFailed)
	c.expect("AUTH PLAIN "+plain("bob@example.com", "alice@example.com", "secret pw"), replyAuthFailed)

	// Continuation, cancelled.
	c.expect("AUTH PLAIN", "+ ")
	c.expect("*", "-ERR AUTH cancelled")
	// Continuation with bad base64.
	c.expect("AUTH PLAIN", "+ ")
	c.expect("%%%", "-ERR Invalid base64 in SASL response")
	// Continuation, successful.
	c.expect("AUTH PLAIN", "+ ")
	c.expect(plain("", "alice@example.com", "secret pw"), "+OK Maildrop has 0 messages (0 octets)")
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (0 messages left)")

	// Initial response, with authzid equal to authcid, lower-case mechanism.
	c = env.dialTLS()
	c.expect("auth plain "+plain("alice@example.com", "alice@example.com", "secret pw"), "+OK Maildrop has 0 messages (0 octets)")
}

// Failures are answered late, progressively; a login guessed at too often
// gets -ERR [SYS/TEMP] without asking the back end, whatever the command
// or connection, until the penalty ends; other accounts from the same
// address are not affected.
func TestAuthThrottle(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dialTLS()
	for i := range testAuthFailures {
		if i%2 == 0 {
			c.expect("AUTH PLAIN "+plain("", "alice@example.com", fmt.Sprint("guess", i)), replyAuthFailed)
		} else {
			c.expect("USER alice@example.com", "+OK Send PASS")
			c.expect(fmt.Sprint("PASS guess", i), replyAuthFailed)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if got := env.clock.Slept(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failure replies delayed %v, want %v", got, want)
	}
	calls, _, _ := env.backend.stats()
	c.expect("AUTH PLAIN "+plain("", "alice@example.com", "secret pw"), replyThrottled)
	c2 := env.dialTLS()
	c2.expect("USER Alice@Example.com", "+OK Send PASS")
	c2.expect("PASS secret pw", replyThrottled)
	if after, _, _ := env.backend.stats(); after != calls {
		t.Errorf("backend asked %d more times while blocked", after-calls)
	}
	if !strings.Contains(env.logs.String(), "login throttled") {
		t.Error("throttling not logged")
	}
	// bob from the same address is not under attack.
	c2.expect("USER bob@example.com", "+OK Send PASS")
	c2.expectPrefix("PASS hunter2", "+OK Maildrop has")
	// After the penalty alice's right password works.
	env.clock.Advance(time.Hour)
	c.expectPrefix("AUTH PLAIN "+plain("", "alice@example.com", "secret pw"), "+OK Maildrop has")
}

func TestAuthSuccessClearsFailures(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dialTLS()
	for range 4 {
		c.expect("AUTH PLAIN "+plain("", "alice@example.com", "guess"), replyAuthFailed)
	}
	c.expectPrefix("AUTH PLAIN "+plain("", "alice@example.com", "secret pw"), "+OK")
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (0 messages left)")
	c = env.dialTLS()
	for range 4 {
		c.expect("AUTH PLAIN "+plain("", "alice@example.com", "guess"), replyAuthFailed)
	}
	c.expectPrefix("AUTH PLAIN "+plain("", "alice@example.com", "secret pw"), "+OK")
}

func TestMaildropInUse(t *testing.T) {
	env := newTestEnv(t, nil)
	env.setBox("alice@example.com", fakeMessage{uidl: "u1", body: msg("Subject: x", "", "hi")})
	first := env.dialTLS()
	first.expectPrefix(first.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 1 messages")

	// Second session, other listener, other login method.
	second := env.dial()
	second.stls()
	second.expect("AUTH PLAIN "+plain("", "ALICE@example.com", "secret pw"), replyInUse)
	// Still in AUTHORIZATION.
	second.expect("STAT", "-ERR STAT not allowed before login")
	// Other accounts are not affected.
	third := env.dialTLS()
	third.expectPrefix(third.loginCmd("bob@example.com", "hunter2"), "+OK")

	// QUIT releases the lock.
	first.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (1 messages left)")
	first.expectEOF()
	second.expectPrefix(second.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 1 messages")

	// So does a dropped connection.
	second.conn.Close()
	waitFor(t, "lock release after drop", func() bool { return !env.srv.isLocked("alice@example.com") })
	fourth := env.dialTLS()
	fourth.expectPrefix(fourth.loginCmd("alice@example.com", "secret pw"), "+OK")
	if !strings.Contains(env.logs.String(), "maildrop locked by another session") {
		t.Error("IN-USE refusal not logged")
	}
}

func (s *Server) isLocked(account string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.locked[account]
	return ok
}

func TestTransactionCommands(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxErrors = 1000 })
	m1 := msg("Subject: one", "", "body one")
	m2 := msg("Subject: two", "", "body two", "more")
	m3 := msg("Subject: three", "", "3")
	env.setBox("alice@example.com",
		fakeMessage{uidl: "uid-1", body: m1},
		fakeMessage{uidl: "uid-2", body: m2},
		fakeMessage{uidl: "uid-3", body: m3})
	c := env.dialTLS()
	// AUTHORIZATION refuses TRANSACTION commands.
	for _, cmd := range []string{"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL"} {
		name, _, _ := strings.Cut(cmd, " ")
		c.expect(cmd, "-ERR "+name+" not allowed before login")
	}
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")

	total := len(m1) + len(m2) + len(m3)
	c.expect("STAT", "+OK 3 "+itoa(total))
	c.expect("stat", "+OK 3 "+itoa(total))
	c.expect("LIST", "+OK 3 messages ("+itoa(total)+" octets)")
	if got, want := c.multiLines(), []string{"1 " + itoa(len(m1)), "2 " + itoa(len(m2)), "3 " + itoa(len(m3))}; !slices.Equal(got, want) {
		t.Errorf("LIST = %q, want %q", got, want)
	}
	c.expect("LiSt 2", "+OK 2 "+itoa(len(m2)))
	c.expect("UIDL", "+OK Unique-id listing follows")
	if got, want := c.multiLines(), []string{"1 uid-1", "2 uid-2", "3 uid-3"}; !slices.Equal(got, want) {
		t.Errorf("UIDL = %q, want %q", got, want)
	}
	c.expect("UIDL 3", "+OK 3 uid-3")
	c.expect("NOOP", "+OK")

	// Bad arguments.
	for cmd, want := range map[string]string{
		"LIST 0":          "-ERR Invalid message number",
		"LIST -1":         "-ERR Invalid message number",
		"LIST +1":         "-ERR Invalid message number",
		"LIST abc":        "-ERR Invalid message number",
		"LIST 1234567890": "-ERR Invalid message number",
		"LIST 4":          "-ERR No such message, only 3 in maildrop",
		"LIST 1 2":        "-ERR LIST takes at most one argument, a message number",
		"UIDL 9":          "-ERR No such message, only 3 in maildrop",
		"UIDL 1 2":        "-ERR UIDL takes at most one argument, a message number",
		"RETR":            "-ERR RETR needs exactly one argument, a message number",
		"RETR 1 2":        "-ERR RETR needs exactly one argument, a message number",
		"RETR 4":          "-ERR No such message, only 3 in maildrop",
		"DELE":            "-ERR DELE needs exactly one argument, a message number",
		"DELE x":          "-ERR Invalid message number",
		"TOP 1":           "-ERR TOP needs two arguments, a message number and a line count",
		"TOP 1 -1":        "-ERR Invalid line count",
		"TOP 0 1":         "-ERR Invalid message number",
		"STAT 1":          "-ERR STAT takes no arguments",
		"NOOP x":          "-ERR NOOP takes no arguments",
		"RSET x":          "-ERR RSET takes no arguments",
		"QUIT now":        "-ERR QUIT takes no arguments",
		"XYZZY":           "-ERR Unknown command",
		"APOP a b":        "-ERR Unknown command",
		"":                "-ERR Invalid command line: empty command line",
		"12 34":           "-ERR Invalid command line: invalid command keyword",
		"NOOP \x01":       "-ERR Invalid command line: control characters in command line",
	} {
		c.expect(cmd, want)
	}

	// DELE marks; the message disappears from listings and refuses access.
	c.expect("DELE 2", "+OK Message 2 deleted")
	c.expect("dele 2", "-ERR Message 2 already deleted")
	c.expect("STAT", "+OK 2 "+itoa(len(m1)+len(m3)))
	c.expect("LIST", "+OK 2 messages ("+itoa(len(m1)+len(m3))+" octets)")
	if got, want := c.multiLines(), []string{"1 " + itoa(len(m1)), "3 " + itoa(len(m3))}; !slices.Equal(got, want) {
		t.Errorf("LIST after DELE = %q, want %q", got, want)
	}
	c.expect("UIDL", "+OK Unique-id listing follows")
	if got, want := c.multiLines(), []string{"1 uid-1", "3 uid-3"}; !slices.Equal(got, want) {
		t.Errorf("UIDL after DELE = %q, want %q", got, want)
	}
	c.expect("LIST 2", "-ERR Message 2 already deleted")
	c.expect("UIDL 2", "-ERR Message 2 already deleted")
	c.expect("RETR 2", "-ERR Message 2 already deleted")
	c.expect("TOP 2 0", "-ERR Message 2 already deleted")

	// RSET unmarks.
	c.expect("RSET", "+OK Maildrop has 3 messages ("+itoa(total)+" octets)")
	c.expect("RETR 2", "+OK "+itoa(len(m2))+" octets")
	if got := c.multiRaw(); got != m2 {
		t.Errorf("RETR 2 = %q, want %q", got, m2)
	}
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 0 {
		t.Errorf("Expunge called before QUIT: %v", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

var connlimitLoopback = netip.MustParseAddr("127.0.0.1")

func TestRetrDotStuffing(t *testing.T) {
	env := newTestEnv(t, nil)
	body := "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n."
	env.setBox("alice@example.com", fakeMessage{uidl: "d", body: body})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.expect("RETR 1", "+OK "+itoa(len(body))+" octets")
	want := "Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nmiddle . dot\r\n..\r\n"
	if got := c.multiRaw(); got != want {
		t.Errorf("RETR wire body\n got %q\nwant %q", got, want)
	}
	c.expect("NOOP", "+OK")
}

func TestTop(t *testing.T) {
	env := newTestEnv(t, nil)
	m := msg("From: a@example.com", "Subject: top", "", "line 1", ".line 2", "line 3")
	env.setBox("alice@example.com", fakeMessage{uidl: "t", body: m}, fakeMessage{uidl: "h", body: "Subject: header only"})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	for _, tc := range []struct {
		cmd  string
		want string
	}{
		{"TOP 1 0", msg("From: a@example.com", "Subject: top", "")},
		{"TOP 1 1", msg("From: a@example.com", "Subject: top", "", "line 1")},
		{"top 1 2", msg("From: a@example.com", "Subject: top", "", "line 1", "..line 2")},
		{"TOP 1 100", msg("From: a@example.com", "Subject: top", "", "line 1", "..line 2", "line 3")},
		{"TOP 2 5", msg("Subject: header only")},
	} {
		c.expect(tc.cmd, "+OK Top of message follows")
		if got := c.multiRaw(); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestDeletionsOnlyAtQuit(t *testing.T) {
	env := newTestEnv(t, nil)
	env.setBox("alice@example.com",
		fakeMessage{uidl: "1", body: msg("a")}, fakeMessage{uidl: "2", body: msg("b")}, fakeMessage{uidl: "3", body: msg("c")})

	// Dropped without QUIT: nothing deleted, maildrop closed.
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 3")
	c.expect("DELE 1", "+OK Message 1 deleted")
	c.conn.Close()
	waitFor(t, "maildrop close", func() bool { _, o, cl := env.backend.stats(); return o == 1 && cl == 1 })
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 0 {
		t.Fatalf("Expunge after drop: %v", got)
	}

	// QUIT: UPDATE state expunges the marked messages once.
	c = env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 3")
	c.expect("DELE 3", "+OK Message 3 deleted")
	c.expect("DELE 1", "+OK Message 1 deleted")
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (1 messages left)")
	c.expectEOF()
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 1 || !slices.Equal(got[0], []int{0, 2}) {
		t.Fatalf("Expunge calls = %v, want [[0 2]]", got)
	}
	waitFor(t, "maildrop close", func() bool { _, _, cl := env.backend.stats(); return cl == 2 })

	// QUIT without deletions does not call Expunge.
	c = env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 1")
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (1 messages left)")
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 1 {
		t.Fatalf("Expunge calls = %v", got)
	}

	// Expunge failure: -ERR [SYS/TEMP], nothing deleted.
	env.backend.mu.Lock()
	env.backend.expungeErr = errors.New("disk on fire")
	env.backend.mu.Unlock()
	c = env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 1")
	c.expect("DELE 1", "+OK Message 1 deleted")
	c.expect("QUIT", "-ERR [SYS/TEMP] Some deleted messages not removed")
	c.expectEOF()
	env.backend.mu.Lock()
	left := len(env.backend.boxes["alice@example.com"])
	env.backend.mu.Unlock()
	if left != 1 {
		t.Errorf("%d messages left after failed expunge, want 1", left)
	}
	waitFor(t, "maildrop close", func() bool { _, o, cl := env.backend.stats(); return o == cl })
}

func TestLongLines(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.dialTLS()
	// 255 octets with CRLF is the limit (RFC 2449 §4).
	c.expect("NOOP "+strings.Repeat("x", 255-len("NOOP \r\n")), "-ERR NOOP not allowed before login")
	c.expect("NOOP "+strings.Repeat("x", 256-len("NOOP \r\n")), replyLineTooLong)
	c.expect(strings.Repeat("y", 20000), replyLineTooLong)
	// AUTH initial responses may be longer.
	long := plain("", "alice@example.com", strings.Repeat("p", 3000))
	c.expect("AUTH PLAIN "+long, replyAuthFailed)
	c.expect("AUTH PLAIN", "+ ")
	c.expect(long, replyAuthFailed)
	c.expect("AUTH PLAIN "+strings.Repeat("A", 9000), replyLineTooLong)
	c.expect("AUTH PLAIN", "+ ")
	c.expect(strings.Repeat("A", 9000), "-ERR SASL response too long")
	// The session carries on.
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
}

func TestMaxErrors(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxErrors = 3 })
	c := env.dialTLS()
	c.expect("FOO", "-ERR Unknown command")
	c.expect("NOOP", "-ERR NOOP not allowed before login")
	c.expect("BAR", replyTooManyErrors)
	c.expectEOF()
}

func TestPipelining(t *testing.T) {
	env := newTestEnv(t, nil)
	body := msg("Subject: p", "", ".x")
	env.setBox("alice@example.com", fakeMessage{uidl: "p", body: body})
	n := itoa(len(body))
	c := env.dialTLS()
	batch := "USER alice@example.com\r\nPASS secret pw\r\nSTAT\r\nRETR 1\r\nUIDL\r\nDELE 1\r\nQUIT\r\n"
	if _, err := io.WriteString(c.conn, batch); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+OK Send PASS", "+OK Maildrop has 1 messages (" + n + " octets)", "+OK 1 " + n, "+OK " + n + " octets"} {
		if got := c.line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if got := c.multiRaw(); got != "Subject: p\r\n\r\n..x\r\n" {
		t.Fatalf("RETR body %q", got)
	}
	if got := c.line(); got != "+OK Unique-id listing follows" {
		t.Fatalf("got %q", got)
	}
	c.multiRaw()
	for _, want := range []string{"+OK Message 1 deleted", "+OK pop.example.com Yizhan POP3 server signing off (0 messages left)"} {
		if got := c.line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.expectEOF()
}

func TestIdleTimeout(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.IdleTimeout = 500 * time.Millisecond })
	env.setBox("alice@example.com", fakeMessage{uidl: "1", body: msg("a")})
	c := env.dialTLS()
	if _, err := io.WriteString(c.conn, "USER alice@example.com\r\nPASS secret pw\r\nDELE 1\r\n"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.line()
	}
	// No more commands: the autologout timer closes the session (RFC 1939
	// §3) without entering UPDATE.
	if l := c.line(); l != "-ERR [SYS/TEMP] Idle timeout, closing connection" {
		t.Fatalf("got %q", l)
	}
	c.expectEOF()
	waitFor(t, "maildrop close", func() bool { _, _, cl := env.backend.stats(); return cl == 1 })
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 0 {
		t.Errorf("Expunge after idle timeout: %v", got)
	}
}

func TestConnLimit(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.ConnLimiter = connlimit.New(connlimit.Config{MaxTotal: 1}) })
	first := env.dial()
	for _, addr := range []string{env.plain, env.implicit} {
		c := env.dialRaw(addr)
		if addr == env.implicit {
			c.handshake()
		}
		if l := c.line(); l != replyTooManyConns {
			t.Fatalf("%s: got %q", addr, l)
		}
		c.expectEOF()
	}
	first.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off")
	first.expectEOF()
	waitFor(t, "slot release", func() bool {
		slot, why := env.srv.cfg.ConnLimiter.Listener("probe").Acquire(connlimitLoopback)
		slot.Release()
		return why == connlimit.OK
	})
	c := env.dialTLS()
	c.expect("NOOP", "-ERR NOOP not allowed before login")
	if !strings.Contains(env.logs.String(), "too many connections") {
		t.Error("refusal not logged")
	}
}

func TestShutdownIdleSession(t *testing.T) {
	env := newTestEnv(t, nil)
	env.setBox("alice@example.com", fakeMessage{uidl: "1", body: msg("a")})
	idle := env.dialTLS()
	idle.expectPrefix(idle.loginCmd("alice@example.com", "secret pw"), "+OK")
	idle.expect("DELE 1", "+OK Message 1 deleted")
	plainIdle := env.dial()

	if err := env.srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*client{idle, plainIdle} {
		if l := c.line(); l != replyShuttingDown {
			t.Errorf("got %q, want %q", l, replyShuttingDown)
		}
		c.expectEOF()
	}
	for range 2 {
		if err := <-env.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
	if got := env.backend.expungeCalls("alice@example.com"); len(got) != 0 {
		t.Errorf("Expunge on shutdown: %v", got)
	}
	if _, o, cl := env.backend.stats(); o != cl {
		t.Errorf("opened %d maildrops, closed %d", o, cl)
	}
	if _, err := net.Dial("tcp", env.plain); err == nil {
		t.Error("still accepting after Shutdown")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Serve(context.Background(), ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

// gatedReader yields its content only after release is closed, honouring
// ctx like a real store would.
type gatedReader struct {
	ctx     context.Context
	opened  chan struct{}
	release chan struct{}
	r       io.Reader
	waited  bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.waited {
		g.waited = true
		close(g.opened)
		select {
		case <-g.release:
		case <-g.ctx.Done():
			return 0, g.ctx.Err()
		}
	}
	return g.r.Read(p)
}

func (g *gatedReader) Close() error { return nil }

func TestShutdownWaitsForRetr(t *testing.T) {
	env := newTestEnv(t, nil)
	body := msg("Subject: slow", "", "slow body")
	opened, release := make(chan struct{}), make(chan struct{})
	env.setBox("alice@example.com", fakeMessage{uidl: "s", size: int64(len(body)), open: func(ctx context.Context) (io.ReadCloser, error) {
		return &gatedReader{ctx: ctx, opened: opened, release: release, r: strings.NewReader(body)}, nil
	}})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.send("RETR 1")
	<-opened
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- env.srv.Shutdown(context.Background()) }()
	waitFor(t, "shutdown to begin", env.srv.lns.Closing)
	close(release)
	if l := c.line(); l != "+OK "+itoa(len(body))+" octets" {
		t.Fatalf("got %q", l)
	}
	if got := c.multiRaw(); got != body {
		t.Fatalf("RETR body %q", got)
	}
	if l := c.line(); l != replyShuttingDown {
		t.Fatalf("got %q", l)
	}
	c.expectEOF()
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	env := newTestEnv(t, nil)
	opened := make(chan struct{})
	env.setBox("alice@example.com", fakeMessage{uidl: "s", size: 10, open: func(ctx context.Context) (io.ReadCloser, error) {
		return &gatedReader{ctx: ctx, opened: opened, release: make(chan struct{}), r: strings.NewReader("")}, nil
	}})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.send("RETR 1")
	<-opened
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already over: the stuck RETR is cut off
	if err := env.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	env.srv.wg.Wait()
	// The client sees a truncated response, never a terminating ".".
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	rest, _ := io.ReadAll(c.r)
	if strings.Contains(string(rest), "\r\n.\r\n") {
		t.Errorf("cut-off RETR ended like a complete one: %q", rest)
	}
	if _, o, cl := env.backend.stats(); o != cl {
		t.Errorf("opened %d maildrops, closed %d", o, cl)
	}
}

func TestServeContextCancel(t *testing.T) {
	env := newTestEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.srv.Serve(ctx, ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v", err)
	}
	// The session's context is cancelled too: it is closed.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("session still open after ctx cancel: %v", err)
	}
}

var logKV = regexp.MustCompile(`\bsession=[0-9a-f]{12}\b.*\bclient_ip=127\.0\.0\.1\b`)

func TestLogLinesCarrySessionAndIP(t *testing.T) {
	env := newTestEnv(t, nil)
	env.setBox("alice@example.com", fakeMessage{uidl: "1", body: msg("a")})
	c := env.dial()
	c.expect("USER x", replyPlaintextRefused)
	c.stls()
	c.expect("PASS bad", "-ERR Send USER first")
	c.expect("AUTH PLAIN "+plain("", "alice@example.com", "bad"), replyAuthFailed)
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.expect("RETR 7", "-ERR No such message, only 1 in maildrop")
	c.expect("QUIT", "+OK pop.example.com Yizhan POP3 server signing off (1 messages left)")
	c.expectEOF()
	waitFor(t, "session end", func() bool { _, _, cl := env.backend.stats(); return cl == 1 })
	lines := 0
	for l := range strings.SplitSeq(strings.TrimSpace(env.logs.String()), "\n") {
		if strings.Contains(l, " addr=") || strings.Contains(l, "no TLS configuration") {
			continue // server-level lines
		}
		lines++
		if !logKV.MatchString(l) {
			t.Errorf("log line without session id and client IP: %s", l)
		}
		if strings.Contains(l, "secret pw") {
			t.Errorf("password logged: %s", l)
		}
	}
	if lines < 8 {
		t.Errorf("only %d session log lines", lines)
	}
}

// Issue 10 item 13: six mistakes refused the right password for minutes.
func TestAuthMistakesDoNotLockOut(t *testing.T) {
	clock := testenv.NewClock()
	env := newTestEnv(t, func(c *Config) {
		c.AuthLimiter = authlimit.New(authlimit.Config{Failures: 10, Window: time.Hour, Penalty: 15 * time.Minute, // the defaults
			Now: clock.Now, Sleep: clock.Sleep})
	})
	c := env.dialTLS()
	for i := range 6 {
		c.expect("AUTH PLAIN "+plain("", "alice@example.com", fmt.Sprint("typo", i)), replyAuthFailed)
	}
	c.expect("USER alice@example.com", "+OK Send PASS")
	c.expectPrefix("PASS secret pw", "+OK Maildrop has")
}

// Issue 11 item 3: 4 wrong guesses for bob + 1 right login for alice,
// repeated, had every guess checked.
func TestAuthGuessingLimitedPerLogin(t *testing.T) {
	env := newTestEnv(t, nil)
	checked, refused := 0, 0
	for round := range 4 {
		c := env.dialTLS()
		for i := range 4 {
			c.expect("USER bob@example.com", "+OK Send PASS")
			switch r := c.cmd(fmt.Sprint("PASS guess", round, i)); r {
			case replyAuthFailed:
				checked++
			case replyThrottled:
				refused++
			default:
				t.Fatalf("guess for bob answered %q", r)
			}
		}
		c.expectPrefix("AUTH PLAIN "+plain("", "alice@example.com", "secret pw"), "+OK Maildrop has")
		c.expectPrefix("QUIT", "+OK")
	}
	if checked != testAuthFailures {
		t.Fatalf("%d guesses for bob checked (%d refused), want %d", checked, refused, testAuthFailures)
	}
}
