package imapserver

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUIDListMatchesSlice drives a uidList and a plain slice through the
// same random appends and deletions and compares every lookup.
func TestUIDListMatchesSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var want []uint32
		var l uidList
		next := uint32(1)
		for range 400 {
			switch op := rng.IntN(10); {
			case op < 6 || len(want) == 0:
				next += uint32(rng.IntN(3)) // sometimes leave a gap
				want = append(want, next)
				l.Append(next)
				next++
			default:
				i := rng.IntN(len(want))
				want = slices.Delete(want, i, i+1)
				l.DeleteAt(i)
			}
			if l.Len() != len(want) {
				t.Fatalf("round %d: Len %d, want %d", round, l.Len(), len(want))
			}
		}
		if got := l.Slice(); !slices.Equal(got, want) {
			t.Fatalf("round %d: Slice\n got %v\nwant %v", round, got, want)
		}
		for i, u := range want {
			if l.At(i) != u {
				t.Fatalf("round %d: At(%d) = %d, want %d", round, i, l.At(i), u)
			}
			if l.Seq(u) != i+1 {
				t.Fatalf("round %d: Seq(%d) = %d, want %d", round, u, l.Seq(u), i+1)
			}
		}
		for u := uint32(0); u <= next+1; u++ {
			below, found := slices.BinarySearch(want, u)
			if !found && l.Seq(u) != 0 {
				t.Fatalf("round %d: Seq(%d) = %d for a UID not in the list", round, u, l.Seq(u))
			}
			if got := l.CountBelow(u); got != below {
				t.Fatalf("round %d: CountBelow(%d) = %d, want %d", round, u, got, below)
			}
		}
		if len(want) > 0 && l.Last() != want[len(want)-1] {
			t.Fatalf("round %d: Last %d", round, l.Last())
		}
	}
}

// TestUIDListCompact: a contiguous mailbox is one run, whatever its size.
func TestUIDListCompact(t *testing.T) {
	uids := make([]uint32, 100000)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	l := newUIDList(uids)
	if len(l.runs) != 1 || l.Len() != 100000 || l.At(99999) != 100000 {
		t.Fatalf("runs %d len %d", len(l.runs), l.Len())
	}
	l.DeleteAt(50000)
	if len(l.runs) != 2 || l.Seq(50001) != 0 || l.Seq(50002) != 50001 {
		t.Fatalf("after delete: runs %v", l.runs)
	}
}
