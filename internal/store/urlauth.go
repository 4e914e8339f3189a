package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// urlAuthKeySize is the size of a mailbox access key: RFC 4467 §2.2 asks
// for at least 128 bits of entropy; 256 match the HMAC-SHA256 they key.
const urlAuthKeySize = 32

// URLAuthKey returns the mailbox access key of a mailbox (RFC 4467
// §2.2), the secret its URLAUTH tokens are computed with. Without one,
// create makes it (GENURLAUTH, RFC 4467 §7: no RESETKEY is needed before
// first use); otherwise ErrNotFound is returned (URLFETCH: nothing was
// ever authorized).
func (s *Store) URLAuthKey(ctx context.Context, mailboxID int64, create bool) ([]byte, error) {
	var key []byte
	err := s.queryRow(ctx, `SELECT secret FROM urlauth_keys WHERE mailbox_id = ?`, mailboxID).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: urlauth key: %w", err)
	}
	if !create {
		return nil, fmt.Errorf("%w: urlauth key of mailbox %d", ErrNotFound, mailboxID)
	}
	fresh := make([]byte, urlAuthKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("store: urlauth key: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		// Two sessions may make one at once: the first one stays.
		if _, err := tx.ExecContext(ctx, `INSERT INTO urlauth_keys (mailbox_id, secret) VALUES (?, ?) ON CONFLICT (mailbox_id) DO NOTHING`,
			mailboxID, fresh); err != nil {
			return fmt.Errorf("store: urlauth key: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT secret FROM urlauth_keys WHERE mailbox_id = ?`, mailboxID).Scan(&key)
	})
	return key, err
}

// ResetURLAuthKey gives a mailbox a new access key, revoking every URL
// authorized with the old one (RFC 4467 §7, RESETKEY mailbox).
func (s *Store) ResetURLAuthKey(ctx context.Context, mailboxID int64) error {
	fresh := make([]byte, urlAuthKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return fmt.Errorf("store: urlauth key: %w", err)
	}
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO urlauth_keys (mailbox_id, secret) VALUES (?, ?)
			ON CONFLICT (mailbox_id) DO UPDATE SET secret = excluded.secret`, mailboxID, fresh); err != nil {
			return fmt.Errorf("store: reset urlauth key: %w", err)
		}
		return nil
	})
}

// DropURLAuthKeys removes every access key of an account, revoking all
// its URLAUTH URLs (RFC 4467 §7, RESETKEY without arguments).
func (s *Store) DropURLAuthKeys(ctx context.Context, accountID int64) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM urlauth_keys WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
			accountID); err != nil {
			return fmt.Errorf("store: drop urlauth keys: %w", err)
		}
		return nil
	})
}
