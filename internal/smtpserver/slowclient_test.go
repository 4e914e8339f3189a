package smtpserver

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slow-client attacks (issue 11 item 1): a client that sends one byte at
// a time, each before the per-read timeout, used to hold its connection
// forever. Each phase now has a total deadline; the tests shrink the
// deadlines to a fraction of a second and check only that the server hangs
// up (with 421) long before the trickle would end.

// Test deadlines: short so tests take a second, far above the gap between
// the attacker's bytes so that a per-read deadline would never fire.
const (
	slowPhase = 500 * time.Millisecond
	slowGap   = 15 * time.Millisecond
	// slowBound is when a test gives up waiting for the server to hang up
	// (the attack succeeded); the defended server hangs up after slowPhase.
	slowBound = 10 * time.Second
)

// trickle sends s one byte every slowGap in the background and reads what
// the server says until it closes the connection. It fails the test if the
// connection is still open after slowBound, and returns the server's lines.
func (c *rawClient) trickle(s string) []string {
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
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	c.conn.SetReadDeadline(time.Now().Add(slowBound))
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("still connected after %v of trickling (server said %q)", slowBound, lines)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				c.t.Fatalf("read: %v", err)
			}
			return lines
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
	}
}

// expectTimeout421 checks that the last thing the server said was the
// timeout goodbye.
func expectTimeout421(t *testing.T, lines []string) {
	t.Helper()
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "421 4.4.2 ") {
		t.Fatalf("server said %q, want a final 421 4.4.2", lines)
	}
}

// long is far more than a trickle can send before slowBound.
var long = strings.Repeat("x", 2000)

func slowConfig() Config {
	return Config{CommandTimeout: slowPhase, DataBlockTimeout: slowPhase, LoginTimeout: time.Minute}
}

func TestSlowClientBeforeEHLO(t *testing.T) {
	ts := startServer(t, slowConfig())
	c := ts.dialGreeted(t)
	expectTimeout421(t, c.trickle("EHLO "+long+".example\r\n"))
}

func TestSlowClientMidCommand(t *testing.T) {
	ts := startServer(t, slowConfig())
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	expectTimeout421(t, c.trickle("MAIL FROM:<"+long+"@example.test>\r\n"))
}

func TestSlowClientInDATA(t *testing.T) {
	ts := startServer(t, slowConfig())
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	c.cmd("DATA", "354 ")
	expectTimeout421(t, c.trickle("Subject: slow\r\n\r\n"+long+"\r\n.\r\n"))
	if n := len(ts.backend.deliveries()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

func TestSlowClientInBDAT(t *testing.T) {
	ts := startServer(t, slowConfig())
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	body := "Subject: slow\r\n\r\n" + long + "\r\n"
	c.send("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n")
	expectTimeout421(t, c.trickle(body))
	if n := len(ts.backend.deliveries()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

// A client that sends its message faster than the minimum rate gets as
// long as it needs, even when that is many times the data window.
func TestDataAtMinimumRateIsNotCut(t *testing.T) {
	ts := startServer(t, Config{DataBlockTimeout: time.Second, MinDataRate: 1000})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: steady\r\n\r\n")
	chunk := strings.Repeat("y", 198) + "\r\n" // 200 bytes every 50 ms: 4000 B/s
	for i := 0; i < 40; i++ {                  // 2 s in all, twice the window
		time.Sleep(50 * time.Millisecond)
		c.send(chunk)
	}
	c.cmd(".", "250 2.0.0")
}

// On submission the phase before TLS is bounded like any other.
func TestSlowClientSubmissionBeforeTLS(t *testing.T) {
	cfg := slowConfig()
	cfg.Mode = ModeSubmission
	ts := startServer(t, cfg)
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	expectTimeout421(t, c.trickle("STARTTLS"+long+"\r\n"))
}

// A submission client that answers every command in time but never logs
// in is closed when the login deadline passes.
func TestSubmissionLoginDeadline(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, LoginTimeout: time.Second})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.conn.SetReadDeadline(time.Now().Add(slowBound))
	for {
		c.send("NOOP\r\n")
		l, err := c.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still connected after %v without logging in", slowBound)
			}
			t.Fatalf("closed without a reply: %v", err)
		}
		if strings.HasPrefix(l, "421 ") {
			break
		}
		time.Sleep(slowGap)
	}
	c.expectClosed()
}

// Logging in lifts the login deadline.
func TestSubmissionLoginDeadlineLiftedByAuth(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, LoginTimeout: time.Second})
	c := ts.dialGreeted(t)
	c.login(ts)
	for i := 0; i < 30; i++ { // 1.5 s, past the login deadline
		time.Sleep(50 * time.Millisecond)
		c.cmd("NOOP", "250 ")
	}
}

// On port 25, commands that do not advance a mail transaction (NOOP, RSET,
// VRFY, HELP) are limited, so a client answering just in time cannot keep
// a session without sending mail.
func TestJunkCommandLimit(t *testing.T) {
	ts := startServer(t, Config{MaxJunkCommands: 5})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	for i := 0; i < 5; i++ {
		c.cmd("NOOP", "250 ")
	}
	c.cmd("NOOP", "421 4.7.0")
	c.expectClosed()
}

// A client that pipelines commands and never reads the replies (issue 11
// item 5) is disconnected once the write timeout passes: the deadline was
// pushed forward by every write, so each blocked write waited the whole
// command timeout. EHLO is answered at length and is no junk command, so
// nothing else ends such a session.
func TestStalledReaderDisconnected(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeInbound, CommandTimeout: time.Minute, WriteTimeout: 300 * time.Millisecond})
	c := ts.dial(t)
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(1024) // the replies fill the buffers sooner
	}
	go func() {
		// Until the server stops reading, then until the test ends.
		line := []byte("EHLO client.example\r\n")
		for {
			_ = c.conn.SetWriteDeadline(time.Now().Add(slowBound))
			if _, err := c.conn.Write(line); err != nil {
				return
			}
		}
	}()
	end := time.Now().Add(slowBound)
	for {
		ts.srv.mu.Lock()
		n := len(ts.srv.sessions)
		ts.srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the server still holds a client that reads nothing after %v", slowBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
