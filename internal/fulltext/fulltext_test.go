package fulltext

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/store"
)

func setup(t *testing.T) (*store.Store, store.Account) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	a, err := st.AddAccount(ctx, "alice@example.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	return st, a
}

func deliver(t *testing.T, st *store.Store, a store.Account, raw string) store.DeliveredMessage {
	t.Helper()
	b, err := st.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	b.Write([]byte(raw))
	p, err := imapmime.Parse(bytes.NewReader([]byte(raw)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := st.Deliver(context.Background(), &store.Delivery{Blob: b, TrackingID: "t", InternalDate: time.Now(), MIME: p.Marshal(),
		Recipients: []store.Recipient{{AccountID: a.ID, Mailbox: "INBOX"}}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// big5Letter is a base64 Big5 body saying 我們寄出感謝信 ("we send a thank-you letter").
const big5Letter = "Subject: =?big5?b?t1DBwqtI?=\r\nContent-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\np9qtzLFIpVi3UMHCq0g=\r\n"

func TestSyncIndexesDecodedText(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	d := deliver(t, st, a, big5Letter)
	deliver(t, st, a, "Subject: other\r\n\r\nnothing to see\r\n")
	ix := New(st, slog.New(slog.DiscardHandler))
	if hits, _ := st.SearchText(ctx, d.MailboxID, "body", "感謝信"); len(hits) != 0 {
		t.Fatalf("found before indexing: %v", hits)
	}
	if err := ix.Sync(ctx, d.MailboxID); err != nil {
		t.Fatal(err)
	}
	hits, err := st.SearchText(ctx, d.MailboxID, "body", "感謝信")
	if err != nil || len(hits) != 1 || !hits[d.UID] {
		t.Fatalf("after Sync: %v %v", hits, err)
	}
	if p, _ := st.PendingText(ctx, 0, 10); len(p) != 0 {
		t.Fatalf("still queued after Sync: %d", len(p))
	}
}

func TestRunIndexesWhenQuiet(t *testing.T) {
	st, a := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); New(st, slog.New(slog.DiscardHandler)).Run(ctx) }()
	defer func() { cancel(); <-done }()
	deliver(t, st, a, big5Letter)
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := st.PendingText(context.Background(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background indexer never indexed the queued message")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
