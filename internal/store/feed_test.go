package store

import (
	"context"
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
		got := w.Take()
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
