// Package recovery keeps a panic in the code serving one client (a
// protocol session, a control request, a delivery attempt) from ending
// the process and with it every other client's session. The goroutine
// serving the client recovers in a deferred function, hands the value to
// Counter.Log (an ERROR record with the stack, and a count), answers the
// client where it still can and ends only that client's work.
//
// A panic while a lock shared with other clients is held would leave it
// held; the servers hold such locks only around short bookkeeping (their
// session sets, POP3's maildrop locks), not while they parse or answer
// client input. The store's committer and full-text indexer are not
// recovered: they serve no client, and their state after a panic cannot
// be trusted (docs/DESIGN-notes.md).
package recovery

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// Counter counts the panics recovered by one server. The zero value is
// ready to use. Until the project has a metrics library (issue 14), each
// server exposes its count through a Panics method and every recovery
// logs the running total as "panics".
type Counter struct {
	n atomic.Int64
}

// Log records the recovered panic value p: one ERROR record "panic
// recovered" with the value, the stack and the total so far, after
// counting it. Call it from the deferred function that called recover,
// so that the stack still shows where the panic happened.
func (c *Counter) Log(log *slog.Logger, p any) {
	n := c.n.Add(1)
	log.Error("panic recovered", "panic", fmt.Sprint(p), "panics", n, "stack", string(debug.Stack()))
}

// Load returns how many panics were recovered.
func (c *Counter) Load() int64 { return c.n.Load() }
