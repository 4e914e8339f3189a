package pop3server

import "log/slog"

// recoverPanic ends a session whose command handler panicked, instead of
// the process and every other session with it: the panic is logged with
// its stack and counted, the client gets -ERR [SYS/TEMP] (RFC 3206 §4: a
// problem on our side) after whatever replies were already buffered, and
// run's deferred clean-up follows: the maildrop is closed and unlocked
// without entering UPDATE, so nothing marked deleted is expunged (RFC
// 1939 §6). Deferred in run once the session can write.
func (s *session) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	s.srv.panics.Log(s.log, p)
	s.writeLine("-ERR [SYS/TEMP] Internal error, closing connection")
	_ = s.bw.Flush()
}

// recoverSession is the last resort for a panic in a session outside its
// command loop: logged and counted; run's deferred functions have closed
// the connection.
func (s *Server) recoverSession(log *slog.Logger) {
	if p := recover(); p != nil {
		s.panics.Log(log, p)
	}
}
