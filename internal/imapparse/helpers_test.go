package imapparse

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// testReader returns a Reader over input and a counter of cont calls.
func testReader(input string, lim Limits) (*Reader, *int) {
	n := new(int)
	cont := func() error { *n++; return nil }
	return NewReader(bufio.NewReader(strings.NewReader(input)), cont, lim), n
}

// parseOne reads the first command of input with default limits.
func parseOne(t *testing.T, input string) (*Command, error) {
	t.Helper()
	r, _ := testReader(input, Limits{})
	return r.ReadCommand()
}

// mustParse reads one command that must parse, and checks that it used all
// of input.
func mustParse(t *testing.T, input string) *Command {
	t.Helper()
	r, _ := testReader(input, Limits{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("%q: %v", input, err)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("%q: input left after command: %v", input, err)
	}
	return cmd
}

// gatedReader hands out its parts one by one, and a part after the first
// only once open has been called as many times as the parts before it: a
// Reader that reads a synchronising literal before asking for it gets an
// error instead of the data.
type gatedReader struct {
	parts  []string
	opened int // calls of open
	next   int // index of the part being read
}

var errEarlyRead = errors.New("literal read before continuation request")

func (g *gatedReader) open() error { g.opened++; return nil }

func (g *gatedReader) Read(p []byte) (int, error) {
	for g.next < len(g.parts) && g.parts[g.next] == "" {
		g.next++
	}
	if g.next >= len(g.parts) {
		return 0, io.EOF
	}
	if g.next > g.opened {
		return 0, errEarlyRead
	}
	n := copy(p, g.parts[g.next])
	g.parts[g.next] = g.parts[g.next][n:]
	return n, nil
}

// errorReader returns its data and then a fixed error.
type errorReader struct {
	data string
	err  error
}

func (e *errorReader) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}
