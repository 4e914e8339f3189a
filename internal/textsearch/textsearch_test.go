package textsearch

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// naive is the reference: every start position, folded rune by rune.
func naive(text, needle string) bool {
	t, n := foldAll(text), foldAll(needle)
	for i := 0; i+len(n) <= len(t); i++ {
		ok := true
		for j := range n {
			if t[i+j] != n[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func foldAll(s string) []rune {
	var out []rune
	for _, r := range s {
		out = append(out, Fold(r))
	}
	return out
}

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		text, needle string
		want         bool
	}{
		{"Hello World", "o w", true},
		{"Hello World", "WORLD", true},
		{"Hello World", "worlds", false},
		{"", "", true},
		{"abc", "", true},
		{"", "a", false},
		{"aabaabaaab", "aaab", true},
		{"abababac", "ababac", true},
		{"kelvin \u212a", "K", true},
		{"STRASSE", "straße", false}, // simple folding only, as the index
		{"ſtop", "STOP", true},
		{"感謝信件內容", "謝信", true},
		{"Ünïcödé", "üNÏ", true},
		{"\xff\xfe", "\xfe", true},
	} {
		if got := Contains(tc.text, tc.needle); got != tc.want {
			t.Errorf("Contains(%q, %q) = %v, want %v", tc.text, tc.needle, got, tc.want)
		}
		if got := naive(tc.text, tc.needle); got != tc.want {
			t.Errorf("naive(%q, %q) = %v, want %v", tc.text, tc.needle, got, tc.want)
		}
	}
}

// TestLinear: repeated characters in text and needle (the SEARCH BODY
// attack) cost one step per character of text.
func TestLinear(t *testing.T) {
	text := strings.Repeat("a", 256<<10)
	for _, tc := range []struct {
		needle string
		want   bool
	}{
		{strings.Repeat("a", 60000) + "b", false},
		{strings.Repeat("ab", 30000), false},
		{strings.Repeat("a", 60000), true},
	} {
		found, read := New(tc.needle).In(text)
		if found != tc.want {
			t.Errorf("needle of %d: found %v, want %v", len(tc.needle), found, tc.want)
		}
		if read > len(text) {
			t.Errorf("needle of %d: read %d characters of %d", len(tc.needle), read, len(text))
		}
	}
}

func FuzzContains(f *testing.F) {
	f.Add("Hello World", "o w")
	f.Add("aabaabaaab", "aaab")
	f.Add("kelvin \u212a", "k")
	f.Add("\xff\xfe", "\xfe")
	f.Fuzz(func(t *testing.T, text, needle string) {
		if len(text) > 1000 || len(needle) > 100 {
			return
		}
		found, read := New(needle).In(text)
		if want := naive(text, needle); found != want {
			t.Errorf("Contains(%q, %q) = %v, want %v", text, needle, found, want)
		}
		if read > utf8.RuneCountInString(text) {
			t.Errorf("read %d characters of %d", read, utf8.RuneCountInString(text))
		}
	})
}
