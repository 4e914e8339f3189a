package imapserver

// SessionCount returns how many sessions the server holds: a session
// counts until its goroutine has ended and released what it held.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
