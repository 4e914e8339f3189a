//go:build yizhan_testhooks

package testhook

import "strings"

// Enabled reports whether this is a test build.
const Enabled = true

// Input panics if s, a client's input (a command line, an IMAP tag),
// contains Marker: the end-to-end tests make a protocol handler panic
// this way to check that the server recovers (issue 11 item 7).
func Input(s string) {
	if strings.Contains(s, Marker) {
		panic("testhook: " + Marker + " in client input")
	}
}
