package imapserver

import "context"

// SessionCount returns how many sessions the server holds: a session
// counts until its goroutine has ended and released what it held.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// SetSearchStep installs a function called before each message a search
// evaluates by its content, with the command's context.
func (s *Server) SetSearchStep(f func(context.Context)) {
	s.hooks.searchStep.Store(&f)
}
