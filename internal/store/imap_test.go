package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"
)

func TestMailboxManagement(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	w := s.Watch(a.ID)
	defer w.Close()
	mb, err := s.CreateMailbox(ctx, a.ID, "Projects/2026/Q4", "")
	if err != nil {
		t.Fatal(err)
	}
	if mb.Name != "Projects/2026/Q4" {
		t.Fatalf("created %+v", mb)
	}
	for _, n := range []string{"Projects", "Projects/2026"} {
		if _, err := s.MailboxByName(ctx, a.ID, n); err != nil {
			t.Fatalf("parent %s not created: %v", n, err)
		}
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "projects/2026/Q4", ""); err != nil {
		t.Fatalf("names are case-sensitive except INBOX: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Projects/2026/Q4", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "inbox", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("INBOX in other case: %v", err)
	}
	for _, bad := range []string{"", "/x", "x/", "a//b", "a*", "a%b", "tab\there"} {
		if _, err := s.CreateMailbox(ctx, a.ID, bad, ""); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CreateMailbox(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Projects"); !errors.Is(err, ErrHasChildren) {
		t.Fatalf("delete parent: %v", err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "INBOX"); !errors.Is(err, ErrInbox) {
		t.Fatalf("delete INBOX: %v", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work/Old"); err != nil {
		t.Fatal(err)
	}
	got, err := s.MailboxByName(ctx, a.ID, "Work/Old/2026/Q4")
	if err != nil || got.ID != mb.ID || got.UIDValidity != mb.UIDValidity {
		t.Fatalf("renamed child %+v %v (was %+v)", got, err, mb)
	}
	if _, err := s.MailboxByName(ctx, a.ID, "Work"); err != nil {
		t.Fatalf("rename did not create the new parent: %v", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Work", "Work/Old/x"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("rename into itself: %v", err)
	}

	// INBOX rename moves the messages and leaves INBOX empty.
	deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	if err := s.RenameMailbox(ctx, a.ID, "INBOX", "Old Inbox"); err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	old, _ := s.MailboxByName(ctx, a.ID, "Old Inbox")
	if inbox.Messages != 0 || old.Messages != 2 {
		t.Fatalf("after INBOX rename: inbox %d, old %d", inbox.Messages, old.Messages)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Old Inbox"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT COUNT(*) FROM blobs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("blobs left after delete: %d %v", n, err)
	}
	if ch, _ := w.Take(); len(ch) == 0 {
		t.Fatal("no changes published")
	}
}

func TestFlagsModSeqAndExpunge(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d1 := deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	d2 := deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	mb0, _ := s.MailboxByID(ctx, d1.MailboxID)
	w := s.Watch(a.ID)
	defer w.Close()

	up, mod, err := s.StoreFlags(ctx, d1.MailboxID, []uint32{d1.UID, d2.UID, 999}, FlagsAdd, []string{`\Seen`, "$Label1"}, 0)
	if err != nil || len(up) != 2 || len(mod) != 0 {
		t.Fatalf("store: %+v %v %v", up, mod, err)
	}
	if !up[0].Changed || up[0].ModSeq != mb0.HighestModSeq+1 || !slices.Equal(up[0].Flags, []string{`\Seen`, "$Label1"}) {
		t.Fatalf("update %+v (highest was %d)", up[0], mb0.HighestModSeq)
	}
	mb1, _ := s.MailboxByID(ctx, d1.MailboxID)
	if mb1.HighestModSeq != up[0].ModSeq || !slices.Equal(mb1.Keywords, []string{"$Label1"}) {
		t.Fatalf("mailbox after store %+v", mb1)
	}
	if ch, _ := w.Take(); len(ch) != 2 || ch[0].Kind != ChangeFlags {
		t.Fatalf("changes %+v", ch)
	}
	// Same flags again: nothing changes, MODSEQ stays.
	up, _, _ = s.StoreFlags(ctx, d1.MailboxID, []uint32{d1.UID}, FlagsAdd, []string{`\seen`}, 0)
	if up[0].Changed || up[0].ModSeq != mb1.HighestModSeq {
		t.Fatalf("no-op store %+v", up[0])
	}
	// UNCHANGEDSINCE below the message's MODSEQ: refused as modified.
	up, mod, _ = s.StoreFlags(ctx, d1.MailboxID, []uint32{d1.UID}, FlagsReplace, []string{`\Deleted`}, mb0.HighestModSeq)
	if len(up) != 0 || !slices.Equal(mod, []uint32{d1.UID}) {
		t.Fatalf("unchangedsince: %+v %v", up, mod)
	}
	if unseen, deleted, _ := s.MailboxCounts(ctx, d1.MailboxID); unseen != 0 || deleted != 0 {
		t.Fatalf("counts %d %d", unseen, deleted)
	}
	s.StoreFlags(ctx, d1.MailboxID, []uint32{d2.UID}, FlagsReplace, []string{`\Deleted`}, 0)
	if unseen, deleted, _ := s.MailboxCounts(ctx, d1.MailboxID); unseen != 1 || deleted != 1 {
		t.Fatalf("counts %d %d", unseen, deleted)
	}
	before, _ := s.MailboxByID(ctx, d1.MailboxID)
	gone, err := s.ExpungeDeleted(ctx, d1.MailboxID, []uint32{d1.UID})
	if err != nil || len(gone) != 0 {
		t.Fatalf("UID EXPUNGE of an undeleted message: %v %v", gone, err)
	}
	gone, err = s.ExpungeDeleted(ctx, d1.MailboxID, nil)
	if err != nil || !slices.Equal(gone, []uint32{d2.UID}) {
		t.Fatalf("expunge %v %v", gone, err)
	}
	v, _ := s.VanishedSince(ctx, d1.MailboxID, before.HighestModSeq)
	if !slices.Equal(v, []uint32{d2.UID}) {
		t.Fatalf("vanished %v", v)
	}
	ch, _ := s.ChangedSince(ctx, d1.MailboxID, 0)
	if len(ch) != 1 || ch[0].UID != d1.UID {
		t.Fatalf("changed since %+v", ch)
	}
}

func TestCopyMoveQuota(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d1 := deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	d2 := deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	arch, _ := s.MailboxByName(ctx, a.ID, "Archive")
	res, err := s.Copy(ctx, d1.MailboxID, []uint32{d1.UID, d2.UID}, arch.ID)
	if err != nil || !slices.Equal(res.Src, []uint32{d1.UID, d2.UID}) || !slices.Equal(res.Dst, []uint32{1, 2}) || res.UIDValidity != arch.UIDValidity {
		t.Fatalf("copy %+v %v", res, err)
	}
	msgs, _ := s.MessageRange(ctx, arch.ID, 1, 2, false)
	rc, err := s.OpenMessage(ctx, msgs[1])
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != "Delivered-To: alice@example.test\r\nSubject: two\r\n\r\nbody\r\n" {
		t.Fatalf("copied bytes %q %v", body, err)
	}
	trash, _ := s.MailboxByName(ctx, a.ID, "Trash")
	res, err = s.Move(ctx, arch.ID, []uint32{2}, trash.ID)
	if err != nil || !slices.Equal(res.Dst, []uint32{1}) {
		t.Fatalf("move %+v %v", res, err)
	}
	arch2, _ := s.MailboxByID(ctx, arch.ID)
	if arch2.Messages != 1 || arch2.UIDNext != 3 {
		t.Fatalf("source after move %+v", arch2)
	}
	if v, _ := s.VanishedSince(ctx, arch.ID, arch.HighestModSeq); !slices.Equal(v, []uint32{2}) {
		t.Fatalf("move did not record the expunge: %v", v)
	}
	used, limit, _ := s.Quota(ctx, a.ID)
	if limit != 0 || used == 0 {
		t.Fatalf("quota %d/%d", used, limit)
	}
	if err := s.SetQuota(ctx, a.Address, used); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, d1.MailboxID, []uint32{d1.UID}, arch.ID); !errors.Is(err, ErrOverQuota) {
		t.Fatalf("copy over quota: %v", err)
	}
	// Expunging the last copy frees the shared blob; the other copy still reads.
	d, _ := s.MessageRange(ctx, d1.MailboxID, d1.UID, d1.UID, false)
	r, err := s.OpenMessageAt(ctx, d[0])
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if n, err := r.ReadAt(buf, 32); n != 5 || (err != nil && !errors.Is(err, io.EOF)) || string(buf) != "\r\nSub" {
		t.Fatalf("ReadAt across prefix and blob: %q %v", buf[:n], err)
	}
	r.Close()
}

func TestFullText(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d1 := deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	d2 := deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	select {
	case <-s.IndexKick():
	default:
		t.Fatal("delivery did not kick the indexer")
	}
	p, err := s.PendingText(ctx, d1.MailboxID, 10)
	if err != nil || len(p) != 2 {
		t.Fatalf("pending %v %v", p, err)
	}
	err = s.SaveText(ctx, []TextEntry{
		{MessageID: p[0].ID, MailboxID: p[0].MailboxID, UID: p[0].UID, Headers: "Subject: one", Body: "我們寄出感謝信給你 Invoice 2026, thank you for your order of the goods"},
		{MessageID: p[1].ID, MailboxID: p[1].MailboxID, UID: p[1].UID, Headers: "Subject: invoice", Body: "nothing here 100% banana"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingText(ctx, 0, 10); len(p) != 0 {
		t.Fatalf("still pending %v", p)
	}
	for _, c := range []struct {
		field, needle string
		want          []uint32
	}{
		{"body", "感謝信", []uint32{d1.UID}},
		{"body", "感謝", []uint32{d1.UID}},
		{"body", "INVOICE", []uint32{d1.UID}},
		{"text", "invoice", []uint32{d1.UID, d2.UID}},
		{"body", "0%", []uint32{d2.UID}},
		{"body", "%", []uint32{d2.UID}},
		{"body", `"quoted"`, nil},
		{"body", "absent", nil},
		{"body", "們寄出感謝信給你 invoice", []uint32{d1.UID}},
		{"body", "們寄出感謝信給你  invoice", nil},
		{"text", "SUBJECT: INVOICE", []uint32{d2.UID}},
		{"body", "subject: invoice", nil},
		{"body", "nothing here 100%", []uint32{d2.UID}},
		// Repeated trigrams or longer than a phrase: looked up by some
		// trigrams, then checked.
		{"body", "BANANA", []uint32{d2.UID}},
		{"body", "bananas", nil},
		{"body", "invoice 2026, thank you for your order of the goods", []uint32{d1.UID}},
		{"body", "invoice 2026, thank you for your order of the good5", nil},
	} {
		got, err := s.SearchText(ctx, d1.MailboxID, c.field, c.needle)
		if err != nil {
			t.Fatalf("%s %q: %v", c.field, c.needle, err)
		}
		var uids []uint32
		for u := range got {
			uids = append(uids, u)
		}
		slices.Sort(uids)
		if !slices.Equal(uids, c.want) {
			t.Errorf("SearchText(%s, %q) = %v, want %v", c.field, c.needle, uids, c.want)
		}
	}
	if err := s.Expunge(ctx, d1.MailboxID, []uint32{d1.UID}); err != nil {
		t.Fatal(err)
	}
	var n int
	s.rdb.QueryRow(`SELECT COUNT(*) FROM message_text`).Scan(&n)
	if n != 1 {
		t.Fatalf("index rows after expunge: %d", n)
	}
}

// TestMailboxIndex checks that the in-memory index follows every kind of
// change once loaded, and matches the database.
func TestMailboxIndex(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	d1 := deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	mbID := d1.MailboxID
	uids, err := indexUIDs(ctx, s, mbID)
	if err != nil || !slices.Equal(uids, []uint32{d1.UID}) {
		t.Fatalf("uids %v %v", uids, err)
	}
	d2 := deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	d3 := deliver(t, s, a, "Subject: three\r\n\r\nbody\r\n")
	s.StoreFlags(ctx, mbID, []uint32{d2.UID}, FlagsAdd, []string{`\Flagged`}, 0)
	s.Expunge(ctx, mbID, []uint32{d1.UID})
	arch, _ := s.MailboxByName(ctx, a.ID, "Archive")
	indexUIDs(ctx, s, arch.ID) // load it before the move
	if _, err := s.Move(ctx, mbID, []uint32{d3.UID}, arch.ID); err != nil {
		t.Fatal(err)
	}
	meta, err := s.Meta(ctx, mbID, []uint32{d1.UID, d2.UID, d3.UID})
	if err != nil || len(meta) != 1 || meta[0].UID != d2.UID || !slices.Equal(meta[0].Flags, []string{`\Flagged`}) {
		t.Fatalf("inbox meta %+v %v", meta, err)
	}
	db, _ := s.MessageRange(ctx, mbID, 0, 1<<31, false)
	if len(db) != 1 || db[0].ModSeq != meta[0].ModSeq || db[0].Size != meta[0].Size || db[0].InternalDate.Unix() != meta[0].Date {
		t.Fatalf("index %+v differs from database %+v", meta[0], db)
	}
	am, _ := s.Meta(ctx, arch.ID, []uint32{1})
	if len(am) != 1 || am[0].Size == 0 {
		t.Fatalf("moved message not in the destination index: %+v", am)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Archive", "Old"); err != nil {
		t.Fatal(err)
	}
	if am, _ := s.Meta(ctx, arch.ID, []uint32{1}); len(am) != 1 {
		t.Fatalf("index after rename: %+v", am)
	}
}

// indexUIDs returns a mailbox's UIDs from its in-memory index.
func indexUIDs(ctx context.Context, s *Store, mailboxID int64) ([]uint32, error) {
	var uids []uint32
	err := s.EachMeta(ctx, mailboxID, func(m *MsgMeta) bool {
		uids = append(uids, m.UID)
		return true
	})
	return uids, err
}

// TestSubscriptions checks that subscriptions are names the client keeps
// (RFC 9051 §6.3.7): independent of the mailboxes, except that RENAME
// takes them along.
func TestSubscriptions(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	subs := func() []string {
		t.Helper()
		l, err := s.Subscriptions(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// A new account is subscribed to its special-use mailboxes.
	if got, want := subs(), []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}; !slices.Equal(got, want) {
		t.Fatalf("new account: %q, want %q", got, want)
	}
	// CREATE does not subscribe.
	if _, err := s.CreateMailbox(ctx, a.ID, "Work/Old", ""); err != nil {
		t.Fatal(err)
	}
	if got := subs(); slices.Contains(got, "Work/Old") || slices.Contains(got, "Work") {
		t.Fatalf("CREATE subscribed: %q", got)
	}
	if err := s.SetSubscribed(ctx, a.ID, "Work/Old", true); err != nil {
		t.Fatal(err)
	}
	// Subscribing twice is fine; a name that does not exist may be
	// refused (RFC 9051 §6.3.7).
	if err := s.SetSubscribed(ctx, a.ID, "Work/Old", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribed(ctx, a.ID, "Nope", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("subscribe missing: %v", err)
	}
	// DELETE does not unsubscribe.
	if err := s.DeleteMailbox(ctx, a.ID, "Work/Old"); err != nil {
		t.Fatal(err)
	}
	if got := subs(); !slices.Contains(got, "Work/Old") {
		t.Fatalf("DELETE unsubscribed: %q", got)
	}
	// RENAME moves the subscriptions of the mailbox and its children.
	if _, err := s.CreateMailbox(ctx, a.ID, "Work/Old/2026", ""); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Work", "Work/Old/2026"} {
		if err := s.SetSubscribed(ctx, a.ID, n, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RenameMailbox(ctx, a.ID, "Work", "Done"); err != nil {
		t.Fatal(err)
	}
	if got, want := subs(), []string{"Archive", "Done", "Done/Old", "Done/Old/2026", "Drafts", "INBOX", "Junk", "Sent", "Trash"}; !slices.Equal(got, want) {
		t.Fatalf("after RENAME: %q, want %q", got, want)
	}
	// UNSUBSCRIBE takes any name, subscribed or not.
	for _, n := range []string{"Done/Old", "Done/Old", "Never"} {
		if err := s.SetSubscribed(ctx, a.ID, n, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := subs(); slices.Contains(got, "Done/Old") {
		t.Fatalf("UNSUBSCRIBE: %q", got)
	}
	// Deleting the account deletes its subscriptions.
	if err := s.DeleteAccount(ctx, a.Address); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("subscriptions left after deleting the account: %d %v", n, err)
	}
}

// TestMigrateSubscriptions checks that migration 4 keeps the
// subscriptions that were flags on mailbox rows.
func TestMigrateSubscriptions(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "yizhan.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, 3); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO domains (id, name, created_at) VALUES (1, 'example.test', 0)`,
		`INSERT INTO accounts (id, address, display, domain_id, password_hash, created_at) VALUES (1, 'a@example.test', 'a@example.test', 1, 'x', 0)`,
		`INSERT INTO mailboxes (account_id, name, uidvalidity, subscribed) VALUES (1, 'INBOX', 1, 1), (1, 'Old', 2, 0), (1, 'Work', 3, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := openTest(t, dir)
	got, err := s.Subscriptions(ctx, 1)
	if err != nil || !slices.Equal(got, []string{"INBOX", "Work"}) {
		t.Fatalf("subscriptions after migration: %q %v", got, err)
	}
}

// TestRecentClaims checks the \Recent bookkeeping: each UID is claimed
// once, looking does not claim, and claims survive a restart.
func TestRecentClaims(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		deliver(t, s, a, "Subject: x\r\n\r\nbody\r\n")
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	if n, err := s.RecentCount(ctx, inbox); err != nil || n != 3 {
		t.Fatalf("RecentCount = %d, %v; want 3", n, err)
	}
	if from, _ := s.RecentFrom(ctx, inbox); from != 1 {
		t.Fatalf("RecentFrom = %d, want 1", from)
	}
	// The first claim gets UIDs 1-3, a second one nothing.
	if from, err := s.ClaimRecent(ctx, inbox, 4); err != nil || from != 1 {
		t.Fatalf("ClaimRecent = %d, %v; want 1", from, err)
	}
	if from, _ := s.ClaimRecent(ctx, inbox, 4); from != 4 {
		t.Fatalf("second ClaimRecent = %d, want 4 (nothing)", from)
	}
	if n, _ := s.RecentCount(ctx, inbox); n != 0 {
		t.Fatalf("RecentCount after claim = %d", n)
	}
	deliver(t, s, a, "Subject: y\r\n\r\nbody\r\n")
	if n, _ := s.RecentCount(ctx, inbox); n != 1 {
		t.Fatalf("RecentCount after delivery = %d", n)
	}
	if from, _ := s.ClaimRecent(ctx, inbox, 5); from != 4 {
		t.Fatalf("claim of the new one = %d, want 4", from)
	}
	// The claim is written with the next commit, without Close: a
	// delivery queued after it finds it committed.
	deliver(t, s, a, "Subject: z\r\n\r\nbody\r\n")
	var stored uint32
	if err := s.rdb.QueryRowContext(ctx, `SELECT recent_uid FROM mailboxes WHERE id = ?`, inbox.ID).Scan(&stored); err != nil || stored != 5 {
		t.Fatalf("recent_uid in the database = %d, %v; want 5", stored, err)
	}
	// A mailbox deleted and made again under the same id starts afresh.
	mb, err := s.CreateMailbox(ctx, a.ID, "Work", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRecent(ctx, mb, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Work"); err != nil {
		t.Fatal(err)
	}
	mb2, err := s.CreateMailbox(ctx, a.ID, "Work", "")
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := s.RecentFrom(ctx, mb2); from != 1 {
		t.Fatalf("new mailbox (id %d, old %d) RecentFrom = %d, want 1", mb2.ID, mb.ID, from)
	}
	// The claims are written: after a restart nothing is recent again.
	s.Close()
	s = openTest(t, dir)
	if n, err := s.RecentCount(ctx, inbox); err != nil || n != 1 {
		t.Fatalf("RecentCount after restart = %d, %v; want 1 (UID 6 only)", n, err)
	}
}

// TestMigrateReindex checks that migration 6 queues every message for
// the full-text index again and that indexing replaces the old entry.
func TestMigrateReindex(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir)
	if _, err := s.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	m := deliver(t, s, a, "Subject: x\r\nX-Header: qwertyuiop\r\n\r\nbody\r\n")
	queued, err := s.PendingText(ctx, 0, 10)
	if err != nil || len(queued) != 1 {
		t.Fatalf("queued at delivery: %v %v", queued, err)
	}
	id := queued[0].ID
	// Indexed the old way: the subject only.
	if err := s.SaveText(ctx, []TextEntry{{MessageID: id, MailboxID: m.MailboxID, UID: m.UID, Headers: "x\n", Body: "body\n"}}); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.SearchText(ctx, m.MailboxID, "text", "qwertyuiop"); hits[m.UID] {
		t.Fatal("found before reindexing")
	}
	s.Close()
	// Back to schema 5, as a store made before migration 6.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "yizhan.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM schema_version WHERE version > 5`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = openTest(t, dir)
	p, err := s.PendingText(ctx, 0, 10)
	if err != nil || len(p) != 1 || p[0].ID != id {
		t.Fatalf("pending after migration: %v %v", p, err)
	}
	if err := s.SaveText(ctx, []TextEntry{{MessageID: id, MailboxID: m.MailboxID, UID: m.UID, Headers: "Subject: x\nX-Header: qwertyuiop\n", Body: "body\n"}}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.SearchText(ctx, m.MailboxID, "text", "qwertyuiop")
	if err != nil || !hits[m.UID] {
		t.Fatalf("search after reindexing: %v %v", hits, err)
	}
}
