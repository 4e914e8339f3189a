package imapserver_test

import (
	"bufio"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/imapserver"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

// caps returns the capability list in a greeting, a CAPABILITY response or
// a response code.
func caps(t testing.TB, l string) map[string]bool {
	t.Helper()
	var list string
	if i := strings.Index(l, "[CAPABILITY "); i >= 0 {
		list, _, _ = strings.Cut(l[i+len("[CAPABILITY "):], "]")
	} else if s, ok := strings.CutPrefix(l, "* CAPABILITY "); ok {
		list = s
	} else {
		t.Fatalf("no capability list in %q", l)
	}
	m := map[string]bool{}
	for _, c := range strings.Fields(list) {
		m[c] = true
	}
	return m
}

// advertised is what the issue promises after login.
var advertised = []string{"IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE",
	"UNSELECT", "UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
	"ESEARCH", "SEARCHRES", "CONDSTORE", "QRESYNC", "STATUS=SIZE", "BINARY", "UTF8=ACCEPT", "COMPRESS=DEFLATE",
	"QUOTA", "SORT", "THREAD=REFERENCES"}

func TestGreetingAndCapability(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// Plain port: STARTTLS offered, passwords refused (RFC 9051 §6.2.3).
	c := e.dial(false)
	if !strings.HasPrefix(c.greet, "* OK [CAPABILITY ") {
		t.Fatalf("greeting without capabilities: %q", c.greet)
	}
	g := caps(t, c.greet)
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "STARTTLS", "LOGINDISABLED"} {
		if !g[want] {
			t.Errorf("plain greeting lacks %s: %q", want, c.greet)
		}
	}
	if g["AUTH=PLAIN"] {
		t.Errorf("AUTH=PLAIN offered in clear: %q", c.greet)
	}
	r := c.ok("CAPABILITY")
	if len(r.untagged) != 1 {
		t.Fatalf("CAPABILITY: %s", r)
	}
	eq(t, "CAPABILITY matches greeting", len(caps(t, r.untagged[0])), len(g))
	c.ok("NOOP")

	// Implicit TLS: AUTH=PLAIN, no STARTTLS, no LOGINDISABLED.
	ct := e.dial(true)
	g = caps(t, ct.greet)
	if !g["AUTH=PLAIN"] || g["STARTTLS"] || g["LOGINDISABLED"] {
		t.Errorf("TLS greeting: %q", ct.greet)
	}
	r = ct.ok("LOGIN " + alice + " " + pass)
	after := caps(t, r.tagged)
	for _, want := range advertised {
		if !after[want] {
			t.Errorf("capability %s not advertised after login: %q", want, r.tagged)
		}
	}
	if after["AUTH=PLAIN"] || after["STARTTLS"] || after["LOGINDISABLED"] {
		t.Errorf("pre-auth capabilities after login: %q", r.tagged)
	}
	if !after["APPENDLIMIT=52428800"] {
		t.Errorf("default APPENDLIMIT not advertised: %q", r.tagged)
	}
	r = ct.ok("LOGOUT")
	lines(t, "LOGOUT", r, "* BYE Logging out")
	if !ct.closed() {
		t.Error("connection open after LOGOUT")
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.dial(false)
	c.expectStatus("LOGIN "+alice+" "+pass, "NO [PRIVACYREQUIRED]")
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + pass))
	c.expectStatus("AUTHENTICATE PLAIN "+ir, "NO [PRIVACYREQUIRED]")
	// Without an initial response no continuation may be offered either.
	c.expectStatus("AUTHENTICATE PLAIN", "NO [PRIVACYREQUIRED]")
	c.expectStatus("SELECT INBOX", "BAD")

	// "b NOOP" pipelined after STARTTLS was sent in clear: it must be
	// dropped, never answered (RFC 9051 §6.2.1, RFC 3207 §4.2 reasoning).
	c.send("a STARTTLS\r\nb NOOP\r\n")
	l := c.line()
	if !strings.HasPrefix(l, "a OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	if n := c.r.Buffered(); n != 0 {
		t.Fatalf("%d bytes after STARTTLS OK", n)
	}
	tc := tls.Client(c.conn, clientTLS())
	_ = tc.SetDeadline(time.Now().Add(wait))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.conn = tc
	c.setTransport(tc, tc)
	r := c.ok("CAPABILITY")
	for _, u := range r.untagged {
		if strings.HasPrefix(u, "b ") {
			t.Fatalf("pipelined command answered: %s", r)
		}
	}
	g := caps(t, r.untagged[0])
	if !g["AUTH=PLAIN"] || g["STARTTLS"] || g["LOGINDISABLED"] {
		t.Fatalf("capabilities after STARTTLS: %q", r.untagged[0])
	}
	c.expectStatus("STARTTLS", "BAD")
	c.ok("LOGIN " + alice + " " + pass)
	c.ok("SELECT INBOX")
	c.expectStatus("LOGIN "+alice+" "+pass, "BAD")
}

func TestAuthenticatePlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ir := func(authz, user, pw string) string {
		return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pw))
	}

	// SASL-IR (RFC 4959).
	c := e.dial(true)
	r := c.ok("AUTHENTICATE PLAIN " + ir("", alice, pass))
	if !strings.HasPrefix(r.status(), "OK [CAPABILITY ") {
		t.Errorf("AUTHENTICATE OK without capabilities: %q", r.tagged)
	}
	c.ok("SELECT INBOX")

	// Continuation (RFC 9051 §6.2.2): "+ " then the base64 response.
	c = e.dial(true)
	c.send("a AUTHENTICATE PLAIN\r\n")
	eq(t, "continuation", c.line(), "+ ")
	c.send(ir(alice, alice, pass) + "\r\n")
	r = c.read("a")
	if !strings.HasPrefix(r.status(), "OK") {
		t.Fatalf("AUTHENTICATE with continuation: %s", r)
	}

	// "*" cancels with BAD; the session goes on.
	c = e.dial(true)
	c.send("a AUTHENTICATE PLAIN\r\n")
	eq(t, "continuation", c.line(), "+ ")
	c.send("*\r\n")
	if r = c.read("a"); !strings.HasPrefix(r.status(), "BAD") {
		t.Fatalf("cancelled AUTHENTICATE: %s", r)
	}
	// Bad base64 is BAD too.
	c.send("b AUTHENTICATE PLAIN\r\n")
	eq(t, "continuation", c.line(), "+ ")
	c.send("!!!\r\n")
	if r = c.read("b"); !strings.HasPrefix(r.status(), "BAD") {
		t.Fatalf("bad base64: %s", r)
	}
	c.expectStatus("AUTHENTICATE PLAIN "+ir("", alice, "wrong"), "NO [AUTHENTICATIONFAILED]")
	c.expectStatus("AUTHENTICATE PLAIN "+ir(bob, alice, pass), "NO [AUTHORIZATIONFAILED]")
	c.expectStatus("AUTHENTICATE CRAM-MD5", "NO")
	c.expectStatus("LOGIN "+alice+" wrong", "NO [AUTHENTICATIONFAILED]")
	c.expectStatus("LOGIN nobody@example.test "+pass, "NO [AUTHENTICATIONFAILED]")
	c.expectStatus("SELECT INBOX", "BAD")
	c.ok("LOGIN " + bob + " " + pass)
}

// Failures are answered late, progressively; a login guessed at too often
// gets NO [UNAVAILABLE] (not [AUTHENTICATIONFAILED]) whatever the
// mechanism or connection, until the penalty ends; other accounts from
// the same address are not affected.
func TestAuthThrottle(t *testing.T) {
	t.Parallel()
	lim, clock := newLimiter(testAuthFailures)
	e := newEnv(t, func(c *imapserver.Config) { c.AuthLimiter = lim })
	c := e.dial(true)
	for i := range testAuthFailures {
		c.expectStatus(fmt.Sprintf("LOGIN %s wrong%d", alice, i), "NO [AUTHENTICATIONFAILED]")
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	if got := clock.Slept(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failure replies delayed %v, want %v", got, want)
	}
	c.expectStatus("LOGIN "+alice+" "+pass, "NO [UNAVAILABLE] Too many failed logins for this account")
	c2 := e.dial(true)
	c2.expectStatus("AUTHENTICATE PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice+"\x00"+pass)), "NO [UNAVAILABLE]")
	c2.expectStatus("SELECT INBOX", "BAD")
	// bob from the same address is not under attack.
	c2.ok("AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+bob+"\x00"+pass)))
	// After the penalty alice's right password works.
	clock.Advance(time.Hour)
	c.ok("LOGIN " + alice + " " + pass)
}

func TestBadCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)

	r := c.do("SELECT")
	if !strings.HasPrefix(r.status(), "BAD") || len(r.untagged) != 0 {
		t.Fatalf("missing argument: %s", r)
	}
	c.expectStatus("FROBNICATE", "BAD")
	c.expectStatus("FETCH 1 FLAGS", "BAD") // no mailbox selected
	c.expectStatus("UID NOOP", "BAD")
	c.send("\r\n")
	if l := c.line(); !strings.HasPrefix(l, "* BAD") {
		t.Fatalf("empty line: %q", l)
	}
	c.send("no-space-here\r\n")
	if l := c.line(); !strings.HasPrefix(l, "* BAD") && !strings.HasPrefix(l, "no-space-here BAD") {
		t.Fatalf("no command: %q", l)
	}

	// An over-long line is answered with its tag and dropped whole.
	c.send("long NOOP " + strings.Repeat("x", 70<<10) + "\r\n")
	if r := c.read("long"); !strings.HasPrefix(r.status(), "BAD") {
		t.Fatalf("over-long line: %s", r)
	}
	// A synchronising literal over the limit is refused at once, without
	// a continuation request (RFC 9051 §7.5).
	c.send("big SELECT {100000}\r\n")
	l := c.line()
	if strings.HasPrefix(l, "+") || !strings.HasPrefix(l, "big ") || strings.HasPrefix(l, "big OK") {
		t.Fatalf("synchronising literal over the limit: %q", l)
	}
	// A non-synchronising one is read and dropped with its command.
	c.send("big2 SELECT {100000+}\r\n" + strings.Repeat("y", 100000) + "\r\n")
	if r := c.read("big2"); strings.HasPrefix(r.status(), "OK") {
		t.Fatalf("LITERAL+ over the limit: %s", r)
	}
	// A literal within the limits works, with its continuation.
	c.send("lit SELECT {5}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("no continuation for a literal: %q", l)
	}
	c.send("INBOX\r\n")
	if r := c.read("lit"); !strings.HasPrefix(r.status(), "OK [READ-WRITE]") {
		t.Fatalf("SELECT with literal: %s", r)
	}
	// Nesting beyond the cap is a syntax error, not a crash.
	c.expectStatus("SEARCH "+strings.Repeat("(", 100)+"ALL"+strings.Repeat(")", 100), "BAD")
	c.expectStatus("SEARCH "+strings.Repeat("NOT ", 100)+"ALL", "BAD")
	c.ok("NOOP")
}

func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.MaxErrors = 3 })
	// Syntax errors count as much as bad commands that parse.
	c := e.login(alice)
	c.expectStatus("SELECT", "BAD")
	c.expectStatus("FETCH 1 FLAGS", "BAD")
	c.send("x3 SELECT\r\n")
	if l := c.line(); !strings.HasPrefix(l, "x3 BAD") {
		t.Fatalf("third error: %q", l)
	}
	eq(t, "after too many errors", c.line(), "* BYE Too many errors")
	if !c.closed() {
		t.Fatal("connection open after BYE")
	}

	c = e.login(alice)
	for i := range 3 {
		c.send("\r\n")
		if l := c.line(); !strings.HasPrefix(l, "* BAD") {
			t.Fatalf("empty line %d: %q", i, l)
		}
	}
	eq(t, "after too many empty lines", c.line(), "* BYE Too many errors")
	if !c.closed() {
		t.Fatal("connection open after BYE")
	}
}

func TestEnableIDNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.dial(true)
	// ID works before login (RFC 2971 §3.1).
	lines(t, "ID", c.ok(`ID ("name" "test" "version" "1")`), `* ID ("name" "Yizhan" "vendor" "yizhan-mail")`)
	lines(t, "ID NIL", c.ok(`ID NIL`), `* ID ("name" "Yizhan" "vendor" "yizhan-mail")`)
	c.expectStatus("ENABLE CONDSTORE", "BAD") // authenticated state only (RFC 5161 §3.1)
	c.ok("LOGIN " + alice + " " + pass)

	lines(t, "ENABLE CONDSTORE", c.ok("ENABLE CONDSTORE"), "* ENABLED CONDSTORE")
	lines(t, "ENABLE CONDSTORE again", c.ok("ENABLE CONDSTORE"), "* ENABLED")
	lines(t, "ENABLE unknown", c.ok("ENABLE X-UNKNOWN"), "* ENABLED")
	lines(t, "ENABLE QRESYNC", c.ok("ENABLE QRESYNC X-FOO"), "* ENABLED QRESYNC")
	lines(t, "ENABLE UTF8=ACCEPT", c.ok("ENABLE UTF8=ACCEPT"), "* ENABLED UTF8=ACCEPT")
	lines(t, "ENABLE IMAP4rev2", c.ok("ENABLE IMAP4rev2"), "* ENABLED IMAP4rev2")
	lines(t, "NAMESPACE", c.ok("NAMESPACE"), `* NAMESPACE (("" "/")) NIL NIL`)
	lines(t, "NOOP", c.ok("NOOP"))

	c = e.login(bob)
	lines(t, "ENABLE IMAP4rev2 first", c.ok("ENABLE IMAP4rev2"), "* ENABLED IMAP4rev2")
	c.expectStatus("ENABLE", "BAD")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := e.login(alice)
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("autologout: %q", l)
	}
	if !c.closed() {
		t.Fatal("connection open after autologout")
	}

	// IDLE lasts until the autologout timer too, and then says BYE
	// (RFC 9051 §7.1.5).
	c = e.login(alice)
	c.ok("SELECT INBOX")
	c.send("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("autologout in IDLE: %q", l)
	}
	if !c.closed() {
		t.Fatal("connection open after autologout")
	}

	// Before login the shorter of the two timers applies.
	c = e.dial(false)
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("autologout before login: %q", l)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	idler := e.login(alice)
	idler.ok("SELECT INBOX")
	idler.send("i IDLE\r\n")
	if l := idler.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	waiting := e.login(bob) // between commands
	plain := e.dial(false)  // not logged in, no TLS

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	for name, c := range map[string]*client{"idler": idler, "waiting": waiting, "plain": plain} {
		if l := c.line(); !strings.HasPrefix(l, "* BYE") {
			t.Errorf("%s: %q", name, l)
		}
		if !c.closed() {
			t.Errorf("%s: connection open after BYE", name)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestCompress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.deliver(simpleMsg("Compressed", strings.Repeat("squeeze me ", 400)), delivery{})
	c := e.login(alice)
	c.expectStatus("COMPRESS LZW", "BAD")
	r := c.ok("COMPRESS DEFLATE")
	lines(t, "COMPRESS", r)
	if c.r.Buffered() != 0 {
		t.Fatal("data after COMPRESS OK")
	}
	// RFC 4978 §3: raw DEFLATE both ways from the octet after the CRLF.
	fw, err := flate.NewWriter(c.conn, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	c.r = bufio.NewReader(flate.NewReader(c.r))
	c.w = fw
	c.flush = fw.Flush

	r = c.ok("CAPABILITY")
	if caps(t, r.untagged[0])["COMPRESS=DEFLATE"] {
		t.Errorf("COMPRESS=DEFLATE still offered: %q", r.untagged[0])
	}
	c.ok("SELECT INBOX")
	r = c.ok("FETCH 1 (BODY.PEEK[TEXT])")
	want := "* 1 FETCH (BODY[TEXT] " + literal(strings.Repeat("squeeze me ", 400)) + ")"
	lines(t, "FETCH over DEFLATE", r, want)
	c.expectStatus("COMPRESS DEFLATE", "NO [COMPRESSIONACTIVE]")
	c.ok("NOOP")
	c.ok("LOGOUT")
}

// Issue 10 item 13: six mistakes refused the right password for minutes.
func TestAuthMistakesDoNotLockOut(t *testing.T) {
	t.Parallel()
	lim, _ := newLimiter(defaultAuthFailures)
	e := newEnv(t, func(c *imapserver.Config) { c.AuthLimiter = lim })
	c := e.dial(true)
	for i := range 6 {
		c.expectStatus(fmt.Sprintf("LOGIN %s typo%d", alice, i), "NO [AUTHENTICATIONFAILED]")
	}
	c.ok("LOGIN " + alice + " " + pass)
}

// Issue 11 item 3: 4 wrong guesses for bob + 1 right login for alice,
// repeated, had every guess checked.
func TestAuthGuessingLimitedPerLogin(t *testing.T) {
	t.Parallel()
	lim, _ := newLimiter(testAuthFailures)
	e := newEnv(t, func(c *imapserver.Config) { c.AuthLimiter = lim })
	checked, refused := 0, 0
	for round := range 4 {
		c := e.dial(true)
		for i := range 4 {
			r := c.do(fmt.Sprintf("AUTHENTICATE PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+bob+"\x00guess"+fmt.Sprint(round, i)))))
			switch {
			case strings.HasPrefix(r.status(), "NO [AUTHENTICATIONFAILED]"):
				checked++
			case strings.HasPrefix(r.status(), "NO [UNAVAILABLE]"):
				refused++
			default:
				t.Fatalf("guess for bob: %s", r)
			}
		}
		c.ok("LOGIN " + alice + " " + pass)
	}
	if checked != testAuthFailures {
		t.Fatalf("%d guesses for bob checked (%d refused), want %d", checked, refused, testAuthFailures)
	}
}

const (
	testAuthFailures    = 3  // low, to keep the argon2id checks few
	defaultAuthFailures = 10 // [limits] auth_failures by default
)

// newLimiter returns an AuthLimiter allowing failures per login, on a
// manual clock: its tarpit waits are recorded, not slept.
func newLimiter(failures int) (*authlimit.Limiter, *testenv.Clock) {
	clock := testenv.NewClock()
	return authlimit.New(authlimit.Config{Failures: failures, Window: time.Hour, Penalty: time.Hour,
		Now: clock.Now, Sleep: clock.Sleep}), clock
}
