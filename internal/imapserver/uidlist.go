package imapserver

import (
	"iter"
	"slices"
	"sort"
)

// uidList is a session's view of the selected mailbox: its UIDs in
// ascending order, position i holding message sequence number i+1.
//
// It is kept as runs of consecutive UIDs, because that is what mailboxes
// mostly are (deliveries take the next UID; expunges cut gaps), and ten
// thousand sessions idling on a 5,500-message INBOX each held a 22 KB
// slice of plain UIDs: most of their memory. A mailbox with every other
// message expunged costs 12 bytes per message instead of 4.
type uidList struct {
	runs []uidRun
	n    int
	// cum[i] is how many UIDs come before runs[i]; nil when stale
	// (rebuilt on the next lookup by position).
	cum []uint32
}

// uidRun is the UIDs first, first+1, ..., first+n-1.
type uidRun struct{ first, n uint32 }

func newUIDList(uids []uint32) uidList {
	var l uidList
	for _, u := range uids {
		l.Append(u)
	}
	return l
}

// Len returns the number of messages.
func (l *uidList) Len() int { return l.n }

// Last returns the highest UID, or 0 for an empty list.
func (l *uidList) Last() uint32 {
	if len(l.runs) == 0 {
		return 0
	}
	r := l.runs[len(l.runs)-1]
	return r.first + r.n - 1
}

// Append adds uid, which must be above Last.
func (l *uidList) Append(uid uint32) {
	if k := len(l.runs); k > 0 && l.runs[k-1].first+l.runs[k-1].n == uid {
		l.runs[k-1].n++
	} else {
		if l.cum != nil {
			l.cum = append(l.cum, uint32(l.n))
		}
		l.runs = append(l.runs, uidRun{uid, 1})
	}
	l.n++
}

func (l *uidList) ensureCum() {
	if l.cum != nil || len(l.runs) == 0 {
		return
	}
	l.cum = make([]uint32, len(l.runs))
	c := uint32(0)
	for i, r := range l.runs {
		l.cum[i] = c
		c += r.n
	}
}

// runOfIndex returns the run holding position i (0 <= i < Len).
func (l *uidList) runOfIndex(i int) int {
	l.ensureCum()
	return sort.Search(len(l.cum), func(k int) bool { return int(l.cum[k]) > i }) - 1
}

// At returns the UID at position i (sequence number i+1).
func (l *uidList) At(i int) uint32 {
	k := l.runOfIndex(i)
	return l.runs[k].first + uint32(i-int(l.cum[k]))
}

// Seq returns uid's sequence number, or 0 if it is not in the list.
func (l *uidList) Seq(uid uint32) int {
	k := sort.Search(len(l.runs), func(k int) bool { return l.runs[k].first > uid }) - 1
	if k < 0 || uid-l.runs[k].first >= l.runs[k].n {
		return 0
	}
	l.ensureCum()
	return int(l.cum[k]) + int(uid-l.runs[k].first) + 1
}

// CountBelow returns how many UIDs in the list are below uid.
func (l *uidList) CountBelow(uid uint32) int {
	// The first run that starts at or above uid.
	k := sort.Search(len(l.runs), func(k int) bool { return l.runs[k].first >= uid })
	if k == 0 {
		return 0
	}
	l.ensureCum()
	prev := l.runs[k-1]
	return int(l.cum[k-1]) + int(min(prev.n, uid-prev.first))
}

// DeleteAt removes the UID at position i.
func (l *uidList) DeleteAt(i int) {
	k := l.runOfIndex(i)
	r := &l.runs[k]
	off := uint32(i - int(l.cum[k]))
	switch {
	case r.n == 1:
		l.runs = slices.Delete(l.runs, k, k+1)
	case off == 0:
		r.first++
		r.n--
	case off == r.n-1:
		r.n--
	default:
		tail := uidRun{r.first + off + 1, r.n - off - 1}
		r.n = off
		l.runs = slices.Insert(l.runs, k+1, tail)
	}
	l.n--
	l.cum = nil
}

// All yields each position and UID in order.
func (l *uidList) All() iter.Seq2[int, uint32] {
	return func(yield func(int, uint32) bool) {
		i := 0
		for _, r := range l.runs {
			for u := r.first; u < r.first+r.n; u++ {
				if !yield(i, u) {
					return
				}
				i++
			}
		}
	}
}

// Slice returns the UIDs as a new slice.
func (l *uidList) Slice() []uint32 {
	out := make([]uint32, 0, l.n)
	for _, u := range l.All() {
		out = append(out, u)
	}
	return out
}
