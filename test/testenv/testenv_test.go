package testenv

import (
	"regexp"
	"testing"
)

// The log check reports WARN and ERROR records of either log format that
// no declared pattern matches, and nothing else.
func TestUnexpectedLogLines(t *testing.T) {
	log := `===== testenv: start #1 =====
time=2026-12-01T10:00:00Z level=INFO msg=listening listener=smtp
[stdout] level=WARN printed on stdout, not logged
time=2026-12-01T10:00:01Z level=WARN msg="cannot parse message structure" id=x
time=2026-12-01T10:00:02Z level=ERROR msg="success notification" id=y
time=2026-12-01T10:00:03Z level=WARN msg="auth failed" user=alice@example.test
{"time":"2026-12-01T10:00:04Z","level":"ERROR","msg":"closing store"}
{"time":"2026-12-01T10:00:05Z","level":"INFO","msg":"stopped"}
time=2026-12-01T10:00:06Z level=INFO msg="a WARN inside a message" detail="level=WARNING"
===== testenv: exited: <nil> =====
`
	s := &Server{}
	s.ExpectLog(t, `msg="auth failed"`)
	got := s.unexpectedLogLines([]byte(log))
	want := []string{
		`time=2026-12-01T10:00:01Z level=WARN msg="cannot parse message structure" id=x`,
		`time=2026-12-01T10:00:02Z level=ERROR msg="success notification" id=y`,
		`{"time":"2026-12-01T10:00:04Z","level":"ERROR","msg":"closing store"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("unexpected lines = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
	s.expected = append(s.expected, regexp.MustCompile(`cannot parse|success notification|closing store`))
	if got := s.unexpectedLogLines([]byte(log)); len(got) != 0 {
		t.Fatalf("all declared, still reported %q", got)
	}
}
