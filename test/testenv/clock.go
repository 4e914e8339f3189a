package testenv

import (
	"context"
	"sync"
	"time"
)

// Clock is a manual clock for code that takes Now and Sleep functions
// (authlimit's tarpit): Sleep records the wait and moves the clock on at
// once, so a test sees the delays without waiting for them.
type Clock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	frozen bool
}

// NewClock returns a Clock set to a fixed date.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Freeze makes Sleep record waits without moving the clock, as for a
// client that does not wait for its replies (many connections at once).
func (c *Clock) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = true
}

// Sleep records d and advances the clock by it (unless frozen); it
// returns ctx's error if ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	if !c.frozen {
		c.t = c.t.Add(d)
	}
	return ctx.Err()
}

// Slept returns the waits Sleep was asked for, in order.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
