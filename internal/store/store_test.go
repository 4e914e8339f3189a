package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setup(t *testing.T) (*Store, Account) {
	t.Helper()
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "Example.TEST", ""); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "Alice@example.test", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

func deliver(t *testing.T, s *Store, acct Account, body string) DeliveredMessage {
	t.Helper()
	b, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, body)
	out, err := s.Deliver(context.Background(), &Delivery{
		Blob: b, TrackingID: "t1", InternalDate: time.Now(),
		Recipients: []Recipient{{AccountID: acct.ID, Mailbox: "INBOX", Prefix: []byte("Delivered-To: alice@example.test\r\n")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestAccountsAndDomains(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	if a.Address != "alice@example.test" || a.Display != "Alice@example.test" {
		t.Fatalf("account %+v", a)
	}
	if _, err := s.AddDomain(ctx, "example.test", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate domain: %v", err)
	}
	if _, err := s.AddAccount(ctx, "ALICE@example.test", "x"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate account: %v", err)
	}
	if _, err := s.AddAccount(ctx, "bob@unknown.test", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown domain: %v", err)
	}
	if _, err := s.AddAccount(ctx, "bad address", "x"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad address: %v", err)
	}
	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil || len(mbs) != 6 {
		t.Fatalf("mailboxes %v %v", mbs, err)
	}
	seen := map[uint32]bool{}
	for _, m := range mbs {
		if seen[m.UIDValidity] {
			t.Fatalf("UIDVALIDITY %d reused", m.UIDValidity)
		}
		seen[m.UIDValidity] = true
	}
	if _, err := s.Authenticate(ctx, "alice@EXAMPLE.test", "pw1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.test", "wrong"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := s.SetPassword(ctx, "alice@example.test", "pw2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.test", "pw1"); !errors.Is(err, ErrAuthFailed) {
		t.Fatal("old password still accepted after change (auth cache not cleared)")
	}
	if err := s.DeleteDomain(ctx, "example.test", false); err == nil {
		t.Fatal("deleting a domain with accounts succeeded without force")
	}
	if _, err := s.AddAlias(ctx, "@example.test", []string{"alice@example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAlias(ctx, "alice@example.test", []string{"x@y.test"}); !errors.Is(err, ErrExists) {
		t.Fatalf("alias shadowing account: %v", err)
	}
	if ts, _ := s.AliasTargets(ctx, "@example.test"); len(ts) != 1 {
		t.Fatalf("catch-all targets %v", ts)
	}
}

func TestDeliverReadExpunge(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	w := s.Watch(a.ID)
	defer w.Close()
	d1 := deliver(t, s, a, "Subject: one\r\n\r\nbody\r\n")
	d2 := deliver(t, s, a, "Subject: two\r\n\r\nbody\r\n")
	if d1.UID != 1 || d2.UID != 2 {
		t.Fatalf("uids %d %d", d1.UID, d2.UID)
	}
	<-w.Ready()
	ch, _ := w.Take()
	if len(ch) == 0 || ch[0].Kind != ChangeNew {
		t.Fatalf("changes %+v", ch)
	}
	mb, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	msgs, err := s.Messages(ctx, mb.ID)
	if err != nil || len(msgs) != 2 || mb.Messages != 2 {
		t.Fatalf("messages %v %v", msgs, err)
	}
	r, err := s.OpenMessage(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	want := "Delivered-To: alice@example.test\r\nSubject: one\r\n\r\nbody\r\n"
	if string(b) != want || int64(len(b)) != msgs[0].Size {
		t.Fatalf("read %q (size %d)", b, msgs[0].Size)
	}
	if err := s.Expunge(ctx, mb.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	msgs, _ = s.Messages(ctx, mb.ID)
	if len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("after expunge %v", msgs)
	}
	mb2, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	if mb2.HighestModSeq <= mb.HighestModSeq || mb2.Messages != 1 || mb2.UIDNext != 3 {
		t.Fatalf("mailbox after expunge %+v", mb2)
	}
	var rows int
	s.rdb.QueryRow(`SELECT COUNT(*) FROM blobs`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d blob rows remain, want 1", rows)
	}
}

func countBlobFiles(s *Store) int {
	n := 0
	filepath.Walk(filepath.Join(s.Dir(), "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// A message bigger than InlineMax spills to a fsynced file, reads back
// intact, and its file goes when the last copy is expunged.
func TestLargeMessageSpills(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	body := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 3*InlineMax/64)
	d := deliver(t, s, a, body)
	if n := countBlobFiles(s); n != 1 {
		t.Fatalf("%d blob files, want 1", n)
	}
	mb, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	msgs, _ := s.Messages(ctx, mb.ID)
	r, err := s.OpenMessage(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "Delivered-To: alice@example.test\r\n"+body {
		t.Fatalf("large message read back wrong (%d bytes)", len(got))
	}
	if err := s.Expunge(ctx, mb.ID, []uint32{d.UID}); err != nil {
		t.Fatal(err)
	}
	if n := countBlobFiles(s); n != 0 {
		t.Fatalf("%d blob files after expunge, want 0", n)
	}
}

// Concurrent deliveries share transactions; every one gets a distinct UID
// and all survive a reopen.
func TestGroupCommitConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.AddDomain(ctx, "example.test", "")
	a, _ := s.AddAccount(ctx, "alice@example.test", "pw")
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, err := s.NewBlob()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(b, "Subject: %d\r\n\r\nx\r\n", i)
			if _, err := s.Deliver(ctx, &Delivery{Blob: b, TrackingID: "t", InternalDate: time.Now(),
				Recipients: []Recipient{{AccountID: a.ID, Mailbox: "INBOX"}}}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	s.Close()
	s = openTest(t, dir)
	mb, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	msgs, _ := s.Messages(ctx, mb.ID)
	if len(msgs) != n || mb.UIDNext != n+1 {
		t.Fatalf("%d messages, uidnext %d", len(msgs), mb.UIDNext)
	}
	for i, m := range msgs {
		if m.UID != uint32(i+1) {
			t.Fatalf("uid %d at %d", m.UID, i)
		}
	}
}

// A failing request in a batch does not undo the others.
func TestDeliverUnknownMailbox(t *testing.T) {
	s, a := setup(t)
	b, _ := s.NewBlob()
	io.WriteString(b, strings.Repeat("x", 2*InlineMax)) // spilled to a file
	_, err := s.Deliver(context.Background(), &Delivery{Blob: b, TrackingID: "t", InternalDate: time.Now(),
		Recipients: []Recipient{{AccountID: a.ID, Mailbox: "Nope"}}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v", err)
	}
	if n := countBlobFiles(s); n != 0 {
		t.Fatal("blob of a failed delivery left on disk")
	}
	deliver(t, s, a, "ok\r\n")
}

func TestAdminProcessWritesWhileServing(t *testing.T) {
	dir := t.TempDir()
	serving := openTest(t, dir)
	ctx := context.Background()
	admin, err := Open(ctx, dir, Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	a, err := admin.AddAccount(ctx, "bob@example.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := serving.IsLocalDomain(ctx, "example.test"); !ok {
		t.Fatal("serving store does not see the admin's domain")
	}
	deliver(t, serving, a, "hi\r\n")
	if accts, _ := admin.Accounts(ctx); len(accts) != 1 || !strings.HasPrefix(accts[0].Address, "bob@") {
		t.Fatalf("accounts %v", accts)
	}
}

// TestAuthenticateConcurrent: simultaneous logins with the same
// credentials share one verification; right and wrong passwords arriving
// together each get their own answer.
func TestAuthenticateConcurrent(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "pw1"
			if i%2 == 1 {
				pw = "wrong"
			}
			_, errs[i] = s.Authenticate(ctx, "alice@example.test", pw)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("login %d with the right password: %v", i, err)
		}
		if i%2 == 1 && !errors.Is(err, ErrAuthFailed) {
			t.Errorf("login %d with a wrong password: %v", i, err)
		}
	}
}

// TestPageSize: a new store gets pageSize pages; a database made with
// SQLite's default pages (an older store) is opened as it is and works.
func TestPageSize(t *testing.T) {
	ctx := context.Background()
	pageSizeOf := func(s *Store) int {
		var n int
		if err := s.rdb.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	s, acct := setup(t)
	if got := pageSizeOf(s); got != pageSize {
		t.Errorf("new store: page size %d, want %d", got, pageSize)
	}

	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "yizhan.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE early (x)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	old := openTest(t, dir)
	if got := pageSizeOf(old); got != 4096 {
		t.Errorf("existing 4 KiB store: page size %d after open, want 4096 kept", got)
	}
	if _, err := old.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	a, err := old.AddAccount(ctx, "alice@example.test", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{s, old} {
		acc := acct
		if st == old {
			acc = a
		}
		d := deliver(t, st, acc, "Subject: x\r\n\r\n"+strings.Repeat("y", 20000))
		if d.UID != 1 {
			t.Errorf("first delivery got UID %d", d.UID)
		}
	}
}

// TestCommitterRecoversOpenTransaction: a transaction left open on the
// committer's connection (a failure that could not roll back) must not
// make every later write fail.
func TestCommitterRecoversOpenTransaction(t *testing.T) {
	s, acct := setup(t)
	if _, err := s.wconn.ExecContext(context.Background(), `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if d := deliver(t, s, acct, "Subject: after\r\n\r\nx\r\n"); d.UID != 1 {
		t.Errorf("delivery after a stuck transaction got UID %d, want 1", d.UID)
	}
}

// TestCommitterSyncsEveryCommit: the committer's own connection commits
// with synchronous=FULL (one WAL fsync per commit): a 250 depends on it.
func TestCommitterSyncsEveryCommit(t *testing.T) {
	s, _ := setup(t)
	var mode int
	if err := s.wconn.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 { // FULL
		t.Errorf("committer connection synchronous=%d, want 2 (FULL)", mode)
	}
}

// Blob.Reader reads back what was written also after the blob spilled to
// a file (delivery parses the structure of every message through it; a
// write-only file made that fail with EBADF for messages over InlineMax).
func TestBlobReaderAfterSpill(t *testing.T) {
	s, _ := setup(t)
	for _, size := range []int{100, InlineMax, InlineMax + 1, 3 * InlineMax} {
		b, err := s.NewBlob()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat("x", size)
		if _, err := io.WriteString(b, want); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b.Reader())
		b.Abort()
		if err != nil {
			t.Fatalf("size %d: reading the blob back: %v", size, err)
		}
		if string(got) != want {
			t.Fatalf("size %d: read back %d bytes, want %d", size, len(got), size)
		}
	}
}

func TestAccountUsage(t *testing.T) {
	s, a := setup(t)
	ctx := context.Background()
	if n, b, err := s.AccountUsage(ctx, a.ID); err != nil || n != 0 || b != 0 {
		t.Fatalf("empty account: %d messages, %d bytes, %v", n, b, err)
	}
	deliver(t, s, a, "Subject: one\r\n\r\n1\r\n")
	deliver(t, s, a, "Subject: two\r\n\r\n22\r\n")
	// deliver adds a 34-byte Delivered-To field to each.
	want := int64(2*34 + len("Subject: one\r\n\r\n1\r\n") + len("Subject: two\r\n\r\n22\r\n"))
	n, b, err := s.AccountUsage(ctx, a.ID)
	if err != nil || n != 2 || b != want {
		t.Fatalf("AccountUsage = %d messages, %d bytes, %v; want 2, %d", n, b, err, want)
	}
}

// Errors about names an operator typed read as sentences, and still match
// the sentinel errors callers test for.
func TestUserErrors(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	_, err := s.DomainByName(ctx, "nosuch.example")
	if !errors.Is(err, ErrNotFound) || err.Error() != "domain nosuch.example does not exist" {
		t.Errorf("unknown domain: %v", err)
	}
	_, err = s.AddDomain(ctx, "example.test", "")
	if !errors.Is(err, ErrExists) || err.Error() != "domain example.test already exists" {
		t.Errorf("existing domain: %v", err)
	}
	_, err = s.AccountByAddress(ctx, "nobody@example.test")
	if !errors.Is(err, ErrNotFound) || err.Error() != "account nobody@example.test does not exist" {
		t.Errorf("unknown account: %v", err)
	}
	_, err = s.AddAccount(ctx, "no-at-sign", "password")
	if !errors.Is(err, ErrInvalidName) || strings.Contains(err.Error(), "store:") {
		t.Errorf("bad address: %v", err)
	}
	_, err = s.QueueRecipient(ctx, 999)
	if !errors.Is(err, ErrNotFound) || err.Error() != "queue entry 999 does not exist" {
		t.Errorf("unknown queue entry: %v", err)
	}
}

// TestAuthenticateUnknownTakesATurn: a login for an account that does not
// exist (unknown local part, unknown domain, not an address) waits for the
// same argon2id limiter as a real check and then runs one, so its answer
// takes as long as a wrong password for an existing account (issue 11
// item 4: it was answered at once, telling an attacker which accounts
// exist). With every slot of the limiter held, it must wait.
func TestAuthenticateUnknownTakesATurn(t *testing.T) {
	s, _ := setup(t)
	for range cap(s.auth.sem) {
		s.auth.sem <- struct{}{}
	}
	for _, user := range []string{"alice@example.test", "nobody@example.test", "alice@unknown.test", "not an address"} {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := s.Authenticate(ctx, user, "wrong")
			errc <- err
		}()
		// Not a timing assertion: the login must still be waiting when
		// it is cancelled, however long it was given.
		time.Sleep(50 * time.Millisecond)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Authenticate(%q) with the limiter full = %v, want it waiting for a turn (context.Canceled)", user, err)
		}
	}
	for range cap(s.auth.sem) {
		<-s.auth.sem
	}
	for _, user := range []string{"nobody@example.test", "alice@unknown.test", "not an address", ""} {
		if _, err := s.Authenticate(context.Background(), user, "pw1"); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("Authenticate(%q) = %v, want ErrAuthFailed", user, err)
		}
	}
}
