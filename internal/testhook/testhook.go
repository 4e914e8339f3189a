// Package testhook holds hooks for the end-to-end tests that exist only
// in binaries built with -tags yizhan_testhooks (test/testenv builds the
// binary it runs that way). In any other build they are empty functions
// the compiler removes: the production binary has no hook.
package testhook

// Marker is the word that makes Input panic in a test build.
const Marker = "yizhan-test-panic"
