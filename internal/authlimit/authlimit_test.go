package authlimit

import (
	"net/netip"
	"testing"
	"time"
)

// clock is a manually advanced time source for the Limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(t *testing.T) (*Limiter, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := New(5, 10*time.Minute, 15*time.Minute)
	l.now = c.now
	return l, c
}

var ipA = netip.MustParseAddr("192.0.2.1")

func TestBlockAfterMaxFailures(t *testing.T) {
	l, c := newTest(t)
	for i := 1; i <= 4; i++ {
		if l.Failure(ipA) {
			t.Fatalf("blocked after %d failures, want 5", i)
		}
		if !l.Allowed(ipA) {
			t.Fatalf("not allowed after %d failures", i)
		}
		c.advance(time.Second)
	}
	if !l.Failure(ipA) {
		t.Fatal("5th failure did not block")
	}
	if l.Allowed(ipA) {
		t.Fatal("blocked address allowed")
	}
	if other := netip.MustParseAddr("192.0.2.2"); !l.Allowed(other) {
		t.Fatal("another address is blocked too")
	}
}

func TestPenaltyExpires(t *testing.T) {
	l, c := newTest(t)
	for range 5 {
		l.Failure(ipA)
	}
	c.advance(15*time.Minute - time.Nanosecond)
	if l.Allowed(ipA) {
		t.Fatal("allowed before the penalty ended")
	}
	c.advance(time.Nanosecond)
	if !l.Allowed(ipA) {
		t.Fatal("still blocked after the penalty")
	}
	// The failures that caused the block are forgotten: one more is not
	// enough to block again.
	if l.Failure(ipA) {
		t.Fatal("single failure after the penalty blocked again")
	}
}

func TestOldFailuresDoNotCount(t *testing.T) {
	l, c := newTest(t)
	for range 4 {
		l.Failure(ipA)
	}
	c.advance(10 * time.Minute) // the four are now exactly one window old
	if l.Failure(ipA) {
		t.Fatal("failures older than the window counted")
	}
	if !l.Allowed(ipA) {
		t.Fatal("not allowed")
	}
	// Spread failures so that at most 4 are ever inside one window.
	l2, c2 := newTest(t)
	for i := range 20 {
		if l2.Failure(ipA) {
			t.Fatalf("blocked at failure %d although never 5 within the window", i+1)
		}
		c2.advance(2*time.Minute + 30*time.Second)
	}
}

func TestSuccessClearsFailures(t *testing.T) {
	l, _ := newTest(t)
	for range 4 {
		l.Failure(ipA)
	}
	l.Success(ipA)
	for i := 1; i <= 4; i++ {
		if l.Failure(ipA) {
			t.Fatalf("blocked after %d failures following a success", i)
		}
	}
	if !l.Failure(ipA) {
		t.Fatal("5 failures after the success did not block")
	}
}

func TestSuccessDoesNotLiftBlock(t *testing.T) {
	l, _ := newTest(t)
	for range 5 {
		l.Failure(ipA)
	}
	l.Success(ipA)
	if l.Allowed(ipA) {
		t.Fatal("Success lifted an active block")
	}
}

func TestIPv6Slash64(t *testing.T) {
	l, _ := newTest(t)
	for i := range 5 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)})
		l.Failure(ip)
	}
	if l.Allowed(netip.MustParseAddr("2001:db8:0:1:ffff:ffff:ffff:ffff")) {
		t.Fatal("address in the same /64 not blocked")
	}
	if !l.Allowed(netip.MustParseAddr("2001:db8:0:2::1")) {
		t.Fatal("address in a different /64 blocked")
	}
}

func TestIPv4MappedIsIPv4(t *testing.T) {
	l, _ := newTest(t)
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	for i := range 5 {
		if i%2 == 0 {
			l.Failure(mapped)
		} else {
			l.Failure(ipA)
		}
	}
	if l.Allowed(ipA) || l.Allowed(mapped) {
		t.Fatal("IPv4 and IPv4-mapped IPv6 forms counted separately")
	}
	if !l.Allowed(netip.MustParseAddr("::ffff:192.0.2.2")) {
		t.Fatal("other mapped address blocked")
	}
}

func TestGCBoundsState(t *testing.T) {
	l, c := newTest(t)
	const n = 5000
	for i := range n {
		l.Failure(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if got := len(l.state); got != n {
		t.Fatalf("state has %d entries before anything is stale, want %d", got, n)
	}
	c.advance(10 * time.Minute) // every entry is now stale
	l.Failure(netip.MustParseAddr("203.0.113.9"))
	if got := len(l.state); got > 1 {
		t.Fatalf("state has %d entries after gc of stale ones, want 1", got)
	}
	// Blocked entries survive gc.
	l2, c2 := newTest(t)
	for range 5 {
		l2.Failure(ipA)
	}
	for i := range n {
		l2.Failure(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	c2.advance(10 * time.Minute)
	l2.Failure(netip.MustParseAddr("203.0.113.9"))
	if l2.Allowed(ipA) {
		t.Fatal("gc dropped a blocked address")
	}
	if got := len(l2.state); got > 2 {
		t.Fatalf("state has %d entries, want 2", got)
	}
}
