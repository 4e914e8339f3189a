// Package attack performs the attacks of issue 11 ("Hold under attack")
// against the built yizhan binary, each asserting the defended behaviour:
// account enumeration by the time of a failed login, a panic in one
// session, a flood of idle connections on one listener, a client sending
// one byte at a time in every phase, IMAP clients that stop reading while
// another changes every message again and again.
package attack

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	domain  = "example.test"
	alice   = "alice@example.test"
	alicePW = "alice-secret-pw"

	imapsListener = "imaps"
	imapListener  = "imap"
)

// ioGuard bounds one exchange so that a wedged server fails the test
// instead of hanging it; it is not a latency expectation.
const ioGuard = 2 * time.Minute

// lineConn is a line-oriented client connection for any of the three
// protocols.
type lineConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dialTLS connects with implicit TLS (submissions, imaps, pop3s); the
// caller reads the greeting.
func dialTLS(t testing.TB, addr string) *lineConn {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioGuard}, "tcp", addr, testenv.TLSConfig())
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &lineConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *lineConn) send(format string, args ...any) {
	c.t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(ioGuard))
	if _, err := fmt.Fprintf(c.conn, format+"\r\n", args...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *lineConn) readLine() string {
	c.t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(ioGuard))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// readSMTP reads an SMTP reply, multi-line included, and returns its last
// line.
func (c *lineConn) readSMTP() string {
	c.t.Helper()
	for {
		l := c.readLine()
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

// readTagged reads IMAP responses until the one tagged tag.
func (c *lineConn) readTagged(tag string) string {
	c.t.Helper()
	for {
		l := c.readLine()
		if strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
}
