package imapserver_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// Slow-client attacks (issue 11 item 1): a client sending one byte at a
// time must not hold a connection past its phase's total deadline. The
// deadlines are shrunk to a fraction of a second; the tests check only
// that the server says BYE and hangs up long before the trickle ends.

const (
	slowPhase = time.Second
	slowGap   = 15 * time.Millisecond
)

// trickle sends s one byte every slowGap in the background and reads the
// server's lines until it closes the connection, failing the test if it
// is still open after wait. It returns the lines read.
func (c *client) trickle(s string) []string {
	c.t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			select {
			case <-stop:
				return
			case <-time.After(slowGap):
			}
			if _, err := c.w.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	var got []string
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("still connected after %v of trickling (server said %d lines, the last %q)", wait, len(got), got[max(0, len(got)-2):])
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				c.t.Fatalf("read: %v", err)
			}
			return got
		}
		got = append(got, strings.TrimSuffix(l, "\r\n"))
	}
}

func expectBye(t *testing.T, got []string) {
	t.Helper()
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "* BYE ") {
		t.Fatalf("server said %q, want a final * BYE", got)
	}
}

func slowConfig(c *imapserver.Config) {
	c.LoginTimeout = slowPhase
	c.CommandTimeout = slowPhase
	c.IdleTimeout = time.Minute
}

// Before login a client may not stay by sending commands slowly, each in
// time: the login deadline bounds the whole pre-authentication phase.
func TestSlowClientPreAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	c := e.dial(false)
	expectBye(t, c.trickle(strings.Repeat("a NOOP\r\n", 1000)))
}

// A command begun must be complete within CommandTimeout, however long
// the autologout timer of a logged-in session is.
func TestSlowClientMidCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	c := e.login(alice)
	expectBye(t, c.trickle("a SELECT "+strings.Repeat("x", 2000)+"\r\n"))
}

// A literal trickled below the minimum rate is cut off.
func TestSlowClientInLiteral(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	c := e.login(alice)
	msg := simpleMsg("slow", strings.Repeat("x", 2000))
	c.send("a APPEND INBOX {" + strconv.Itoa(len(msg)) + "}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("APPEND: %q", l)
	}
	expectBye(t, c.trickle(msg))
}

// AUTHENTICATE waiting for the client's response is bounded too (it had
// no deadline at all).
func TestSlowClientAuthenticateResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	c := e.dial(true)
	c.send("a AUTHENTICATE PLAIN\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTHENTICATE: %q", l)
	}
	expectBye(t, c.trickle(strings.Repeat("A", 2000)))
}

// A logged-in session idles between commands for the autologout time, not
// the command timeout; a literal sent above the minimum rate may take
// longer than the command timeout.
func TestCommandTimeoutSparesIdleAndSteadyClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *imapserver.Config) {
		c.LoginTimeout = time.Second
		c.CommandTimeout = time.Second
		c.IdleTimeout = time.Minute
		c.MinDataRate = 1000
	})
	c := e.login(alice)
	time.Sleep(1500 * time.Millisecond) // past both the login and the command timeout
	c.ok("NOOP")
	body := strings.Repeat(strings.Repeat("y", 198)+"\r\n", 40)
	msg := simpleMsg("steady", body)
	c.send("a APPEND INBOX {" + strconv.Itoa(len(msg)) + "}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("APPEND: %q", l)
	}
	for len(msg) > 0 { // 200 bytes every 50 ms (4000 B/s): 2 s in all
		n := min(200, len(msg))
		time.Sleep(50 * time.Millisecond)
		c.send(msg[:n])
		msg = msg[n:]
	}
	c.send("\r\n")
	if r := c.read("a"); !strings.HasPrefix(r.status(), "OK") {
		t.Fatalf("APPEND: %s", r)
	}
}
