package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Outbound is the part of a delivery that leaves for other servers: it is
// queued in the same transaction as the local copies.
type Outbound struct {
	From     string // envelope sender; "" for <> (bounces)
	EnvID    string // DSN ENVID
	Ret      string // DSN RET: "FULL", "HDRS" or ""
	SMTPUTF8 bool   // the message needs SMTPUTF8 (non-ASCII addresses or headers)
	Body8Bit bool   // the body has 8-bit octets (BODY=8BITMIME)
	Prefix   []byte // trace fields sent before the blob (CRLF-terminated)
	Rcpts    []QueueRcpt
}

// QueueRcpt is one remote recipient to deliver to.
type QueueRcpt struct {
	Addr   string
	Domain string // routing key: the recipient's domain, lower case
	Notify string // DSN NOTIFY ("" = default: failures only)
	ORcpt  string // DSN ORCPT
}

// QueueItem is one waiting recipient with its message's envelope.
type QueueItem struct {
	ID          int64 // the recipient's id (what `queue show/retry/drop` take)
	QueueID     int64 // the message's
	TrackingID  string
	From        string
	Rcpt        string
	Domain      string
	Notify      string
	ORcpt       string
	EnvID       string
	Ret         string
	SMTPUTF8    bool
	Body8Bit    bool
	Size        int64
	Arrived     time.Time
	Attempts    int
	NextAttempt time.Time
	LastError   string
	Warned      bool
}

func (s *Store) insertOutbound(ctx context.Context, tx dbtx, blobID string, blobSize int64, trackingID string, arrived time.Time, o *Outbound) error {
	prefix := o.Prefix
	if prefix == nil {
		prefix = []byte{}
	}
	var qid int64
	err := s.stmt(ctx, tx, sqlInsertQueue).QueryRowContext(ctx,
		trackingID, blobID, prefix, o.From, o.EnvID, o.Ret, o.SMTPUTF8, o.Body8Bit, int64(len(prefix))+blobSize, arrived.UnixMilli()).Scan(&qid)
	if err != nil {
		return fmt.Errorf("store: queue: %w", err)
	}
	now := time.Now().UnixMilli()
	for _, r := range o.Rcpts {
		if _, err := s.stmt(ctx, tx, sqlInsertQueueRcpt).ExecContext(ctx,
			qid, r.Addr, strings.ToLower(r.Domain), r.Notify, r.ORcpt, now); err != nil {
			return fmt.Errorf("store: queue recipient: %w", err)
		}
	}
	return nil
}

// QueueKick is signalled when recipients were queued or made due by this
// process; the runner also polls, for changes made by admin commands.
func (s *Store) QueueKick() <-chan struct{} { return s.queueKick }

func (s *Store) kickQueue() {
	select {
	case s.queueKick <- struct{}{}:
	default:
	}
}

const queueItemCols = `r.id, q.id, q.tracking_id, q.mail_from, r.rcpt, r.domain, r.notify, r.orcpt, q.envid, q.ret,
	q.smtputf8, q.body8bit, q.size, q.arrived, r.attempts, r.next_attempt, r.last_error, r.warned`

func scanQueueItems(rows *sql.Rows) ([]QueueItem, error) {
	defer rows.Close()
	var out []QueueItem
	for rows.Next() {
		var it QueueItem
		var arrived, next int64
		if err := rows.Scan(&it.ID, &it.QueueID, &it.TrackingID, &it.From, &it.Rcpt, &it.Domain, &it.Notify, &it.ORcpt,
			&it.EnvID, &it.Ret, &it.SMTPUTF8, &it.Body8Bit, &it.Size, &arrived, &it.Attempts, &next, &it.LastError, &it.Warned); err != nil {
			return nil, fmt.Errorf("store: queue: %w", err)
		}
		it.Arrived, it.NextAttempt = time.UnixMilli(arrived), time.UnixMilli(next)
		out = append(out, it)
	}
	return out, rows.Err()
}

// DueRecipients returns up to limit recipients whose next attempt is at or
// before now, the longest waiting first.
func (s *Store) DueRecipients(ctx context.Context, now time.Time, limit int) ([]QueueItem, error) {
	rows, err := s.query(ctx, `SELECT `+queueItemCols+` FROM queue_rcpts r JOIN queue q ON q.id = r.queue_id
		WHERE r.next_attempt <= ? ORDER BY r.next_attempt, r.id LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due recipients: %w", err)
	}
	return scanQueueItems(rows)
}

// NextDue returns when the next recipient is due; ok is false when the
// queue is empty.
func (s *Store) NextDue(ctx context.Context) (t time.Time, ok bool, err error) {
	var next sql.NullInt64
	if err := s.queryRow(ctx, `SELECT MIN(next_attempt) FROM queue_rcpts`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64), true, nil
}

// Queue lists every waiting recipient, the next due first.
func (s *Store) Queue(ctx context.Context) ([]QueueItem, error) {
	rows, err := s.query(ctx, `SELECT `+queueItemCols+` FROM queue_rcpts r JOIN queue q ON q.id = r.queue_id ORDER BY r.next_attempt, r.id`)
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	return scanQueueItems(rows)
}

// QueueRecipient returns one waiting recipient.
func (s *Store) QueueRecipient(ctx context.Context, id int64) (QueueItem, error) {
	rows, err := s.query(ctx, `SELECT `+queueItemCols+` FROM queue_rcpts r JOIN queue q ON q.id = r.queue_id WHERE r.id = ?`, id)
	if err != nil {
		return QueueItem{}, fmt.Errorf("store: queue: %w", err)
	}
	items, err := scanQueueItems(rows)
	if err != nil {
		return QueueItem{}, err
	}
	if len(items) == 0 {
		return QueueItem{}, notExist("queue entry", strconv.FormatInt(id, 10))
	}
	return items[0], nil
}

// DeferRecipients records a failed attempt: the recipients wait until
// next. warned marks that a delay notification went out.
func (s *Store) DeferRecipients(ctx context.Context, ids []int64, next time.Time, lastError string, warned bool, events []Event) error {
	enc, err := encodeEvents(events)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE queue_rcpts SET attempts = attempts + 1, next_attempt = ?, last_error = ?,
				warned = MAX(warned, ?) WHERE id = ?`, next.UnixMilli(), lastError, warned, id); err != nil {
				return fmt.Errorf("store: defer: %w", err)
			}
		}
		return s.insertEvents(ctx, tx, enc)
	})
}

// FinishRecipients takes recipients off the queue (delivered, bounced or
// dropped); a message whose last recipient goes is removed with its blob
// reference.
func (s *Store) FinishRecipients(ctx context.Context, ids []int64, events []Event) error {
	enc, err := encodeEvents(events)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		queues := map[int64]bool{}
		for _, id := range ids {
			var qid int64
			err := s.stmt(ctx, tx, sqlFinishRcpt).QueryRowContext(ctx, id).Scan(&qid)
			if errors.Is(err, sql.ErrNoRows) {
				continue // dropped meanwhile
			}
			if err != nil {
				return fmt.Errorf("store: finish: %w", err)
			}
			queues[qid] = true
		}
		var blobs []string
		for qid := range queues {
			var blob string
			err := s.stmt(ctx, tx, sqlFinishQueue).QueryRowContext(ctx, qid, qid).Scan(&blob)
			if errors.Is(err, sql.ErrNoRows) {
				continue // recipients remain
			}
			if err != nil {
				return fmt.Errorf("store: finish: %w", err)
			}
			blobs = append(blobs, blob)
		}
		if err := unrefBlobs(ctx, tx, blobs, eff); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, enc)
	})
}

// RetryNow makes a recipient (id > 0) or every recipient (id == 0) due now
// and returns how many it touched.
func (s *Store) RetryNow(ctx context.Context, id int64) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		q, args := `UPDATE queue_rcpts SET next_attempt = ?`, []any{time.Now().UnixMilli()}
		if id > 0 {
			q, args = q+` WHERE id = ?`, append(args, id)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: retry: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err == nil && id > 0 && n == 0 {
		return 0, notExist("queue entry", strconv.FormatInt(id, 10))
	}
	s.kickQueue()
	return int(n), err
}

// OpenQueued streams a queued message as it is to be relayed: our trace
// fields, then the blob.
func (s *Store) OpenQueued(ctx context.Context, queueID int64) (io.ReadCloser, error) {
	var prefix, inline []byte
	var blobID string
	err := s.queryRow(ctx, `SELECT q.prefix, q.blob_id, b.data FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?`,
		queueID).Scan(&prefix, &blobID, &inline)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: queued message %d", ErrNotFound, queueID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open queued: %w", err)
	}
	return s.prefixed(prefix, blobID, inline)
}

// TrackingIDsByMessageID finds the tracking ids of messages with a
// Message-ID (without angle brackets): stored copies and received events.
// It reads the whole events table; it serves the `trace` command, not a
// hot path.
func (s *Store) TrackingIDsByMessageID(ctx context.Context, messageID string) ([]string, error) {
	pattern := `%"message_id":"` + escapeLike(strings.ReplaceAll(messageID, `"`, `\"`)) + `"%`
	rows, err := s.query(ctx, `SELECT tracking_id FROM messages WHERE message_id = ?
		UNION SELECT tracking_id FROM events WHERE kind = 'received' AND detail LIKE ? ESCAPE '\'`, messageID, pattern)
	if err != nil {
		return nil, fmt.Errorf("store: trace: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: trace: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
