package smtpserver

import (
	"testing"

	"github.com/yizhan-mail/yizhan/internal/connlimit"
)

// A flood that fills one listener's budget leaves another listener of the
// same limiter alone (issue 11 item 2).
func TestConnLimitPerListener(t *testing.T) {
	lim := connlimit.New(connlimit.Config{MaxTotal: 100, PerListener: 3})
	mx := startServer(t, Config{ConnLimiter: lim})
	sub := startServer(t, Config{Mode: ModeSubmission, ConnLimiter: lim})
	for range 3 {
		mx.dialGreeted(t)
	}
	c := mx.dial(t)
	c.expect("421 4.7.0 Too many connections, try again later")
	c.expectClosed()

	u := sub.dialGreeted(t)
	u.login(sub)
	u.cmd("MAIL FROM:<alice@example.test>", "250 ")
	u.cmd("RCPT TO:<bob@example.test>", "250 ")
	u.cmd("DATA", "354 ")
	u.cmd("From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n.", "250 2.0.0")
}

// A session that has logged in leaves the counts of connections not
// logged in, so an address at its limit may still log in again (an office
// behind one NAT address), while strangers are held to the limit.
func TestConnLimitLoggedInLeavesRoom(t *testing.T) {
	lim := connlimit.New(connlimit.Config{PerAddr: 1, PerListener: 1})
	ts := startServer(t, Config{Mode: ModeSubmission, ConnLimiter: lim})
	for range 3 {
		c := ts.dialGreeted(t)
		c.login(ts)
	}
	stranger := ts.dialGreeted(t)
	stranger.cmd("EHLO client.example.test", "250 ")
	c := ts.dial(t)
	c.expect("421 4.7.0 Too many connections")
	c.expectClosed()
}

// On port 465 a refused client reads the 421 after a TLS handshake (it
// used to be closed without a word).
func TestConnLimitRefusalOverTLS(t *testing.T) {
	lim := connlimit.New(connlimit.Config{PerAddr: 1})
	ts := startServer(t, Config{Mode: ModeSubmissions, ConnLimiter: lim})
	first := ts.dial(t)
	first.startTLS(ts.client)
	first.expect("220 ")
	c := ts.dial(t)
	c.startTLS(ts.client)
	c.expect("421 4.7.0 Too many connections from your address")
	c.expectClosed()
}
