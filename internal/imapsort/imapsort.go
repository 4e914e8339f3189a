// Package imapsort holds the algorithms behind the IMAP SORT and THREAD
// extensions (RFC 5256) as pure functions over message metadata: the
// server collects a Msg per message of the search result, and this package
// orders them (Sort, with the keys of RFC 5256 §3 and the DISPLAYFROM and
// DISPLAYTO keys of RFC 5957), builds threads (ThreadReferences,
// ThreadOrderedSubject) and renders the THREAD response data
// (AppendThreads).
//
// Nothing here touches the store or the network, and nothing is kept
// between calls: every function works only on its arguments, so callers
// may use the package from any number of sessions at once.
//
// Strings that SORT and THREAD compare (base subjects, mailboxes, display
// names) are compared through CompareKey, an approximation of the
// i;unicode-casemap collation (RFC 5051), so that "Re: Foo" and "foo" and
// "FOO" thread together and "Alice" sorts with "alice".
package imapsort

import "time"

// Msg is what SORT and THREAD need of one message.
type Msg struct {
	Seq, UID uint32 // message sequence number and UID in the selected mailbox

	Arrival time.Time // INTERNALDATE (RFC 3501 §2.3.3)
	Date    time.Time // parsed Date: header; zero if missing or unparseable
	Size    int64     // RFC822.SIZE

	Subject string // raw Subject header value, RFC 2047 encoded words allowed
	From    string // raw From header value
	To      string // raw To header value
	Cc      string // raw Cc header value

	MessageID  string // raw Message-ID header value
	InReplyTo  string // raw In-Reply-To header value
	References string // raw References header value
}

// SentDate is the message's "sent date" (RFC 5256 §2.2): the Date header,
// or INTERNALDATE when the Date header is missing or could not be parsed.
// time.Time comparisons are on the instant, so the time zone the Date
// header was written in does not matter (the RFC's "adjusted to UTC").
func (m *Msg) SentDate() time.Time {
	if m.Date.IsZero() {
		return m.Arrival
	}
	return m.Date
}
