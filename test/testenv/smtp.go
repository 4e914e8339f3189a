package testenv

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strings"
)

// SMTPClient is a minimal SMTP client written for tests (no pipelining,
// no extensions beyond what it is asked to send). Unlike net/smtp it
// returns the server's reply text, which carries the tracking id.
type SMTPClient struct {
	conn net.Conn
	tp   *textproto.Conn
}

// DialSMTP connects to addr and reads the 220 greeting.
func DialSMTP(addr string) (*SMTPClient, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &SMTPClient{conn: conn, tp: textproto.NewConn(conn)}
	if _, _, err := c.tp.ReadResponse(220); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

// Cmd sends one command and expects a reply with code expect (a one-digit
// expect accepts the whole class, as textproto does); it returns the reply
// text. A reply with another code is a *textproto.Error.
func (c *SMTPClient) Cmd(expect int, format string, args ...any) (string, error) {
	if err := c.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	_, msg, err := c.tp.ReadResponse(expect)
	return msg, err
}

// DialSubmission connects to a submission listener and gets a session
// ready for MAIL: EHLO, STARTTLS, EHLO again, AUTH PLAIN as user.
func DialSubmission(addr, helo, user, password string) (*SMTPClient, error) {
	c, err := DialSMTP(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.StartTLS(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Cmd(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password))); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Hello sends EHLO.
func (c *SMTPClient) Hello(name string) error {
	_, err := c.Cmd(250, "EHLO %s", name)
	return err
}

// StartTLS sends STARTTLS and upgrades the connection.
func (c *SMTPClient) StartTLS() error {
	if _, err := c.Cmd(220, "STARTTLS"); err != nil {
		return err
	}
	tconn := tls.Client(c.conn, TLSConfig())
	if err := tconn.Handshake(); err != nil {
		return err
	}
	c.conn = tconn
	c.tp = textproto.NewConn(tconn)
	return nil
}

// Send runs one mail transaction and returns the text of the final 250
// reply. msg must use CRLF line ends; dot-stuffing is done here.
func (c *SMTPClient) Send(from string, to []string, msg []byte) (string, error) {
	if _, err := c.Cmd(250, "MAIL FROM:<%s>", from); err != nil {
		return "", err
	}
	for _, r := range to {
		if _, err := c.Cmd(250, "RCPT TO:<%s>", r); err != nil {
			return "", err
		}
	}
	if _, err := c.Cmd(354, "DATA"); err != nil {
		return "", err
	}
	// The message is written raw (it already has CRLF line ends); only
	// dot-stuffing and the terminator are added.
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(msg), "\r\n") {
		if strings.HasPrefix(line, ".") {
			b.WriteString(".")
		}
		b.WriteString(line)
	}
	if !strings.HasSuffix(b.String(), "\r\n") && b.Len() > 0 {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	if _, err := c.tp.W.WriteString(b.String()); err != nil {
		return "", err
	}
	if err := c.tp.W.Flush(); err != nil {
		return "", err
	}
	_, text, err := c.tp.ReadResponse(250)
	return text, err
}

// Quit sends QUIT and closes the connection.
func (c *SMTPClient) Quit() error {
	_, err := c.Cmd(221, "QUIT")
	c.conn.Close()
	return err
}

// Close closes the connection without QUIT.
func (c *SMTPClient) Close() error { return c.conn.Close() }

var trackingIDRe = regexp.MustCompile(`\bid=<?([^\s<>]+)>?`)

// TrackingID extracts the id=… tracking id from a 250 reply to DATA.
func TrackingID(reply string) (string, bool) {
	m := trackingIDRe.FindStringSubmatch(reply)
	if m == nil {
		return "", false
	}
	return m[1], true
}
