package passwd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse 驛站")
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(h, "correct horse 驛站"); err != nil {
		t.Fatalf("Verify(right password) = %v", err)
	}
	if err := Verify(h, "correct horse"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong password) = %v, want ErrMismatch", err)
	}
	if err := Verify(h, ""); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(empty password) = %v, want ErrMismatch", err)
	}
}

func TestHashFormatAndSalt(t *testing.T) {
	h1, err := Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Fatal("two hashes of the same password are equal: no salt")
	}
	for _, h := range []string{h1, h2} {
		if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") {
			t.Fatalf("hash %q has the wrong prefix", h)
		}
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("hash %q has %d parts", h, len(parts))
		}
		if salt, _ := b64.DecodeString(parts[4]); len(salt) != saltLen {
			t.Fatalf("salt is %d bytes, want %d", len(salt), saltLen)
		}
		if key, _ := b64.DecodeString(parts[5]); len(key) != keyLen {
			t.Fatalf("key is %d bytes, want %d", len(key), keyLen)
		}
	}
}

// cheap builds a valid hash with small parameters, for fast tests.
func cheap(t *testing.T, params string) string {
	t.Helper()
	salt := b64.EncodeToString([]byte("0123456789abcdef"))
	key := b64.EncodeToString(make([]byte, 32))
	return fmt.Sprintf("$argon2id$v=19$%s$%s$%s", params, salt, key)
}

func TestVerifyOtherParameters(t *testing.T) {
	// A hash made with other (here cheaper) parameters still verifies.
	salt := []byte("0123456789abcdef")
	h := fmt.Sprintf("$argon2id$v=19$m=64,t=2,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(argon2IDKey("pw", salt, 2, 64, 1, 24)))
	if err := Verify(h, "pw"); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if err := Verify(h, "pw2"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong) = %v, want ErrMismatch", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good := cheap(t, "m=64,t=1,p=1")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	cases := map[string]string{
		"empty":            "",
		"dollar only":      "$",
		"plain text":       "secret",
		"wrong algorithm":  "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"bcrypt":           "$2a$10$abcdefghijklmnopqrstuu5S8bKqDQbOQcXjZxCNqwvI9Dg6VW7TW",
		"wrong version":    "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no version":       "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"missing hash":     "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"extra part":       good + "$x",
		"empty key":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"bad salt base64":  "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"bad key base64":   "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$*=*",
		"t=0":              cheap(t, "m=64,t=0,p=1"),
		"p=0":              cheap(t, "m=64,t=1,p=0"),
		"p overflow":       cheap(t, "m=64,t=1,p=256"),
		"negative m":       cheap(t, "m=-1,t=1,p=1"),
		"garbled params":   cheap(t, "t=1,m=64,p=1"),
		"params missing":   cheap(t, ""),
		"huge m":           cheap(t, "m=4294967295,t=1,p=1"),
		"m above cap":      cheap(t, fmt.Sprintf("m=%d,t=1,p=1", maxMemoryKiB+1)),
		"huge t":           cheap(t, "m=64,t=4294967295,p=1"),
		"t above cap":      cheap(t, fmt.Sprintf("m=64,t=%d,p=1", maxTime+1)),
		"p above cap":      cheap(t, fmt.Sprintf("m=64,t=1,p=%d", maxThreads+1)),
		"trailing garbage": "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "\x00",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			err := Verify(h, "pw")
			if err == nil {
				t.Fatalf("Verify(%q) = nil, want an error", h)
			}
			if errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify(%q) = ErrMismatch, want a format error", h)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	salt := []byte("0123456789abcdef")
	f.Add(fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(argon2IDKey("pw", salt, 1, 64, 1, 32))))
	f.Add("$argon2id$v=19$m=8,t=1,p=1$$AAAA")
	f.Add("$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA")
	f.Add("$argon2id$v=19$m=64,t=0,p=0$$")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAA$AAAA")
	f.Add("$$$$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, hash string) {
		// Verify bounds m and t itself, but even within the bounds a
		// fuzzer should not spend a second per input: skip expensive ones.
		if parts := strings.Split(hash, "$"); len(parts) == 6 {
			var m, tc uint32
			var p uint8
			if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &tc, &p); err == nil &&
				m <= maxMemoryKiB && tc <= maxTime && p <= maxThreads && (m > 1024 || tc > 2 || len(parts[5]) > 1024) {
				t.Skip("valid but expensive parameters")
			}
		}
		err := Verify(hash, "pw")
		if err == nil && !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("Verify(%q) accepted a non-argon2id hash", hash)
		}
	})
}

func argon2IDKey(pw string, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	return argon2.IDKey([]byte(pw), salt, t, m, p, n)
}

// TestDecoy: a decoy has Hash's format and parameters (so verifying
// against it costs the same) and no password matches it.
func TestDecoy(t *testing.T) {
	d1, err := Decoy()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Decoy()
	if err != nil {
		t.Fatal(err)
	}
	h, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	params := func(s string) string { return strings.Join(strings.Split(s, "$")[:4], "$") }
	if params(d1) != params(h) || len(d1) != len(h) {
		t.Fatalf("decoy %q does not look like hash %q", d1, h)
	}
	if d1 == d2 {
		t.Fatal("two decoys are equal")
	}
	for _, pw := range []string{"", "pw", "password"} {
		if err := Verify(d1, pw); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(decoy, %q) = %v, want ErrMismatch", pw, err)
		}
	}
}
