package pop3server

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		args []string
		rest string
		err  error
	}{
		{in: "QUIT", name: "QUIT"},
		{in: "quit", name: "QUIT"},
		{in: "rEtR 1", name: "RETR", args: []string{"1"}, rest: "1"},
		{in: "TOP 1  10", name: "TOP", args: []string{"1", "10"}, rest: "1  10"},
		{in: "PASS  two  spaces ", name: "PASS", args: []string{"two", "spaces"}, rest: " two  spaces "},
		{in: "PASS pässwörd", name: "PASS", args: []string{"pässwörd"}, rest: "pässwörd"},
		{in: "NOOP ", name: "NOOP", rest: ""},
		{in: "", err: errEmptyLine},
		{in: " NOOP", err: errBadKeyword},
		{in: "NO0P", err: errBadKeyword},
		{in: "NOOP\x00", err: errBadChars},
		{in: "USER a\tb", err: errBadChars},
		{in: "NOOP\x7f", err: errBadChars},
		{in: strings.Repeat("A", 17), err: errBadKeyword},
	} {
		got, err := parseCommand([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("parseCommand(%q) error = %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if got.name != tc.name || !slices.Equal(got.args, tc.args) || got.rest != tc.rest {
			t.Errorf("parseCommand(%q) = %+v, want name %q args %q rest %q", tc.in, got, tc.name, tc.args, tc.rest)
		}
	}
}

func TestParseMsgNumber(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "42": 42, "007": 7, "999999999": 999999999} {
		if n, ok := parseMsgNumber(in); !ok || n != want {
			t.Errorf("parseMsgNumber(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "0", "00", "-1", "+1", "1a", " 1", "1234567890", "１"} {
		if n, ok := parseMsgNumber(in); ok {
			t.Errorf("parseMsgNumber(%q) = %d, want failure", in, n)
		}
	}
	if n, ok := parseDecimal("0"); !ok || n != 0 {
		t.Errorf("parseDecimal(0) = %d, %v", n, ok)
	}
}

func TestReadLine(t *testing.T) {
	in := "NOOP\r\n" + strings.Repeat("x", 10000) + "\r\nbare lf\n" + strings.Repeat("y", 20) + "\r\npartial"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	var buf []byte
	next := func(max int) (string, error) {
		line, b, err := readLine(r, buf, max)
		buf = b
		return string(line), err
	}
	if l, err := next(100); l != "NOOP" || err != nil {
		t.Fatalf("got %q, %v", l, err)
	}
	if _, err := next(100); !errors.Is(err, errLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
	if l, err := next(100); l != "bare lf" || err != nil {
		t.Fatalf("got %q, %v", l, err)
	}
	// Exactly at the limit, line ending included.
	if l, err := next(22); l != strings.Repeat("y", 20) || err != nil {
		t.Fatalf("got %q, %v", l, err)
	}
	if _, err := next(100); err == nil {
		t.Fatal("unterminated last line accepted")
	}
}

// FuzzParseCommand checks the command parser never panics and that what
// it returns is consistent with its input.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"QUIT", "retr 1", "TOP 1 10", "PASS a b  c ", "AUTH PLAIN AGEAYg==", "",
		" ", "USER \x00", "LIST  ", "NOOP\xff", "ÄUTH", "UIDL 99999999999",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		kw, rest, _ := strings.Cut(string(line), " ")
		if cmd.name != strings.ToUpper(kw) || cmd.name == "" {
			t.Fatalf("name %q from %q", cmd.name, line)
		}
		for _, c := range []byte(cmd.name) {
			if c < 'A' || c > 'Z' {
				t.Fatalf("name %q has non-letters", cmd.name)
			}
		}
		if cmd.rest != rest {
			t.Fatalf("rest %q, want %q", cmd.rest, rest)
		}
		var want []string
		for a := range strings.SplitSeq(rest, " ") {
			if a != "" {
				want = append(want, a)
			}
		}
		if !slices.Equal(cmd.args, want) {
			t.Fatalf("args %q, want %q", cmd.args, want)
		}
		for _, a := range cmd.args {
			if strings.ContainsAny(a, " \r\n\x00") {
				t.Fatalf("arg %q has separators", a)
			}
		}
		if utf8.ValidString(string(line)) && !utf8.ValidString(cmd.rest) {
			t.Fatalf("rest broke UTF-8")
		}
	})
}
