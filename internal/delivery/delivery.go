// Package delivery is the MDA: it puts an accepted message into the
// mailboxes of its local recipients. The message bytes are stored once;
// each recipient's copy gets its own trace fields (Return-Path,
// Delivered-To, then the Received field of the hop that accepted it, RFC
// 5321 §4.4), kept in the message row and served before the shared bytes.
// Connected clients learn of the new message from the store's change feed
// as soon as the batch is durable.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/router"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// Agent delivers into the store.
type Agent struct {
	st  *store.Store
	log *slog.Logger
}

// New returns an Agent.
func New(st *store.Store, log *slog.Logger) *Agent {
	return &Agent{st: st, log: log}
}

// Message is one accepted message for local recipients.
type Message struct {
	Blob       *store.Blob
	TrackingID string
	MessageID  string
	From       string // envelope sender; "" for <>
	Received   string // complete Received field with CRLF
	Arrived    time.Time
	Recipients []router.Target
	// Remote recipients are queued for other servers, with the message's
	// Received field as our trace.
	Remote []RemoteRcpt
	// RemoteFrom, if set, is the envelope sender of the queued copy
	// (SRS for forwarded mail); From stays on the local copies.
	RemoteFrom string
	SMTPUTF8   bool   // the envelope needs SMTPUTF8
	Body8Bit   bool   // BODY=8BITMIME
	Ret        string // DSN RET (RFC 3461)
	EnvID      string // DSN ENVID
	// Received event detail (client, TLS, auth user...).
	Detail map[string]any
}

// RemoteRcpt is a recipient in another domain, with its DSN parameters.
type RemoteRcpt struct {
	Addr   string
	Notify string // RFC 3461 NOTIFY, "" if not given
	ORcpt  string // RFC 3461 ORCPT ("rfc822;addr"), "" if not given
}

// Deliver stores the message for every recipient and returns once durable.
func (a *Agent) Deliver(ctx context.Context, m *Message) error {
	seen := map[int64]bool{}
	var rcpts []store.Recipient
	for _, t := range m.Recipients {
		if seen[t.AccountID] {
			continue
		}
		seen[t.AccountID] = true
		rcpts = append(rcpts, store.Recipient{
			AccountID: t.AccountID,
			Mailbox:   "INBOX",
			Prefix:    tracePrefix(m.From, t.Address, m.Received),
			Address:   t.Address,
		})
	}
	// Parse the structure once, now, for IMAP (ENVELOPE, BODYSTRUCTURE,
	// sections); a message that cannot be parsed is parsed again on its
	// first FETCH instead.
	var mime []byte
	if p, err := imapmime.Parse(m.Blob.Reader()); err == nil {
		mime = p.Marshal()
	} else {
		a.log.Warn("cannot parse message structure", "id", m.TrackingID, "err", err)
	}
	now := time.Now()
	events := []store.Event{{TrackingID: m.TrackingID, At: m.Arrived, Kind: tracking.EventReceived, Detail: m.Detail}}
	for _, r := range rcpts {
		events = append(events, store.Event{TrackingID: m.TrackingID, At: now, Kind: tracking.EventDelivered,
			Detail: map[string]any{"recipient": r.Address, "mailbox": r.Mailbox}})
	}
	var out *store.Outbound
	if len(m.Remote) > 0 {
		// Where the router sent the message, when some of it leaves: for
		// local-only mail the delivered events say it (and an event row
		// less per message keeps intake fast).
		local := make([]string, len(rcpts))
		for i, r := range rcpts {
			local[i] = r.Address
		}
		remote := make([]string, len(m.Remote))
		for i, r := range m.Remote {
			remote[i] = r.Addr
		}
		events = append(events, store.Event{TrackingID: m.TrackingID, At: now, Kind: tracking.EventRouted,
			Detail: map[string]any{"local": local, "remote": remote}})
		from := m.From
		if m.RemoteFrom != "" {
			from = m.RemoteFrom
		}
		out = &store.Outbound{From: from, SMTPUTF8: m.SMTPUTF8, Body8Bit: m.Body8Bit, Prefix: []byte(m.Received), Ret: m.Ret, EnvID: m.EnvID}
		for _, r := range m.Remote {
			a, err := address.Parse(r.Addr)
			if err != nil {
				m.Blob.Abort()
				return fmt.Errorf("delivery: remote recipient %q: %w", r.Addr, err)
			}
			if !a.IsASCII() {
				out.SMTPUTF8 = true
			}
			out.Rcpts = append(out.Rcpts, store.QueueRcpt{Addr: a.String(), Domain: address.ASCIIDomain(a.Domain), Notify: r.Notify, ORcpt: r.ORcpt})
			events = append(events, store.Event{TrackingID: m.TrackingID, At: now, Kind: tracking.EventQueued,
				Detail: map[string]any{"recipient": a.String()}})
		}
	}
	delivered, err := a.st.Deliver(ctx, &store.Delivery{
		Blob:         m.Blob,
		TrackingID:   m.TrackingID,
		MessageID:    m.MessageID,
		InternalDate: m.Arrived,
		Recipients:   rcpts,
		Events:       events,
		MIME:         mime,
		Remote:       out,
	})
	if err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	for i, d := range delivered {
		a.log.Info("delivered", "id", m.TrackingID, "rcpt", rcpts[i].Address, "mailbox", rcpts[i].Mailbox, "uid", d.UID)
	}
	if out != nil {
		for _, r := range out.Rcpts {
			a.log.Info("queued", "id", m.TrackingID, "rcpt", r.Addr)
		}
	}
	return nil
}

// tracePrefix builds one recipient's trace fields.
func tracePrefix(from, rcpt, received string) []byte {
	var b strings.Builder
	b.Grow(len(from) + len(rcpt) + len(received) + 40)
	b.WriteString("Return-Path: <")
	b.WriteString(from)
	b.WriteString(">\r\nDelivered-To: ")
	b.WriteString(rcpt)
	b.WriteString("\r\n")
	b.WriteString(received)
	return []byte(b.String())
}
