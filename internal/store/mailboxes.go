package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors of mailbox management.
var (
	ErrHasChildren = errors.New("store: mailbox has children")
	ErrInbox       = errors.New("store: INBOX cannot be deleted")
)

// maxMailboxName bounds a mailbox name in bytes; deep hierarchies of long
// names help no one and make LIST responses huge.
const maxMailboxName = 1000

// CheckMailboxName validates a UTF-8 mailbox name with '/' as the
// hierarchy separator and returns it with INBOX in canonical case.
func CheckMailboxName(name string) (string, error) {
	if name == "" || len(name) > maxMailboxName || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: mailbox name %q", ErrInvalidName, name)
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return "", fmt.Errorf("%w: mailbox name %q: empty hierarchy level", ErrInvalidName, name)
	}
	for _, r := range name {
		// RFC 9051 §5.1: names must not contain control characters; '*'
		// and '%' would be wildcards in LIST.
		if unicode.IsControl(r) || r == '*' || r == '%' || r == utf8.RuneError {
			return "", fmt.Errorf("%w: mailbox name %q: character %q not allowed", ErrInvalidName, name, r)
		}
	}
	for level := range strings.SplitSeq(name, "/") {
		// "." and ".." are path steps to every client and file system
		// a mailbox may be exported to; as levels they would alias
		// other mailboxes (INBOX/.. is the root).
		if level == "." || level == ".." {
			return "", fmt.Errorf("%w: mailbox name %q: %q is not a hierarchy level", ErrInvalidName, name, level)
		}
	}
	first, rest, _ := strings.Cut(name, "/")
	if strings.EqualFold(first, "INBOX") {
		name = "INBOX"
		if rest != "" {
			name += "/" + rest
		}
	}
	return name, nil
}

// MailboxByID returns a mailbox by id.
func (s *Store) MailboxByID(ctx context.Context, id int64) (Mailbox, error) {
	m, err := scanMailbox(s.queryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, fmt.Errorf("%w: mailbox %d", ErrNotFound, id)
	}
	if err != nil {
		return Mailbox{}, fmt.Errorf("store: mailbox: %w", err)
	}
	return m, nil
}

// CreateMailbox creates a mailbox and any missing parents (RFC 9051
// §6.3.4 lets a server create the intermediate levels). specialUse is an
// RFC 6154 attribute such as `\Sent`, or "".
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (Mailbox, error) {
	name, err := CheckMailboxName(name)
	if err != nil {
		return Mailbox{}, err
	}
	if name == "INBOX" {
		return Mailbox{}, fmt.Errorf("%w: mailbox INBOX", ErrExists)
	}
	var id int64
	err = s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		parts := strings.Split(name, "/")
		for i := range parts {
			n := strings.Join(parts[:i+1], "/")
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, n).Scan(&exists); err != nil {
				return fmt.Errorf("store: create mailbox: %w", err)
			}
			last := i == len(parts)-1
			if exists > 0 {
				if last {
					return fmt.Errorf("%w: mailbox %s", ErrExists, n)
				}
				continue
			}
			use := ""
			if last {
				use = specialUse
			}
			mid, err := createMailboxTx(ctx, tx, eff, accountID, n, use)
			if err != nil {
				return err
			}
			if last {
				id = mid
			}
		}
		return nil
	})
	if err != nil {
		return Mailbox{}, err
	}
	return s.MailboxByID(ctx, id)
}

// DeleteMailbox removes a mailbox and its messages. INBOX cannot be
// deleted, nor a mailbox with children (RFC 9051 §6.3.5 would leave it
// as a \Noselect placeholder; refusing is simpler and what clients
// handle well).
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	name, err := CheckMailboxName(name)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return ErrInbox
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: mailbox %s", ErrNotFound, name)
		}
		if err != nil {
			return fmt.Errorf("store: delete mailbox: %w", err)
		}
		var children int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ?`,
			accountID, len(name)+1, name+"/").Scan(&children); err != nil {
			return fmt.Errorf("store: delete mailbox: %w", err)
		}
		if children > 0 {
			return fmt.Errorf("%w: %s", ErrHasChildren, name)
		}
		blobs, err := stringColumn(ctx, tx, `SELECT blob_id FROM messages WHERE mailbox_id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete mailbox: %w", err)
		}
		for _, stmt := range []string{
			`DELETE FROM message_text WHERE rowid IN (SELECT id FROM messages WHERE mailbox_id = ?)`,
			`DELETE FROM fts_pending WHERE message_id IN (SELECT id FROM messages WHERE mailbox_id = ?)`,
			`DELETE FROM messages WHERE mailbox_id = ?`,
			`DELETE FROM expunged WHERE mailbox_id = ?`,
			`DELETE FROM mailboxes WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, stmt, id); err != nil {
				return fmt.Errorf("store: delete mailbox: %w", err)
			}
		}
		eff.changes = append(eff.changes, Change{Kind: ChangeMailbox, AccountID: accountID, MailboxID: id, OldName: name})
		return unrefBlobs(ctx, tx, blobs, eff)
	})
}

// RenameMailbox renames a mailbox and its children. Renaming INBOX moves
// its messages into a new mailbox and leaves INBOX empty (RFC 9051
// §6.3.6).
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	from, err := CheckMailboxName(from)
	if err != nil {
		return err
	}
	to, err = CheckMailboxName(to)
	if err != nil {
		return err
	}
	if to == "INBOX" || strings.HasPrefix(to, from+"/") {
		return fmt.Errorf("%w: cannot rename %s to %s", ErrInvalidName, from, to)
	}
	if from == "INBOX" {
		return s.renameInbox(ctx, accountID, to)
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, from).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: mailbox %s", ErrNotFound, from)
		}
		if err != nil {
			return fmt.Errorf("store: rename mailbox: %w", err)
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
			accountID, to, len(to)+1, to+"/").Scan(&taken); err != nil {
			return fmt.Errorf("store: rename mailbox: %w", err)
		}
		if taken > 0 {
			return fmt.Errorf("%w: mailbox %s", ErrExists, to)
		}
		if err := ensureParents(ctx, tx, eff, accountID, to); err != nil {
			return err
		}
		// The mailbox and its children keep their ids, UIDs and
		// UIDVALIDITY: a rename is not a new mailbox.
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? || substr(name, ?) WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
			to, len(from)+1, accountID, from, len(from)+1, from+"/"); err != nil {
			return fmt.Errorf("store: rename mailbox: %w", err)
		}
		if err := renameSubscriptions(ctx, tx, accountID, from, to); err != nil {
			return err
		}
		eff.changes = append(eff.changes, Change{Kind: ChangeMailbox, AccountID: accountID, MailboxID: id, Name: to, OldName: from})
		return nil
	})
}

// renameInbox moves every INBOX message into a new mailbox named to.
func (s *Store) renameInbox(ctx context.Context, accountID int64, to string) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		var inbox int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = 'INBOX'`, accountID).Scan(&inbox); err != nil {
			return fmt.Errorf("store: rename INBOX: %w", err)
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, to).Scan(&taken); err != nil {
			return fmt.Errorf("store: rename INBOX: %w", err)
		}
		if taken > 0 {
			return fmt.Errorf("%w: mailbox %s", ErrExists, to)
		}
		if err := ensureParents(ctx, tx, eff, accountID, to); err != nil {
			return err
		}
		dst, err := createMailboxTx(ctx, tx, nil, accountID, to, "")
		if err != nil {
			return err
		}
		// RFC 5465 §5.4: renaming INBOX is a rename to the new name;
		// INBOX itself stays.
		eff.changes = append(eff.changes, Change{Kind: ChangeMailbox, AccountID: accountID, MailboxID: dst, Name: to, OldName: "INBOX"})
		uids, err := uint32Column(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid`, inbox)
		if err != nil {
			return fmt.Errorf("store: rename INBOX: %w", err)
		}
		_, err = moveTx(ctx, tx, eff, accountID, inbox, uids, dst)
		return err
	})
}

// ensureParents creates the missing ancestors of name.
func ensureParents(ctx context.Context, tx dbtx, eff *batchEffects, accountID int64, name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		n := strings.Join(parts[:i], "/")
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, n).Scan(&exists); err != nil {
			return fmt.Errorf("store: mailbox parents: %w", err)
		}
		if exists == 0 {
			if _, err := createMailboxTx(ctx, tx, eff, accountID, n, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetSubscribed adds a name to an account's subscriptions or takes it off
// (RFC 9051 §6.3.7, §6.3.8). Subscriptions are names, not mailboxes:
// deleting a mailbox leaves its subscription (LIST shows it
// \NonExistent). SUBSCRIBE is refused for a name that is no mailbox, as
// RFC 9051 §6.3.7 allows; UNSUBSCRIBE takes any name.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, on bool) error {
	name, err := CheckMailboxName(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		changed := func(res sql.Result) {
			// Only an actual change is an event (RFC 5465 §5.5).
			if n, err := res.RowsAffected(); err == nil && n > 0 {
				eff.changes = append(eff.changes, Change{Kind: ChangeSubscription, AccountID: accountID, Name: name, Subscribed: on})
			}
		}
		if !on {
			res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE account_id = ? AND name = ?`, accountID, name)
			if err != nil {
				return fmt.Errorf("store: unsubscribe: %w", err)
			}
			changed(res)
			return nil
		}
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name).Scan(&exists); err != nil {
			return fmt.Errorf("store: subscribe: %w", err)
		}
		if exists == 0 {
			return fmt.Errorf("%w: mailbox %s", ErrNotFound, name)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING`, accountID, name)
		if err != nil {
			return fmt.Errorf("store: subscribe: %w", err)
		}
		changed(res)
		return nil
	})
}

// Subscriptions returns the names an account is subscribed to, sorted;
// some may name no mailbox.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	rows, err := s.query(ctx, `SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: subscriptions: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// renameSubscriptions moves the subscriptions of from and the names below
// it to the same names under to. RFC 9051 §6.3.6 does not say; a renamed
// folder staying subscribed under its new name is what users expect, and
// Dovecot does the same. A subscription the new name already had stays.
func renameSubscriptions(ctx context.Context, tx dbtx, accountID int64, from, to string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (account_id, name)
		SELECT account_id, ? || substr(name, ?) FROM subscriptions
		WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)
		ON CONFLICT DO NOTHING`,
		to, len(from)+1, accountID, from, len(from)+1, from+"/"); err != nil {
		return fmt.Errorf("store: rename subscriptions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
		accountID, from, len(from)+1, from+"/"); err != nil {
		return fmt.Errorf("store: rename subscriptions: %w", err)
	}
	return nil
}

// MailboxCounts returns the unseen and \Deleted message counts of a
// mailbox (STATUS UNSEEN and DELETED).
func (s *Store) MailboxCounts(ctx context.Context, mailboxID int64) (unseen, deleted int, err error) {
	err = s.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN instr(' ' || flags || ' ', ' \Seen ') = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN instr(' ' || flags || ' ', ' \Deleted ') > 0 THEN 1 ELSE 0 END), 0)
		FROM messages WHERE mailbox_id = ?`, mailboxID).Scan(&unseen, &deleted)
	if err != nil {
		return 0, 0, fmt.Errorf("store: mailbox counts: %w", err)
	}
	return unseen, deleted, nil
}

// Quota returns the bytes an account stores and its limit (0: none).
func (s *Store) Quota(ctx context.Context, accountID int64) (used, limit int64, err error) {
	err = s.queryRow(ctx, `SELECT COALESCE((SELECT SUM(size) FROM mailboxes WHERE account_id = a.id), 0), a.quota_bytes
		FROM accounts a WHERE a.id = ?`, accountID).Scan(&used, &limit)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("%w: account %d", ErrNotFound, accountID)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: quota: %w", err)
	}
	return used, limit, nil
}

// AccountUsage returns how many messages an account stores, in all its
// mailboxes, and their bytes (what `user del` would delete).
func (s *Store) AccountUsage(ctx context.Context, accountID int64) (messages, bytes int64, err error) {
	err = s.queryRow(ctx, `SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(size), 0) FROM mailboxes WHERE account_id = ?`,
		accountID).Scan(&messages, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("store: account usage: %w", err)
	}
	return messages, bytes, nil
}

// SetQuota sets an account's storage limit in bytes (0: none).
func (s *Store) SetQuota(ctx context.Context, addr string, bytes int64) error {
	acct, err := s.AccountByAddress(ctx, addr)
	if err != nil {
		return err
	}
	if bytes < 0 {
		return fmt.Errorf("%w: negative quota", ErrInvalidName)
	}
	return s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET quota_bytes = ? WHERE id = ?`, bytes, acct.ID)
		if err != nil {
			return fmt.Errorf("store: set quota: %w", err)
		}
		return nil
	})
}

// stringColumn runs a one-column query inside tx.
func stringColumn(ctx context.Context, tx dbtx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// uint32Column runs a one-column integer query inside tx.
func uint32Column(ctx context.Context, tx dbtx, q string, args ...any) ([]uint32, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
