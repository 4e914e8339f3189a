package testenv

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
)

// TLSConfig is the client TLS configuration for test instances, whose
// certificate is self-signed.
func TLSConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: Hostname}
}

// POP3Client is a minimal POP3 client (RFC 1939) written for tests: an
// implementation independent of the server's and of the third-party
// clients the interop tests drive.
type POP3Client struct {
	conn net.Conn
	tp   *textproto.Conn
}

// DialPOP3S connects to a pop3s listener (implicit TLS).
func DialPOP3S(addr string) (*POP3Client, error) {
	conn, err := tls.Dial("tcp", addr, TLSConfig())
	if err != nil {
		return nil, err
	}
	return newPOP3(conn)
}

// DialPOP3STLS connects to a pop3 listener and upgrades with STLS.
func DialPOP3STLS(addr string) (*POP3Client, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := newPOP3(conn)
	if err != nil {
		return nil, err
	}
	if _, err := c.Cmd("STLS"); err != nil {
		c.conn.Close()
		return nil, err
	}
	tconn := tls.Client(conn, TLSConfig())
	if err := tconn.Handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	c.conn = tconn
	c.tp = textproto.NewConn(tconn)
	return c, nil
}

func newPOP3(conn net.Conn) (*POP3Client, error) {
	c := &POP3Client{conn: conn, tp: textproto.NewConn(conn)}
	if _, err := c.readStatus(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

// POP3Error is a -ERR reply.
type POP3Error struct{ Line string }

func (e *POP3Error) Error() string { return "pop3: " + e.Line }

func (c *POP3Client) readStatus() (string, error) {
	line, err := c.tp.ReadLine()
	if err != nil {
		return "", err
	}
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return strings.TrimPrefix(strings.TrimPrefix(line, "+OK"), " "), nil
	case strings.HasPrefix(line, "-ERR"):
		return "", &POP3Error{Line: line}
	}
	return "", fmt.Errorf("pop3: unexpected reply %q", line)
}

// Cmd sends one command and returns the text after "+OK".
func (c *POP3Client) Cmd(format string, args ...any) (string, error) {
	if err := c.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	return c.readStatus()
}

// MultiCmd sends a command with a multi-line answer and returns the body
// with dot-stuffing undone and line ends as "\n".
func (c *POP3Client) MultiCmd(format string, args ...any) ([]byte, error) {
	if _, err := c.Cmd(format, args...); err != nil {
		return nil, err
	}
	return c.tp.ReadDotBytes()
}

// Login authenticates with USER and PASS.
func (c *POP3Client) Login(user, pass string) error {
	if _, err := c.Cmd("USER %s", user); err != nil {
		return err
	}
	_, err := c.Cmd("PASS %s", pass)
	return err
}

// Stat returns the message count and total size.
func (c *POP3Client) Stat() (count, size int, err error) {
	s, err := c.Cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(s, "%d %d", &count, &size); err != nil {
		return 0, 0, fmt.Errorf("pop3: bad STAT reply %q", s)
	}
	return count, size, nil
}

// UIDL returns message number → unique id for every message.
func (c *POP3Client) UIDL() (map[int]string, error) {
	body, err := c.MultiCmd("UIDL")
	if err != nil {
		return nil, err
	}
	m := map[int]string{}
	for _, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("pop3: bad UIDL line %q", line)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("pop3: bad UIDL line %q", line)
		}
		m[n] = f[1]
	}
	return m, nil
}

// Retr returns message n.
func (c *POP3Client) Retr(n int) ([]byte, error) { return c.MultiCmd("RETR %d", n) }

// Top returns the header of message n and its first lines of body.
func (c *POP3Client) Top(n, lines int) ([]byte, error) { return c.MultiCmd("TOP %d %d", n, lines) }

// Dele marks message n deleted.
func (c *POP3Client) Dele(n int) error {
	_, err := c.Cmd("DELE %d", n)
	return err
}

// Quit ends the session (committing deletions) and closes the connection.
func (c *POP3Client) Quit() error {
	_, err := c.Cmd("QUIT")
	c.conn.Close()
	return err
}

// Close closes the connection without QUIT (deletions are not committed).
func (c *POP3Client) Close() error { return c.conn.Close() }

// Header returns the value of the first header field called name in the
// header section of msg (lines ending in "\n" or "\r\n"), unfolded; ok is
// false if there is none.
func Header(msg []byte, name string) (value string, ok bool) {
	vals := Headers(msg, name)
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// Headers returns the values of every header field called name in msg.
func Headers(msg []byte, name string) []string {
	text := strings.ReplaceAll(string(msg), "\r\n", "\n")
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i]
	}
	var out []string
	cur := -1
	for _, line := range strings.Split(text, "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if cur >= 0 {
				out[cur] += " " + strings.TrimSpace(line)
			}
			continue
		}
		cur = -1
		k, v, found := strings.Cut(line, ":")
		if found && strings.EqualFold(strings.TrimSpace(k), name) {
			out = append(out, strings.TrimSpace(v))
			cur = len(out) - 1
		}
	}
	return out
}
