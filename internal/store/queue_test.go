package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestQueueLifecycle: a message with a local and two remote recipients is
// stored once; the remote ones wait in the queue, are deferred, retried,
// finished one by one, and the blob goes only when nothing uses it.
func TestQueueLifecycle(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	b, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "Subject: out\r\n\r\nbody\r\n")
	arrived := time.Now()
	_, err = s.Deliver(ctx, &Delivery{
		Blob: b, TrackingID: "trk", InternalDate: arrived,
		Recipients: []Recipient{{AccountID: a.ID, Mailbox: "Sent"}},
		Remote: &Outbound{From: "alice@example.test", EnvID: "env1", Ret: "HDRS", Prefix: []byte("Received: x\r\n"),
			Rcpts: []QueueRcpt{{Addr: "bob@Remote.TEST", Domain: "Remote.TEST", Notify: "FAILURE"}, {Addr: "carol@other.test", Domain: "other.test"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.QueueKick():
	default:
		t.Error("no queue kick after enqueuing")
	}
	items, err := s.Queue(ctx)
	if err != nil || len(items) != 2 {
		t.Fatalf("queue %+v %v", items, err)
	}
	bob := items[0]
	if bob.Rcpt != "bob@Remote.TEST" || bob.Domain != "remote.test" || bob.From != "alice@example.test" || bob.EnvID != "env1" ||
		bob.Ret != "HDRS" || bob.Notify != "FAILURE" || bob.TrackingID != "trk" || bob.Size != int64(len("Received: x\r\nSubject: out\r\n\r\nbody\r\n")) {
		t.Fatalf("item %+v", bob)
	}
	due, err := s.DueRecipients(ctx, time.Now(), 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due %d %v", len(due), err)
	}
	r, err := s.OpenQueued(ctx, bob.QueueID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r)
	r.Close()
	if string(raw) != "Received: x\r\nSubject: out\r\n\r\nbody\r\n" {
		t.Fatalf("queued bytes %q", raw)
	}

	// Defer bob: no longer due, attempts and error recorded.
	later := time.Now().Add(time.Hour)
	if err := s.DeferRecipients(ctx, []int64{bob.ID}, later, "451 4.3.0 try later", true, nil); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueRecipients(ctx, time.Now(), 10)
	if len(due) != 1 || due[0].Rcpt != "carol@other.test" {
		t.Fatalf("due after defer %+v", due)
	}
	got, err := s.QueueRecipient(ctx, bob.ID)
	if err != nil || got.Attempts != 1 || got.LastError != "451 4.3.0 try later" || !got.Warned || got.NextAttempt.UnixMilli() != later.UnixMilli() {
		t.Fatalf("bob after defer %+v %v", got, err)
	}
	if next, ok, err := s.NextDue(ctx); err != nil || !ok || next.After(time.Now()) {
		t.Fatalf("next due %v %v %v", next, ok, err)
	}
	// Retry makes it due again.
	if n, err := s.RetryNow(ctx, bob.ID); err != nil || n != 1 {
		t.Fatalf("retry %d %v", n, err)
	}
	if _, err := s.RetryNow(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry unknown: %v", err)
	}
	due, _ = s.DueRecipients(ctx, time.Now(), 10)
	if len(due) != 2 {
		t.Fatalf("due after retry %d", len(due))
	}

	// Finish carol: the message stays for bob.
	if err := s.FinishRecipients(ctx, []int64{items[1].ID}, []Event{{TrackingID: "trk", At: time.Now(), Kind: "delivered"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenQueued(ctx, bob.QueueID); err != nil {
		t.Fatalf("message gone with a recipient left: %v", err)
	}
	// Finish bob: the queue row goes; the blob stays for the Sent copy.
	if err := s.FinishRecipients(ctx, []int64{bob.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.Queue(ctx); len(items) != 0 {
		t.Fatalf("queue not empty: %+v", items)
	}
	if _, err := s.OpenQueued(ctx, bob.QueueID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("queued message after finish: %v", err)
	}
	if _, ok, _ := s.NextDue(ctx); ok {
		t.Fatal("NextDue on an empty queue")
	}
	sent, _ := s.MailboxByName(ctx, a.ID, "Sent")
	msgs, _ := s.Messages(ctx, sent.ID)
	if len(msgs) != 1 {
		t.Fatalf("sent copy: %d", len(msgs))
	}
	rc, err := s.OpenMessage(ctx, msgs[0])
	if err != nil {
		t.Fatalf("sent copy unreadable after the queue let go: %v", err)
	}
	rc.Close()
	var refs int
	if err := s.rdb.QueryRow(`SELECT refs FROM blobs`).Scan(&refs); err != nil || refs != 1 {
		t.Fatalf("blob refs %d %v", refs, err)
	}
	if ev, _ := s.Events(ctx, "trk"); len(ev) != 1 || ev[0].Kind != "delivered" {
		t.Fatalf("events %+v", ev)
	}
}

// TestQueueOnlyRemote: a message with no local recipient is stored for the
// queue alone, and its blob goes with the last recipient.
func TestQueueOnlyRemote(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	b, _ := s.NewBlob()
	io.WriteString(b, "Subject: x\r\n\r\ny\r\n")
	if _, err := s.Deliver(ctx, &Delivery{Blob: b, TrackingID: "t", InternalDate: time.Now(),
		Remote: &Outbound{Rcpts: []QueueRcpt{{Addr: "x@r.test", Domain: "r.test"}}}}); err != nil {
		t.Fatal(err)
	}
	items, _ := s.Queue(ctx)
	if len(items) != 1 || items[0].From != "" {
		t.Fatalf("items %+v", items)
	}
	if err := s.FinishRecipients(ctx, []int64{items[0].ID}, nil); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT COUNT(*) FROM blobs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("blobs left %d %v", n, err)
	}
}

// TestPruneEvents deletes the old events and keeps the young ones.
func TestPruneEvents(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	var events []Event
	for i := range 2500 {
		events = append(events, Event{TrackingID: "old", At: old.Add(time.Duration(i) * time.Second), Kind: "received"})
	}
	events = append(events, Event{TrackingID: "new", At: time.Now(), Kind: "received"})
	if err := s.RecordEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneEvents(ctx, time.Now().Add(-30*24*time.Hour))
	if err != nil || n != 2500 {
		t.Fatalf("pruned %d, %v; want 2500", n, err)
	}
	if ev, _ := s.Events(ctx, "new"); len(ev) != 1 {
		t.Fatalf("young event gone: %v", ev)
	}
	if n, err := s.PruneEvents(ctx, time.Now().Add(-30*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
}

// TestEventsKeepOrder: events go in two rows per statement; every count,
// odd or even, comes back whole and in the order recorded.
func TestEventsKeepOrder(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	at := time.Now()
	for n := 1; n <= 5; n++ {
		id := fmt.Sprintf("trk%d", n)
		var events []Event
		for i := range n {
			events = append(events, Event{TrackingID: id, At: at, Kind: fmt.Sprintf("k%d", i), Detail: map[string]any{"i": i}})
		}
		if err := s.RecordEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		got, err := s.Events(ctx, id)
		if err != nil || len(got) != n {
			t.Fatalf("%d events recorded, %d read back (%v)", n, len(got), err)
		}
		for i, e := range got {
			if e.Kind != fmt.Sprintf("k%d", i) || fmt.Sprint(e.Detail["i"]) != fmt.Sprint(i) {
				t.Errorf("%d events: #%d is %s %v", n, i, e.Kind, e.Detail)
			}
		}
	}
}
