// Package textsearch finds a string in text regardless of case, in time
// linear in the text whatever the text and the string: IMAP SEARCH BODY,
// TEXT and HEADER are substring searches (RFC 9051 §6.4.4) with both the
// text (a message) and the string (the search key) chosen by the client.
//
// A needle is folded and prepared once (Knuth-Morris-Pratt failure
// function), then each text is read one character at a time and never
// backed up over: repeated characters in both cannot make the work grow
// as the product of their lengths, as a naive search or a rolling hash
// with crafted collisions can.
package textsearch

import (
	"unicode"
	"unicode/utf8"
)

// Needle is a string prepared for searching.
type Needle struct {
	runes []rune  // folded
	fail  []int32 // fail[i]: longest proper border of runes[:i+1]
}

// New prepares s for searching.
func New(s string) *Needle {
	n := &Needle{runes: make([]rune, 0, len(s))}
	for _, r := range s {
		n.runes = append(n.runes, Fold(r))
	}
	n.fail = make([]int32, len(n.runes))
	k := int32(0)
	for i := 1; i < len(n.runes); i++ {
		for k > 0 && n.runes[i] != n.runes[k] {
			k = n.fail[k-1]
		}
		if n.runes[i] == n.runes[k] {
			k++
		}
		n.fail[i] = k
	}
	return n
}

// Len is the needle's length in characters.
func (n *Needle) Len() int { return len(n.runes) }

// In reports whether text contains the needle, ignoring case, and how
// many characters of text it read to find out (at most all of them): the
// work, for callers that account for it. The empty needle is in every
// text.
func (n *Needle) In(text string) (found bool, read int) {
	if len(n.runes) == 0 {
		return true, 0
	}
	k := int32(0)
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		read++
		r = Fold(r)
		for k > 0 && r != n.runes[k] {
			k = n.fail[k-1]
		}
		if r == n.runes[k] {
			k++
			if int(k) == len(n.runes) {
				return true, read
			}
		}
	}
	return false, read
}

// Contains reports whether text contains needle, ignoring case.
func Contains(text, needle string) bool {
	found, _ := New(needle).In(text)
	return found
}

// Fold maps r to one representative of the characters that are equal to
// it regardless of case (its simple case folding orbit, RFC 9051
// §6.4.4's "case-insensitive" in the sense of i;unicode-casemap for
// single characters): the smallest of them, so that 'k', 'K' and the
// Kelvin sign are one.
func Fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		if r != 'K' && r != 'S' {
			return r // the orbits of K and S hold characters past ASCII
		}
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}
