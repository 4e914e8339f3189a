package imapparse

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Range is one element of a sequence set: Start:Stop, or a single number
// when Start == Stop. 0 stands for "*", the largest number in use (RFC 9051
// §9, seq-number). Start may be above Stop: "5:2" is the same as "2:5".
type Range struct {
	Start uint32 // first number, 0 for "*"
	Stop  uint32 // last number, 0 for "*"
}

// SeqSet is a sequence-set of message sequence numbers or UIDs (RFC 9051
// §9). Dollar is set when it names the result saved by a previous
// SEARCH RETURN (SAVE) (RFC 5182 §2.1, "$"); the server substitutes that
// result, which Contains knows nothing of.
type SeqSet struct {
	Ranges []Range // in the order the client gave them
	Dollar bool    // "$" was used
}

// ParseSeqSet parses a sequence-set such as "1:3,7,9:*" or "$".
func ParseSeqSet(s string) (SeqSet, error) {
	var set SeqSet
	if s == "" {
		return set, errors.New("empty sequence set")
	}
	for part := range strings.SplitSeq(s, ",") {
		if part == "$" {
			set.Dollar = true
			continue
		}
		a, b, isRange := strings.Cut(part, ":")
		start, err := parseSeqNumber(a)
		if err != nil {
			return SeqSet{}, err
		}
		stop := start
		if isRange {
			if stop, err = parseSeqNumber(b); err != nil {
				return SeqSet{}, err
			}
		}
		set.Ranges = append(set.Ranges, Range{Start: start, Stop: stop})
	}
	return set, nil
}

// parseSeqNumber parses seq-number: nz-number or "*" (returned as 0).
func parseSeqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || s[0] < '1' || s[0] > '9' || len(s) > 10 {
		return 0, fmt.Errorf("bad sequence number %+q", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad sequence number %+q", s)
	}
	return uint32(n), nil
}

// Contains reports whether n is in the set, "*" standing for max (the
// number of messages or the largest UID). A range is inclusive in either
// direction, so with max 500, "559:*" contains 500 as RFC 9051 §6.4.9
// requires of UID ranges. "$" is not considered.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		lo, hi := r.bounds(max)
		if lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// bounds returns the range with "*" resolved, lowest first.
func (r Range) bounds(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// Dynamic reports whether the set uses "*", so that its meaning depends on
// the mailbox.
func (s SeqSet) Dynamic() bool {
	for _, r := range s.Ranges {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// String renders the set compactly: ranges without "*" are sorted and
// merged where they overlap or touch, single numbers lose their ":n",
// ranges with "*" follow as "n:*" and "$" comes last. The result parses
// back to a set that contains the same numbers for every max.
func (s SeqSet) String() string {
	var fixed []Range
	var star []string
	for _, r := range s.Ranges {
		switch {
		case r.Start == 0 && r.Stop == 0:
			star = append(star, "*")
		case r.Start == 0 || r.Stop == 0:
			star = append(star, strconv.FormatUint(uint64(max(r.Start, r.Stop)), 10)+":*")
		default:
			lo, hi := r.bounds(0)
			fixed = append(fixed, Range{lo, hi})
		}
	}
	slices.SortFunc(fixed, func(a, b Range) int { return cmpUint32(a.Start, b.Start) })
	var b strings.Builder
	for i := 0; i < len(fixed); {
		lo, hi := fixed[i].Start, fixed[i].Stop
		i++
		for i < len(fixed) && (hi == math.MaxUint32 || fixed[i].Start <= hi+1) {
			hi = max(hi, fixed[i].Stop)
			i++
		}
		writeRange(&b, lo, hi)
	}
	slices.Sort(star)
	for i, x := range star {
		if i > 0 && x == star[i-1] {
			continue
		}
		comma(&b)
		b.WriteString(x)
	}
	if s.Dollar {
		comma(&b)
		b.WriteByte('$')
	}
	return b.String()
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func comma(b *strings.Builder) {
	if b.Len() > 0 {
		b.WriteByte(',')
	}
}

func writeRange(b *strings.Builder, lo, hi uint32) {
	comma(b)
	b.WriteString(strconv.FormatUint(uint64(lo), 10))
	if hi != lo {
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(hi), 10))
	}
}

// FormatUIDs renders UIDs as a compact uid-set for responses (COPYUID of
// RFC 4315, ESEARCH ALL of RFC 4731, VANISHED of RFC 7162): sorted,
// duplicates dropped, runs as ranges: "1:3,7,9:10". 0 is not a UID and is
// skipped. uids is not modified.
func FormatUIDs(uids []uint32) string {
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	var b strings.Builder
	for i := 0; i < len(sorted); {
		lo := sorted[i]
		hi := lo
		i++
		for i < len(sorted) && (sorted[i] == hi || sorted[i] == hi+1) {
			hi = sorted[i]
			i++
		}
		if lo == 0 {
			if hi == 0 {
				continue
			}
			lo = 1
		}
		writeRange(&b, lo, hi)
	}
	return b.String()
}
