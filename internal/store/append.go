package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AppendMessage is one message an IMAP client appends.
type AppendMessage struct {
	Blob         *Blob     // the message bytes, written and not yet finished
	Flags        []string  // initial flags
	InternalDate time.Time // the date the client gave, or now
	MIME         []byte    // parsed structure (imapmime.Part.Marshal), nil if not parsed
	TrackingID   string    // the message's tracking id
}

// AppendResult says where appended messages landed.
type AppendResult struct {
	MailboxID   int64
	UIDValidity uint32
	UIDs        []uint32 // one per message, in order; consecutive
}

// Append stores messages in one mailbox of an account, all or none: an
// APPEND of several messages (MULTIAPPEND, RFC 3502 §3) either adds every
// one of them or none. Every blob is made durable first, then one
// transaction adds all rows, checks the account's quota with them
// counted, and records events; Append returns only once that transaction
// is committed. The blobs are finished (or aborted) whatever happens.
func (s *Store) Append(ctx context.Context, accountID int64, mailbox string, msgs []AppendMessage, events []Event) (AppendResult, error) {
	var res AppendResult
	if len(msgs) == 0 {
		return res, errors.New("store: append without messages")
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Blob.id
	}
	for i, m := range msgs {
		if err := m.Blob.sync(); err != nil {
			for _, o := range msgs[i+1:] {
				o.Blob.Abort()
			}
			s.blobs.remove(ids[:i])
			return res, err
		}
	}
	enc, err := encodeEvents(events)
	if err != nil {
		s.blobs.remove(ids)
		return res, err
	}
	var total int64
	for _, m := range msgs {
		total += m.Blob.size
	}
	err = s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		res = AppendResult{}
		err := tx.QueryRowContext(ctx, `SELECT id, uidvalidity FROM mailboxes WHERE account_id = ? AND name = ?`,
			accountID, mailbox).Scan(&res.MailboxID, &res.UIDValidity)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: mailbox %s of account %d", ErrNotFound, mailbox, accountID)
		}
		if err != nil {
			return fmt.Errorf("store: append: %w", err)
		}
		if err := checkQuota(ctx, tx, accountID, total); err != nil {
			return err
		}
		for _, m := range msgs {
			var inline []byte
			if m.Blob.inline() {
				inline = m.Blob.buf
				if inline == nil {
					inline = []byte{} // an empty message is still inline, not NULL
				}
			}
			if _, err := s.stmt(ctx, tx, sqlInsertBlob).ExecContext(ctx, m.Blob.id, m.Blob.size, 1, inline); err != nil {
				return fmt.Errorf("store: blob row: %w", err)
			}
			var mbID, uid, modseq int64
			if err := s.stmt(ctx, tx, sqlAssignUID).QueryRowContext(ctx, m.Blob.size, accountID, mailbox).Scan(&mbID, &uid, &modseq); err != nil {
				return fmt.Errorf("store: assign uid: %w", err)
			}
			date := m.InternalDate.Unix()
			var msgID int64
			if err := s.stmt(ctx, tx, sqlInsertMessage).QueryRowContext(ctx,
				mbID, uid, modseq, m.Blob.id, []byte{}, m.Blob.size, strings.Join(m.Flags, " "), date, m.TrackingID, "", m.MIME).Scan(&msgID); err != nil {
				return fmt.Errorf("store: insert message: %w", err)
			}
			if _, err := s.stmt(ctx, tx, sqlInsertPending).ExecContext(ctx, msgID); err != nil {
				return fmt.Errorf("store: index queue: %w", err)
			}
			if err := addKeywords(ctx, tx, mbID, m.Flags); err != nil {
				return err
			}
			res.UIDs = append(res.UIDs, uint32(uid))
			eff.changes = append(eff.changes, Change{Kind: ChangeNew, AccountID: accountID, MailboxID: mbID, UID: uint32(uid),
				ModSeq: modseq, Flags: m.Flags, MessageID: msgID, Size: m.Blob.size, Date: date})
		}
		return s.insertEvents(ctx, tx, enc)
	})
	if err != nil {
		// No row refers to the blobs: remove the files.
		s.blobs.remove(ids)
		return AppendResult{}, err
	}
	s.kickIndexer()
	return res, nil
}
