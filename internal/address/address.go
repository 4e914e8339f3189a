// Package address parses and normalises e-mail addresses as they appear in
// SMTP paths (RFC 5321 §4.1.2), including internationalised addresses (RFC
// 6531: UTF-8 local parts and IDN domains), and names the tricks relays are
// abused with (source routes, the '%' hack, a second '@').
//
// Domains are kept in their Unicode form (U-labels), lower-cased and
// NFC-normalised by IDNA processing, so that "例子.台灣", "xn--fsqu00a.xn--kpry57d"
// and "EXAMPLE.test" each have exactly one stored spelling.
package address

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is a parsed mailbox: Local is the local part exactly as given
// (quotes removed from a quoted string), Domain is the normalised domain.
type Address struct {
	Local  string
	Domain string
}

// Errors returned by Parse. ErrRelayHack marks syntax that only exists to
// make a server relay (RFC 5321 §3.6.1 source routes, '%' and '!' paths, a
// second '@'); callers refuse those with 5.7.1 rather than as bad syntax.
// ErrAddressLiteral marks a domain given as an address literal (RFC 5321
// §4.1.3, "user@[192.0.2.1]"): valid syntax, but never a local domain here
// and not a destination Yizhan delivers to. Its errors match ErrRelayHack
// too, because to a client that may not relay a literal is a relay attempt;
// one that may relay is told that literals are what is refused.
var (
	ErrSyntax         = errors.New("address: bad syntax")
	ErrRelayHack      = errors.New("address: source route or relay path")
	ErrAddressLiteral = errors.New("address: address literal")
)

// maxLocal and maxDomain are the RFC 5321 §4.5.3.1 size limits in octets.
// maxSRSLocal is the limit for SRS addresses (forwarded mail): they carry
// a whole address in their local part, and RFC 5321 §4.5.3.1 asks servers
// to accept longer objects where they can; every common MTA does.
const (
	maxLocal    = 64
	maxSRSLocal = 255
	maxDomain   = 255
)

var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
)

// NormalizeDomain returns the canonical Unicode, lower-case form of a domain
// name given as A-labels or U-labels.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > maxDomain {
		return "", fmt.Errorf("%w: domain %q", ErrSyntax, d)
	}
	u, err := profile.ToUnicode(d)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrSyntax, d, err)
	}
	// The ASCII form must be a valid host name too (letters, digits, '-').
	a, err := profile.ToASCII(u)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrSyntax, d, err)
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%w: domain %q", ErrSyntax, d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%w: domain %q", ErrSyntax, d)
			}
		}
	}
	return u, nil
}

// ASCIIDomain returns the A-label form of a normalised domain, as DNS and
// 7-bit peers need it.
func ASCIIDomain(d string) string {
	a, err := profile.ToASCII(d)
	if err != nil {
		return d
	}
	return a
}

// Parse parses "local@domain" (no angle brackets). A source route
// ("@a,@b:user@c") or a local part containing '%', '!' or '@' gives an
// error wrapping ErrRelayHack.
func Parse(s string) (Address, error) {
	if strings.HasPrefix(s, "@") {
		return Address{}, fmt.Errorf("%w: %q", ErrRelayHack, s)
	}
	if !utf8.ValidString(s) {
		return Address{}, fmt.Errorf("%w: invalid UTF-8", ErrSyntax)
	}
	var local, rest string
	if strings.HasPrefix(s, `"`) {
		q, n, err := parseQuoted(s)
		if err != nil {
			return Address{}, err
		}
		local, rest = q, s[n:]
		if !strings.HasPrefix(rest, "@") {
			return Address{}, fmt.Errorf("%w: %q", ErrSyntax, s)
		}
		rest = rest[1:]
	} else {
		i := strings.LastIndexByte(s, '@')
		if i < 0 {
			return Address{}, fmt.Errorf("%w: no '@' in %q", ErrSyntax, s)
		}
		local, rest = s[:i], s[i+1:]
		if strings.ContainsAny(local, "@%!") {
			return Address{}, fmt.Errorf("%w: %q", ErrRelayHack, s)
		}
		if err := checkDotAtom(local); err != nil {
			return Address{}, err
		}
	}
	if local == "" || len(local) > maxSRSLocal || (len(local) > maxLocal && !isSRS(local)) {
		return Address{}, fmt.Errorf("%w: local part of %q", ErrSyntax, s)
	}
	if strings.ContainsAny(local, "@%!") {
		return Address{}, fmt.Errorf("%w: %q", ErrRelayHack, s)
	}
	if strings.HasPrefix(rest, "[") {
		// Address literals (RFC 5321 §4.1.3) are never local here.
		return Address{}, fmt.Errorf("%w (%w): %q", ErrAddressLiteral, ErrRelayHack, s)
	}
	d, err := NormalizeDomain(rest)
	if err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: d}, nil
}

// atext characters besides letters and digits (RFC 5322 §3.2.3); UTF-8 is
// allowed by RFC 6532.
const atextSpecials = "!#$%&'*+-/=?^_`{|}~"

func checkDotAtom(local string) error {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return fmt.Errorf("%w: local part %q", ErrSyntax, local)
	}
	for _, r := range local {
		switch {
		case r >= 0x80, r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.':
		case strings.ContainsRune(atextSpecials, r):
		default:
			return fmt.Errorf("%w: local part %q", ErrSyntax, local)
		}
	}
	return nil
}

// parseQuoted reads a quoted-string at the start of s and returns its
// content and the number of bytes consumed.
func parseQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			if i >= len(s) || s[i] < 32 && s[i] != '\t' || s[i] == 127 {
				return "", 0, fmt.Errorf("%w: quoted local part", ErrSyntax)
			}
			b.WriteByte(s[i])
		case '"':
			return b.String(), i + 1, nil
		default:
			if c < 32 || c == 127 {
				return "", 0, fmt.Errorf("%w: control character in quoted local part", ErrSyntax)
			}
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("%w: unterminated quoted local part", ErrSyntax)
}

// String formats the address for an SMTP path or header, quoting the local
// part when it is not a dot-atom.
func (a Address) String() string {
	if checkDotAtom(a.Local) == nil {
		return a.Local + "@" + a.Domain
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a.Local); i++ {
		if c := a.Local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(a.Local[i])
	}
	b.WriteString(`"@`)
	b.WriteString(a.Domain)
	return b.String()
}

// Key is the case-insensitive lookup key "local@domain" (local part
// lower-cased; RFC 5321 lets us treat our own local parts so).
func (a Address) Key() string {
	return strings.ToLower(a.Local) + "@" + a.Domain
}

// Base returns the address without a "+tag" subaddress (RFC 5233), and the
// tag; ok is false when there is none.
func (a Address) Base() (base Address, tag string, ok bool) {
	i := strings.IndexByte(a.Local, '+')
	if i <= 0 {
		return a, "", false
	}
	return Address{Local: a.Local[:i], Domain: a.Domain}, a.Local[i+1:], true
}

// IsASCII reports whether the address can be carried without SMTPUTF8.
func (a Address) IsASCII() bool {
	for i := 0; i < len(a.Local); i++ {
		if a.Local[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isSRS reports whether a local part has the SRS0/SRS1 form.
func isSRS(local string) bool {
	return len(local) > 5 && (strings.EqualFold(local[:5], "SRS0=") || strings.EqualFold(local[:5], "SRS1="))
}
