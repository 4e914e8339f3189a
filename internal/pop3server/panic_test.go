package pop3server

import (
	"context"
	"io"
	"testing"
)

// TestPanicEndsOnlyItsSession (issue 11 item 7): a handler that panics
// (here a message's reader, in RETR) took the whole process down. Now the
// client gets -ERR and is disconnected without entering UPDATE (its DELE
// is not applied), its maildrop lock is released, the panic is counted,
// and a session open meanwhile and a new one are served as before.
func TestPanicEndsOnlyItsSession(t *testing.T) {
	env := newTestEnv(t, nil)
	env.setBox("alice@example.com",
		fakeMessage{uidl: "u1", body: msg("Subject: one", "", "one")},
		fakeMessage{uidl: "u2", size: 10, open: func(context.Context) (io.ReadCloser, error) { panic("fakeMessage: a bug") }})
	env.setBox("bob@example.com", fakeMessage{uidl: "b1", body: msg("Subject: bob", "", "hi")})

	other := env.dialTLS()
	other.expectPrefix(other.loginCmd("bob@example.com", "hunter2"), "+OK")

	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 2 messages")
	c.expectPrefix("DELE 1", "+OK")
	c.expectPrefix("RETR 2", "-ERR [SYS/TEMP]")
	c.expectEOF()

	other.expectPrefix("STAT", "+OK 1 ")
	again := env.dialTLS()
	again.expectPrefix(again.loginCmd("alice@example.com", "secret pw"), "+OK Maildrop has 2 messages")
	if calls := env.backend.expungeCalls("alice@example.com"); len(calls) != 0 {
		t.Errorf("the panicking session expunged %v", calls)
	}
	if n := env.srv.Panics(); n != 1 {
		t.Errorf("Panics() = %d, want 1", n)
	}
}
