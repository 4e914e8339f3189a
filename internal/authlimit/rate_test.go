package authlimit

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestGuessesPerHourFromManyAddresses measures what issue 11 asks to
// record: how many passwords of one account a botnet gets checked per
// hour with the default limits, every address new, each retrying the
// moment a turn comes (the simulated clock does not wait for replies).
// The bound is the account's bucket (3 × Failures) filled once, then one
// turn per Window / (3 × Failures).
func TestGuessesPerHourFromManyAddresses(t *testing.T) {
	l, c := newTest(t, nil)
	c.Freeze()
	next := 0
	addr := func() netip.Addr {
		next++
		return netip.AddrFrom4([4]byte{10, byte(next >> 16), byte(next >> 8), byte(next)})
	}
	perHour := make([]int, 3)
	for h := range perHour {
		end := c.Now().Add(time.Hour)
		for c.Now().Before(end) {
			err := try(l, addr(), bob, fmt.Sprint("guess", next), false)
			if err == nil {
				perHour[h]++
				continue
			}
			var r *Refused
			if !errors.As(err, &r) || r.Reason != ReasonAccount {
				t.Fatalf("refused with %v, want the account slowed", err)
			}
			c.Advance(r.Until.Sub(c.Now()))
		}
	}
	t.Logf("guesses checked per hour for one account from new addresses: %v (first hour includes the burst that fills the account's count)", perHour)
	steady := spread * testFailures // one per Window/(3×Failures)
	for h, n := range perHour {
		limit := steady + 1
		if h == 0 {
			limit += spread * testFailures
		}
		if n > limit {
			t.Fatalf("hour %d: %d guesses checked, want at most %d", h, n, limit)
		}
	}
}
