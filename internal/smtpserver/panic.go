package smtpserver

import (
	"log/slog"
	"time"
)

// recoverPanic ends a session whose command handler panicked, instead of
// the process and every other session with it: the panic is logged with
// its stack and counted, the client gets 421 (RFC 5321 §3.8: the server
// closes the connection) after whatever replies were already buffered,
// and run's deferred clean-up (the transaction's spooled message, the
// buffers, the connection) follows as for any other end. Deferred in run
// once the session has its writer.
func (s *session) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	s.srv.panics.Log(s.log, p)
	_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.replyLine("421 4.3.0 " + s.cfg.Hostname + " Internal error, closing connection")
	_ = s.w.Flush()
}

// recoverSession is the last resort for a panic in a session before it
// can write (TLS handshake, connection limits): logged and counted; run's
// deferred functions have closed the connection.
func (s *Server) recoverSession(log *slog.Logger) {
	if p := recover(); p != nil {
		s.panics.Log(log, p)
	}
}
