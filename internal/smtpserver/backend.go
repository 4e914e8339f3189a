// Package smtpserver speaks SMTP (RFC 5321) to clients and other MTAs: the
// inbound MX listener (port 25: local domains only, no AUTH), submission
// (587: STARTTLS, then AUTH required, RFC 6409) and submissions (465:
// implicit TLS, RFC 8314). It owns the protocol only; who may send, who
// exists and how a message is stored are asked of a Backend.
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Mode says which kind of listener a Server is.
type Mode int

const (
	ModeInbound     Mode = iota // MX on port 25: no AUTH, local domains only
	ModeSubmission              // port 587: STARTTLS, then AUTH before MAIL
	ModeSubmissions             // port 465: implicit TLS, AUTH before MAIL
)

func (m Mode) String() string {
	switch m {
	case ModeInbound:
		return "smtp"
	case ModeSubmission:
		return "submission"
	case ModeSubmissions:
		return "submissions"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Reply is an SMTP reply a Backend wants sent, e.g.
// &Reply{550, "5.1.1", "no such user"}. It implements error.
type Reply struct {
	Code     int    // three-digit reply code
	Enhanced string // RFC 3463 enhanced status code, "x.y.z"
	Text     string // human-readable text, one line
}

func (r *Reply) Error() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// ErrAuthFailed is returned by Backend.Authenticate for bad credentials.
var ErrAuthFailed = errors.New("smtpserver: authentication failed")

// Session describes the client a request comes from.
type Session struct {
	ID          string     // session id, on every log line
	Mode        Mode       // which listener
	RemoteIP    netip.Addr // client address
	Helo        string     // EHLO/HELO argument
	TLS         *tls.ConnectionState
	AuthAccount string // canonical account address after AUTH, else ""
}

// Envelope is one accepted transaction handed to Backend.Deliver.
type Envelope struct {
	Session    *Session
	TrackingID string   // also in the Received header and the 250 reply
	From       string   // reverse-path without brackets; "" for <>
	Recipients []string // forward-paths as accepted by CheckRecipient
	SMTPUTF8   bool     // MAIL FROM carried SMTPUTF8
	Body8Bit   bool     // MAIL FROM carried BODY=8BITMIME
	Received   string   // complete "Received: ...\r\n" trace header field
	MessageID  string   // Message-ID of the message (after fix-ups), no brackets
	Size       int64    // bytes written to the MessageWriter
	Arrived    time.Time
	// DSN parameters (RFC 3461): RET, ENVID, and NOTIFY/ORCPT of the
	// recipients that gave them (keyed like Recipients).
	Ret   string
	EnvID string
	DSN   map[string]RcptDSN
}

// RcptDSN is one recipient's DSN parameters.
type RcptDSN struct {
	Notify string // NEVER, or a list of SUCCESS, FAILURE, DELAY; "" if not given
	ORcpt  string // "addr-type;address", decoded; "" if not given
}

// MessageWriter receives the message bytes (CRLF line endings, dot-unstuffed,
// header fix-ups applied). Abort discards it; Backend.Deliver makes it durable.
// The server calls Abort on every refusal, including after Deliver returned
// an error; it never calls Abort after a successful Deliver.
type MessageWriter interface {
	io.Writer
	Abort()
}

// Backend is the mail system behind the protocol. Errors of type *Reply are
// sent as they are; other errors become 451 4.3.0 and are logged.
type Backend interface {
	// Authenticate checks a username (an address) and password and returns
	// the canonical account address, or ErrAuthFailed.
	Authenticate(ctx context.Context, username, password string) (account string, err error)
	// CheckSender decides whether s may use addr as the envelope sender
	// (field "") or in the header field named (From, Sender,
	// Resent-From, Resent-Sender). Only asked for authenticated sessions;
	// 553 5.7.1 when the address is not theirs. addr is in canonical form
	// (address.Address.String()); it is not asked for the null
	// reverse-path <>.
	CheckSender(ctx context.Context, s *Session, addr, field string) error
	// CheckRecipient decides RCPT TO: nil to accept; 550 5.1.1 unknown user,
	// 554 5.7.1 relay refused, 452 4.2.2 over quota, 451 4.3.2 no queue yet.
	// rcpt is address.Address.String() of the forward-path, or the bare
	// "postmaster" for RCPT TO:<postmaster> (RFC 5321 §4.1.1.3); from is
	// "" for the null reverse-path.
	CheckRecipient(ctx context.Context, s *Session, from, rcpt string) error
	// NewMessage returns a writer that spools one message's bytes.
	NewMessage(ctx context.Context) (MessageWriter, error)
	// Deliver stores the spooled message for every recipient. It returns
	// only once the message is durable (fsynced); then the server says 250.
	Deliver(ctx context.Context, env *Envelope, msg MessageWriter) error
}
