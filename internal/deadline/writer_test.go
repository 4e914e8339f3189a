package deadline

import (
	"os"
	"testing"
	"time"
)

// stallConn is a connection whose client reads nothing once full bytes
// were taken: a write then fails at its deadline, as a socket's would,
// and the clock jumps to it.
type stallConn struct {
	clock    *fakeClock
	full     int // bytes the client takes before it stalls; <0: never stalls
	taken    int
	deadline time.Time
	perByte  time.Duration // time each byte takes to go
}

func (c *stallConn) SetWriteDeadline(t time.Time) error { c.deadline = t; return nil }

func (c *stallConn) Write(p []byte) (int, error) {
	for i := range p {
		if c.full >= 0 && c.taken >= c.full {
			if !c.deadline.IsZero() && c.clock.t.Before(c.deadline) {
				c.clock.t = c.deadline
			}
			return i, os.ErrDeadlineExceeded
		}
		c.clock.advance(c.perByte)
		if !c.deadline.IsZero() && !c.clock.t.Before(c.deadline) {
			return i, os.ErrDeadlineExceeded
		}
		c.taken++
	}
	return len(p), nil
}

func newWriter(c *stallConn, timeout time.Duration, rate int64) *Writer {
	w := NewWriter(c, timeout, rate)
	w.timer.now = c.clock.now
	return w
}

// A client that stops reading loses its connection within the timeout,
// however much it had read before, and the failure sticks.
func TestWriterStalledReader(t *testing.T) {
	_, clock := newTimer()
	c := &stallConn{clock: clock, full: 64 << 10, perByte: time.Microsecond}
	w := newWriter(c, time.Minute, 500)
	chunk := make([]byte, 4096)
	var err error
	start := clock.t
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = w.Write(chunk)
	}
	if !os.IsTimeout(err) {
		t.Fatalf("write to a stalled reader: %v, want a timeout", err)
	}
	if held := clock.t.Sub(start); held > time.Minute+time.Second {
		t.Fatalf("stalled reader held the writer for %v, want at most the 1m timeout", held)
	}
	if _, err := w.Write(chunk); err == nil || w.Err() == nil {
		t.Fatal("write after a timeout succeeded")
	}
}

// A reader below the minimum rate runs out of time; one above it gets a
// response of any size; Done starts afresh, so a session writing a
// little at long intervals is never charged for the time between.
func TestWriterRate(t *testing.T) {
	_, clock := newTimer()
	// 1 ms a byte: 1,000 B/s, twice the minimum.
	c := &stallConn{clock: clock, full: -1, perByte: time.Millisecond}
	w := newWriter(c, time.Minute, 500)
	chunk := make([]byte, 4096)
	for i := 0; i < 100; i++ { // 400 KB in 400 s
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("reader at twice the minimum rate cut after %d chunks: %v", i, err)
		}
	}
	w.Done()
	for i := 0; i < 10; i++ {
		clock.advance(time.Hour)
		if _, err := w.Write([]byte("* 1 EXISTS\r\n")); err != nil {
			t.Fatalf("small write after an hour's pause: %v", err)
		}
		w.Done()
	}
	// 4 ms a byte: 250 B/s, half the minimum.
	c.perByte = 4 * time.Millisecond
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(chunk)
	}
	if !os.IsTimeout(err) {
		t.Fatalf("reader at half the minimum rate: %v, want a timeout", err)
	}
}

// A zero timeout sets no deadline.
func TestWriterNoTimeout(t *testing.T) {
	_, clock := newTimer()
	c := &stallConn{clock: clock, full: -1, perByte: time.Second}
	w := newWriter(c, 0, 500)
	if _, err := w.Write(make([]byte, 1000)); err != nil || !c.deadline.IsZero() {
		t.Fatalf("write: %v, deadline %v", err, c.deadline)
	}
}
