package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InteropRequired reports whether $YIZHAN_INTEROP=1, under which a missing
// third-party tool fails a test instead of skipping it (CI sets it).
func InteropRequired() bool { return os.Getenv("YIZHAN_INTEROP") == "1" }

// RequireTool returns the path of an external program. If it is missing,
// the test fails when InteropRequired, and is skipped otherwise.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s not found on PATH (%v); ./test.sh installs it", name, err)
	}
	return p
}

// Unavailable fails the test when InteropRequired and skips it otherwise,
// for a test whose external prerequisite is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InteropRequired() {
		t.Fatalf("YIZHAN_INTEROP=1 but "+format, args...)
	}
	t.Skipf(format+" (set YIZHAN_INTEROP=1 to make this a failure)", args...)
}
