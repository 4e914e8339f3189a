package imapmime

import (
	"strings"
)

// Envelope is the IMAP ENVELOPE of a message (RFC 9051 §7.5.2). Values are
// the header fields as written, unfolded: RFC 2047 encoded words are left
// for the client to decode, as IMAP requires.
type Envelope struct {
	Date      string    // Date field
	Subject   string    // Subject field
	From      []Address // From field
	Sender    []Address // Sender field; From when absent or empty
	ReplyTo   []Address // Reply-To field; From when absent or empty
	To        []Address // To field
	Cc        []Address // Cc field
	Bcc       []Address // Bcc field
	InReplyTo string    // In-Reply-To field
	MessageID string    // Message-ID field
}

// Address is one IMAP address (RFC 9051 §7.5.2). Group syntax (RFC 5322
// §3.4) is kept the IMAP way: a group starts with an Address whose Host is
// empty and whose Mailbox is the group name, and ends with an Address with
// every field empty.
type Address struct {
	Name    string // display name, RFC 5322 quoting removed, encoded words kept
	Adl     string // source route (obsolete "@a,@b:" before the address)
	Mailbox string // local part; group name for a group start
	Host    string // domain; empty for group markers
}

// Placeholders for the parts of an address that are missing, so that a
// broken address is not mistaken for a group marker (a NIL host). The
// names are the ones Dovecot shows, which clients already know.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// IsGroupStart reports whether a starts a group; a.Mailbox is its name.
func (a Address) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a ends a group.
func (a Address) IsGroupEnd() bool { return a == Address{} }

// addrWord is one word of a phrase or local part.
type addrWord struct {
	text string // RFC 5322 quoting removed
	raw  string // as written
}

// isAddrStop reports the characters that end a word in an address.
func isAddrStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '(', '"', '<', '>', ':', ';', '@', ',':
		return true
	}
	return false
}

// atom reads a run of non-stop characters. It is lenient: dots, 8-bit
// bytes (RFC 6532) and stray specials are kept in the word.
func (l *lexer) atom() string {
	start := l.i
	for l.i < len(l.s) && !isAddrStop(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// phrase reads words up to one of < > : ; @ , or the end, and returns them
// with the text of the last comment seen.
func (l *lexer) phrase() (words []addrWord, comment string) {
	for {
		if c := l.skipCFWS(); c != "" {
			comment = c
		}
		if l.eof() {
			return words, comment
		}
		switch l.peek() {
		case '<', '>', ':', ';', '@', ',':
			return words, comment
		case '"':
			start := l.i
			t := l.quoted()
			words = append(words, addrWord{text: t, raw: l.s[start:l.i]})
		default:
			a := l.atom()
			words = append(words, addrWord{text: a, raw: a})
		}
	}
}

// joinPhrase joins a display name's words with single spaces.
func joinPhrase(words []addrWord) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.text)
	}
	return b.String()
}

// joinLocal joins a local part's words as written, without the folding
// white space between them (RFC 5322 §3.4.1 obs-local-part).
func joinLocal(words []addrWord) string {
	var b strings.Builder
	for _, w := range words {
		b.WriteString(w.raw)
	}
	return b.String()
}

// domain reads a domain: a dot-atom or a domain literal, with comments
// allowed around the dots (RFC 5322 §3.4.1, §4.4). It stops after a word
// that is not followed by a dot, so that a missing comma between two
// addresses does not glue them together.
func (l *lexer) domain() (d, comment string) {
	var b strings.Builder
	for {
		if c := l.skipCFWS(); c != "" {
			comment = c
		}
		if l.eof() {
			break
		}
		c := l.peek()
		if c == '[' {
			start := l.i
			end := strings.IndexByte(l.s[start:], ']')
			if end < 0 {
				l.i = len(l.s)
			} else {
				l.i = start + end + 1
			}
			b.WriteString(l.s[start:l.i])
		} else if !isAddrStop(c) {
			b.WriteString(l.atom())
		} else {
			break
		}
		if b.Len() == 0 || b.String()[b.Len()-1] != '.' {
			save := l.i
			if c := l.skipCFWS(); c != "" {
				comment = c
			}
			if l.peek() != '.' {
				l.i = save
				break
			}
		}
	}
	if c := l.skipCFWS(); c != "" {
		comment = c
	}
	return b.String(), comment
}

// angleAddr reads "<" [route] addr-spec ">" (RFC 5322 §3.4, obs-route of
// §4.4) starting at '<'.
func (l *lexer) angleAddr() Address {
	var a Address
	l.i++ // '<'
	l.skipCFWS()
	if l.peek() == '@' {
		// obs-route: "@domain,@domain:", the IMAP "at-domain-list".
		end := strings.IndexAny(l.s[l.i:], ":>")
		if end >= 0 && l.s[l.i+end] == ':' {
			a.Adl = removeCFWS(l.s[l.i : l.i+end])
			l.i += end + 1
		}
	}
	words, _ := l.phrase()
	a.Mailbox = joinLocal(words)
	if l.peek() == '@' {
		l.i++
		a.Host, _ = l.domain()
	}
	// Skip anything else up to the closing '>' (or a missing one).
	for !l.eof() {
		switch l.peek() {
		case '>':
			l.i++
			return a
		case ',', ';':
			return a
		case '"':
			l.quoted()
		default:
			l.i++
		}
	}
	return a
}

// removeCFWS removes white space and comments from a route.
func removeCFWS(s string) string {
	var b strings.Builder
	l := &lexer{s: s}
	for !l.eof() {
		l.skipCFWS()
		if !l.eof() {
			b.WriteByte(l.s[l.i])
			l.i++
		}
	}
	return b.String()
}

// ParseAddressList parses an address-list header value (RFC 5322 §3.4)
// into IMAP addresses. It is best effort and never fails: what cannot be
// understood is skipped, a missing local part or domain is shown as
// MISSING_MAILBOX or MISSING_DOMAIN, and an old-style "addr (Name)"
// comment is used as the name when there is no display name.
func ParseAddressList(v string) []Address {
	var out []Address
	l := &lexer{s: v}
	inGroup, marked := false, false // inside a group; its start was emitted
	for !l.eof() && len(out) < maxAddresses {
		l.skipCFWS()
		if l.eof() {
			break
		}
		switch l.peek() {
		case ',', '>':
			l.i++
			continue
		case ';':
			l.i++
			if inGroup && marked {
				out = append(out, Address{})
			}
			inGroup = false
			continue
		}
		before := l.i
		words, comment := l.phrase()
		switch l.peek() {
		case ':':
			l.i++
			if inGroup {
				continue // groups do not nest: ignore the inner name
			}
			inGroup = true
			name := joinPhrase(words)
			marked = name != "" // an empty name cannot be told from a group end
			if marked {
				out = append(out, Address{Mailbox: name})
			}
		case '<':
			a := l.angleAddr()
			a.Name = joinPhrase(words)
			if c := l.skipCFWS(); a.Name == "" {
				a.Name = c
			}
			out = appendAddress(out, a)
		case '@':
			l.i++
			a := Address{Mailbox: joinLocal(words)}
			var c string
			a.Host, c = l.domain()
			if c == "" {
				c = comment
			}
			a.Name = c
			out = appendAddress(out, a)
		default:
			// A bare word without '@' (such as "undisclosed-recipients"
			// without the group colon), or junk.
			if len(words) > 0 {
				out = appendAddress(out, Address{Mailbox: joinLocal(words), Name: comment})
			}
			if l.i == before {
				l.i++
			}
		}
	}
	if inGroup && marked {
		out = append(out, Address{}) // unterminated group
	}
	return out
}

// appendAddress appends a mailbox, filling in placeholders so that it
// cannot look like a group marker; an entirely empty one ("<>") is dropped.
func appendAddress(out []Address, a Address) []Address {
	if a.Mailbox == "" && a.Host == "" && a.Name == "" && a.Adl == "" {
		return out
	}
	if a.Mailbox == "" {
		a.Mailbox = missingMailbox
	}
	if a.Host == "" {
		a.Host = missingDomain
	}
	return append(out, a)
}

// AppendIMAP appends the parenthesised ENVELOPE (RFC 9051 §7.5.2, §9
// "envelope"). A nil Envelope is written with every field NIL. utf8 allows
// UTF-8 in quoted strings (IMAP4rev2, or UTF8=ACCEPT of RFC 6855).
func (e *Envelope) AppendIMAP(dst []byte, utf8 bool) []byte {
	if e == nil {
		return append(dst, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"...)
	}
	sender, replyTo := e.Sender, e.ReplyTo
	// RFC 9051 §7.5.2: the server sets an absent Sender or Reply-To to
	// From; Parse already does, this covers hand-made envelopes.
	if len(sender) == 0 {
		sender = e.From
	}
	if len(replyTo) == 0 {
		replyTo = e.From
	}
	dst = append(dst, '(')
	dst = AppendNString(dst, e.Date, true, utf8)
	dst = append(dst, ' ')
	dst = AppendNString(dst, e.Subject, true, utf8)
	for _, list := range [...][]Address{e.From, sender, replyTo, e.To, e.Cc, e.Bcc} {
		dst = append(dst, ' ')
		dst = appendAddressList(dst, list, utf8)
	}
	dst = append(dst, ' ')
	dst = AppendNString(dst, e.InReplyTo, true, utf8)
	dst = append(dst, ' ')
	dst = AppendNString(dst, e.MessageID, true, utf8)
	return append(dst, ')')
}

// appendAddressList writes "(" 1*address ")" or NIL; addresses follow each
// other without separators (RFC 9051 §9 env-from).
func appendAddressList(dst []byte, list []Address, utf8 bool) []byte {
	if len(list) == 0 {
		return append(dst, "NIL"...)
	}
	dst = append(dst, '(')
	for _, a := range list {
		dst = append(dst, '(')
		dst = AppendNString(dst, a.Name, true, utf8)
		dst = append(dst, ' ')
		dst = AppendNString(dst, a.Adl, true, utf8)
		dst = append(dst, ' ')
		dst = AppendNString(dst, a.Mailbox, true, utf8)
		dst = append(dst, ' ')
		dst = AppendNString(dst, a.Host, true, utf8)
		dst = append(dst, ')')
	}
	return append(dst, ')')
}
