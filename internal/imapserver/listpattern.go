package imapserver

import (
	"strings"
)

// Limits of LIST patterns. A matcher's work grows with the wildcards of
// a pattern, and a command's with its patterns; the limits keep the cost
// of a LIST at a small multiple of the bytes of the account's mailbox
// names, whatever the client sends.
const (
	// maxListPatterns bounds the patterns of one LIST (RFC 5258 §3
	// allows a list); clients send one or two.
	maxListPatterns = 32
	// maxListWildcards bounds the wildcards of all patterns of one LIST
	// together, a run of them ("**", "%*") counting once; "INBOX/*/%"
	// has two.
	maxListWildcards = 32
)

// listPattern is a compiled LIST pattern (RFC 9051 §6.3.9): '*' matches
// any characters, '%' any but the hierarchy delimiter '/'.
//
// It matches in time linear in the name for each wildcard: the pattern
// is cut into literal segments, and the matcher keeps the set of
// positions in the name where the match so far may end, segment by
// segment, instead of backtracking. Runs of wildcards collapse into one
// ("%*" is "*"), so "*" sent 60,000 times is one wildcard. The regular
// expression this replaces needed a state per wildcard for every
// character of every name: LIST "" "<60,000 *>" took 24.7 CPU-seconds.
type listPattern struct {
	segs []string // literal runs: segs[0] before the first wildcard, the last after the last
	wild []byte   // wild[i] ('*' or '%') lies between segs[i] and segs[i+1]
	// fail holds the KMP failure function of segs[i] for i ≥ 1, to find
	// every occurrence of a segment in a name in one pass.
	fail [][]int32
}

// compileListPattern joins the reference and the pattern (RFC 9051
// §6.3.9: the pattern is interpreted relative to the reference) and
// compiles them. INBOX at the start matches in any case, as the name does
// (RFC 9051 §5.1).
func compileListPattern(ref, pat string) *listPattern {
	full := pat
	if ref != "" && !strings.HasPrefix(pat, "/") {
		full = strings.TrimSuffix(ref, "/") + "/" + pat
		if strings.HasSuffix(ref, "/") {
			full = ref + pat
		}
	}
	if len(full) >= 5 && strings.EqualFold(full[:5], "INBOX") && (len(full) == 5 || full[5] == '/' || full[5] == '*' || full[5] == '%') {
		full = "INBOX" + full[5:]
	}
	p := &listPattern{}
	var seg strings.Builder
	for i := 0; i < len(full); {
		c := full[i]
		if c != '*' && c != '%' {
			seg.WriteByte(c)
			i++
			continue
		}
		w := byte('%')
		for ; i < len(full) && (full[i] == '*' || full[i] == '%'); i++ {
			if full[i] == '*' {
				w = '*'
			}
		}
		p.segs = append(p.segs, seg.String())
		p.wild = append(p.wild, w)
		seg.Reset()
	}
	p.segs = append(p.segs, seg.String())
	p.fail = make([][]int32, len(p.segs))
	for i := 1; i < len(p.segs); i++ {
		p.fail[i] = kmpTable(p.segs[i])
	}
	return p
}

// wildcards is the number of wildcards once runs are collapsed.
func (p *listPattern) wildcards() int { return len(p.wild) }

// kmpTable returns the Knuth-Morris-Pratt failure function of s: f[i] is
// the length of the longest proper prefix of s[:i+1] that is also its
// suffix.
func kmpTable(s string) []int32 {
	f := make([]int32, len(s))
	k := int32(0)
	for i := 1; i < len(s); i++ {
		for k > 0 && s[i] != s[k] {
			k = f[k-1]
		}
		if s[i] == s[k] {
			k++
		}
		f[i] = k
	}
	return f
}

// listMatcher matches names against patterns, reusing its buffers, and
// counts its steps (one per byte of a name looked at for one segment).
type listMatcher struct {
	cur, reach, next []bool // per position in the name
	steps            int64
}

// match reports whether name matches p.
func (m *listMatcher) match(p *listPattern, name string) bool {
	n := len(name)
	first := p.segs[0]
	m.steps += int64(min(len(first), n)) + 1
	if !strings.HasPrefix(name, first) {
		return false
	}
	if len(p.wild) == 0 {
		return n == len(first)
	}
	if cap(m.cur) < n+1 {
		m.cur, m.reach, m.next = make([]bool, n+1), make([]bool, n+1), make([]bool, n+1)
	}
	// cur[i]: the pattern up to the current segment can match name[:i].
	cur, reach, next := m.cur[:n+1], m.reach[:n+1], m.next[:n+1]
	clear(cur)
	cur[len(first)] = true
	for j, w := range p.wild {
		seg, fail := p.segs[j+1], p.fail[j+1]
		// reach[i]: the wildcard can end at i, having started where
		// cur says the match so far ends ('%' not across a '/').
		reach[0] = cur[0]
		for i := 1; i <= n; i++ {
			reach[i] = cur[i] || reach[i-1] && (w == '*' || name[i-1] != '/')
		}
		// next[i]: seg ends at i and starts where the wildcard can end.
		// Knuth-Morris-Pratt finds every occurrence in one pass.
		any := false
		if len(seg) == 0 {
			copy(next, reach)
			any = true
		} else {
			clear(next)
			k := int32(0)
			for i := 0; i < n; i++ {
				c := name[i]
				for k > 0 && c != seg[k] {
					k = fail[k-1]
				}
				if c == seg[k] {
					k++
				}
				if int(k) == len(seg) {
					if start := i + 1 - len(seg); reach[start] {
						next[i+1], any = true, true
					}
					k = fail[k-1]
				}
			}
		}
		m.steps += 2 * (int64(n) + 1)
		if !any {
			return false
		}
		cur, next = next, cur
	}
	return cur[n]
}
