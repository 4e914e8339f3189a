package smtpserver

import "testing"

// TestPanicEndsOnlyItsSession (issue 11 item 7): a handler that panics
// (here the Backend, in RCPT) took the whole process down. Now the client
// gets 421 and is disconnected, the panic is counted, and a session open
// meanwhile and a new one are served as before.
func TestPanicEndsOnlyItsSession(t *testing.T) {
	ts := startServer(t, Config{})
	ts.backend.mu.Lock()
	ts.backend.panicRcpt = "bug@example.test"
	ts.backend.mu.Unlock()

	other := ts.dialGreeted(t)
	other.cmd("EHLO other.test", "250")
	other.cmd("MAIL FROM:<x@other.test>", "250")

	c := ts.dialGreeted(t)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<x@client.test>", "250")
	c.cmd("RCPT TO:<bug@example.test>", "421 4.3.0")
	c.expectClosed()

	other.cmd("RCPT TO:<bob@example.test>", "250")
	other.cmd("DATA", "354")
	other.cmd("Subject: still here\r\n\r\nbody\r\n.", "250")
	fresh := ts.dialGreeted(t)
	fresh.cmd("EHLO fresh.test", "250")
	if n := ts.srv.Panics(); n != 1 {
		t.Errorf("Panics() = %d, want 1", n)
	}
	if len(ts.backend.deliveries()) != 1 {
		t.Errorf("deliveries %d, want 1", len(ts.backend.deliveries()))
	}
}
