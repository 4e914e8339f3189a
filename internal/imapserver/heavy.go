package imapserver

import "sync/atomic"

// workCounters count what the expensive commands did.
type workCounters struct {
	listSteps atomic.Int64
}

// Work is what the expensive commands of a server did so far.
type Work struct {
	// ListSteps counts the bytes of mailbox names LIST pattern matching
	// looked at, once per pattern segment.
	ListSteps int64
}

// Work returns the work counters: counts until the server has metrics
// (issue 14), and what tests assert bounds on.
func (s *Server) Work() Work {
	return Work{ListSteps: s.work.listSteps.Load()}
}

// cancelled ends a command whose context ended before it was done: the
// client hung up (nobody reads the answer) or the server is shutting
// down.
func (s *session) cancelled(tag, cmd string) {
	s.log.Info("command cancelled", "command", cmd)
	s.no(tag, "[UNAVAILABLE] "+cmd+" cancelled")
}
