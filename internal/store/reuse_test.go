package store

import (
	"context"
	"errors"
	"testing"
)

// TestReusedMessageID: SQLite gives the id of a deleted last row to the
// next insert, so a message read before an expunge must not serve, or be
// written over as, the message that took its id (imaptest saw a UID
// answer with the bytes of the message appended after it was expunged).
func TestReusedMessageID(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d := deliver(t, s, a, "Subject: first\r\n\r\nfirst body\r\n")
	old, err := s.MessageRange(ctx, d.MailboxID, d.UID, d.UID, true)
	if err != nil || len(old) != 1 {
		t.Fatalf("read: %v %v", old, err)
	}
	if err := s.Expunge(ctx, d.MailboxID, []uint32{d.UID}); err != nil {
		t.Fatal(err)
	}
	d2 := deliver(t, s, a, "Subject: second\r\n\r\nsecond body\r\n")
	now, err := s.MessageRange(ctx, d2.MailboxID, d2.UID, d2.UID, true)
	if err != nil || len(now) != 1 {
		t.Fatalf("read: %v %v", now, err)
	}
	if now[0].ID != old[0].ID {
		t.Skipf("SQLite did not reuse the id (%d, then %d): nothing to check", old[0].ID, now[0].ID)
	}
	if r, err := s.OpenMessageAt(ctx, old[0]); !errors.Is(err, ErrNotFound) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("OpenMessageAt of the expunged message: %v, want not found", err)
	}
	if err := s.SaveMIME(ctx, old[0], []byte("stale")); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.MessageRange(ctx, d2.MailboxID, d2.UID, d2.UID, true); string(again[0].MIME) == "stale" {
		t.Fatal("SaveMIME of the expunged message wrote over the new one")
	}
	if err := s.SaveText(ctx, []TextEntry{{MessageID: old[0].ID, MailboxID: old[0].MailboxID, UID: old[0].UID, Body: "zqxjstale"}}); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.SearchText(ctx, d2.MailboxID, "body", "zqxjstale"); hits[d2.UID] {
		t.Fatal("the expunged message's text was indexed as the new one's")
	}
	if p, _ := s.PendingText(ctx, 0, 10); len(p) != 1 || p[0].UID != d2.UID {
		t.Fatalf("the new message is no longer queued for indexing: %v", p)
	}
}
