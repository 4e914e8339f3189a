package imapserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
// several with MULTIAPPEND (RFC 3502 §6.3.11), each a literal or put
// together from text and existing messages with CATENATE (RFC 4469), all
// in one transaction so that either every message is added or none is.
// It answers with APPENDUID (RFC 4315 §3), whose UID set covers every
// message.
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
	s.ownChange(ownMessages(res.MailboxID, res.UIDs))
	s.update(ctx, true)
	s.ok(tag, fmt.Sprintf("[APPENDUID %d %s] APPEND completed", res.UIDValidity, imapparse.FormatUIDs(res.UIDs)))
}

// appendMessage writes one message of an APPEND into a new blob and
// parses its structure. An *appendError says why the client's message
// cannot be stored; other errors are the server's.
func (s *session) appendMessage(ctx context.Context, m *imapparse.AppendMessage) (store.AppendMessage, error) {
	blob, err := s.srv.st.NewBlob()
	if err != nil {
		return store.AppendMessage{}, err
	}
	var part *imapmime.Part
	if m.Catenate != nil {
		err = s.catenate(ctx, &capWriter{w: blob, left: s.srv.cfg.AppendLimit}, m.Catenate)
		if err == nil {
			part, err = imapmime.Parse(blob.Reader())
		}
		if err == nil {
			// Text parts may come as literal8, and URL parts from
			// messages that hold NUL.
			blob, part, err = s.encodeNULs(blob, part)
		}
	} else {
		data := m.Message
		if int64(len(data)) > s.srv.cfg.AppendLimit {
			err = errAppendTooBig
		} else if part, err = imapmime.Parse(bytes.NewReader(data)); err == nil {
			if bytes.IndexByte(data, 0) >= 0 {
				// Only literal8 carries NUL (RFC 3516 §4.4).
				data, part, err = encodeNULParts(data, part)
			}
			if err == nil {
				_, err = blob.Write(data)
			}
		}
	}
	if err != nil {
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

// encodeNULParts stores base64 the parts of an appended message that hold
// NUL, which no plain literal may carry (RFC 9051 §4.3.1): RFC 3516 §4.4
// lets the server change a part's transfer encoding when nothing is lost,
// and §6 wants BODY and BODYSTRUCTURE to show a part in an encoding IMAP4
// can carry. BINARY still returns the octets appended (see
// imapmime.EncodeNULParts). Those parts grow by a third; APPENDLIMIT
// applies to what the client sent.
func encodeNULParts(data []byte, part *imapmime.Part) ([]byte, *imapmime.Part, error) {
	out, changed := imapmime.EncodeNULParts(data, part)
	if !changed {
		return data, part, nil
	}
	p, err := imapmime.Parse(bytes.NewReader(out))
	return out, p, err
}

// encodeNULs is encodeNULParts for a message written to blob already: a
// message holding NUL is written again to a new blob.
func (s *session) encodeNULs(blob *store.Blob, part *imapmime.Part) (*store.Blob, *imapmime.Part, error) {
	data, err := io.ReadAll(blob.Reader())
	if err != nil || bytes.IndexByte(data, 0) < 0 {
		return blob, part, err
	}
	out, p, err := encodeNULParts(data, part)
	if err != nil || len(out) == len(data) && bytes.Equal(out, data) {
		return blob, p, err
	}
	nb, err := s.srv.st.NewBlob()
	if err != nil {
		return blob, p, err
	}
	blob.Abort()
	if _, err := nb.Write(out); err != nil {
		return nb, p, err
	}
	return nb, p, nil
}

// errAppendTooBig refuses a message over APPENDLIMIT, which CATENATE
// (RFC 4469 §4.2) reports with TOOBIG like a literal over it (RFC 7889).
var errAppendTooBig = &appendError{"[TOOBIG] Message exceeds APPENDLIMIT"}

// capWriter passes writes on while they stay within left octets.
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		return 0, errAppendTooBig
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}

// catenate writes the parts of a CATENATE message (RFC 4469 §3) to w in
// order: a TEXT part as sent, a URL part as the octets FETCH
// BODY.PEEK[section]<partial> returns for the message it names in the
// session's account. \Seen is not set on the messages read.
func (s *session) catenate(ctx context.Context, w io.Writer, parts []imapparse.CatPart) error {
	for _, p := range parts {
		if p.Text != nil {
			if _, err := w.Write(p.Text); err != nil {
				return err
			}
			continue
		}
		if err := s.catenateURL(ctx, w, p.URL); err != nil {
			return err
		}
	}
	return nil
}

// catenateURL writes what raw, an IMAP URL (RFC 5092), names. Any URL
// that names nothing the session can read fails with BADURL, which
// carries the URL (RFC 4469 §4.1).
func (s *session) catenateURL(ctx context.Context, w io.Writer, raw string) error {
	bad := func(why string) error {
		return &appendError{"[BADURL " + urlRespText(raw) + "] " + why}
	}
	u, err := imapparse.ParseURL(raw)
	if err != nil {
		if errors.Is(err, imapparse.ErrURLScope) {
			return bad("Only URLs of this account's messages (/mailbox/;UID=n) can be used")
		}
		return bad("Invalid IMAP URL")
	}
	t, why, err := s.openURL(ctx, s.account.ID, u)
	if err != nil {
		return err
	}
	if t == nil {
		return bad(why)
	}
	defer t.close()
	r, n, err := t.reader()
	if err != nil {
		return bad("Cannot extract this section")
	}
	if _, err := io.CopyN(w, r, n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// urlTarget is the message an IMAP URL names, opened.
type urlTarget struct {
	u    *imapparse.URL
	data *store.MessageData
	root *imapmime.Part // the structure, when the URL names a section
}

// openURL opens what u names in an account's mailboxes (RFC 5092
// §3.3): the message with the UID, in the mailbox of that name, if the
// UIDVALIDITY (when given) still holds, and the body part (when given)
// exists. A nil target comes with why it names nothing; an error is the
// server's.
func (s *session) openURL(ctx context.Context, accountID int64, u *imapparse.URL) (*urlTarget, string, error) {
	mb, err := s.srv.st.MailboxByName(ctx, accountID, u.Mailbox)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, "No such mailbox", nil
		}
		return nil, "", err
	}
	if u.UIDValidity != 0 && u.UIDValidity != mb.UIDValidity {
		return nil, "UIDVALIDITY does not match", nil
	}
	msgs, err := s.srv.st.MessageRange(ctx, mb.ID, u.UID, u.UID, u.Section != nil)
	if err != nil {
		return nil, "", err
	}
	if len(msgs) == 0 {
		return nil, "No such message", nil
	}
	m := &msgs[0]
	data, err := s.srv.st.OpenMessageAt(ctx, *m)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, "No such message", nil // expunged meanwhile
		}
		return nil, "", err
	}
	t := &urlTarget{u: u, data: data}
	if u.Section != nil {
		if t.root, err = s.structure(ctx, m); err != nil {
			data.Close()
			return nil, "", err
		}
		if _, ok := t.root.Find(u.Section.Path); !ok {
			data.Close()
			return nil, "No such body part", nil
		}
	}
	return t, "", nil
}

func (t *urlTarget) close() { t.data.Close() }

// reader returns the octets the URL names, as FETCH BODY.PEEK[section]
// <partial> would, and their number; it may be called again.
func (t *urlTarget) reader() (io.Reader, int64, error) {
	var r io.Reader = io.NewSectionReader(t.data, 0, t.data.Size())
	n := t.data.Size()
	if t.u.Section != nil {
		var err error
		if r, n, err = imapmime.Extract(t.data, t.root, toSection(t.u.Section)); err != nil {
			return nil, 0, err
		}
	}
	if p := t.u.Partial; p != nil {
		// RFC 5092 §3.3: as a partial FETCH (RFC 9051 §6.4.5), an offset
		// past the end gives nothing.
		off := min(int64(p.Offset), n)
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			return nil, 0, err
		}
		n -= off
		if p.HasLength {
			n = min(n, int64(p.Length))
		}
	}
	return r, n, nil
}

// urlRespText makes a URL fit url-resp-text (RFC 4469 §5): TEXT-CHAR but
// "]"; anything else is percent-encoded, which keeps it a URL.
func urlRespText(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw) && b.Len() < 512; i++ {
		c := raw[i]
		if c < 0x20 || c > 0x7e || c == ']' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
