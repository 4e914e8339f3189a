package deadline

import (
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTimer() (*Timer, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	return &Timer{now: c.now}, c
}

// A phase's deadline does not move however many bytes arrive: a client
// trickling one byte at a time gets no more time than a silent one.
func TestPhaseDeadlineIsFixed(t *testing.T) {
	tm, c := newTimer()
	start := c.t
	tm.Phase(time.Minute)
	for i := 0; i < 100; i++ {
		c.advance(time.Second / 2)
		tm.Read(1)
	}
	if got, want := tm.Deadline(), start.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v", got, want)
	}
}

// In a data phase, bytes at the minimum rate keep the deadline ahead;
// a trickle below it does not, and credit never reaches past the window.
func TestDataPhaseRate(t *testing.T) {
	tm, c := newTimer()
	tm.DataPhase(3*time.Minute, 500)
	// 1000 bytes a second for ten minutes: always 3 minutes ahead.
	for i := 0; i < 600; i++ {
		c.advance(time.Second)
		tm.Read(1000)
	}
	if got, want := tm.Deadline(), c.t.Add(3*time.Minute); !got.Equal(want) {
		t.Fatalf("fast sender: deadline %v, want %v (window cap)", got, want)
	}
	// One byte every 10 s earns 2 ms each: the deadline comes.
	start := c.t
	expired := false
	for i := 0; i < 100; i++ {
		c.advance(10 * time.Second)
		if !c.t.Before(tm.Deadline()) {
			expired = true
			break
		}
		tm.Read(1)
	}
	if !expired {
		t.Fatalf("slow sender still within its deadline after %v", c.t.Sub(start))
	}
	if waited := c.t.Sub(start); waited > 3*time.Minute+10*time.Second {
		t.Fatalf("slow sender got %v, want about the 3m window", waited)
	}
}

// The limit bounds every phase and survives new phases; Stop leaves it.
func TestLimit(t *testing.T) {
	tm, c := newTimer()
	limit := c.t.Add(90 * time.Second)
	tm.SetLimit(limit)
	tm.Phase(5 * time.Minute)
	if got := tm.Deadline(); !got.Equal(limit) {
		t.Fatalf("deadline %v, want the limit %v", got, limit)
	}
	tm.Phase(10 * time.Second)
	if got, want := tm.Deadline(), c.t.Add(10*time.Second); !got.Equal(want) {
		t.Fatalf("deadline %v, want the phase's %v", got, want)
	}
	tm.Stop()
	if tm.Active() || !tm.Deadline().Equal(limit) {
		t.Fatalf("after Stop: active %v, deadline %v", tm.Active(), tm.Deadline())
	}
	if tm.LimitPassed() {
		t.Fatal("limit passed too early")
	}
	c.advance(90 * time.Second)
	if !tm.LimitPassed() {
		t.Fatal("limit not passed")
	}
	tm.SetLimit(time.Time{})
	if !tm.Deadline().IsZero() || tm.LimitPassed() {
		t.Fatalf("cleared limit: deadline %v", tm.Deadline())
	}
}
