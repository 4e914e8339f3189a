package dsn

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// textWidth is where the human-readable part is wrapped, so it reads well
// in any mail client and needs no soft line breaks when it is ASCII.
const textWidth = 72

// humanText writes the first part of the report (RFC 3464 §2: "a
// human-readable explanation"): for each recipient what happened and why,
// in words a sender who knows nothing about SMTP can act on.
func humanText(r *Report, orig *original) string {
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

	para("This is the mail system at " + r.ReportingMTA + ".")
	switch {
	case len(failed) > 0:
		intro := "I'm sorry, but your message could not be delivered to " +
			count(len(failed), "recipient") + ". This is a permanent error: " +
			"sending it again will most likely fail the same way."
		if len(delayed) > 0 {
			intro += " Delivery to " + count(len(delayed), "other recipient") +
				" is still being tried; there is nothing you need to do for " +
				plural(len(delayed), "that one", "those") + "."
		}
		para(intro)
	case len(delayed) > 0:
		para("Your message has not been delivered yet to " +
			plural(len(delayed), "the recipient", "the recipients") + " below. " +
			"This is only a warning: delivery is still being tried, " +
			"and you do not need to send the message again.")
	default:
		para("Here is the delivery report you asked for.")
	}

	section := func(title string, rcs []Recipient) {
		if len(rcs) == 0 {
			return
		}
		b.WriteString(title + "\n\n")
		for _, rc := range rcs {
			recipientText(&b, rc)
			b.WriteString("\n")
		}
	}
	section("Could not be delivered:", failed)
	section("Delayed, still trying:", delayed)
	section("Delivered:", done)

	switch {
	case orig == nil:
	case orig.headersOnly:
		para("The header of your message is attached below.")
	default:
		para("Your message is attached below.")
	}
	para("Technical details for your mail administrator are in the attached delivery report.")
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// recipientText describes one recipient: address, reason, remote reply and,
// for a delay, until when delivery is retried.
func recipientText(b *strings.Builder, rc Recipient) {
	line := func(indent, s string) {
		for _, l := range wrap(s, indent, textWidth) {
			b.WriteString(l + "\n")
		}
	}
	head := rc.Address
	if _, orcpt, ok := strings.Cut(rc.OriginalRcpt, ";"); ok {
		if orcpt = strings.TrimSpace(orcpt); orcpt != "" && !strings.EqualFold(orcpt, rc.Address) {
			head += " (you wrote to " + orcpt + ")"
		}
	}
	line("  ", oneLine(head))

	why := oneLine(rc.Explanation)
	if why == "" {
		switch rc.Action {
		case Relayed:
			why = "passed on to a mail system that does not send delivery reports."
		case Expanded:
			why = "delivered to a forwarding address or mailing list, which passed it on."
		default:
			why = Explain(rc.Status, domainOf(rc.Address), rc.DiagnosticCode)
		}
	}
	line("    ", "Reason: "+why)

	if reply := joinReply(rc.DiagnosticCode); reply != "" {
		who := "The receiving server"
		if rc.RemoteMTA != "" {
			who += " (" + rc.RemoteMTA + ")"
		}
		line("    ", who+" replied:")
		line("      ", oneLine(reply))
	}
	if rc.Action == Delayed {
		if rc.WillRetryUntil.IsZero() {
			line("    ", "Delivery will be retried for a while. You do not need to send the message again.")
		} else {
			line("    ", "Delivery will be retried until "+rc.WillRetryUntil.Format(dateLayout)+
				". You do not need to send the message again; if it still cannot be delivered by then, you will be told.")
		}
	}
}

// Explain turns an enhanced status code (RFC 3463), the recipient's domain
// and the remote SMTP reply ("" if there was none) into one plain sentence
// for Recipient.Explanation. The sentence starts in lower case, as it may
// start with a domain name.
func Explain(status, domain, reply string) string {
	if domain == "" {
		domain = "the recipient's domain"
	}
	// The first row whose status matches, and that does not require the
	// absence of a reply when there was one, wins; {d} is the domain.
	table := []struct {
		status  string
		noReply bool // only when nothing answered: a DNS finding
		text    string
	}{
		{"5.1.10", false, "{d} accepts no mail (it publishes a null MX record)."},
		{"5.1.2", true, "{d} has no mail server (no MX record)."},
		{"5.1.2", false, "{d} does not exist (no such domain in DNS)."},
		{"5.1.1", false, "the receiving server says this mailbox does not exist."},
		{"4.2.2", false, "the recipient's mailbox is full."},
		{"5.2.2", false, "the recipient's mailbox is full."},
		{"5.4.6", false, "the message went round in a mail loop (it has too many Received headers)."},
		{"5.6.7", false, "the message needs SMTPUTF8 (international addresses), which the receiving server does not support."},
		{"4.4.1", false, "could not connect to the mail server of {d}."},
		{"4.4.2", false, "could not connect to the mail server of {d}."},
		{"4.4.7", false, "the mail system gave up after trying for too long."},
		{"5.4.7", false, "the mail system gave up after trying for too long."},
		{"5.3.4", false, "the message is too big for the receiving server."},
		{"5.2.3", false, "the message is too big for the receiving server."},
		{"5.7.1", false, "the receiving server refused the message (policy)."},
	}
	for _, e := range table {
		if e.status == status && (!e.noReply || reply == "") {
			return strings.ReplaceAll(e.text, "{d}", domain)
		}
	}
	switch {
	case strings.HasPrefix(status, "2."):
		return "the message was delivered."
	case strings.HasPrefix(status, "4."):
		return fmt.Sprintf("a temporary problem is delaying delivery to %s.", domain)
	case strings.HasPrefix(status, "5.") && reply != "":
		return "the receiving server rejected the message."
	default:
		return fmt.Sprintf("the message could not be delivered to %s.", domain)
	}
}

// domainOf returns the domain of addr, "" if it has none.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// count writes n and noun, in the plural unless n is 1.
func count(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s"))
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
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
}

// wrap splits s into lines of at most width characters, each starting with
// indent; words longer than a line stay whole.
func wrap(s, indent string, width int) []string {
	var lines []string
	line := indent
	for _, w := range strings.Fields(s) {
		if line != indent && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
