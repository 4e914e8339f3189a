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

// FuzzReverse: Reverse, which reads local parts of bounce addresses any
// sender on the Internet chooses, never panics and accepts only what
// Rewrite made with the same secret; Rewrite's output always reverses to
// the sender it was given.
func FuzzReverse(f *testing.F) {
	c := New([]byte("secret"))
	for _, s := range []string{
		"alice@remote.test", "SRS0=AAAAAA=AA=remote.test=alice", "SRS0=abc=de", "SRS0====", "srs0=x=yy=d=l",
		"SRS0=AAAAAA=A=remote.test=alice", "SRS0=AAAAAA=a9=remote.test=alice", "SRS0=AAAAAA=AA==alice", "用户@例子.台灣",
	} {
		f.Add(s)
	}
	if s, err := c.Rewrite("alice@remote.test", "example.test"); err == nil {
		local, _, _ := strings.Cut(s, "@")
		f.Add(local)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if orig, err := c.Reverse(s); err == nil {
			// Only a hash made with the secret passes: the address
			// rewritten again on its day gives the same local part.
			local, domain, ok := strings.Cut(orig, "@")
			if !ok || domain == "" || local == "" {
				t.Fatalf("Reverse(%q) = %q: no local@domain", s, orig)
			}
			parts := strings.SplitN(s[5:], "=", 4)
			want := "SRS0=" + c.hash(strings.ToUpper(parts[1]), parts[2], parts[3])
			if !strings.EqualFold(s[:len(want)], want) {
				t.Fatalf("Reverse(%q) accepted a hash that is not ours (want %q)", s, want)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Reverse(%q) = %v, want ErrInvalid", s, err)
		}
		rw, err := c.Rewrite(s, "example.test")
		if err != nil {
			return
		}
		local, _, _ := strings.Cut(rw, "@")
		if i := strings.LastIndexByte(rw, '@'); rw[:i] != local {
			return // s's domain part held an '@': the local part of rw is cut there
		}
		if got, err := c.Reverse(local); err != nil || got != s {
			t.Fatalf("Reverse(Rewrite(%q)) = %q, %v", s, got, err)
		}
	})
}
