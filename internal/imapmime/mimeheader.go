package imapmime

import (
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// lexer reads the structured MIME header fields of RFC 2045 §5.1: tokens,
// quoted strings and tspecials, with RFC 5322 comments and folding white
// space between them. It never fails: unexpected bytes are skipped by the
// callers.
type lexer struct {
	s string
	i int
}

func (l *lexer) eof() bool { return l.i >= len(l.s) }

func (l *lexer) peek() byte {
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

// skipCFWS skips white space and comments (RFC 5322 §3.2.2), returning the
// text of the last comment, which the address parser may use as a name.
func (l *lexer) skipCFWS() (comment string) {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		case '(':
			comment = l.comment()
		default:
			return comment
		}
	}
	return comment
}

// comment consumes a possibly nested comment and returns its text without
// the outer parentheses and with quoted pairs resolved.
func (l *lexer) comment() string {
	var b strings.Builder
	depth := 0
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '\\' && l.i < len(l.s):
			b.WriteByte(l.s[l.i])
			l.i++
			continue
		case c == '(':
			depth++
			if depth == 1 {
				continue
			}
		case c == ')':
			depth--
			if depth == 0 {
				return b.String()
			}
		}
		b.WriteByte(c)
	}
	return b.String() // unterminated: the comment runs to the end
}

// isTSpecial reports the tspecials of RFC 2045 §5.1.
func isTSpecial(c byte) bool {
	return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0
}

// token reads an RFC 2045 token. Bytes >= 0x80 are accepted, as RFC 6532
// headers carry UTF-8.
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c <= ' ' || c == 0x7f || isTSpecial(c) {
			break
		}
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted string starting at '"' and returns its content with
// quoted pairs resolved (RFC 5322 §3.2.4). An unterminated string runs to
// the end of the field.
func (l *lexer) quoted() string {
	l.i++ // opening quote
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && l.i < len(l.s):
			b.WriteByte(l.s[l.i])
			l.i++
		case c == '\r' || c == '\n':
			// Folding inside a quoted string: drop the line break.
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// value reads a parameter value: a quoted string, or else a token read
// leniently up to ';' or white space, because unquoted values with
// tspecials (boundary=----=_Part_1) are common.
func (l *lexer) value() string {
	if l.peek() == '"' {
		return l.quoted()
	}
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' {
			break
		}
		l.i++
	}
	return l.s[start:l.i]
}

// parseContentType parses "type/subtype *(; param)" (RFC 2045 §5.1). ok is
// false when the field is absent or its type is syntactically invalid, in
// which case the caller applies the default (RFC 2045 §5.2).
func parseContentType(v string) (typ, sub string, params [][2]string, ok bool) {
	l := &lexer{s: v}
	l.skipCFWS()
	typ = l.token()
	l.skipCFWS()
	if typ == "" || l.peek() != '/' {
		return "", "", nil, false
	}
	l.i++
	l.skipCFWS()
	sub = l.token()
	if sub == "" {
		return "", "", nil, false
	}
	return strings.ToLower(typ), strings.ToLower(sub), l.params(), true
}

// parseDisposition parses "type *(; param)" (RFC 2183 §2).
func parseDisposition(v string) (string, [][2]string) {
	l := &lexer{s: v}
	l.skipCFWS()
	typ := l.token()
	if typ == "" {
		return "", nil
	}
	return strings.ToLower(typ), l.params()
}

// parseEncoding returns the Content-Transfer-Encoding mechanism upper-case,
// "7BIT" when absent (RFC 2045 §6.1).
func parseEncoding(v string) string {
	l := &lexer{s: v}
	l.skipCFWS()
	if t := l.token(); t != "" {
		return strings.ToUpper(t)
	}
	return "7BIT"
}

// parseLanguage parses Content-Language: a comma-separated list of language
// tags (RFC 3282 §2).
func parseLanguage(v string) []string {
	var out []string
	l := &lexer{s: v}
	for !l.eof() && len(out) < maxParams {
		l.skipCFWS()
		if t := l.token(); t != "" {
			out = append(out, t)
			continue
		}
		if !l.eof() {
			l.i++ // ',' or garbage
		}
	}
	return out
}

// rawParam is one parameter as written, before RFC 2231 processing.
type rawParam struct {
	name  string // lower-case, with any "*n" and "*" suffix
	value string
}

// params reads "*(; attribute=value)" and decodes RFC 2231 extended
// parameters.
func (l *lexer) params() [][2]string {
	var raw []rawParam
	for !l.eof() && len(raw) < maxParams {
		l.skipCFWS()
		if l.eof() {
			break
		}
		if l.peek() == ';' {
			l.i++
			continue
		}
		name := l.token()
		if name == "" {
			l.i++ // garbage: skip a byte and try again
			continue
		}
		l.skipCFWS()
		if l.peek() != '=' {
			continue // attribute without a value: ignored
		}
		l.i++
		l.skipCFWS()
		raw = append(raw, rawParam{name: strings.ToLower(name), value: l.value()})
	}
	return decode2231(raw)
}

// piece is one section of an RFC 2231 parameter.
type piece struct {
	n        int
	extended bool // value is charset'language'percent-encoded (first) or percent-encoded
	value    string
}

// decode2231 joins RFC 2231 continuations (name*0, name*1, ...), decodes
// extended values (name*=charset'lang'%XX) and converts them to UTF-8. A
// parameter keeps the position of its first piece; when both a plain and
// an RFC 2231 form of a name exist, the RFC 2231 one wins as it is the
// one meant for readers that understand it (RFC 2231 §4.1).
func decode2231(raw []rawParam) [][2]string {
	var out [][2]string
	pieces := map[string][]piece{}
	index := map[string]int{} // name -> position in out
	ext := map[string]bool{}  // name came from RFC 2231 pieces
	for _, p := range raw {
		base, s, is2231 := split2231(p.name)
		if !is2231 {
			if _, dup := index[base]; !dup {
				index[base] = len(out)
				out = append(out, [2]string{base, p.value})
			}
			continue
		}
		s.value = p.value
		pieces[base] = append(pieces[base], s)
		if i, seen := index[base]; !seen {
			index[base] = len(out)
			out = append(out, [2]string{base, ""})
		} else if !ext[base] {
			out[i][1] = "" // a plain duplicate is replaced by the RFC 2231 value
		}
		ext[base] = true
	}
	for base, ps := range pieces {
		out[index[base]][1] = join2231(ps)
	}
	return out
}

// split2231 splits an RFC 2231 parameter name into its base name and its
// section number and extended flag.
func split2231(name string) (base string, s piece, ok bool) {
	if strings.HasSuffix(name, "*") {
		name, s.extended, ok = name[:len(name)-1], true, true
	}
	if i := strings.LastIndexByte(name, '*'); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil && n >= 0 && n < maxParams {
			return name[:i], piece{n: n, extended: s.extended}, true
		}
	}
	return name, s, ok
}

// join2231 assembles the sections of one parameter (RFC 2231 §3, §4).
func join2231(ps []piece) string {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].n < ps[j].n })
	var b []byte
	cs := ""
	for i, p := range ps {
		if p.n != i {
			break // a gap or a repeat ends the value (RFC 2231 §3)
		}
		v := p.value
		if p.extended {
			if i == 0 {
				// charset'language'value; the language is not kept.
				if a := strings.IndexByte(v, '\''); a >= 0 {
					if z := strings.IndexByte(v[a+1:], '\''); z >= 0 {
						cs, v = v[:a], v[a+1+z+1:]
					}
				}
			}
			b = appendPercentDecoded(b, v)
		} else {
			b = append(b, v...)
		}
	}
	return toUTF8(cs, b)
}

// appendPercentDecoded appends s with %XX escapes decoded; a malformed
// escape is kept as written.
func appendPercentDecoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// toUTF8 converts b from charset cs to UTF-8. An unknown charset or a
// failed conversion leaves the bytes as they are: they are shown to the
// client rather than lost.
func toUTF8(cs string, b []byte) string {
	switch strings.ToLower(cs) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return string(b)
	}
	if isASCII(b) {
		return string(b)
	}
	r, err := charset.Reader(cs, strings.NewReader(string(b)))
	if err != nil {
		return string(b)
	}
	// The output of a charset decoder is at most a few times its input;
	// the bound only guards against a pathological decoder.
	out, err := io.ReadAll(io.LimitReader(r, int64(8*len(b)+16)))
	if err != nil || !utf8.Valid(out) {
		return string(b)
	}
	return string(out)
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
