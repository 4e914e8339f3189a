package imapserver_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// dialRefused connects to addr (over TLS when useTLS) and returns the
// first line the server sends, expecting the connection to be refused.
func (e *env) dialRefused(useTLS bool) string {
	e.t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", e.tls, clientTLS())
	} else {
		c, err = net.DialTimeout("tcp", e.plain, wait)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	cl := newClient(e.t, c)
	l := cl.line()
	if !cl.closed() {
		e.t.Fatalf("connection open after %q", l)
	}
	return l
}

// A flood that fills one listener's budget leaves the other listener
// alone (issue 11 item 2).
func TestConnLimitPerListener(t *testing.T) {
	t.Parallel()
	lim := connlimit.New(connlimit.Config{MaxTotal: 100, PerListener: 2})
	e := newEnv(t, func(c *imapserver.Config) { c.ConnLimiter = lim })
	e.dial(false)
	e.dial(false)
	prefix(t, "refused on the flooded listener", e.dialRefused(false), "* BYE [UNAVAILABLE] Too many connections")
	c := e.login(alice)
	c.ok("SELECT INBOX")
}

// A logged-in session leaves the counts of connections not logged in: an
// address at its limit may log in again and again, while strangers are
// held to the limit; on the imaps port the refusal comes after a TLS
// handshake (it used to be a silent close).
func TestConnLimitLoggedInLeavesRoom(t *testing.T) {
	t.Parallel()
	lim := connlimit.New(connlimit.Config{PerAddr: 1})
	e := newEnv(t, func(c *imapserver.Config) { c.ConnLimiter = lim })
	for range 3 {
		e.login(alice)
	}
	e.dial(true) // a stranger, not logging in
	prefix(t, "refused over TLS", e.dialRefused(true), "* BYE [UNAVAILABLE] Too many connections from your address")
	if !strings.Contains(e.dialRefused(false), "from your address") {
		t.Fatal("plain refusal does not say why")
	}
}
