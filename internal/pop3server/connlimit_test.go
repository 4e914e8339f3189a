package pop3server

import (
	"testing"

	"github.com/yizhan-mail/yizhan/internal/connlimit"
)

// A flood that fills one listener's budget leaves the other alone; a
// logged-in session leaves the counts of connections not logged in
// (issue 11 item 2).
func TestConnLimitPerListenerAndLogin(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.ConnLimiter = connlimit.New(connlimit.Config{PerListener: 1, PerAddr: 2})
	})
	env.setBox("alice@example.com", fakeMessage{uidl: "1", body: msg("a")})
	env.dial() // holds the plain listener's only place
	c := env.dialRaw(env.plain)
	if l := c.line(); l != replyTooManyConns {
		t.Fatalf("plain listener full: got %q", l)
	}
	c.expectEOF()

	u := env.dialTLS() // the other listener
	u.expectPrefix("USER alice@example.com", "+OK")
	u.expectPrefix("PASS secret pw", "+OK")
	env.dialTLS() // room again: alice's session left the count
	c = env.dialRaw(env.implicit)
	c.handshake()
	if l := c.line(); l != replyTooManyConns {
		t.Fatalf("TLS listener full: got %q", l)
	}
	c.expectEOF()
	u.expectPrefix("STAT", "+OK")
}
