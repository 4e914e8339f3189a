package imapparse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// URL is an IMAP URL naming one message or part of one (RFC 5092 §3,
// "imessagepart"), as CATENATE (RFC 4469 §3) takes it. Only the
// absolute-path form ("/INBOX;UIDVALIDITY=5/;UID=20/;SECTION=1") is
// parsed: RFC 4469 resolves it against "imap://user@server/", the
// session's own account, and leaves URLs with a scheme or server out of
// its scope.
type URL struct {
	Mailbox     string   // decoded mailbox name (UTF-8, RFC 5092 §3.3)
	UIDValidity uint32   // 0 if not given
	UID         uint32   // at least 1
	Section     *Section // nil: the whole message
	Partial     *URLPartial
}

// URLPartial is ";PARTIAL=offset[.length]" (RFC 5092 §3.3).
type URLPartial struct {
	Offset    uint32 // first octet, from 0
	Length    uint32 // octets; meaningful only with HasLength
	HasLength bool   // a length was given (else: to the end)
}

// ErrURLScope is returned (wrapped) for a URL with a scheme or server,
// which names no message of the session's account (RFC 4469 §3).
var ErrURLScope = errors.New("imapparse: only URLs of the form /mailbox/;UID=n are served")

// ParseURL parses an absolute-path IMAP URL naming a message or part:
//
//	"/" enc-mailbox [";UIDVALIDITY=" nz-number] "/;UID=" nz-number
//	["/;SECTION=" enc-section] ["/;PARTIAL=" number ["." nz-number]]
//
// (RFC 5092 §11, imessagepart). The parameter names are case-insensitive;
// the mailbox and section are percent-decoded, the section must then be a
// section-spec of RFC 9051 §9.
func ParseURL(s string) (*URL, error) {
	if strings.Contains(s, "://") || strings.HasPrefix(s, "//") || !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%w: %s", ErrURLScope, short(s))
	}
	// The mailbox may hold "/", but ";" only percent-encoded (achar
	// excludes it), so the first ";" ends it.
	rest := s[1:]
	semi := strings.IndexByte(rest, ';')
	if semi < 0 {
		return nil, errors.New("imapparse: URL names no message (no ;UID=)")
	}
	u := &URL{}
	encMailbox := rest[:semi]
	rest = rest[semi:]
	if v, after, ok := cutParam(rest, ";UIDVALIDITY="); ok {
		n, err := urlNumber(v, true)
		if err != nil {
			return nil, fmt.Errorf("imapparse: URL UIDVALIDITY: %w", err)
		}
		u.UIDValidity, rest = n, after
		if !strings.HasPrefix(rest, "/") {
			return nil, errors.New("imapparse: URL names no message (no /;UID=)")
		}
		rest = rest[1:]
	} else {
		// "mailbox/;UID=": the slash before ";UID=" is not the mailbox's.
		if !strings.HasSuffix(encMailbox, "/") {
			return nil, errors.New("imapparse: URL: expected /;UID= after the mailbox")
		}
		encMailbox = encMailbox[:len(encMailbox)-1]
	}
	if encMailbox == "" {
		return nil, errors.New("imapparse: URL without a mailbox")
	}
	mbox, err := pctDecode(encMailbox, isBchar)
	if err != nil {
		return nil, fmt.Errorf("imapparse: URL mailbox: %w", err)
	}
	if !utf8.ValidString(mbox) {
		return nil, errors.New("imapparse: URL mailbox is not UTF-8")
	}
	u.Mailbox = NormalizeInbox(mbox)
	v, rest, ok := cutParam(rest, ";UID=")
	if !ok {
		return nil, errors.New("imapparse: URL names no message (no ;UID=)")
	}
	if u.UID, err = urlNumber(v, true); err != nil {
		return nil, fmt.Errorf("imapparse: URL UID: %w", err)
	}
	if v, after, ok := cutParam(rest, "/;SECTION="); ok {
		spec, err := pctDecode(v, isBchar)
		if err != nil {
			return nil, fmt.Errorf("imapparse: URL section: %w", err)
		}
		if u.Section, err = parseSectionSpec(spec); err != nil {
			return nil, err
		}
		rest = after
	}
	if v, after, ok := cutParam(rest, "/;PARTIAL="); ok {
		p := &URLPartial{}
		off, length, hasLen := strings.Cut(v, ".")
		if p.Offset, err = urlNumber(off, false); err != nil {
			return nil, fmt.Errorf("imapparse: URL partial offset: %w", err)
		}
		if hasLen {
			if p.Length, err = urlNumber(length, true); err != nil {
				return nil, fmt.Errorf("imapparse: URL partial length: %w", err)
			}
			p.HasLength = true
		}
		u.Partial, rest = p, after
	}
	if rest != "" {
		return nil, fmt.Errorf("imapparse: unexpected %s in URL", short(rest))
	}
	return u, nil
}

// cutParam: if s starts with name (case-insensitively), it returns the
// value up to the next "/" or ";" and what follows.
func cutParam(s, name string) (value, rest string, ok bool) {
	if len(s) < len(name) || !strings.EqualFold(s[:len(name)], name) {
		return "", s, false
	}
	s = s[len(name):]
	end := strings.IndexAny(s, "/;")
	if end < 0 {
		end = len(s)
	}
	return s[:end], s[end:], true
}

// urlNumber parses number (or nz-number) of RFC 9051 §9: 32 bits, and
// nz-number has no leading zero.
func urlNumber(s string, nonZero bool) (uint32, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad number %s", short(s))
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxUint32 {
		return 0, fmt.Errorf("number %s out of range", short(s))
	}
	if nonZero && (n == 0 || s[0] == '0') {
		return 0, fmt.Errorf("bad non-zero number %s", short(s))
	}
	return uint32(n), nil
}

// isBchar reports bchar of RFC 5092 §11 other than pct-encoded: URI
// unreserved characters, the sub-delims but ";", and ":" "@" "/".
func isBchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$'()*+,&=:@/", c) >= 0
}

// pctDecode undoes percent-encoding (RFC 3986 §2.1), allowing only the
// characters ok accepts unencoded.
func pctDecode(s string, ok func(byte) bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", errors.New("bad percent-encoding")
			}
			b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
		case ok(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("character %+q must be percent-encoded", c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// parseSectionSpec parses a section-spec (RFC 9051 §9) with the grammar
// of FETCH's BODY[...], so both accept the same sections.
func parseSectionSpec(spec string) (*Section, error) {
	if spec == "" {
		return nil, errors.New("imapparse: empty URL section")
	}
	r := &Reader{line: []byte("[" + spec + "]"), raw: true, lim: Limits{}.withDefaults()}
	sec, err := r.section()
	if err == nil && !r.end() {
		err = r.errorf("unexpected %s after section", short(string(r.line[r.pos:])))
	}
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("imapparse: URL section: %s", pe.Msg)
		}
		return nil, err
	}
	if len(sec.Path) == 0 && sec.Specifier == "" {
		return nil, errors.New("imapparse: empty URL section")
	}
	return sec, nil
}

// AuthURL is an absolute IMAP URL carrying URLAUTH (RFC 4467 §3, §9:
// authimapurl with iurlauth or its rump), as GENURLAUTH and URLFETCH take
// it:
//
//	imap://user@host/INBOX;UIDVALIDITY=5/;UID=20/;SECTION=1.2;EXPIRE=...;URLAUTH=access:mech:token
type AuthURL struct {
	URL           // what the URL names, as for CATENATE
	User   string // the owner of the mailbox access key: enc-user, decoded
	Host   string // host[:port], as sent
	Expire string // the ;EXPIRE= date-time (RFC 3339) as sent; "" if none
	Access string // the access identifier as sent: "submit+user", "user+user", "authuser", "anonymous"
	Mech   string // the authorization mechanism; "" in a rump URL
	Token  string // the authorization token, hexadecimal; "" in a rump URL
	// Rump is the URL without ":mech:token", the text the token is
	// computed over (RFC 4467 §6: no decoding, no case folding).
	Rump string
}

// ParseAuthURL parses an absolute IMAP URL with ";URLAUTH=access" at its
// end, with or without ":mech:token" (RFC 4467 §9).
func ParseAuthURL(s string) (*AuthURL, error) {
	const scheme = "imap://"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, errors.New("imapparse: URLAUTH needs an imap:// URL")
	}
	rest := s[len(scheme):]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return nil, errors.New("imapparse: URL names no message")
	}
	authority, path := rest[:slash], rest[slash:]
	at := strings.LastIndexByte(authority, '@')
	if at <= 0 {
		return nil, errors.New("imapparse: URLAUTH URL without a user (RFC 4467 §7)")
	}
	u := &AuthURL{Host: authority[at+1:]}
	userinfo := authority[:at]
	if i := strings.IndexByte(userinfo, ';'); i >= 0 {
		// ";AUTH=" names how to log in, which URLAUTH replaces.
		userinfo = userinfo[:i]
	}
	var err error
	if u.User, err = pctDecode(userinfo, isAchar); err != nil || u.User == "" || u.Host == "" {
		return nil, errors.New("imapparse: bad user or host in URL")
	}
	i := indexFold(path, ";URLAUTH=")
	if i < 0 {
		return nil, errors.New("imapparse: URL without ;URLAUTH=")
	}
	auth := path[i+len(";URLAUTH="):]
	part := path[:i]
	if j := indexFold(part, ";EXPIRE="); j >= 0 {
		u.Expire = part[j+len(";EXPIRE="):]
		if _, err := time.Parse(time.RFC3339, u.Expire); err != nil {
			return nil, fmt.Errorf("imapparse: bad ;EXPIRE= date-time %s", short(u.Expire))
		}
		part = part[:j]
	}
	access, verifier, full := strings.Cut(auth, ":")
	u.Access = access
	if !validAccess(access) {
		return nil, fmt.Errorf("imapparse: bad URLAUTH access %s", short(access))
	}
	u.Rump = s[:len(s)-len(auth)+len(access)]
	if full {
		mech, token, ok := strings.Cut(verifier, ":")
		if !ok || !validMech(mech) || len(token) < 32 || strings.Trim(token, "0123456789abcdefABCDEF") != "" {
			return nil, errors.New("imapparse: bad URLAUTH mechanism or token")
		}
		u.Mech, u.Token = mech, token
	}
	named, err := ParseURL(part)
	if err != nil {
		return nil, err
	}
	u.URL = *named
	return u, nil
}

// validAccess reports an access identifier of RFC 4467 §9. The user after
// "submit+" and "user+" is taken as sent, "@" included, which clients
// send unencoded.
func validAccess(a string) bool {
	switch l := strings.ToLower(a); {
	case l == "authuser" || l == "anonymous":
		return true
	case strings.HasPrefix(l, "submit+") && len(a) > len("submit+"):
		return true
	case strings.HasPrefix(l, "user+") && len(a) > len("user+"):
		return true
	}
	return false
}

// validMech reports mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".").
func validMech(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isAchar reports achar of RFC 5092 §11 other than pct-encoded: bchar
// without ":", "@" and "/".
func isAchar(c byte) bool { return isBchar(c) && c != ':' && c != '@' && c != '/' }

// indexFold is strings.Index, ASCII case-insensitive.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
