package logging

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Numbers in the log are rounded for people: three significant digits
// for fractions and durations, whole numbers unchanged.
func TestRounded(t *testing.T) {
	var b bytes.Buffer
	log := New("info", "text", &b)
	log.Info("store: group commit", "exec_ms_per_commit", 0.2984556666666667, "commit_ms_per_commit", 8.678512333333334,
		"writes_per_commit", 1.0, "rate", 1234.5678, "tiny", 0.000123456, "took", 812345678*time.Nanosecond,
		"long", 5*time.Minute+123456789*time.Nanosecond, "short", 1234*time.Nanosecond, "count", 123456789)
	got := b.String()
	for _, want := range []string{"exec_ms_per_commit=0.298 ", "commit_ms_per_commit=8.68 ", "writes_per_commit=1 ", "rate=1235 ",
		"tiny=0.000123 ", "took=812ms ", "long=5m0s ", "short=1.23µs ", "count=123456789\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log line lacks %q:\n%s", want, got)
		}
	}

	b.Reset()
	New("info", "json", &b).Info("x", "ms", 0.2984556666666667, "took", 812345678*time.Nanosecond)
	if got := b.String(); !strings.Contains(got, `"ms":0.298`) || !strings.Contains(got, `"took":812000000`) {
		t.Errorf("json line: %s", got)
	}
}

func TestLevel(t *testing.T) {
	var b bytes.Buffer
	log := New("warn", "text", &b)
	log.Info("not shown")
	log.Warn("shown")
	if got := b.String(); strings.Contains(got, "not shown") || !strings.Contains(got, "shown") {
		t.Errorf("level warn: %s", got)
	}
}
