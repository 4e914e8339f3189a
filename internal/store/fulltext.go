package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TextEntry is the searchable text of one message.
type TextEntry struct {
	MessageID int64
	MailboxID int64  // with UID, what MessageID named when it was read
	UID       uint32 // (an id freed by an expunge is given out again)
	Headers   string
	Body      string
}

// IndexKick is signalled when messages wait to be indexed.
func (s *Store) IndexKick() <-chan struct{} { return s.indexKick }

func (s *Store) kickIndexer() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}

// PendingText returns up to limit messages waiting for the full-text
// index, oldest first; mailboxID > 0 restricts them to one mailbox.
//
// Every SEARCH BODY/TEXT asks first, so the usual answer (nothing waits)
// must be cheap: the queue is counted before anything is joined, and a
// short queue drives the join (a mailbox of 100,000 messages would
// otherwise be scanned to find none of them queued: 12 ms per search).
func (s *Store) PendingText(ctx context.Context, mailboxID int64, limit int) ([]Message, error) {
	var queued int
	if err := s.queryRow(ctx, `SELECT count(*) FROM fts_pending`).Scan(&queued); err != nil {
		return nil, fmt.Errorf("store: pending text: %w", err)
	}
	if queued == 0 {
		return nil, nil
	}
	const cols = `m.id, m.uid, m.modseq, m.size, m.flags, m.internal_date, m.tracking_id, m.message_id, m.blob_id, length(m.prefix), m.mime, m.mailbox_id`
	q := `SELECT ` + cols + ` FROM fts_pending p JOIN messages m ON m.id = p.message_id ORDER BY p.message_id LIMIT ?`
	args := []any{limit}
	if mailboxID > 0 {
		// CROSS JOIN makes SQLite loop over the queue outside (it keeps
		// the order of a CROSS JOIN); a long queue is better read
		// through the mailbox's messages.
		join := `fts_pending p CROSS JOIN messages m`
		if queued > 10000 {
			join = `messages m CROSS JOIN fts_pending p`
		}
		q = `SELECT ` + cols + ` FROM ` + join + ` WHERE m.id = p.message_id AND m.mailbox_id = ? ORDER BY p.message_id LIMIT ?`
		args = []any{mailboxID, limit}
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending text: %w", err)
	}
	defer rows.Close()
	var mb int64
	return scanMessagesAlso(rows, 0, &mb)
}

// SaveText adds entries to the full-text index, replacing earlier ones,
// and takes them off the queue. Messages expunged meanwhile are skipped.
func (s *Store) SaveText(ctx context.Context, entries []TextEntry) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		for _, e := range entries {
			// Skipped when the id names another message by now: that
			// one stays queued and gets its own text.
			var same bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE id = ? AND mailbox_id = ? AND uid = ?)`,
				e.MessageID, e.MailboxID, e.UID).Scan(&same); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			if !same {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM fts_pending WHERE message_id = ?`, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			// A message indexed before (migration 6 queues every message
			// again) has its entry replaced.
			if _, err := tx.ExecContext(ctx, `DELETE FROM message_text WHERE rowid = ?`, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO message_text (rowid, headers, body)
				SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)`,
				e.MessageID, e.Headers, e.Body, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
		}
		return nil
	})
}

// SearchText returns the UIDs of a mailbox's indexed messages whose body
// (field "body") or headers and body (field "text") contain needle,
// case-insensitively (IMAP SEARCH BODY/TEXT are substring searches, RFC
// 9051 §6.4.4).
//
// The index answers with message ids, concatenated inside SQLite into
// one row (iterating tens of thousands of rows through database/sql cost
// ten times the search itself), and the mailbox's in-memory index turns
// them into UIDs.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, field, needle string) (map[uint32]bool, error) {
	var q, arg string
	if utf8.RuneCountInString(needle) >= 3 {
		// The trigram tokenizer answers a quoted phrase as a substring
		// match through the index.
		cols := "body"
		if field == "text" {
			cols = "{headers body}"
		}
		arg = cols + `:"` + strings.ReplaceAll(needle, `"`, `""`) + `"`
		q = `SELECT COALESCE(group_concat(rowid), '') FROM message_text WHERE message_text MATCH ?`
	} else {
		// Too short for a trigram: LIKE over the stored text.
		arg = "%" + escapeLike(needle) + "%"
		q = `SELECT COALESCE(group_concat(rowid), '') FROM message_text WHERE body LIKE ? ESCAPE '\'`
		if field == "text" {
			q = `SELECT COALESCE(group_concat(rowid), '') FROM message_text WHERE body LIKE ?1 ESCAPE '\' OR headers LIKE ?1 ESCAPE '\'`
		}
	}
	var list string
	if err := s.queryRow(ctx, q, arg).Scan(&list); err != nil {
		return nil, fmt.Errorf("store: search text: %w", err)
	}
	ids := make([]int64, 0, strings.Count(list, ",")+1)
	for f := range strings.SplitSeq(list, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: search text: bad rowid %q", f)
		}
		ids = append(ids, id)
	}
	ix, err := s.index(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	return ix.uidsOfIDs(ids), nil
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
