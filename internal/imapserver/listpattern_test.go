package imapserver

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// refPattern is the reference semantics of a LIST pattern, as a regular
// expression (the matcher the server used before listPattern).
func refPattern(ref, pat string) *regexp.Regexp {
	full := pat
	if ref != "" && !strings.HasPrefix(pat, "/") {
		full = strings.TrimSuffix(ref, "/") + "/" + pat
		if strings.HasSuffix(ref, "/") {
			full = ref + pat
		}
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	if len(full) >= 5 && strings.EqualFold(full[:5], "INBOX") && (len(full) == 5 || full[5] == '/' || full[5] == '*' || full[5] == '%') {
		b.WriteString("INBOX")
		full = full[5:]
	}
	for _, r := range full {
		switch r {
		case '*':
			b.WriteString(".*")
		case '%':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestListPattern(t *testing.T) {
	names := []string{"INBOX", "INBOX/a", "INBOX/a/b", "Inboxes", "a", "a/b", "a/b/c", "ab", "aab", "abab/ab", "b/a", "x%y", "", "aaaa", "a/a/a/a"}
	pats := []struct{ ref, pat string }{
		{"", "*"}, {"", "%"}, {"", "inbox"}, {"", "inbox/%"}, {"", "Inbox*"}, {"", "INBOX%"},
		{"", "a*"}, {"", "a%"}, {"", "a/%"}, {"", "%/%"}, {"", "*b"}, {"", "%b"}, {"", "a*b*"},
		{"", "*a*a*"}, {"", "%a%a%"}, {"", "ab*ab"}, {"", "aa"}, {"", "a**%%b"}, {"", "%*%"},
		{"a", "%"}, {"a/", "*"}, {"a", "/b"}, {"INBOX", "%"}, {"", ""}, {"", "a/*/c"}, {"", "*/*/*"},
		{"", "aa*aa"}, {"", "*aa"}, {"", "%a/a%"},
	}
	var m listMatcher
	for _, p := range pats {
		re := refPattern(p.ref, p.pat)
		lp := compileListPattern(p.ref, p.pat)
		for _, n := range names {
			if got, want := m.match(lp, n), re.MatchString(n); got != want {
				t.Errorf("ref %q pattern %q name %q: match %v, want %v", p.ref, p.pat, n, got, want)
			}
		}
	}
	if w := compileListPattern("", strings.Repeat("*", 60000)).wildcards(); w != 1 {
		t.Errorf("60,000 stars make %d wildcards, want 1", w)
	}
	if w := compileListPattern("", "a*%b%%c*").wildcards(); w != 3 {
		t.Errorf("a*%%b%%%%c* has %d wildcards, want 3", w)
	}
}

// TestListPatternWork: the matcher's steps grow with the name times the
// wildcards, not with a power of either.
func TestListPatternWork(t *testing.T) {
	name := strings.Repeat("a/", 499) + "a"
	pat := compileListPattern("", strings.Repeat("*a%a", maxListWildcards/2)+"b")
	var m listMatcher
	if m.match(pat, name) {
		t.Fatal("matched")
	}
	if limit := int64(2*(len(name)+1)*(maxListWildcards+1)) + int64(len(name)); m.steps > limit {
		t.Errorf("%d steps for a name of %d bytes and %d wildcards, want at most %d", m.steps, len(name), maxListWildcards, limit)
	}
}

// FuzzListPattern checks the matcher against the regular expression
// semantics of LIST patterns.
func FuzzListPattern(f *testing.F) {
	f.Add("", "*a%b", "xa/b")
	f.Add("INBOX", "%", "INBOX/x")
	f.Add("", "inbox*", "INBOX/y/z")
	f.Add("a/", "%%*b", "a/c/b")
	f.Fuzz(func(t *testing.T, ref, pat, name string) {
		if !utf8.ValidString(ref) || !utf8.ValidString(pat) || !utf8.ValidString(name) || len(pat) > 200 {
			return
		}
		lp := compileListPattern(ref, pat)
		var m listMatcher
		if got, want := m.match(lp, name), refPattern(ref, pat).MatchString(name); got != want {
			t.Errorf("ref %q pattern %q name %q: match %v, want %v", ref, pat, name, got, want)
		}
	})
}
