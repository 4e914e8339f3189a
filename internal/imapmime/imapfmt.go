package imapmime

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted is the longest string written as a quoted string; longer ones
// become literals, which some clients handle better than a long quoted
// line. The ABNF sets no limit.
const maxQuoted = 1024

// AppendString appends s as an IMAP string (RFC 9051 §4.3): quoted when it
// can be, with \ and " escaped, otherwise a literal {n}CRLF followed by
// the bytes. A literal is used for CR or LF, for 8-bit bytes when utf8 is
// false (as other servers do rather than alter the value), for invalid
// UTF-8 when utf8 is true, and for very long values. NUL cannot appear in
// either form (CHAR8 excludes it) and is dropped. "" is written as "".
func AppendString(dst []byte, s string, utf8OK bool) []byte {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	quotable := len(s) <= maxQuoted
	has8bit := false
	for i := 0; i < len(s) && quotable; i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n':
			quotable = false
		case c >= 0x80:
			has8bit = true
			quotable = utf8OK
		}
	}
	if quotable && has8bit && !utf8.ValidString(s) {
		quotable = false
	}
	if !quotable {
		dst = append(dst, '{')
		dst = strconv.AppendInt(dst, int64(len(s)), 10)
		dst = append(dst, "}\r\n"...)
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// AppendNString appends s as an nstring: NIL when s is empty and
// nilIfEmpty is set, AppendString otherwise.
func AppendNString(dst []byte, s string, nilIfEmpty bool, utf8OK bool) []byte {
	if s == "" && nilIfEmpty {
		return append(dst, "NIL"...)
	}
	return AppendString(dst, s, utf8OK)
}

// AppendBodyStructure appends the parenthesised body structure of p (RFC
// 9051 §7.5.2, §9 "body"): BODY when extended is false, BODYSTRUCTURE with
// the extension data (MD5, disposition, language, location; for a
// multipart: parameters, disposition, language, location) when true.
// Types are shown lower-case as stored. A multipart without children and a
// message/rfc822 part that could not be parsed get an empty text/plain
// body, as the syntax requires one.
func (p *Part) AppendBodyStructure(dst []byte, extended bool, utf8OK bool) []byte {
	dst = append(dst, '(')
	if p.isMultipart() {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		if len(p.Parts) == 0 {
			dst = appendEmptyBody(dst, extended)
		}
		for _, c := range p.Parts {
			dst = c.AppendBodyStructure(dst, extended, utf8OK)
		}
		dst = append(dst, ' ')
		dst = AppendString(dst, p.Subtype, utf8OK)
		if extended {
			dst = append(dst, ' ')
			dst = appendParams(dst, p.Params, utf8OK)
			dst = p.appendExtTail(dst, utf8OK)
		}
		return append(dst, ')')
	}
	// body-type-1part: media type, body-fields, then per type.
	dst = AppendString(dst, p.Type, utf8OK)
	dst = append(dst, ' ')
	dst = AppendString(dst, p.Subtype, utf8OK)
	dst = append(dst, ' ')
	dst = appendParams(dst, p.Params, utf8OK)
	dst = append(dst, ' ')
	dst = AppendNString(dst, p.ID, true, utf8OK)
	dst = append(dst, ' ')
	dst = AppendNString(dst, p.Description, true, utf8OK)
	dst = append(dst, ' ')
	enc := p.Encoding
	if enc == "" {
		enc = "7BIT"
	}
	dst = AppendString(dst, enc, utf8OK)
	dst = append(dst, ' ')
	dst = appendNumber(dst, p.Size)
	switch {
	case p.isMessage():
		// body-type-msg: envelope, body and lines of the encapsulated
		// message.
		dst = append(dst, ' ')
		if p.Message != nil {
			dst = p.Message.Envelope.AppendIMAP(dst, utf8OK)
			dst = append(dst, ' ')
			dst = p.Message.AppendBodyStructure(dst, extended, utf8OK)
		} else {
			dst = (*Envelope)(nil).AppendIMAP(dst, utf8OK)
			dst = append(dst, ' ')
			dst = appendEmptyBody(dst, extended)
		}
		dst = append(dst, ' ')
		dst = appendNumber(dst, p.Lines)
	case p.Type == "text":
		dst = append(dst, ' ')
		dst = appendNumber(dst, p.Lines)
	}
	if extended {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
		// [SP body-fld-loc]]]; all are written.
		dst = append(dst, ' ')
		dst = AppendNString(dst, p.MD5, true, utf8OK)
		dst = p.appendExtTail(dst, utf8OK)
	}
	return append(dst, ')')
}

// appendExtTail appends SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (p *Part) appendExtTail(dst []byte, utf8OK bool) []byte {
	dst = append(dst, ' ')
	if p.Disposition == "" {
		dst = append(dst, "NIL"...)
	} else {
		dst = append(dst, '(')
		dst = AppendString(dst, p.Disposition, utf8OK)
		dst = append(dst, ' ')
		dst = appendParams(dst, p.DispositionParams, utf8OK)
		dst = append(dst, ')')
	}
	dst = append(dst, ' ')
	if len(p.Language) == 0 {
		dst = append(dst, "NIL"...)
	} else {
		dst = append(dst, '(')
		for i, t := range p.Language {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = AppendString(dst, t, utf8OK)
		}
		dst = append(dst, ')')
	}
	dst = append(dst, ' ')
	return AppendNString(dst, p.Location, true, utf8OK)
}

// appendParams appends body-fld-param: NIL, or the name/value pairs.
func appendParams(dst []byte, params [][2]string, utf8OK bool) []byte {
	if len(params) == 0 {
		return append(dst, "NIL"...)
	}
	dst = append(dst, '(')
	for i, kv := range params {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = AppendString(dst, kv[0], utf8OK)
		dst = append(dst, ' ')
		dst = AppendString(dst, kv[1], utf8OK)
	}
	return append(dst, ')')
}

// appendEmptyBody appends the body of an empty text/plain part.
func appendEmptyBody(dst []byte, extended bool) []byte {
	dst = append(dst, `("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0`...)
	if extended {
		dst = append(dst, " NIL NIL NIL NIL"...)
	}
	return append(dst, ')')
}

// appendNumber appends a number within the 32 bits of the IMAP "number"
// (RFC 9051 §9; RFC 3501 has no number64). Values outside can only come
// from a hand-made or corrupt Part and are clamped to keep the syntax
// valid.
func appendNumber(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, min(max(n, 0), 1<<32-1), 10)
}
