package dsn

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textWidth is where the human-readable part is wrapped, in display
// columns (a CJK character takes two), so it reads well in any mail client
// and needs no soft line breaks when it is ASCII.
const textWidth = 72

// ReasonKind names one plain-language reason a notice can give for what
// happened to a recipient. Reasons are kept apart from their wording so
// that a notice is written in its reader's language (Report.Language).
type ReasonKind string

// The reasons. The comment says when each is given.
const (
	ReasonNullMX           ReasonKind = "null-mx"           // 5.1.10: the domain publishes a null MX (RFC 7505)
	ReasonNoMailServer     ReasonKind = "no-mail-server"    // 5.1.2, nothing answered: no MX and no address
	ReasonNoSuchDomain     ReasonKind = "no-such-domain"    // 5.1.2: NXDOMAIN
	ReasonMXNamesNoHost    ReasonKind = "mx-names-no-host"  // MX records exist but none names a host
	ReasonInvalidDomain    ReasonKind = "invalid-domain"    // not a domain name at all
	ReasonNoAddress        ReasonKind = "no-address"        // a host without AAAA or A records
	ReasonMXNoAddress      ReasonKind = "mx-no-address"     // 4.4.4: the MX hosts do not resolve
	ReasonDNSTemporary     ReasonKind = "dns-temporary"     // 4.4.3: DNS failed for now
	ReasonNoSuchMailbox    ReasonKind = "no-such-mailbox"   // 5.1.1
	ReasonMailboxFull      ReasonKind = "mailbox-full"      // 4.2.2, 5.2.2
	ReasonMailLoop         ReasonKind = "mail-loop"         // 5.4.6
	ReasonNeedsSMTPUTF8    ReasonKind = "needs-smtputf8"    // 5.6.7
	ReasonCannotConnect    ReasonKind = "cannot-connect"    // 4.4.1, 4.4.2
	ReasonGaveUp           ReasonKind = "gave-up"           // 4.4.7, 5.4.7
	ReasonTooBig           ReasonKind = "too-big"           // 5.3.4, 5.2.3
	ReasonPolicy           ReasonKind = "policy"            // 5.7.1
	ReasonDelivered        ReasonKind = "delivered"         // any 2.x.x
	ReasonDeliveredMailbox ReasonKind = "delivered-mailbox" // delivered here, into the mailbox
	ReasonTemporary        ReasonKind = "temporary"         // any other 4.x.x
	ReasonRejected         ReasonKind = "rejected"          // any other 5.x.x with a reply
	ReasonNotDelivered     ReasonKind = "not-delivered"     // any other 5.x.x without one
	ReasonRelayed          ReasonKind = "relayed"           // Action relayed, next hop unknown
	ReasonRelayedTo        ReasonKind = "relayed-to"        // Action relayed to Reason.Host
	ReasonExpanded         ReasonKind = "expanded"          // Action expanded
)

// reasonKinds lists every ReasonKind; each language has a wording for each.
var reasonKinds = []ReasonKind{
	ReasonNullMX, ReasonNoMailServer, ReasonNoSuchDomain, ReasonMXNamesNoHost, ReasonInvalidDomain,
	ReasonNoAddress, ReasonMXNoAddress, ReasonDNSTemporary, ReasonNoSuchMailbox, ReasonMailboxFull,
	ReasonMailLoop, ReasonNeedsSMTPUTF8, ReasonCannotConnect, ReasonGaveUp, ReasonTooBig, ReasonPolicy,
	ReasonDelivered, ReasonDeliveredMailbox, ReasonTemporary, ReasonRejected, ReasonNotDelivered,
	ReasonRelayed, ReasonRelayedTo, ReasonExpanded,
}

// Reason is why a recipient's message did or did not arrive, with what the
// sentence names.
type Reason struct {
	Kind   ReasonKind
	Domain string // the domain (or host) the reason is about; "" = the recipient's domain, unnamed
	Host   string // for ReasonRelayedTo: the system the message was handed to
}

// Text words r as one sentence in lang. It starts in lower case in
// English, as it may start with a domain name.
func (r Reason) Text(lang Language) string {
	t := catalog(lang)
	s, ok := t.reasons[r.Kind]
	if !ok {
		// Only a caller's typo gets here; say something true.
		s = t.reasons[ReasonNotDelivered]
	}
	d := r.Domain
	if d == "" {
		d = t.theDomain
	}
	return strings.NewReplacer("{d}", d, "{h}", r.Host).Replace(s)
}

// humanText writes the first part of the report (RFC 3464 §2: "a
// human-readable explanation"): for each recipient what happened and why,
// in words a sender who knows nothing about SMTP can act on. A language
// other than English is followed by the English text, for a sender (or
// an administrator) who does not read it.
func humanText(r *Report, orig *original, lang Language) string {
	t := catalog(lang)
	s := oneText(r, orig, t)
	if t.englishAfter {
		s += "\n" + t.englishHeading + "\n\n" + oneText(r, orig, &en)
	}
	return s
}

// oneText is humanText in the language of t.
func oneText(r *Report, orig *original, t *texts) string {
	var failed, delayed, done []Recipient
	for _, rc := range r.Recipients {
		switch rc.Action {
		case Failed:
			failed = append(failed, rc)
		case Delayed:
			delayed = append(delayed, rc)
		default:
			done = append(done, rc)
		}
	}

	var b strings.Builder
	para := func(s string) {
		for _, l := range wrap(s, "", textWidth) {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}

	para(t.greeting(r.ReportingMTA))
	switch {
	case len(failed) > 0:
		intro := t.introFailed(len(failed))
		if len(delayed) > 0 {
			intro += t.sentenceGap + t.alsoDelayed(len(delayed))
		}
		para(intro)
	case len(delayed) > 0:
		para(t.introDelayed(len(delayed)))
	default:
		para(t.introReport)
	}

	section := func(title string, rcs []Recipient) {
		if len(rcs) == 0 {
			return
		}
		b.WriteString(title + "\n\n")
		for _, rc := range rcs {
			recipientText(&b, rc, t)
			b.WriteString("\n")
		}
	}
	section(t.sectionFailed, failed)
	section(t.sectionDelayed, delayed)
	section(t.sectionDone, done)

	switch {
	case orig == nil:
	case orig.headersOnly:
		para(t.attachedHeader)
	default:
		para(t.attachedMessage)
	}
	para(t.footer)
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// recipientText describes one recipient: address, reason, remote reply and,
// for a delay, until when delivery is retried.
func recipientText(b *strings.Builder, rc Recipient, t *texts) {
	line := func(indent, s string) {
		for _, l := range wrap(s, indent, textWidth) {
			b.WriteString(l + "\n")
		}
	}
	head := rc.Address
	if _, orcpt, ok := strings.Cut(rc.OriginalRcpt, ";"); ok {
		if orcpt = strings.TrimSpace(orcpt); orcpt != "" && !strings.EqualFold(orcpt, rc.Address) {
			head += t.wroteTo(orcpt)
		}
	}
	line("  ", oneLine(head))
	line("    ", t.reasonLabel+oneLine(rc.reason().Text(t.language)))

	if reply := joinReply(rc.DiagnosticCode); reply != "" {
		line("    ", t.replied(oneLine(rc.RemoteMTA)))
		line("      ", oneLine(reply))
	}
	if rc.Action == Delayed {
		if rc.WillRetryUntil.IsZero() {
			line("    ", t.retry)
		} else {
			line("    ", t.retryUntil(rc.WillRetryUntil))
		}
	}
}

// reason is the recipient's Reason, or the one its action and status
// give when the caller set none.
func (rc Recipient) reason() Reason {
	if rc.Reason.Kind != "" {
		return rc.Reason
	}
	switch rc.Action {
	case Relayed:
		if rc.RemoteMTA != "" {
			return Reason{Kind: ReasonRelayedTo, Host: rc.RemoteMTA}
		}
		return Reason{Kind: ReasonRelayed}
	case Expanded:
		return Reason{Kind: ReasonExpanded}
	}
	return Explain(rc.Status, domainOf(rc.Address), rc.DiagnosticCode)
}

// Explain turns an enhanced status code (RFC 3463), the recipient's domain
// and the remote SMTP reply ("" if there was none) into the Reason for
// Recipient.Reason.
func Explain(status, domain, reply string) Reason {
	// The first row whose status matches, and that does not require the
	// absence of a reply when there was one, wins.
	table := []struct {
		status  string
		noReply bool // only when nothing answered: a DNS finding
		kind    ReasonKind
	}{
		{"5.1.10", false, ReasonNullMX},
		{"5.1.2", true, ReasonNoMailServer},
		{"5.1.2", false, ReasonNoSuchDomain},
		{"5.1.1", false, ReasonNoSuchMailbox},
		{"4.2.2", false, ReasonMailboxFull},
		{"5.2.2", false, ReasonMailboxFull},
		{"5.4.6", false, ReasonMailLoop},
		{"5.6.7", false, ReasonNeedsSMTPUTF8},
		{"4.4.1", false, ReasonCannotConnect},
		{"4.4.2", false, ReasonCannotConnect},
		{"4.4.3", false, ReasonDNSTemporary},
		{"4.4.4", false, ReasonMXNoAddress},
		{"4.4.7", false, ReasonGaveUp},
		{"5.4.7", false, ReasonGaveUp},
		{"5.3.4", false, ReasonTooBig},
		{"5.2.3", false, ReasonTooBig},
		{"5.7.1", false, ReasonPolicy},
	}
	for _, e := range table {
		if e.status == status && (!e.noReply || reply == "") {
			return Reason{Kind: e.kind, Domain: domain}
		}
	}
	switch {
	case strings.HasPrefix(status, "2."):
		return Reason{Kind: ReasonDelivered, Domain: domain}
	case strings.HasPrefix(status, "4."):
		return Reason{Kind: ReasonTemporary, Domain: domain}
	case strings.HasPrefix(status, "5.") && reply != "":
		return Reason{Kind: ReasonRejected, Domain: domain}
	default:
		return Reason{Kind: ReasonNotDelivered, Domain: domain}
	}
}

// domainOf returns the domain of addr, "" if it has none.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// count writes n and noun, in the plural unless n is 1 (English only).
func count(n int, noun string) string {
	return strconv.Itoa(n) + " " + plural(n, noun, noun+"s")
}

// plural picks the singular or plural phrase for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine flattens s into one line of text without control characters, as
// caller-supplied text must not break the layout.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	return strings.Join(strings.Fields(s), " ")
}

// unit is a piece of text a line is never broken inside: a word of a
// script written with spaces, or one CJK character together with the
// punctuation that must stay with it.
type unit struct {
	text  string
	space bool // a space separates it from the unit before
}

// noBreakBefore holds the full-width punctuation that may not start a
// line, noBreakAfter the punctuation that may not end one (the basic
// rules of Chinese and Japanese line breaking).
const (
	noBreakBefore = "，。、；：！？）」』】〉》～％"
	noBreakAfter  = "（「『【〈《"
)

// units splits s into units: at spaces, and between CJK characters, which
// are written without spaces and may be broken between.
func units(s string) []unit {
	var out []unit
	space := false
	var word strings.Builder
	glue := func(text string, wide bool) {
		n := len(out)
		switch {
		case n > 0 && !space && strings.ContainsAny(lastRune(out[n-1].text), noBreakAfter):
			out[n-1].text += text // "（" + what follows
		case n > 0 && !space && wide && strings.ContainsAny(text, noBreakBefore):
			out[n-1].text += text // what precedes + "。"
		default:
			out = append(out, unit{text: text, space: space && n > 0})
		}
		space = false
	}
	flush := func() {
		if word.Len() > 0 {
			glue(word.String(), false)
			word.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			flush()
			space = true
		case isWide(r):
			flush()
			glue(string(r), true)
		default:
			word.WriteRune(r)
		}
	}
	flush()
	return out
}

func lastRune(s string) string {
	_, n := utf8.DecodeLastRuneInString(s)
	return s[len(s)-n:]
}

// wrap splits s into lines of at most width display columns, each
// starting with indent; units longer than a line stay whole.
func wrap(s, indent string, width int) []string {
	var lines []string
	line, w := indent, columns(indent)
	for _, u := range units(s) {
		uw := columns(u.text)
		sep := ""
		if u.space && line != indent {
			sep = " "
		}
		if line != indent && w+len(sep)+uw > width {
			lines = append(lines, line)
			line, w, sep = indent, columns(indent), ""
		}
		line += sep + u.text
		w += len(sep) + uw
	}
	return append(lines, line)
}

// columns is the display width of s: two columns for each wide (CJK)
// character, one for the rest.
func columns(s string) int {
	n := 0
	for _, r := range s {
		n++
		if isWide(r) {
			n++
		}
	}
	return n
}

// isWide reports whether r is an East Asian wide or full-width character
// (Unicode UAX #11), the blocks Chinese text is written in.
func isWide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115f, // Hangul Jamo initials
		r >= 0x2e80 && r <= 0x303e, // CJK radicals, punctuation
		r >= 0x3041 && r <= 0x33ff, // kana, CJK compatibility
		r >= 0x3400 && r <= 0x4dbf, // CJK extension A
		r >= 0x4e00 && r <= 0x9fff, // CJK unified ideographs
		r >= 0xa000 && r <= 0xa4cf, // Yi
		r >= 0xac00 && r <= 0xd7a3, // Hangul syllables
		r >= 0xf900 && r <= 0xfaff, // CJK compatibility ideographs
		r >= 0xfe30 && r <= 0xfe4f, // CJK compatibility forms
		r >= 0xff00 && r <= 0xff60, // full-width forms
		r >= 0xffe0 && r <= 0xffe6,
		r >= 0x20000 && r <= 0x3fffd: // CJK extensions B and later
		return true
	}
	return false
}
