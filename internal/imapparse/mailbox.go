package imapparse

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Delimiter is the hierarchy delimiter Yizhan uses in mailbox names. Only
// INBOX normalisation depends on it here ("inbox/foo" is "INBOX/foo").
const Delimiter = '/'

// mailbox reads a mailbox name (RFC 9051 §9: mailbox = "INBOX" / astring)
// and returns it decoded and normalised.
func (r *Reader) mailbox(what string) (string, error) {
	raw, err := r.astring(what)
	if err != nil {
		return "", err
	}
	return r.mailboxName(raw, what)
}

// listMailbox reads a LIST pattern (list-mailbox = 1*list-char / string),
// decoded and normalised like a mailbox name; "*" and "%" stay as they are.
func (r *Reader) listMailbox(what string) (string, error) {
	var raw string
	switch r.peek() {
	case '"', '{':
		var err error
		if raw, err = r.str(what); err != nil {
			return "", err
		}
	default:
		start := r.pos
		for r.pos < len(r.line) && isListChar(r.line[r.pos]) {
			r.pos++
		}
		if r.pos == start {
			return "", r.errorf("expected %s", what)
		}
		raw = string(r.line[start:r.pos])
	}
	return r.mailboxName(raw, what)
}

// mailboxName decodes a mailbox name as sent: modified UTF-7 (RFC 3501
// §5.1.3) unless UTF-8 mode is on (RFC 6855 §3, RFC 9051 §5.1), and then
// normalises INBOX, which is case-insensitive (RFC 9051 §5.1), also as the
// first level of a hierarchy.
//
// A name that does not decode is well-formed IMAP all the same (an
// astring): it is no syntax error but a name the server cannot have, so
// the command is parsed to its end and the first such name is reported in
// Command.BadName, for a NO (or, in LIST, no match). The name is then
// returned as sent.
func (r *Reader) mailboxName(raw, what string) (string, error) {
	name := raw
	if r.utf8 {
		if !utf8.ValidString(raw) {
			r.badMailbox(&MailboxNameError{Raw: raw, UTF8: true, Reason: "invalid UTF-8"})
			return raw, nil
		}
	} else {
		var err error
		if name, err = DecodeMUTF7(raw); err != nil {
			r.badMailbox(&MailboxNameError{Raw: raw, Reason: err.Error()})
			return raw, nil
		}
	}
	return NormalizeInbox(name), nil
}

// MailboxNameError is a mailbox name, LIST reference or pattern that is a
// valid astring but no valid name in the session's encoding: not modified
// UTF-7 (RFC 3501 §5.1.3) in a session that has not enabled UTF-8, or not
// UTF-8 in one that has (RFC 6855 §3).
type MailboxNameError struct {
	Raw    string // the name as the client sent it
	UTF8   bool   // UTF-8 was expected (else modified UTF-7)
	Reason string // what is wrong, for people
}

func (e *MailboxNameError) Error() string {
	enc := "modified UTF-7"
	if e.UTF8 {
		enc = "UTF-8"
	}
	return fmt.Sprintf("mailbox name %s is not valid %s: %s", short(e.Raw), enc, e.Reason)
}

// badMailbox records a name that did not decode; the first one is kept.
func (r *Reader) badMailbox(e *MailboxNameError) {
	r.badNames++
	if r.badName == nil {
		r.badName = e
	}
}

// NormalizeInbox spells INBOX in upper case when name is INBOX in any case,
// or starts with it followed by Delimiter.
func NormalizeInbox(name string) string {
	const inbox = "INBOX"
	if len(name) < len(inbox) || !strings.EqualFold(name[:len(inbox)], inbox) {
		return name
	}
	if len(name) == len(inbox) || name[len(inbox)] == Delimiter {
		return inbox + name[len(inbox):]
	}
	return name
}

// canonicalSystemFlag maps the upper-cased system flags that can be stored to
// their canonical spelling (RFC 9051 §2.3.2).
func canonicalSystemFlag(upper string) (string, bool) {
	switch upper {
	case `\SEEN`:
		return `\Seen`, true
	case `\ANSWERED`:
		return `\Answered`, true
	case `\FLAGGED`:
		return `\Flagged`, true
	case `\DELETED`:
		return `\Deleted`, true
	case `\DRAFT`:
		return `\Draft`, true
	}
	return "", false
}

// flag reads a flag as STORE and APPEND take it (RFC 9051 §9: flag): a
// system flag, returned in canonical case, or a keyword (an atom). \Recent
// is set by the server only (RFC 3501 §2.3.2) and flag-extensions are not
// ours to store, so both are refused.
func (r *Reader) flag() (string, error) {
	if r.take('\\') {
		name, err := r.atom("system flag")
		if err != nil {
			return "", err
		}
		upper := `\` + strings.ToUpper(name)
		if f, ok := canonicalSystemFlag(upper); ok {
			return f, nil
		}
		if upper == `\RECENT` {
			return "", r.errorf(`\Recent cannot be stored`)
		}
		return "", r.errorf("unknown system flag %s", short(`\`+name))
	}
	return r.atom("flag")
}

// flagList reads flag-list: "(" [flag *(SP flag)] ")".
func (r *Reader) flagList() ([]string, error) {
	if err := r.expect('(', "before flags"); err != nil {
		return nil, err
	}
	flags := []string{}
	if r.take(')') {
		return flags, nil
	}
	for {
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		flags = append(flags, f)
		if r.take(')') {
			return flags, nil
		}
		if err := r.sp("flag"); err != nil {
			return nil, err
		}
	}
}

// monthNames lists date-month (RFC 9051 §9) three letters each.
const monthNames = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"

// parseMonth maps a three-letter month name, in any case (ABNF literals
// are case-insensitive), to its number.
func parseMonth(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	for i := 0; i < len(monthNames); i += 3 {
		if strings.EqualFold(s, monthNames[i:i+3]) {
			return time.Month(i/3 + 1), true
		}
	}
	return 0, false
}

// atoiFixed parses s, which must be all digits, as a decimal number.
func atoiFixed(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// validDate reports whether y-m-d exists on the calendar; time.Date would
// silently roll 31-Feb over into March.
func validDate(y int, m time.Month, d int) bool {
	return d >= 1 && time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Day() == d
}

// parseDate parses date-text (RFC 9051 §9): date-day "-" date-month "-"
// date-year, with a one- or two-digit day. The result is midnight UTC;
// SEARCH compares dates "disregarding time and timezone" (RFC 9051 §6.4.4).
func parseDate(s string) (time.Time, bool) {
	day, rest, ok1 := strings.Cut(s, "-")
	mon, year, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || len(day) > 2 || len(year) != 4 {
		return time.Time{}, false
	}
	d, okd := atoiFixed(day)
	m, okm := parseMonth(mon)
	y, oky := atoiFixed(year)
	if !okd || !okm || !oky || !validDate(y, m, d) {
		return time.Time{}, false
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
}

// searchDate reads a SEARCH date: date-text, bare or in double quotes.
func (r *Reader) searchDate(what string) (time.Time, error) {
	var s string
	if r.peek() == '"' {
		var err error
		if s, err = r.quoted(what); err != nil {
			return time.Time{}, err
		}
	} else {
		start := r.pos
		for r.pos < len(r.line) && isAtomChar(r.line[r.pos]) {
			r.pos++
		}
		s = string(r.line[start:r.pos])
	}
	t, ok := parseDate(s)
	if !ok {
		return time.Time{}, r.errorf("bad date %s for %s", short(s), what)
	}
	return t, nil
}

// parseDateTime parses the inside of an APPEND date-time (RFC 9051 §9):
// "dd-Mon-yyyy hh:mm:ss +zzzz", where the day may be padded with a space
// instead of a zero (date-day-fixed).
func parseDateTime(s string) (time.Time, bool) {
	// 26 octets: 2 day, 1, 3 month, 1, 4 year, 1, 8 time, 1, 5 zone.
	if len(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	dayText := s[0:2]
	if dayText[0] == ' ' {
		dayText = dayText[1:]
	}
	d, ok1 := atoiFixed(dayText)
	m, ok2 := parseMonth(s[3:6])
	y, ok3 := atoiFixed(s[7:11])
	hh, ok4 := atoiFixed(s[12:14])
	mm, ok5 := atoiFixed(s[15:17])
	ss, ok6 := atoiFixed(s[18:20])
	sign := s[21]
	zh, ok7 := atoiFixed(s[22:24])
	zm, ok8 := atoiFixed(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || (sign != '+' && sign != '-') {
		return time.Time{}, false
	}
	// A leap second (:60) is allowed by the grammar's 2DIGIT and by time.Date,
	// which carries it into the next minute.
	if !validDate(y, m, d) || hh > 23 || mm > 59 || ss > 60 || zm > 59 {
		return time.Time{}, false
	}
	off := (zh*60 + zm) * 60
	if sign == '-' {
		off = -off
	}
	return time.Date(y, m, d, hh, mm, ss, 0, time.FixedZone("", off)), true
}
