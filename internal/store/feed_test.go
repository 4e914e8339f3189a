package store

import (
	"context"
	"fmt"
	"testing"
)

// TestMailboxEvents checks the change feed's mailbox events, which IMAP
// NOTIFY turns into LIST responses (RFC 5465 §5.4, §5.5): creations (the
// missing parents too), renames and deletions with their names, and
// subscription changes only when the list really changed.
func TestMailboxEvents(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	w := s.Watch(a.ID)
	defer w.Close()
	type ev struct {
		kind          ChangeKind
		name, oldName string
		subscribed    bool
	}
	expect := func(what string, want ...ev) {
		t.Helper()
		got, _ := w.Take()
		if len(got) != len(want) {
			t.Fatalf("%s: %d changes %+v, want %+v", what, len(got), got, want)
		}
		for i, c := range got {
			if (ev{c.Kind, c.Name, c.OldName, c.Subscribed}) != want[i] || c.AccountID != a.ID {
				t.Fatalf("%s: change %d is %+v, want %+v", what, i, c, want[i])
			}
		}
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Work/2026", ""); err != nil {
		t.Fatal(err)
	}
	expect("create", ev{ChangeMailboxCreate, "Work", "", false}, ev{ChangeMailboxCreate, "Work/2026", "", false})
	if err := s.SetSubscribed(ctx, a.ID, "Work/2026", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribed(ctx, a.ID, "Work/2026", true); err != nil {
		t.Fatal(err)
	}
	expect("subscribe twice", ev{ChangeSubscription, "Work/2026", "", true})
	if err := s.RenameMailbox(ctx, a.ID, "Work/2026", "Old/2026"); err != nil {
		t.Fatal(err)
	}
	expect("rename", ev{ChangeMailboxCreate, "Old", "", false}, ev{ChangeMailbox, "Old/2026", "Work/2026", false})
	if err := s.SetSubscribed(ctx, a.ID, "Old/2026", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribed(ctx, a.ID, "Nothing", false); err != nil {
		t.Fatal(err)
	}
	expect("unsubscribe", ev{ChangeSubscription, "Old/2026", "", false})
	if err := s.DeleteMailbox(ctx, a.ID, "Old/2026"); err != nil {
		t.Fatal(err)
	}
	expect("delete", ev{ChangeMailbox, "", "Old/2026", false})
	if err := s.RenameMailbox(ctx, a.ID, "INBOX", "Saved"); err != nil {
		t.Fatal(err)
	}
	expect("rename INBOX", ev{ChangeMailbox, "Saved", "INBOX", false})
}

// A watcher with a limit never holds more changes than it: past it the
// queue collapses into a note of what was lost (per mailbox, the lowest
// MODSEQ dropped), so a session that does not drain its watcher while
// another runs STORE 1:* again and again costs bounded memory. Take
// reports the loss once; changes after it queue again.
func TestWatcherLimit(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	var uids []uint32
	var mbID int64
	for i := 0; i < 10; i++ {
		d := deliver(t, s, a, "Subject: x\r\n\r\nbody\r\n")
		uids = append(uids, d.UID)
		mbID = d.MailboxID
	}
	w := s.Watch(a.ID)
	defer w.Close()
	const limit = 25
	w.SetLimit(limit)
	// 20 changes: within the limit, all kept.
	for _, op := range []FlagOp{FlagsAdd, FlagsRemove} {
		if _, _, err := s.StoreFlags(ctx, mbID, uids, op, []string{`\Seen`}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got, lost := w.Take(); len(got) != 20 || lost != nil {
		t.Fatalf("within the limit: %d changes, lost %+v; want 20, none", len(got), lost)
	}
	// STORE 1:* forty times over: never more than the limit held.
	first := int64(0)
	for i := 0; i < 40; i++ {
		ups, _, err := s.StoreFlags(ctx, mbID, uids, FlagsReplace, []string{fmt.Sprintf("$k%d", i%2)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ups[0].ModSeq
		}
		if n := w.Queued(); n > limit {
			t.Fatalf("after %d rounds the watcher holds %d changes, over its limit %d", i+1, n, limit)
		}
	}
	if !w.Pending() {
		t.Fatal("an overflowed watcher reports nothing pending")
	}
	select {
	case <-w.Ready():
	default:
		t.Fatal("an overflowed watcher is not ready")
	}
	// A mailbox event during the overflow is lost too.
	if _, err := s.CreateMailbox(ctx, a.ID, "Work", ""); err != nil {
		t.Fatal(err)
	}
	got, lost := w.Take()
	if len(got) != 0 || lost == nil {
		t.Fatalf("after overflow: %d changes, lost %+v; want none and a loss", len(got), lost)
	}
	if lost.Mailboxes[mbID] != first || len(lost.Mailboxes) != 1 || !lost.Other {
		t.Fatalf("lost %+v, want mailbox %d from MODSEQ %d and other events", lost, mbID, first)
	}
	// After Take the watcher queues again.
	if _, _, err := s.StoreFlags(ctx, mbID, uids[:1], FlagsAdd, []string{`\Flagged`}, 0); err != nil {
		t.Fatal(err)
	}
	if got, lost := w.Take(); len(got) != 1 || lost != nil {
		t.Fatalf("after the loss was taken: %d changes, lost %+v", len(got), lost)
	}
}

// A watcher without a limit keeps every change (a test of the store's
// own, or a tool's, that must see all).
func TestWatcherUnlimited(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d := deliver(t, s, a, "Subject: x\r\n\r\nbody\r\n")
	w := s.Watch(a.ID)
	defer w.Close()
	for i := 0; i < 100; i++ {
		if _, _, err := s.StoreFlags(ctx, d.MailboxID, []uint32{d.UID}, FlagsReplace, []string{fmt.Sprintf("$k%d", i%2)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got, lost := w.Take(); len(got) != 100 || lost != nil {
		t.Fatalf("%d changes, lost %+v; want 100, none", len(got), lost)
	}
}
