package imapparse

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Character classes of RFC 9051 §9 (formal syntax).

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isAtomChar reports ATOM-CHAR: any CHAR except atom-specials, which are
// "(" ")" "{" SP CTL list-wildcards ("%" "*") quoted-specials (DQUOTE "\")
// and resp-specials ("]").
func isAtomChar(c byte) bool {
	if c <= 0x1f || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAstringChar reports ASTRING-CHAR: ATOM-CHAR or resp-specials.
func isAstringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// isTagChar reports a tag octet: any ASTRING-CHAR except "+".
func isTagChar(c byte) bool { return isAstringChar(c) && c != '+' }

// isListChar reports list-char (LIST patterns): ATOM-CHAR, list-wildcards
// or resp-specials.
func isListChar(c byte) bool { return isAtomChar(c) || c == '%' || c == '*' || c == ']' }

// errorf returns a *ParseError for the command being read. Client data in
// messages must go through short, so the text stays printable.
func (r *Reader) errorf(format string, args ...any) error {
	return &ParseError{Tag: r.tag, Msg: fmt.Sprintf(format, args...)}
}

// short quotes client data for an error message, cut to a length that
// keeps the BAD line readable; %q leaves no CR, LF or other control octet.
func short(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%+q", s)
}

func (r *Reader) end() bool { return r.pos >= len(r.line) }

// peek returns the next octet, or 0 at the end of the segment (NUL is never
// valid outside literals, so 0 cannot be mistaken for data).
func (r *Reader) peek() byte {
	if r.pos < len(r.line) {
		return r.line[r.pos]
	}
	return 0
}

func (r *Reader) take(c byte) bool {
	if r.pos < len(r.line) && r.line[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

func (r *Reader) expect(c byte, what string) error {
	if r.take(c) {
		return nil
	}
	if r.end() {
		return r.errorf("missing %+q %s", c, what)
	}
	return r.errorf("expected %+q %s, got %+q", c, what, r.line[r.pos])
}

// sp expects the single space that separates arguments.
func (r *Reader) sp(what string) error {
	if r.take(' ') {
		return nil
	}
	if r.end() {
		return r.errorf("missing %s", what)
	}
	return r.errorf("expected space before %s", what)
}

// atom reads 1*ATOM-CHAR.
func (r *Reader) atom(what string) (string, error) {
	start := r.pos
	for r.pos < len(r.line) && isAtomChar(r.line[r.pos]) {
		r.pos++
	}
	if r.pos == start {
		return "", r.errorf("expected %s", what)
	}
	return string(r.line[start:r.pos]), nil
}

// keyword reads an atom and returns it upper-cased: IMAP keywords are
// case-insensitive (RFC 9051 §9).
func (r *Reader) keyword(what string) (string, error) {
	s, err := r.atom(what)
	return strings.ToUpper(s), err
}

// peekKeyword reports whether the next atom is kw (case-insensitively)
// followed by a space, and consumes both if so.
func (r *Reader) peekKeyword(kw string) bool {
	end := r.pos + len(kw)
	if end >= len(r.line) || r.line[end] != ' ' || !strings.EqualFold(string(r.line[r.pos:end]), kw) {
		return false
	}
	r.pos = end + 1
	return true
}

// astring reads an astring: 1*ASTRING-CHAR, a quoted string or a literal.
func (r *Reader) astring(what string) (string, error) {
	switch r.peek() {
	case '"':
		return r.quoted(what)
	case '{':
		b, _, err := r.literal(what, false, false)
		return string(b), err
	}
	start := r.pos
	for r.pos < len(r.line) && isAstringChar(r.line[r.pos]) {
		r.pos++
	}
	if r.pos == start {
		if r.end() {
			return "", r.errorf("missing %s", what)
		}
		return "", r.errorf("expected %s, got %+q", what, r.line[r.pos])
	}
	return string(r.line[start:r.pos]), nil
}

// str reads a string: quoted or literal, no atom.
func (r *Reader) str(what string) (string, error) {
	switch r.peek() {
	case '"':
		return r.quoted(what)
	case '{':
		b, _, err := r.literal(what, false, false)
		return string(b), err
	}
	return "", r.errorf("expected quoted string or literal for %s", what)
}

// nstring reads a string or NIL; NIL gives ok false.
func (r *Reader) nstring(what string) (s string, ok bool, err error) {
	if c := r.peek(); c != '"' && c != '{' {
		kw, err := r.keyword(what)
		if err != nil {
			return "", false, err
		}
		if kw != "NIL" {
			return "", false, r.errorf("expected string or NIL for %s", what)
		}
		return "", false, nil
	}
	s, err = r.str(what)
	return s, err == nil, err
}

// quoted reads a quoted string (RFC 9051 §4.3). Only "\\" and "\"" may
// be escaped. Besides 7-bit TEXT-CHAR, well-formed UTF-8 is accepted as
// IMAP4rev2 allows (QUOTED-CHAR includes UTF8-2/3/4); IMAP4rev1 clients
// send 8-bit data as literals and never notice.
func (r *Reader) quoted(what string) (string, error) {
	r.pos++ // the opening DQUOTE
	start := r.pos
	var esc []byte // built only when there are escapes
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		switch {
		case c == '"':
			var s string
			if esc != nil {
				s = string(append(esc, r.line[start:r.pos]...))
			} else {
				s = string(r.line[start:r.pos])
			}
			r.pos++
			return s, nil
		case c == '\\':
			if r.pos+1 >= len(r.line) || (r.line[r.pos+1] != '\\' && r.line[r.pos+1] != '"') {
				return "", r.errorf("bad escape in quoted %s", what)
			}
			esc = append(esc, r.line[start:r.pos]...)
			r.pos++
			start = r.pos // the escaped octet is kept
			r.pos++
		case c == 0 || c == '\r' || c == '\n':
			return "", r.errorf("control character in quoted %s", what)
		case c < utf8.RuneSelf:
			r.pos++
		default:
			ru, size := utf8.DecodeRune(r.line[r.pos:])
			if ru == utf8.RuneError && size <= 1 {
				return "", r.errorf("invalid UTF-8 in quoted %s", what)
			}
			r.pos += size
		}
	}
	return "", r.errorf("unterminated quoted %s", what)
}

// digits reads 1*DIGIT and returns its value, saturated at math.MaxUint64
// (callers check their own range) and whether it had a leading zero.
func (r *Reader) digits(what string) (v uint64, leadingZero bool, err error) {
	start := r.pos
	for r.pos < len(r.line) && isDigit(r.line[r.pos]) {
		d := uint64(r.line[r.pos] - '0')
		if v > (math.MaxUint64-d)/10 {
			v = math.MaxUint64
		} else {
			v = v*10 + d
		}
		r.pos++
	}
	if r.pos == start {
		return 0, false, r.errorf("expected number for %s", what)
	}
	return v, r.line[start] == '0' && r.pos-start > 1, nil
}

// number reads number: 1*DIGIT fitting 32 bits.
func (r *Reader) number(what string) (uint32, error) {
	v, _, err := r.digits(what)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, r.errorf("number out of range for %s", what)
	}
	return uint32(v), nil
}

// nzNumber reads nz-number: digit-nz *DIGIT fitting 32 bits.
func (r *Reader) nzNumber(what string) (uint32, error) {
	v, lz, err := r.digits(what)
	if err != nil {
		return 0, err
	}
	if v == 0 || lz || v > math.MaxUint32 {
		return 0, r.errorf("bad non-zero number for %s", what)
	}
	return uint32(v), nil
}

// number64 reads number64 (RFC 9051 §9): 1*DIGIT up to 2^63-1. The same
// range bounds mod-sequence-value (RFC 7162 §7); nonZero demands at least 1.
func (r *Reader) number64(what string, nonZero bool) (uint64, error) {
	v, _, err := r.digits(what)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 {
		return 0, r.errorf("number out of range for %s", what)
	}
	if nonZero && v == 0 {
		return 0, r.errorf("zero not allowed for %s", what)
	}
	return v, nil
}

// seqSet reads a sequence-set (RFC 9051 §9), "$" included (RFC 5182 §3).
func (r *Reader) seqSet(what string) (SeqSet, error) {
	start := r.pos
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		if !isDigit(c) && c != ':' && c != ',' && c != '*' && c != '$' {
			break
		}
		r.pos++
	}
	if r.pos == start {
		return SeqSet{}, r.errorf("expected sequence set for %s", what)
	}
	set, err := ParseSeqSet(string(r.line[start:r.pos]))
	if err != nil {
		return SeqSet{}, r.errorf("bad sequence set for %s: %v", what, err)
	}
	return set, nil
}

// endOfCommand checks that nothing follows the last argument.
func (r *Reader) endOfCommand() error {
	if r.end() {
		return nil
	}
	return r.errorf("unexpected %s after command", short(string(r.line[r.pos:])))
}
