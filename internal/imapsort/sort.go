package imapsort

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Criterion is one SORT key with its REVERSE modifier (RFC 5256 §3).
type Criterion struct {
	Key     string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM or DISPLAYTO; case-insensitive
	Reverse bool   // REVERSE: this key sorts in descending order
}

// The sort keys this package knows: those of RFC 5256 §3 and the two of
// RFC 5957 §4 (SORT=DISPLAY).
const (
	KeyArrival     = "ARRIVAL"     // INTERNALDATE
	KeyCc          = "CC"          // addr-mailbox of the first Cc address
	KeyDate        = "DATE"        // sent date (RFC 5256 §2.2)
	KeyFrom        = "FROM"        // addr-mailbox of the first From address
	KeySize        = "SIZE"        // RFC822.SIZE
	KeySubject     = "SUBJECT"     // base subject (RFC 5256 §2.1)
	KeyTo          = "TO"          // addr-mailbox of the first To address
	KeyDisplayFrom = "DISPLAYFROM" // display name of the first From address (RFC 5957)
	KeyDisplayTo   = "DISPLAYTO"   // display name of the first To address (RFC 5957)
)

// KnownKey reports whether key (any case) is a sort key Sort understands,
// so that the server can reject a SORT command with an unknown key with BAD
// before sorting.
func KnownKey(key string) bool {
	switch strings.ToUpper(key) {
	case KeyArrival, KeyCc, KeyDate, KeyFrom, KeySize, KeySubject, KeyTo, KeyDisplayFrom, KeyDisplayTo:
		return true
	}
	return false
}

// column holds one sort key's value for every message, computed once so
// that the O(n log n) comparisons only compare ready values.
type column struct {
	kind    columnKind
	reverse bool
	times   []time.Time // kind timeColumn: ARRIVAL, DATE
	nums    []int64     // kind numColumn: SIZE
	strs    []string    // kind strColumn: the rest, as CompareKey forms
}

type columnKind int

const (
	strColumn columnKind = iota
	timeColumn
	numColumn
)

// Sort returns msgs ordered by the criteria (RFC 5256 §3): by the first
// criterion, ties by the second, and so on; messages equal under all of
// them keep sequence-number order, the implicit last key. REVERSE turns
// only its own key around, never the sequence-number tie-break.
//
// String keys compare through CompareKey: SUBJECT by base subject, FROM,
// TO and CC by the mailbox (local part) of the first address, DISPLAYFROM
// and DISPLAYTO by the first address's display name or else its address;
// a missing header or address sorts as the empty string, before anything
// else. Unknown keys are ignored (check them with KnownKey).
//
// msgs is not modified; the result is a new slice.
func Sort(msgs []Msg, crit []Criterion) []Msg {
	cols := make([]column, 0, len(crit))
	for _, c := range crit {
		col, ok := newColumn(msgs, strings.ToUpper(c.Key))
		if !ok {
			continue
		}
		col.reverse = c.Reverse
		cols = append(cols, col)
	}

	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		for i := range cols {
			col := &cols[i]
			var c int
			switch col.kind {
			case timeColumn:
				c = col.times[a].Compare(col.times[b])
			case numColumn:
				c = cmp.Compare(col.nums[a], col.nums[b])
			default:
				c = strings.Compare(col.strs[a], col.strs[b])
			}
			if c != 0 {
				if col.reverse {
					return -c
				}
				return c
			}
		}
		if c := cmp.Compare(msgs[a].Seq, msgs[b].Seq); c != 0 {
			return c
		}
		return cmp.Compare(a, b) // equal sequence numbers: keep input order
	})

	out := make([]Msg, len(msgs))
	for i, j := range order {
		out[i] = msgs[j]
	}
	return out
}

// newColumn computes the values of an upper-case key for all messages.
func newColumn(msgs []Msg, key string) (column, bool) {
	var col column
	switch key {
	case KeyArrival, KeyDate:
		col.kind = timeColumn
		col.times = make([]time.Time, len(msgs))
		for i := range msgs {
			if key == KeyArrival {
				col.times[i] = msgs[i].Arrival
			} else {
				col.times[i] = msgs[i].SentDate()
			}
		}
		return col, true
	case KeySize:
		col.kind = numColumn
		col.nums = make([]int64, len(msgs))
		for i := range msgs {
			col.nums[i] = msgs[i].Size
		}
		return col, true
	}

	var value func(m *Msg) string
	switch key {
	case KeySubject:
		value = func(m *Msg) string { return BaseSubject(m.Subject) }
	case KeyFrom:
		value = func(m *Msg) string { return firstMailbox(m.From) }
	case KeyTo:
		value = func(m *Msg) string { return firstMailbox(m.To) }
	case KeyCc:
		value = func(m *Msg) string { return firstMailbox(m.Cc) }
	case KeyDisplayFrom:
		value = func(m *Msg) string { return displayKey(m.From) }
	case KeyDisplayTo:
		value = func(m *Msg) string { return displayKey(m.To) }
	default:
		return column{}, false
	}
	col.strs = make([]string, len(msgs))
	for i := range msgs {
		col.strs[i] = CompareKey(value(&msgs[i]))
	}
	return col, true
}

// firstMailbox is the FROM/TO/CC sort value (RFC 5256 §3): the
// addr-mailbox of the first address, or "" when there is none.
func firstMailbox(raw string) string {
	a, _ := firstAddress(raw)
	return a.mailbox
}
