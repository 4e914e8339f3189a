package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestURLAuthKeys checks the mailbox access keys of URLAUTH (RFC 4467
// §2.2, §7): made once on demand, replaced by a reset, dropped for the
// whole account, gone with the mailbox.
func TestURLAuthKeys(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	if _, err := s.URLAuthKey(ctx, inbox.ID, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key before any: %v", err)
	}
	k1, err := s.URLAuthKey(ctx, inbox.ID, true)
	if err != nil || len(k1) != 32 {
		t.Fatalf("new key %x %v", k1, err)
	}
	if k, err := s.URLAuthKey(ctx, inbox.ID, true); err != nil || !bytes.Equal(k, k1) {
		t.Fatalf("key changed on second use: %x %v", k, err)
	}
	if err := s.ResetURLAuthKey(ctx, inbox.ID); err != nil {
		t.Fatal(err)
	}
	k2, err := s.URLAuthKey(ctx, inbox.ID, false)
	if err != nil || bytes.Equal(k2, k1) {
		t.Fatalf("key after reset %x %v", k2, err)
	}
	if err := s.DropURLAuthKeys(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.URLAuthKey(ctx, inbox.ID, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key after dropping all: %v", err)
	}
	mb, err := s.CreateMailbox(ctx, a.ID, "Shared", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.URLAuthKey(ctx, mb.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Shared"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM urlauth_keys WHERE mailbox_id = ?`, mb.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("key of a deleted mailbox kept: %d %v", n, err)
	}
}
