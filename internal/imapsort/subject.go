package imapsort

import (
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/unicode/norm"
)

// BaseSubject returns the "base subject" of a raw Subject header value, as
// extracted by RFC 5256 §2.1: encoded words decoded to UTF-8, white space
// collapsed, and reply and forward artifacts ("Re:", "Fwd:", "[list]"
// tags, "(fwd)" trailers, "[fwd: ...]" wrappers) removed. The result keeps
// its case; compare base subjects through CompareKey.
func BaseSubject(raw string) string {
	base, _ := baseSubject(raw)
	return base
}

// baseSubject implements RFC 5256 §2.1 and also reports whether the
// extraction removed a subj-refwd, a "(fwd)" subj-trailer or a
// subj-fwd-hdr/subj-fwd-trl pair, which is what makes a message "a reply
// or forward" for THREAD=REFERENCES step 5 (RFC 5256 §3).
//
// After step (1) the string is only ever sliced, never rebuilt, and a run
// of blobs is parsed once rather than once per blob, so that crafted
// subjects ("[x] " a hundred thousand times) cost linear time.
func baseSubject(raw string) (base string, replyOrFwd bool) {
	// (1) Decode RFC 2047 encoded words to UTF-8; tabs and continuations
	// become a space; runs of spaces become one space. After this the only
	// WSP left is SP.
	s := collapseSpace(decodeWords(raw))

	for {
		// (2) Remove trailing subj-trailer ("(fwd)" / WSP), repeatedly.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if hasSuffixFold(s, "(fwd)") {
				s = s[:len(s)-len("(fwd)")]
				replyOrFwd = true
			} else {
				break
			}
		}

		// (3) Remove subj-leader (*subj-blob subj-refwd / WSP) prefixes,
		// (4) remove a leading subj-blob when what remains is a non-empty
		// subj-base, and (5) repeat both until nothing matches.
		for {
			if strings.HasPrefix(s, " ") {
				s = s[1:]
				continue
			}
			// Parse the run of blobs at the start once. If a subj-refwd
			// follows it, (3) removes blobs and refwd together. If not,
			// (4) would peel the blobs off one by one and (3) would fail
			// again at the same place each time, so peel them all at once,
			// keeping the last blob if nothing follows it.
			end, lastStart, n := 0, 0, 0
			for {
				e, ok := matchBlob(s, end)
				if !ok {
					break
				}
				lastStart, end, n = end, e, n+1
			}
			if e, ok := matchRefwd(s, end); ok {
				s = s[e:]
				replyOrFwd = true
				continue
			}
			switch {
			case n > 0 && end < len(s):
				s = s[end:]
			case n > 1:
				s = s[lastStart:]
			}
			break
		}

		// (6) Unwrap "[fwd:" ... "]" and repeat from (2).
		if len(s) >= len("[fwd:]") && hasPrefixFold(s, "[fwd:") && strings.HasSuffix(s, "]") {
			s = s[len("[fwd:") : len(s)-1]
			replyOrFwd = true
			continue
		}
		// (7) What is left is the base subject.
		return s, replyOrFwd
	}
}

// matchBlob matches subj-blob ("[" *BLOBCHAR "]" *WSP, RFC 5256 §5) at
// s[p:] and returns the index just past it.
//
// RFC 5256 limits BLOBCHAR to ASCII, but after step (1) the subject is
// UTF-8, and list tags such as "[讨论组]" are common; like other servers we
// accept any character except the brackets.
func matchBlob(s string, p int) (int, bool) {
	if p >= len(s) || s[p] != '[' {
		return 0, false
	}
	for q := p + 1; q < len(s); q++ {
		switch s[q] {
		case '[':
			return 0, false
		case ']':
			q++
			for q < len(s) && s[q] == ' ' {
				q++
			}
			return q, true
		}
	}
	return 0, false
}

// matchRefwd matches subj-refwd (("re" / ("fw" ["d"])) *WSP [subj-blob]
// ":", RFC 5256 §5) at s[p:], case-insensitively, and returns the index
// just past the colon.
func matchRefwd(s string, p int) (int, bool) {
	switch t := s[p:]; {
	case hasPrefixFold(t, "re"):
		p += 2
	case hasPrefixFold(t, "fwd"):
		p += 3
	case hasPrefixFold(t, "fw"):
		p += 2
	default:
		return 0, false
	}
	for p < len(s) && s[p] == ' ' {
		p++
	}
	if e, ok := matchBlob(s, p); ok {
		p = e
	}
	if p < len(s) && s[p] == ':' {
		return p + 1, true
	}
	return 0, false
}

// hasPrefixFold reports whether s begins with the ASCII string prefix,
// ignoring ASCII case (ABNF literals are case-insensitive, RFC 5234 §2.3).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// hasSuffixFold is hasPrefixFold for the end of s.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && asciiEqualFold(s[len(s)-len(suffix):], suffix)
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// decodeWords decodes the RFC 2047 encoded words of a header value into
// UTF-8, in any charset go-message/charset knows. Malformed encoded words
// are left as they are (mime.WordDecoder does that); words in a charset
// nobody knows keep their ASCII and lose the rest, so one bad word does not
// cost the rest of the header its decoding.
func decodeWords(raw string) string {
	if !strings.Contains(raw, "=?") {
		return raw
	}
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	s, err := dec.DecodeHeader(raw)
	if err != nil {
		// charsetReader never fails, so this is not expected; the raw
		// value is still a usable sort key.
		return raw
	}
	return s
}

// charsetReader converts text in the named charset to UTF-8 through
// go-message/charset. For an unknown charset it keeps the ASCII bytes and
// replaces every other byte with U+FFFD instead of failing.
func charsetReader(name string, input io.Reader) (io.Reader, error) {
	if r, err := charset.Reader(name, input); err == nil {
		return r, nil
	}
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	for _, c := range b {
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(utf8.RuneError)
		}
	}
	return strings.NewReader(sb.String()), nil
}

// collapseSpace turns tabs, CR and LF (what is left of header folding) into
// spaces and runs of spaces into one, RFC 5256 §2.1 step (1).
func collapseSpace(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		switch s[i] {
		case '\t', '\r', '\n':
			clean = false
		case ' ':
			clean = i+1 >= len(s) || s[i+1] != ' '
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' {
			c = ' '
		}
		if c == ' ' && len(b) > 0 && b[len(b)-1] == ' ' {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// CompareKey maps s to the form in which SORT and THREAD compare strings:
// two strings are equal under the collation when their keys are equal, and
// ordered as their keys are ordered byte by byte.
//
// It approximates i;unicode-casemap (RFC 5051 §2): every character is
// mapped to its (simple) titlecase form and the result is decomposed (NFKD,
// with titlecasing repeated on what decomposition produced), so case
// differences vanish and accented letters collate next to their base
// letters. Bytes that are not UTF-8 (raw 8-bit headers) are kept as they
// are, so different raw bytes never compare equal.
func CompareKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// Titlecase of an ASCII letter is its upper case, and ASCII has
		// no decompositions.
		return strings.ToUpper(s)
	}
	b := norm.NFKD.Bytes(appendTitle(nil, s))
	return string(appendTitle(make([]byte, 0, len(b)), string(b)))
}

// appendTitle appends s to dst with each character replaced by its simple
// titlecase mapping; invalid UTF-8 bytes are copied unchanged.
func appendTitle(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[i])
		} else {
			dst = utf8.AppendRune(dst, unicode.ToTitle(r))
		}
		i += n
	}
	return dst
}
