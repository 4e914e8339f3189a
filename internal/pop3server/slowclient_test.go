package pop3server

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Slow-client attack before login (issue 11 item 1): a client answering
// each command just before the autologout timer could stay unauthenticated
// for as long as it liked (ten minutes per line, and then the next). The
// login deadline bounds the whole AUTHORIZATION state. Deadlines are
// shrunk; the test checks only that the server hangs up.
func TestSlowClientPreAuth(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.LoginTimeout = 300 * time.Millisecond
		c.IdleTimeout = time.Minute
	})
	c := env.dial()
	got := c.trickle(strings.Repeat("CAPA\r\n", 1000))
	if len(got) == 0 || got[len(got)-1] != replyLoginTimeout {
		t.Fatalf("server said %d lines, the last %q; want %q", len(got), got[max(0, len(got)-1):], replyLoginTimeout)
	}
}

// Logging in lifts the login deadline: the autologout timer alone applies.
func TestLoginDeadlineLiftedByLogin(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.LoginTimeout = 500 * time.Millisecond
		c.IdleTimeout = time.Minute
	})
	env.setBox("alice@example.com", fakeMessage{uidl: "1", body: msg("a")})
	c := env.dialTLS()
	c.expectPrefix("USER alice@example.com", "+OK")
	c.expectPrefix("PASS secret pw", "+OK")
	time.Sleep(time.Second)
	c.expectPrefix("NOOP", "+OK")
}

// trickle sends s one byte every 15 ms in the background and returns the
// lines the server sent until it closed the connection; it fails the test
// if the connection is still open after 10 s.
func (c *client) trickle(s string) []string {
	c.t.Helper()
	const bound = 10 * time.Second
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	c.conn.SetReadDeadline(time.Now().Add(bound))
	var got []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("still connected after %v of trickling (%d lines)", bound, len(got))
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				c.t.Fatalf("read: %v", err)
			}
			return got
		}
		got = append(got, strings.TrimSuffix(l, "\r\n"))
	}
}

// A client that sends RETR for a big message and never reads (issue 11
// item 5) is disconnected once the write timeout passes, and its session
// ends: the deadline was pushed forward by every write, so a client
// reading a little now and then held the session, and one that read
// nothing held it for the idle timeout. The maildrop lock is released.
func TestStalledRetrReader(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.IdleTimeout = time.Minute
	})
	m := newBigMessage(32 << 20) // more than both ends' socket buffers
	size, _ := m.sizeAndHash()
	env.setBox("alice@example.com", fakeMessage{uidl: "big", size: size, gen: m.reader})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	c.send("RETR 1")
	waitFor(t, "the stalled session to end", func() bool {
		env.srv.mu.Lock()
		defer env.srv.mu.Unlock()
		return len(env.srv.sessions) == 0
	})
	if env.srv.isLocked("alice@example.com") {
		t.Fatal("maildrop still locked")
	}
	c2 := env.dialTLS()
	c2.expectPrefix(c2.loginCmd("alice@example.com", "secret pw"), "+OK")
}
