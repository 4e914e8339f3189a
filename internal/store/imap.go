package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// FlagOp is how StoreFlags combines the given flags with a message's.
type FlagOp int

// Flag operations (IMAP STORE FLAGS, +FLAGS, -FLAGS).
const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagUpdate is one message's flags after StoreFlags.
type FlagUpdate struct {
	UID     uint32
	ModSeq  int64
	Flags   []string
	Changed bool // false: already as asked, MODSEQ unchanged
}

// MessageRange returns the messages with lo ≤ UID ≤ hi in UID order;
// withMIME also loads the cached MIME structure.
func (s *Store) MessageRange(ctx context.Context, mailboxID int64, lo, hi uint32, withMIME bool) ([]Message, error) {
	q := `SELECT id, uid, modseq, size, flags, internal_date, tracking_id, message_id, blob_id, length(prefix), NULL
		FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`
	if withMIME {
		q = `SELECT id, uid, modseq, size, flags, internal_date, tracking_id, message_id, blob_id, length(prefix), mime
		FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`
	}
	rows, err := s.query(ctx, q, mailboxID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	defer rows.Close()
	return scanMessages(rows, mailboxID)
}

// ChangedSince returns the messages whose MODSEQ is above modseq (RFC 7162
// CHANGEDSINCE), in UID order.
func (s *Store) ChangedSince(ctx context.Context, mailboxID int64, modseq int64) ([]Message, error) {
	rows, err := s.query(ctx, `SELECT id, uid, modseq, size, flags, internal_date, tracking_id, message_id, blob_id, length(prefix), NULL
		FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, modseq)
	if err != nil {
		return nil, fmt.Errorf("store: changed since: %w", err)
	}
	defer rows.Close()
	return scanMessages(rows, mailboxID)
}

func scanMessages(rows *sql.Rows, mailboxID int64) ([]Message, error) {
	return scanMessagesAlso(rows, mailboxID)
}

// scanMessagesAlso is scanMessages for rows that end with the extra
// columns given (the same for every row).
func scanMessagesAlso(rows *sql.Rows, mailboxID int64, extra ...any) ([]Message, error) {
	var out []Message
	for rows.Next() {
		m := Message{MailboxID: mailboxID}
		var flags string
		var date int64
		dest := append([]any{&m.ID, &m.UID, &m.ModSeq, &m.Size, &flags, &date, &m.TrackingID, &m.MessageID, &m.blobID, &m.PrefixLen, &m.MIME}, extra...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: messages: %w", err)
		}
		if len(extra) > 0 {
			m.MailboxID = *extra[0].(*int64)
		}
		if flags != "" {
			m.Flags = strings.Fields(flags)
		}
		m.InternalDate = time.Unix(date, 0)
		out = append(out, m)
	}
	return out, rows.Err()
}

// VanishedSince returns the UIDs expunged from a mailbox after modseq
// (RFC 7162 §3.2.5.1 VANISHED (EARLIER)), ascending.
func (s *Store) VanishedSince(ctx context.Context, mailboxID int64, modseq int64) ([]uint32, error) {
	rows, err := s.query(ctx, `SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, modseq)
	if err != nil {
		return nil, fmt.Errorf("store: vanished: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("store: vanished: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SaveMIME caches a message's parsed structure (for messages stored
// before it was parsed at delivery).
// m names the message by id, mailbox and UID (see OpenMessageAt).
func (s *Store) SaveMIME(ctx context.Context, m Message, mime []byte) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET mime = ? WHERE id = ? AND mailbox_id = ? AND uid = ?`,
			mime, m.ID, m.MailboxID, m.UID); err != nil {
			return fmt.Errorf("store: save mime: %w", err)
		}
		return nil
	})
}

// hasFlag reports whether flags holds f (flags compare case-insensitively,
// RFC 9051 §2.3.2).
func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}

// applyFlags combines cur with the given flags.
func applyFlags(cur []string, op FlagOp, flags []string) []string {
	var out []string
	switch op {
	case FlagsReplace:
		for _, f := range flags {
			if !hasFlag(out, f) {
				out = append(out, f)
			}
		}
	case FlagsAdd:
		out = append(out, cur...)
		for _, f := range flags {
			if !hasFlag(out, f) {
				out = append(out, f)
			}
		}
	case FlagsRemove:
		for _, f := range cur {
			if !hasFlag(flags, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// sameFlags reports whether a and b hold the same flags in any order.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !hasFlag(b, f) {
			return false
		}
	}
	return true
}

// addKeywords records the keywords among flags in the mailbox's list.
func addKeywords(ctx context.Context, tx dbtx, mailboxID int64, flags []string) error {
	var kws []string
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			kws = append(kws, f)
		}
	}
	if len(kws) == 0 {
		return nil
	}
	var cur string
	if err := tx.QueryRowContext(ctx, `SELECT keywords FROM mailboxes WHERE id = ?`, mailboxID).Scan(&cur); err != nil {
		return fmt.Errorf("store: keywords: %w", err)
	}
	list := strings.Fields(cur)
	n := len(list)
	for _, k := range kws {
		if !hasFlag(list, k) {
			list = append(list, k)
		}
	}
	if len(list) == n {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET keywords = ? WHERE id = ?`, strings.Join(list, " "), mailboxID); err != nil {
		return fmt.Errorf("store: keywords: %w", err)
	}
	return nil
}

// StoreFlags changes the flags of the messages with the given UIDs (RFC
// 9051 §6.4.6). Messages whose MODSEQ is above unchangedSince (when > 0,
// RFC 7162 §3.1.3) are left alone and returned in modified. Every message
// that changes gets the same new MODSEQ; the result lists every message
// found, changed or not, so the caller can answer with FETCH FLAGS.
func (s *Store) StoreFlags(ctx context.Context, mailboxID int64, uids []uint32, op FlagOp, flags []string, unchangedSince int64) (updates []FlagUpdate, modified []uint32, err error) {
	err = s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		updates, modified = updates[:0], modified[:0]
		var accountID, modseq int64
		if err := tx.QueryRowContext(ctx, `SELECT account_id, highestmodseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&accountID, &modseq); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: mailbox %d", ErrNotFound, mailboxID)
			}
			return fmt.Errorf("store: flags: %w", err)
		}
		newModSeq := modseq + 1
		changed := false
		for _, uid := range uids {
			var cur string
			var ms int64
			err := tx.QueryRowContext(ctx, `SELECT flags, modseq FROM messages WHERE mailbox_id = ? AND uid = ?`, mailboxID, uid).Scan(&cur, &ms)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("store: flags: %w", err)
			}
			if unchangedSince > 0 && ms > unchangedSince {
				modified = append(modified, uid)
				continue
			}
			old := strings.Fields(cur)
			next := applyFlags(old, op, flags)
			if sameFlags(old, next) {
				updates = append(updates, FlagUpdate{UID: uid, ModSeq: ms, Flags: old})
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`,
				strings.Join(next, " "), newModSeq, mailboxID, uid); err != nil {
				return fmt.Errorf("store: flags: %w", err)
			}
			changed = true
			updates = append(updates, FlagUpdate{UID: uid, ModSeq: newModSeq, Flags: next, Changed: true})
			eff.changes = append(eff.changes, Change{Kind: ChangeFlags, AccountID: accountID, MailboxID: mailboxID, UID: uid, ModSeq: newModSeq, Flags: next})
		}
		if changed {
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET highestmodseq = ? WHERE id = ?`, newModSeq, mailboxID); err != nil {
				return fmt.Errorf("store: flags: %w", err)
			}
			if op != FlagsRemove {
				if err := addKeywords(ctx, tx, mailboxID, flags); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return updates, modified, err
}

// CopyResult maps source UIDs to the UIDs of the copies (RFC 4315
// COPYUID).
type CopyResult struct {
	UIDValidity uint32
	Src, Dst    []uint32
}

// Copy copies messages into another mailbox of the same account; the
// bytes are shared, not duplicated.
func (s *Store) Copy(ctx context.Context, srcID int64, uids []uint32, dstID int64) (CopyResult, error) {
	var res CopyResult
	err := s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		res = CopyResult{}
		acct, uv, err := checkDest(ctx, tx, srcID, dstID)
		if err != nil {
			return err
		}
		res.UIDValidity = uv
		type row struct {
			uid                   uint32
			blob, flags, tid, mid string
			prefix, mime          []byte
			size, date            int64
		}
		var rows []row
		for _, uid := range uids {
			var r row
			err := tx.QueryRowContext(ctx, `SELECT uid, blob_id, flags, tracking_id, message_id, prefix, mime, size, internal_date
				FROM messages WHERE mailbox_id = ? AND uid = ?`, srcID, uid).Scan(
				&r.uid, &r.blob, &r.flags, &r.tid, &r.mid, &r.prefix, &r.mime, &r.size, &r.date)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
			rows = append(rows, r)
		}
		if len(rows) == 0 {
			return nil
		}
		var total int64
		for _, r := range rows {
			total += r.size
		}
		if err := checkQuota(ctx, tx, acct, total); err != nil {
			return err
		}
		var first, modseq int64
		if err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1,
			messages = messages + ?, size = size + ? WHERE id = ? RETURNING uidnext - ?, highestmodseq`,
			len(rows), len(rows), total, dstID, len(rows)).Scan(&first, &modseq); err != nil {
			return fmt.Errorf("store: copy: %w", err)
		}
		for i, r := range rows {
			uid := first + int64(i)
			if r.prefix == nil {
				r.prefix = []byte{}
			}
			var id int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO messages (mailbox_id, uid, modseq, blob_id, prefix, size, flags, internal_date, tracking_id, message_id, mime)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				dstID, uid, modseq, r.blob, r.prefix, r.size, r.flags, r.date, r.tid, r.mid, r.mime).Scan(&id); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = ?`, r.blob); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
			if _, err := tx.ExecContext(ctx, sqlInsertPending, id); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
			if err := addKeywords(ctx, tx, dstID, strings.Fields(r.flags)); err != nil {
				return err
			}
			res.Src = append(res.Src, r.uid)
			res.Dst = append(res.Dst, uint32(uid))
			eff.changes = append(eff.changes, Change{Kind: ChangeNew, AccountID: acct, MailboxID: dstID, UID: uint32(uid), ModSeq: modseq, Flags: strings.Fields(r.flags), MessageID: id, Size: r.size, Date: r.date})
		}
		return nil
	})
	if err == nil {
		s.kickIndexer()
	}
	return res, err
}

// Move moves messages into another mailbox of the same account (RFC
// 6851): the rows keep their bytes and index entries, get new UIDs in
// the destination, and are expunged from the source.
func (s *Store) Move(ctx context.Context, srcID int64, uids []uint32, dstID int64) (CopyResult, error) {
	var res CopyResult
	err := s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		acct, uv, err := checkDest(ctx, tx, srcID, dstID)
		if err != nil {
			return err
		}
		res, err = moveTx(ctx, tx, eff, acct, srcID, uids, dstID)
		res.UIDValidity = uv
		return err
	})
	return res, err
}

// checkDest checks that both mailboxes exist and belong to one account.
func checkDest(ctx context.Context, tx dbtx, srcID, dstID int64) (account int64, dstUIDValidity uint32, err error) {
	var a1, a2 int64
	if err := tx.QueryRowContext(ctx, `SELECT account_id FROM mailboxes WHERE id = ?`, srcID).Scan(&a1); err != nil {
		return 0, 0, fmt.Errorf("%w: mailbox %d: %v", ErrNotFound, srcID, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT account_id, uidvalidity FROM mailboxes WHERE id = ?`, dstID).Scan(&a2, &dstUIDValidity); err != nil {
		return 0, 0, fmt.Errorf("%w: mailbox %d: %v", ErrNotFound, dstID, err)
	}
	if a1 != a2 {
		return 0, 0, fmt.Errorf("%w: mailboxes of different accounts", ErrNotFound)
	}
	return a1, dstUIDValidity, nil
}

// moveTx moves rows from src to dst inside tx.
func moveTx(ctx context.Context, tx dbtx, eff *batchEffects, account, srcID int64, uids []uint32, dstID int64) (CopyResult, error) {
	var res CopyResult
	type row struct {
		uid            uint32
		id, size, date int64
		flags          string
	}
	var rows []row
	for _, uid := range uids {
		var r row
		err := tx.QueryRowContext(ctx, `SELECT uid, id, size, internal_date, flags FROM messages WHERE mailbox_id = ? AND uid = ?`, srcID, uid).Scan(&r.uid, &r.id, &r.size, &r.date, &r.flags)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("store: move: %w", err)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return res, nil
	}
	var total int64
	for _, r := range rows {
		total += r.size
	}
	var first, dstModSeq, srcModSeq int64
	if err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1,
		messages = messages + ?, size = size + ? WHERE id = ? RETURNING uidnext - ?, highestmodseq`,
		len(rows), len(rows), total, dstID, len(rows)).Scan(&first, &dstModSeq); err != nil {
		return res, fmt.Errorf("store: move: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET highestmodseq = highestmodseq + 1,
		messages = messages - ?, size = size - ? WHERE id = ? RETURNING highestmodseq`,
		len(rows), total, srcID).Scan(&srcModSeq); err != nil {
		return res, fmt.Errorf("store: move: %w", err)
	}
	for i, r := range rows {
		uid := uint32(first + int64(i))
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET mailbox_id = ?, uid = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`,
			dstID, uid, dstModSeq, srcID, r.uid); err != nil {
			return res, fmt.Errorf("store: move: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)`, srcID, r.uid, srcModSeq); err != nil {
			return res, fmt.Errorf("store: move: %w", err)
		}
		if err := addKeywords(ctx, tx, dstID, strings.Fields(r.flags)); err != nil {
			return res, err
		}
		res.Src = append(res.Src, r.uid)
		res.Dst = append(res.Dst, uid)
		eff.changes = append(eff.changes,
			Change{Kind: ChangeNew, AccountID: account, MailboxID: dstID, UID: uid, ModSeq: dstModSeq, Flags: strings.Fields(r.flags), MessageID: r.id, Size: r.size, Date: r.date},
			Change{Kind: ChangeExpunge, AccountID: account, MailboxID: srcID, UID: r.uid, ModSeq: srcModSeq})
	}
	return res, nil
}

// checkQuota refuses adding bytes that would take an account over its
// limit.
func checkQuota(ctx context.Context, tx dbtx, account, adding int64) error {
	var used, limit int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT SUM(size) FROM mailboxes WHERE account_id = a.id), 0), a.quota_bytes
		FROM accounts a WHERE a.id = ?`, account).Scan(&used, &limit); err != nil {
		return fmt.Errorf("store: quota: %w", err)
	}
	if limit > 0 && used+adding > limit {
		return ErrOverQuota
	}
	return nil
}

// ExpungeDeleted removes the messages flagged \Deleted (RFC 9051 §6.4.3),
// only those among uids when uids is not nil (UID EXPUNGE, RFC 4315), and
// returns the UIDs removed, ascending.
func (s *Store) ExpungeDeleted(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	var gone []uint32
	err := s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		gone = gone[:0]
		cand, err := uint32Column(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = ? AND instr(' ' || flags || ' ', ' \Deleted ') > 0 ORDER BY uid`, mailboxID)
		if err != nil {
			return fmt.Errorf("store: expunge: %w", err)
		}
		if uids != nil {
			want := make(map[uint32]bool, len(uids))
			for _, u := range uids {
				want[u] = true
			}
			cand = slices.DeleteFunc(cand, func(u uint32) bool { return !want[u] })
		}
		gone, err = expungeTx(ctx, tx, eff, mailboxID, cand)
		return err
	})
	return gone, err
}

// expungeTx removes messages by UID, remembering them for QRESYNC.
func expungeTx(ctx context.Context, tx dbtx, eff *batchEffects, mailboxID int64, uids []uint32) ([]uint32, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	var accountID, modseq int64
	if err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?
		RETURNING account_id, highestmodseq`, mailboxID).Scan(&accountID, &modseq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: mailbox %d", ErrNotFound, mailboxID)
		}
		return nil, fmt.Errorf("store: expunge: %w", err)
	}
	var blobs []string
	var gone []uint32
	var count, size int64
	for _, uid := range uids {
		var blob string
		var id, sz int64
		err := tx.QueryRowContext(ctx, `DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING id, blob_id, size`,
			mailboxID, uid).Scan(&id, &blob, &sz)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: expunge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)`, mailboxID, uid, modseq); err != nil {
			return nil, fmt.Errorf("store: expunge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_text WHERE rowid = ?`, id); err != nil {
			return nil, fmt.Errorf("store: expunge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM fts_pending WHERE message_id = ?`, id); err != nil {
			return nil, fmt.Errorf("store: expunge: %w", err)
		}
		blobs = append(blobs, blob)
		gone = append(gone, uid)
		count++
		size += sz
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET messages = messages - ?, size = size - ? WHERE id = ?`, count, size, mailboxID); err != nil {
		return nil, fmt.Errorf("store: expunge: %w", err)
	}
	for _, uid := range gone {
		eff.changes = append(eff.changes, Change{Kind: ChangeExpunge, AccountID: accountID, MailboxID: mailboxID, UID: uid, ModSeq: modseq})
	}
	return gone, unrefBlobs(ctx, tx, blobs, eff)
}

// MessageData is random access to a served message: the trace prefix,
// then the blob.
type MessageData struct {
	prefix []byte
	inline []byte
	f      *os.File
	size   int64
}

// Size is the message's length as served.
func (d *MessageData) Size() int64 { return d.size }

// ReadAt implements io.ReaderAt over prefix + blob.
func (d *MessageData) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("store: negative offset")
	}
	n := 0
	pl := int64(len(d.prefix))
	if off < pl {
		n = copy(p, d.prefix[off:])
		if n == len(p) {
			return n, nil
		}
	}
	boff := off + int64(n) - pl
	var m int
	var err error
	if d.f != nil {
		m, err = d.f.ReadAt(p[n:], boff)
	} else {
		if boff >= int64(len(d.inline)) {
			err = io.EOF
		} else {
			m = copy(p[n:], d.inline[boff:])
			if n+m < len(p) {
				err = io.EOF
			}
		}
	}
	return n + m, err
}

// Close releases the blob file.
func (d *MessageData) Close() error {
	if d.f != nil {
		return d.f.Close()
	}
	return nil
}

// OpenMessageAt opens a message for random access.
func (s *Store) OpenMessageAt(ctx context.Context, m Message) (*MessageData, error) {
	d := &MessageData{}
	var blobID string
	// The row is asked for by id, mailbox and UID: SQLite hands the id
	// of a deleted last row to the next insert, so an id read before an
	// expunge can name another message by now (imaptest saw a UID serve
	// the bytes of the message appended after it was expunged).
	err := s.queryRow(ctx, `SELECT m.prefix, m.blob_id, b.data, m.size FROM messages m JOIN blobs b ON b.id = m.blob_id
		WHERE m.id = ? AND m.mailbox_id = ? AND m.uid = ?`, m.ID, m.MailboxID, m.UID).Scan(&d.prefix, &blobID, &d.inline, &d.size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: message %d", ErrNotFound, m.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open message: %w", err)
	}
	if d.inline == nil {
		f, err := s.blobs.open(blobID)
		if err != nil {
			return nil, err
		}
		d.f = f
	}
	return d, nil
}
