package tracking

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNewIDValid(t *testing.T) {
	id := NewID()
	if len(id) != 20 {
		t.Fatalf("NewID() = %q, %d chars, want 20", id, len(id))
	}
	if !Valid(id) {
		t.Fatalf("Valid(%q) = false", id)
	}
	if !Valid(strings.ToUpper(id)) {
		t.Fatalf("Valid(upper-case %q) = false", id)
	}
	for _, bad := range []string{"", id[:19], id + "a", "0000000000000000000a", "abcdefghij-lmnopqrst"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := make(map[string]bool, 10000)
	for range 10000 {
		id := NewID()
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	for range 5 {
		a := NewID()
		time.Sleep(2 * time.Millisecond)
		b := NewID()
		if a >= b {
			t.Fatalf("later id %q does not sort after earlier id %q", b, a)
		}
	}
}

// TestEncodingPreservesOrder checks every symbol: string order of encoded
// ids equals the order of the encoded bytes, whatever the clock says.
func TestEncodingPreservesOrder(t *testing.T) {
	prev := ""
	for v := range 32 {
		var b [12]byte
		b[0] = byte(v << 3) // first symbol takes the top 5 bits
		s := enc.EncodeToString(b[:])
		if s <= prev {
			t.Fatalf("symbol %d encodes as %q, not after %q", v, s, prev)
		}
		prev = s
	}
	x := [12]byte{0, 0, 1, 2, 3, 0xff}
	y := [12]byte{0, 0, 1, 2, 4, 0}
	if bytes.Compare(x[:], y[:]) >= 0 || enc.EncodeToString(x[:]) >= enc.EncodeToString(y[:]) {
		t.Fatal("encoding does not preserve byte order")
	}
}
