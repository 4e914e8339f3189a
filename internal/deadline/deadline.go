// Package deadline bounds how long a client may take over each phase of a
// protocol exchange: reading one command, one block of message data, or
// logging in.
//
// A read deadline pushed forward before every read bounds only the gap
// between two bytes, so a client sending one byte every few seconds holds
// its connection (and a connection slot) forever. A Timer instead fixes
// the deadline when a phase starts; in a data phase a client earns more
// time only by keeping up a minimum transfer rate, and never more than
// the phase's window ahead of now. RFC 5321 §4.5.3.2's timeouts are read
// as upper bounds on the whole phase, which the RFC allows: they are
// minimums a server should wait, and a client sending that slowly is not
// one they were written for.
package deadline

import "time"

// Timer is the read deadline of a connection's current phase. The zero
// value has no deadline. A Timer is used by one goroutine (the session's).
type Timer struct {
	end    time.Time     // the current phase's deadline; zero: none
	window time.Duration // a data phase's deadline never lies further ahead than this
	rate   int64         // bytes per second that earn more time in a data phase; 0: none
	limit  time.Time     // over every phase, e.g. the time to log in; zero: none

	now func() time.Time // time.Now; tests replace it
}

func (t *Timer) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

// Phase starts a phase that must end within d, however the client's
// bytes trickle in (waiting for and reading one command line).
func (t *Timer) Phase(d time.Duration) {
	t.end = t.clock().Add(d)
	t.window, t.rate = 0, 0
}

// DataPhase starts a phase that must end within d unless the client keeps
// up rate bytes per second: every n bytes read move the deadline n/rate
// seconds later, but never more than d ahead of now (so time cannot be
// banked by a fast start). A client sending below rate runs out of time
// within about d·rate/(rate−its rate); one that stalls, within d.
// rate ≤ 0 makes it a plain Phase.
func (t *Timer) DataPhase(d time.Duration, rate int64) {
	t.Phase(d)
	if rate > 0 {
		t.window, t.rate = d, rate
	}
}

// Stop ends the phase: Deadline is the limit alone, and Read credits
// nothing. For phases that manage their deadline themselves (IMAP IDLE).
func (t *Timer) Stop() {
	t.end = time.Time{}
	t.window, t.rate = 0, 0
}

// Active reports whether a phase is running.
func (t *Timer) Active() bool { return !t.end.IsZero() }

// SetLimit bounds every phase by at; the zero time removes the bound.
func (t *Timer) SetLimit(at time.Time) { t.limit = at }

// Limit returns the bound set by SetLimit.
func (t *Timer) Limit() time.Time { return t.limit }

// LimitPassed reports whether the limit (not merely a phase's deadline)
// has passed: which of the two ended a read decides the goodbye text.
func (t *Timer) LimitPassed() bool {
	return !t.limit.IsZero() && !t.clock().Before(t.limit)
}

// Deadline is what the connection's read deadline should be now: the
// earlier of the phase's deadline and the limit (zero: none).
func (t *Timer) Deadline() time.Time {
	switch {
	case t.end.IsZero():
		return t.limit
	case t.limit.IsZero() || t.end.Before(t.limit):
		return t.end
	default:
		return t.limit
	}
}

// Read records that n bytes arrived in the current phase, crediting a
// data phase with n/rate seconds.
func (t *Timer) Read(n int) {
	if n <= 0 || t.rate <= 0 || t.end.IsZero() {
		return
	}
	t.end = t.end.Add(time.Duration(int64(n) * int64(time.Second) / t.rate))
	if most := t.clock().Add(t.window); t.end.After(most) {
		t.end = most
	}
}
