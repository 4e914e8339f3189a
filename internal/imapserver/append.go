package imapserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// appendError is why one message of an APPEND cannot be stored: the
// response text of the tagged NO, with its code.
type appendError struct{ text string }

func (e *appendError) Error() string { return e.text }

// appendCmd stores the messages of an APPEND (RFC 9051 §6.3.12): one, or
// several with MULTIAPPEND (RFC 3502 §6.3.11), all in one transaction so
// that either every message is added or none is. It answers with
// APPENDUID (RFC 4315 §3), whose UID set covers every message.
func (s *session) appendCmd(ctx context.Context, tag string, a *imapparse.Append) {
	name, err := store.CheckMailboxName(a.Mailbox)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	mb, err := s.srv.st.MailboxByName(ctx, s.account.ID, name)
	if err != nil {
		s.no(tag, "[TRYCREATE] No such mailbox")
		return
	}
	msgs := make([]store.AppendMessage, 0, len(a.Messages))
	events := make([]store.Event, 0, len(a.Messages))
	abort := func() {
		for _, m := range msgs {
			m.Blob.Abort()
		}
	}
	var total int64
	for i := range a.Messages {
		m, err := s.appendMessage(ctx, &a.Messages[i])
		if err != nil {
			abort()
			var ae *appendError
			if errors.As(err, &ae) {
				s.log.Info("APPEND refused", "reason", ae.text)
				s.no(tag, ae.text)
			} else {
				s.mailboxError(tag, err)
			}
			return
		}
		msgs = append(msgs, m)
		total += m.Blob.Size()
		events = append(events, store.Event{TrackingID: m.TrackingID, At: time.Now(), Kind: tracking.EventDelivered,
			Detail: map[string]any{"recipient": s.account.Address, "mailbox": mb.Name, "via": "imap-append"}})
	}
	// Checked again inside the transaction; this early look only spares
	// the store the work when the answer is plain.
	if used, limit, err := s.srv.st.Quota(ctx, s.account.ID); err == nil && limit > 0 && used+total > limit {
		abort()
		s.log.Info("APPEND refused: over quota", "used", used, "limit", limit)
		s.no(tag, "[OVERQUOTA] Storage quota exceeded")
		return
	}
	res, err := s.srv.st.Append(ctx, s.account.ID, mb.Name, msgs, events)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.no(tag, "[TRYCREATE] No such mailbox")
			return
		}
		s.mailboxError(tag, err)
		return
	}
	s.update(ctx, true)
	s.ok(tag, fmt.Sprintf("[APPENDUID %d %s] APPEND completed", res.UIDValidity, imapparse.FormatUIDs(res.UIDs)))
}

// appendMessage writes one message of an APPEND into a new blob and
// parses its structure. An *appendError says why the client's message
// cannot be stored; other errors are the server's.
func (s *session) appendMessage(ctx context.Context, m *imapparse.AppendMessage) (store.AppendMessage, error) {
	if m.Catenate != nil {
		return store.AppendMessage{}, &appendError{"[CANNOT] CATENATE is not supported"}
	}
	if int64(len(m.Message)) > s.srv.cfg.AppendLimit {
		return store.AppendMessage{}, &appendError{"[TOOBIG] Message exceeds APPENDLIMIT"}
	}
	part, err := imapmime.Parse(bytes.NewReader(m.Message))
	if err != nil {
		return store.AppendMessage{}, &appendError{"[PARSE] Cannot parse message"}
	}
	blob, err := s.srv.st.NewBlob()
	if err != nil {
		return store.AppendMessage{}, err
	}
	if _, err := blob.Write(m.Message); err != nil {
		blob.Abort()
		return store.AppendMessage{}, err
	}
	date := time.Now()
	if m.HasDate {
		date = m.Date
	}
	var flags []string
	for _, f := range m.Flags {
		if !hasFlag(flags, f) {
			flags = append(flags, f)
		}
	}
	return store.AppendMessage{Blob: blob, Flags: flags, InternalDate: date, MIME: part.Marshal(), TrackingID: tracking.NewID()}, nil
}
