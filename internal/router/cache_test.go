package router

import (
	"context"
	"errors"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/store"
)

// countingDir counts the lookups that reach the store.
type countingDir struct {
	Directory
	n int
}

func (c *countingDir) AccountByAddress(ctx context.Context, addr string) (store.Account, error) {
	c.n++
	return c.Directory.AccountByAddress(ctx, addr)
}

func (c *countingDir) IsLocalDomain(ctx context.Context, d string) (bool, error) {
	c.n++
	return c.Directory.IsLocalDomain(ctx, d)
}

func (c *countingDir) AliasTargets(ctx context.Context, key string) ([]string, error) {
	c.n++
	return c.Directory.AliasTargets(ctx, key)
}

// TestCacheFollowsAdminProcess: the server's cached lookups see changes an
// admin command makes from another process (another Store on the same
// data directory), and repeated lookups do not reach the store.
func TestCacheFollowsAdminProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	admin, err := store.Open(ctx, dir, store.Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddAccount(ctx, "alice@example.test", "pw"); err != nil {
		t.Fatal(err)
	}
	counted := &countingDir{Directory: srv}
	r := New(NewCache(counted, srv.DirectoryVersion), "mail.example.test")

	resolve := func(rcpt string) (Result, error) {
		t.Helper()
		return r.Resolve(ctx, rcpt)
	}
	if _, err := resolve("dave@example.test"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("dave before add: %v", err)
	}
	if _, err := resolve("alice@example.test"); err != nil {
		t.Fatal(err)
	}
	before := counted.n
	for range 3 {
		if _, err := resolve("alice@example.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := resolve("dave@example.test"); !errors.Is(err, ErrUnknownUser) {
			t.Fatal(err)
		}
	}
	if counted.n != before {
		t.Errorf("repeated lookups reached the store %d times", counted.n-before)
	}

	// A cached "unknown user" must not outlive the account's creation.
	dave, err := admin.AddAccount(ctx, "dave@example.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolve("dave@example.test")
	if err != nil || len(res.Local) != 1 || res.Local[0].AccountID != dave.ID {
		t.Fatalf("dave after add: %+v %v", res, err)
	}
	if _, err := admin.AddAlias(ctx, "team@example.test", []string{"dave@example.test", "x@remote.test"}); err != nil {
		t.Fatal(err)
	}
	if res, err := resolve("team@example.test"); err != nil || len(res.Local) != 1 || len(res.Remote) != 1 {
		t.Fatalf("alias after add: %+v %v", res, err)
	}
	if err := admin.SetQuota(ctx, "dave@example.test", 1000); err != nil {
		t.Fatal(err)
	}
	if res, err := resolve("dave@example.test"); err != nil || res.Local[0].Quota != 1000 {
		t.Fatalf("quota after set: %+v %v", res, err)
	}
	if err := admin.DeleteAccount(ctx, "dave@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve("dave@example.test"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("dave after delete: %v", err)
	}
	// Changes made through the serving store itself count too.
	if _, err := srv.AddAccount(ctx, "erin@example.test", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve("erin@example.test"); err != nil {
		t.Fatalf("erin: %v", err)
	}
}
