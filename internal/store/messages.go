package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Mailbox is one folder of an account.
type Mailbox struct {
	ID            int64
	AccountID     int64
	Name          string
	SpecialUse    string
	Keywords      []string // keywords used in the mailbox (FLAGS, PERMANENTFLAGS)
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq int64
	Messages      int
	Size          int64
}

// Message is one message row.
type Message struct {
	ID           int64
	MailboxID    int64
	UID          uint32
	ModSeq       int64
	Size         int64 // what a client downloads: prefix + blob
	Flags        []string
	InternalDate time.Time
	TrackingID   string
	MessageID    string
	PrefixLen    int64  // bytes of per-recipient trace fields served first
	MIME         []byte // cached imapmime structure, blob-relative; nil if not loaded or not parsed
	blobID       string
}

// Recipient is one local mailbox a delivery goes into.
type Recipient struct {
	AccountID int64
	Mailbox   string   // "INBOX", "Junk", ...
	Prefix    []byte   // header fields to serve before the blob (CRLF-terminated)
	Flags     []string // initial flags
	Address   string   // the account address, for the delivered event
}

// Delivery is one message stored for one or more local recipients.
type Delivery struct {
	Blob         *Blob
	TrackingID   string
	MessageID    string
	InternalDate time.Time
	Recipients   []Recipient
	Events       []Event // recorded in the same transaction
	// MIME is the message's parsed structure (imapmime.Part.Marshal, with
	// offsets relative to the blob), cached for IMAP; nil if not parsed.
	MIME []byte
	// Remote, if not nil, queues the message for other servers in the
	// same transaction (the blob is shared).
	Remote *Outbound
}

// Event is one step in a message's journey.
type Event struct {
	TrackingID string
	At         time.Time
	Kind       string
	Detail     map[string]any
}

// DeliveredMessage says where one recipient's copy landed.
type DeliveredMessage struct {
	AccountID int64
	MailboxID int64
	UID       uint32
}

// Deliver makes a blob durable and adds one message row per recipient,
// group-committed with concurrent deliveries. It returns only when the
// batch is on disk.
func (s *Store) Deliver(ctx context.Context, d *Delivery) ([]DeliveredMessage, error) {
	remote := d.Remote != nil && len(d.Remote.Rcpts) > 0
	if len(d.Recipients) == 0 && !remote {
		d.Blob.Abort()
		return nil, errors.New("store: delivery without recipients")
	}
	if err := d.Blob.sync(); err != nil {
		return nil, err
	}
	blobID, blobSize := d.Blob.id, d.Blob.size
	var inline []byte
	if d.Blob.inline() {
		inline = d.Blob.buf
		if inline == nil {
			inline = []byte{} // an empty message is still inline, not NULL
		}
	}
	events, err := encodeEvents(d.Events)
	if err != nil {
		d.Blob.Abort()
		return nil, err
	}
	out := make([]DeliveredMessage, len(d.Recipients))
	err = s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		refs := len(d.Recipients)
		if remote {
			refs++ // the queue row's
		}
		if _, err := s.stmt(ctx, tx, sqlInsertBlob).ExecContext(ctx, blobID, blobSize, refs, inline); err != nil {
			return fmt.Errorf("store: blob row: %w", err)
		}
		if remote {
			if err := s.insertOutbound(ctx, tx, blobID, blobSize, d.TrackingID, d.InternalDate, d.Remote); err != nil {
				return err
			}
		}
		date := d.InternalDate.Unix()
		for i, r := range d.Recipients {
			size := int64(len(r.Prefix)) + blobSize
			var mbID, uid, modseq int64
			err := s.stmt(ctx, tx, sqlAssignUID).QueryRowContext(ctx, size, r.AccountID, r.Mailbox).Scan(&mbID, &uid, &modseq)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: mailbox %s of account %d", ErrNotFound, r.Mailbox, r.AccountID)
			}
			if err != nil {
				return fmt.Errorf("store: assign uid: %w", err)
			}
			flags := strings.Join(r.Flags, " ")
			prefix := r.Prefix
			if prefix == nil {
				prefix = []byte{} // nil would be stored as NULL
			}
			var msgID int64
			if err := s.stmt(ctx, tx, sqlInsertMessage).QueryRowContext(ctx,
				mbID, uid, modseq, blobID, prefix, size, flags, date, d.TrackingID, d.MessageID, d.MIME).Scan(&msgID); err != nil {
				return fmt.Errorf("store: insert message: %w", err)
			}
			if _, err := s.stmt(ctx, tx, sqlInsertPending).ExecContext(ctx, msgID); err != nil {
				return fmt.Errorf("store: index queue: %w", err)
			}
			if err := addKeywords(ctx, tx, mbID, r.Flags); err != nil {
				return err
			}
			out[i] = DeliveredMessage{AccountID: r.AccountID, MailboxID: mbID, UID: uint32(uid)}
			eff.changes = append(eff.changes, Change{Kind: ChangeNew, AccountID: r.AccountID, MailboxID: mbID, UID: uint32(uid), ModSeq: modseq, Flags: r.Flags, MessageID: msgID, Size: size, Date: date})
		}
		return s.insertEvents(ctx, tx, events)
	})
	if err != nil {
		// No row refers to the blob: remove the file.
		s.blobs.remove([]string{blobID})
		return nil, err
	}
	if len(d.Recipients) > 0 {
		s.kickIndexer()
	}
	if remote {
		s.kickQueue()
	}
	return out, nil
}

// encodedEvent is an Event with its detail already in JSON, so the
// encoding happens on the caller's goroutine, not in the committer.
type encodedEvent struct {
	trackingID string
	at         int64
	kind       string
	detail     string
}

func encodeEvents(events []Event) ([]encodedEvent, error) {
	out := make([]encodedEvent, len(events))
	for i, e := range events {
		detail := []byte("{}")
		if e.Detail != nil {
			var err error
			if detail, err = json.Marshal(e.Detail); err != nil {
				return nil, fmt.Errorf("store: event detail: %w", err)
			}
		}
		out[i] = encodedEvent{e.TrackingID, e.At.UnixMilli(), e.Kind, string(detail)}
	}
	return out, nil
}

func (s *Store) insertEvents(ctx context.Context, tx dbtx, events []encodedEvent) error {
	// Two rows per statement where possible: every statement costs the
	// serial committer a round through database/sql and the driver.
	for len(events) >= 2 {
		a, b := events[0], events[1]
		if _, err := s.stmt(ctx, tx, sqlInsertEvents2).ExecContext(ctx, a.trackingID, a.at, a.kind, a.detail,
			b.trackingID, b.at, b.kind, b.detail); err != nil {
			return fmt.Errorf("store: event: %w", err)
		}
		events = events[2:]
	}
	for _, e := range events {
		if _, err := s.stmt(ctx, tx, sqlInsertEvent).ExecContext(ctx, e.trackingID, e.at, e.kind, e.detail); err != nil {
			return fmt.Errorf("store: event: %w", err)
		}
	}
	return nil
}

// RecordEvents stores events outside a delivery (e.g. refusals).
func (s *Store) RecordEvents(ctx context.Context, events []Event) error {
	enc, err := encodeEvents(events)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		return s.insertEvents(ctx, tx, enc)
	})
}

// Events returns the events of a tracking id, oldest first.
func (s *Store) Events(ctx context.Context, trackingID string) ([]Event, error) {
	rows, err := s.query(ctx, `SELECT at, kind, detail FROM events WHERE tracking_id = ? ORDER BY at, id`, trackingID)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var at int64
		var e Event
		var detail string
		if err := rows.Scan(&at, &e.Kind, &detail); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.TrackingID = trackingID
		e.At = time.UnixMilli(at)
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// mailboxCols are the columns scanMailbox reads.
const mailboxCols = `id, account_id, name, special_use, keywords, uidvalidity, uidnext, highestmodseq, messages, size`

func scanMailbox(r interface{ Scan(...any) error }) (Mailbox, error) {
	var m Mailbox
	var kw string
	err := r.Scan(&m.ID, &m.AccountID, &m.Name, &m.SpecialUse, &kw, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq, &m.Messages, &m.Size)
	m.Keywords = strings.Fields(kw)
	return m, err
}

// MailboxByName returns an account's mailbox.
func (s *Store) MailboxByName(ctx context.Context, accountID int64, name string) (Mailbox, error) {
	m, err := scanMailbox(s.queryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, fmt.Errorf("%w: mailbox %s", ErrNotFound, name)
	}
	if err != nil {
		return Mailbox{}, fmt.Errorf("store: mailbox: %w", err)
	}
	return m, nil
}

// Mailboxes lists an account's mailboxes.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error) {
	rows, err := s.query(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: mailboxes: %w", err)
	}
	defer rows.Close()
	var out []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: mailboxes: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Messages lists a mailbox's messages in UID order.
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]Message, error) {
	rows, err := s.query(ctx, `SELECT id, uid, modseq, size, flags, internal_date, tracking_id, message_id, blob_id, length(prefix)
		FROM messages WHERE mailbox_id = ? ORDER BY uid`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{MailboxID: mailboxID}
		var flags string
		var date int64
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &m.Size, &flags, &date, &m.TrackingID, &m.MessageID, &m.blobID, &m.PrefixLen); err != nil {
			return nil, fmt.Errorf("store: messages: %w", err)
		}
		m.Flags = strings.Fields(flags)
		m.InternalDate = time.Unix(date, 0)
		out = append(out, m)
	}
	return out, rows.Err()
}

// OpenMessage streams a message: its trace prefix, then the blob.
func (s *Store) OpenMessage(ctx context.Context, m Message) (io.ReadCloser, error) {
	var prefix, inline []byte
	var blobID string
	err := s.queryRow(ctx, `SELECT m.prefix, m.blob_id, b.data FROM messages m JOIN blobs b ON b.id = m.blob_id
		WHERE m.id = ?`, m.ID).Scan(&prefix, &blobID, &inline)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: message %d", ErrNotFound, m.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open message: %w", err)
	}
	return s.prefixed(prefix, blobID, inline)
}

// prefixed streams trace fields, then a blob (inline bytes or its file).
func (s *Store) prefixed(prefix []byte, blobID string, inline []byte) (io.ReadCloser, error) {
	if inline != nil {
		return io.NopCloser(io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(inline))), nil
	}
	f, err := s.blobs.open(blobID)
	if err != nil {
		return nil, err
	}
	return &messageReader{Reader: io.MultiReader(bytes.NewReader(prefix), f), f: f}, nil
}

// Expunge removes messages by UID from a mailbox for good, remembering the
// UIDs with the expunge's MODSEQ (RFC 7162 QRESYNC) and notifying watchers.
// UIDs already gone are ignored.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		_, err := expungeTx(ctx, tx, eff, mailboxID, uids)
		return err
	})
}

// PruneEvents deletes tracking events older than before and returns how
// many went. Events are appended in (roughly) time order, so it walks from
// the lowest id in chunks and stops at the first young one: no index on
// the time is needed, and a prune with nothing to do reads one chunk.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	const chunk = 1000
	total := 0
	for {
		rows, err := s.query(ctx, `SELECT id, at FROM events ORDER BY id LIMIT ?`, chunk)
		if err != nil {
			return total, fmt.Errorf("store: prune events: %w", err)
		}
		var last int64 = -1
		n, young := 0, false
		for rows.Next() {
			var id, at int64
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return total, fmt.Errorf("store: prune events: %w", err)
			}
			n++
			if at >= before.UnixMilli() {
				young = true
				break
			}
			last = id
		}
		rows.Close()
		if last < 0 {
			return total, nil
		}
		var deleted int64
		err = s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id <= ?`, last)
			if err != nil {
				return fmt.Errorf("store: prune events: %w", err)
			}
			deleted, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(deleted)
		if young || n < chunk {
			return total, nil
		}
	}
}
