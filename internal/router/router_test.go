package router

import (
	"context"
	"errors"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/store"
)

func setup(t *testing.T) (*Router, map[string]int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.AddDomain(ctx, "example.test", ""))
	must(st.AddDomain(ctx, "例子.台灣", "bob@example.test"))
	must(st.AddDomain(ctx, "catch.test", ""))
	ids := map[string]int64{}
	for _, u := range []string{"alice@example.test", "bob@example.test", "用户@例子.台灣", "carol@catch.test"} {
		a, err := st.AddAccount(ctx, u, "pw")
		if err != nil {
			t.Fatal(err)
		}
		ids[u] = a.ID
	}
	must(st.AddAlias(ctx, "team@example.test", []string{"alice@example.test", "bob@example.test", "Alice@example.test"}))
	must(st.AddAlias(ctx, "loop1@example.test", []string{"loop2@example.test"}))
	must(st.AddAlias(ctx, "loop2@example.test", []string{"loop1@example.test", "alice@example.test"}))
	must(st.AddAlias(ctx, "fwd@example.test", []string{"someone@remote.test"}))
	must(st.AddAlias(ctx, "@catch.test", []string{"carol@catch.test"}))
	return New(st, "mail.example.test"), ids
}

func TestResolve(t *testing.T) {
	r, ids := setup(t)
	ctx := context.Background()
	cases := []struct {
		rcpt   string
		local  []string
		remote int
		err    error
	}{
		{"alice@example.test", []string{"alice@example.test"}, 0, nil},
		{"ALICE@Example.Test", []string{"alice@example.test"}, 0, nil},
		{"alice+news@example.test", []string{"alice@example.test"}, 0, nil},
		{"team@example.test", []string{"alice@example.test", "bob@example.test"}, 0, nil},
		{"loop1@example.test", []string{"alice@example.test"}, 0, nil},
		{"fwd@example.test", nil, 1, nil},
		{"nobody@example.test", nil, 0, ErrUnknownUser},
		{"anything@catch.test", []string{"carol@catch.test"}, 0, nil},
		{"用户@xn--fsqu00a.xn--kpry57d", []string{"用户@例子.台灣"}, 0, nil},
		{"postmaster@例子.台灣", []string{"bob@example.test"}, 0, nil},
		{"PostMaster@example.test", []string{"alice@example.test"}, 0, nil},
		{"postmaster", []string{"alice@example.test"}, 0, nil},
		{"x@remote.test", nil, 1, nil},
	}
	for _, c := range cases {
		res, err := r.Resolve(ctx, c.rcpt)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err %v, want %v", c.rcpt, err, c.err)
			continue
		}
		if len(res.Local) != len(c.local) || len(res.Remote) != c.remote {
			t.Errorf("%s: got %+v", c.rcpt, res)
			continue
		}
		for i, l := range c.local {
			if res.Local[i].AccountID != ids[l] {
				t.Errorf("%s: local[%d] = %+v, want %s", c.rcpt, i, res.Local[i], l)
			}
		}
	}
}

func TestMaySendAs(t *testing.T) {
	r, ids := setup(t)
	ctx := context.Background()
	alice := ids["alice@example.test"]
	cases := []struct {
		addr string
		ok   bool
	}{
		{"alice@example.test", true},
		{"Alice@EXAMPLE.test", true},
		{"alice+x@example.test", true},
		{"team@example.test", true},
		{"bob@example.test", false},
		{"postmaster@example.test", false},
		{"stranger@remote.test", false},
		{"carol@catch.test", false},
		{"whatever@catch.test", false},
	}
	for _, c := range cases {
		ok, err := r.MaySendAs(ctx, alice, c.addr)
		if err != nil || ok != c.ok {
			t.Errorf("%s: %v %v, want %v", c.addr, ok, err, c.ok)
		}
	}
}
