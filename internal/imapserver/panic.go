package imapserver

import (
	"errors"
	"log/slog"
	"time"
)

// errPanicked is what the goroutine reading DONE during IDLE reports
// when it recovered from a panic.
var errPanicked = errors.New("imapserver: panic recovered")

// recoverPanic ends a session whose command handler panicked, instead of
// the process and every other session with it: the panic is logged with
// its stack and counted, the client gets BYE (RFC 9051 §7.1.5: the server
// is closing the connection) with [SERVERBUG] (RFC 5530 §3: a bug in the
// server) after whatever was already buffered, and run's deferred
// clean-up (watcher, connection) follows. Deferred in run once the
// session has its buffers.
func (s *session) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	s.srv.panics.Log(s.log, p)
	s.bye("[SERVERBUG] Internal error, closing connection")
}

// bye sends a last BYE, bounded in time: the client may not be reading.
func (s *session) bye(text string) {
	if s.bw == nil {
		return // IDLE handed the buffers back and did not get them again
	}
	_ = s.netConn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.untagged("BYE " + text)
	_ = s.flush()
}

// recoverSession is the last resort for a panic in a session before it
// can write (TLS handshake, connection limits): logged and counted; run's
// deferred functions have closed the connection.
func (s *Server) recoverSession(log *slog.Logger) {
	if p := recover(); p != nil {
		s.panics.Log(log, p)
	}
}
