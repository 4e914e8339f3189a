package testhook

import "testing"

// TestInput: Input panics on the marker in a test build and never in
// another.
func TestInput(t *testing.T) {
	Input("NOOP")
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		Input("NOOP " + Marker)
		return false
	}()
	if panicked != Enabled {
		t.Fatalf("Input(marker) panicked = %v, want %v (Enabled)", panicked, Enabled)
	}
}
