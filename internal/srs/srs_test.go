package srs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	c := New([]byte("secret"))
	for _, sender := range []string{"alice@remote.test", "a.b+tag@sub.remote.test", "SRS0=AAAA=BB=x.test=y@fwd.test", "用户@例子.台灣"} {
		srs, err := c.Rewrite(sender, "example.test")
		if err != nil {
			t.Fatal(err)
		}
		local, domain, _ := strings.Cut(srs, "@")
		if domain != "example.test" || !IsSRS(local) {
			t.Fatalf("rewrite %q = %q", sender, srs)
		}
		got, err := c.Reverse(local)
		if err != nil || got != sender {
			t.Fatalf("reverse %q = %q, %v", local, got, err)
		}
		// Some MTAs lower-case the local part.
		if got, err := c.Reverse(strings.ToLower(local)); err != nil || !strings.EqualFold(got, sender) {
			t.Fatalf("reverse lower-cased %q = %q, %v", local, got, err)
		}
	}
}

func TestReverseRefuses(t *testing.T) {
	c := New([]byte("secret"))
	srs, _ := c.Rewrite("alice@remote.test", "example.test")
	local, _, _ := strings.Cut(srs, "@")
	forged := strings.Replace(local, "alice", "mallory", 1)
	other := New([]byte("another secret"))
	for name, l := range map[string]string{
		"forged":        forged,
		"other secret":  local, // checked with other below
		"not srs":       "alice",
		"too few parts": "SRS0=abc=de",
		"empty user":    "SRS0=AAAAAA=AA=remote.test=",
	} {
		codec := c
		if name == "other secret" {
			codec = other
		}
		if _, err := codec.Reverse(l); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Too old.
	old := New([]byte("secret"))
	old.now = func() time.Time { return time.Now().Add(-MaxAge - 48*time.Hour) }
	srsOld, _ := old.Rewrite("alice@remote.test", "example.test")
	l, _, _ := strings.Cut(srsOld, "@")
	if _, err := c.Reverse(l); !errors.Is(err, ErrInvalid) {
		t.Errorf("expired: %v", err)
	}
}
