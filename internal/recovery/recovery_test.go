package recovery

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func panicking() { panic("boom") }

// TestLog: the record names the value, the running count and the stack of
// the panic, down to the function that panicked.
func TestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var c Counter
	for range 2 {
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.Log(log, p)
				}
			}()
			panicking()
		}()
	}
	if c.Load() != 2 {
		t.Fatalf("Load() = %d, want 2", c.Load())
	}
	out := buf.String()
	for _, want := range []string{"level=ERROR", `msg="panic recovered"`, "panic=boom", "panics=2", "recovery.panicking"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
