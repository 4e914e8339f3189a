package store

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// newAppendBlob writes body into a new blob.
func newAppendBlob(t *testing.T, s *Store, body string) *Blob {
	t.Helper()
	b, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendAllOrNothing checks that Append adds every message in one
// transaction with consecutive UIDs, and none of them when the quota or
// the mailbox says no, leaving no blob file behind (RFC 3502 §3).
func TestAppendAllOrNothing(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	w := s.Watch(a.ID)
	defer w.Close()
	big := strings.Repeat("x", InlineMax+1) // spills to a file
	msgs := []AppendMessage{
		{Blob: newAppendBlob(t, s, "Subject: one\r\n\r\n1\r\n"), Flags: []string{`\Seen`, "$Work"}, InternalDate: time.Unix(1000, 0), TrackingID: "t1"},
		{Blob: newAppendBlob(t, s, "Subject: two\r\n\r\n"+big), InternalDate: time.Unix(2000, 0), TrackingID: "t2"},
	}
	res, err := s.Append(ctx, a.ID, "Drafts", msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.MailboxByName(ctx, a.ID, "Drafts")
	if res.MailboxID != mb.ID || res.UIDValidity != mb.UIDValidity || !slices.Equal(res.UIDs, []uint32{1, 2}) {
		t.Fatalf("append result %+v, mailbox %+v", res, mb)
	}
	if mb.Messages != 2 || !slices.Contains(mb.Keywords, "$Work") {
		t.Fatalf("mailbox after append %+v", mb)
	}
	got, _ := s.MessageRange(ctx, mb.ID, 1, 2, false)
	if len(got) != 2 || !slices.Equal(got[0].Flags, []string{`\Seen`, "$Work"}) || got[1].InternalDate.Unix() != 2000 {
		t.Fatalf("appended rows %+v", got)
	}
	if ch, _ := w.Take(); len(ch) != 2 || ch[0].Kind != ChangeNew || ch[1].UID != 2 {
		t.Fatalf("changes %+v", ch)
	}

	used, _, _ := s.Quota(ctx, a.ID)
	if err := s.SetQuota(ctx, a.Address, used+100); err != nil {
		t.Fatal(err)
	}
	b1 := newAppendBlob(t, s, "Subject: fits\r\n\r\n")
	b2 := newAppendBlob(t, s, "Subject: too much\r\n\r\n"+big)
	_, err = s.Append(ctx, a.ID, "Drafts", []AppendMessage{{Blob: b1}, {Blob: b2}}, nil)
	if !errors.Is(err, ErrOverQuota) {
		t.Fatalf("append over quota: %v", err)
	}
	if mb2, _ := s.MailboxByName(ctx, a.ID, "Drafts"); mb2.Messages != 2 || mb2.UIDNext != 3 {
		t.Fatalf("a failed append left %+v", mb2)
	}
	if _, err := os.Stat(s.blobs.path(b2.id)); !os.IsNotExist(err) {
		t.Fatalf("blob file of a failed append kept: %v", err)
	}
	if ch, _ := w.Take(); len(ch) != 0 {
		t.Fatalf("a failed append published %+v", ch)
	}
	b3 := newAppendBlob(t, s, big)
	if _, err := s.Append(ctx, a.ID, "Nope", []AppendMessage{{Blob: b3}}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append to a missing mailbox: %v", err)
	}
	if _, err := os.Stat(s.blobs.path(b3.id)); !os.IsNotExist(err) {
		t.Fatalf("blob file of a failed append kept: %v", err)
	}
}
