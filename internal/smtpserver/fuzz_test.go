package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"EHLO example.test", "mail FROM:<a@b> SIZE=10", "STARTTLS", "BDAT 10 LAST",
		"DATA ", "X", "AUTH PLAIN AGFAYg==", "starttls\x00", "rcpt to:<\"a b\"@c>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		v, arg := parseCommand(line)
		if v != verbUnknown {
			name := line
			if i := bytes.IndexByte(line, ' '); i >= 0 {
				name = line[:i]
			}
			if !strings.EqualFold(string(name), v.String()) {
				t.Fatalf("%q parsed as %v", line, v)
			}
			if len(arg) > 0 && !bytes.Contains(line, arg) {
				t.Fatalf("arg %q not in %q", arg, line)
			}
		}
		if v == verbBDAT {
			if n, _, ok := parseBDAT(arg); ok && n < 0 {
				t.Fatalf("negative chunk size from %q", arg)
			}
		}
		if v == verbEHLO || v == verbHELO {
			validHelo(string(arg))
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"FROM:<a@b.test>", "FROM:<> SIZE=100 BODY=8BITMIME", "TO:<\"x>y\"@b.test>",
		"FROM: <a@b> SMTPUTF8", "TO:<@a,@b:c@d>", "FROM:<a@b>X", "TO:<a@b> =x", "FROM:<\"\\\">\"@x>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, arg []byte) {
		for _, kw := range []string{"FROM:", "TO:"} {
			path, params, err := parsePathArg(arg, kw)
			if err != nil {
				continue
			}
			if strings.ContainsAny(path, "\r\n") {
				t.Fatalf("control characters in path %q", path)
			}
			for _, p := range params {
				if p.Key == "" || strings.ContainsAny(p.Key+p.Value, " =") {
					t.Fatalf("bad param %+v from %q", p, arg)
				}
			}
		}
	})
}

// refDecode is a byte-at-a-time model of DATA decoding: the data ends at
// the first CRLF "." CRLF (the start counting as after CRLF); lines start
// only after CRLF and lose a leading dot. It returns the decoded bytes,
// how much of in was consumed, whether the end was found and whether a
// bare CR or LF was seen.
func refDecode(in []byte) (out []byte, consumed int, done, bare bool) {
	// In the coordinates of in, a match at end has its CRLF at
	// in[end-2:end] (part of the data) and the dot at in[end].
	end := bytes.Index(append([]byte("\r\n"), in...), []byte("\r\n.\r\n"))
	if end < 0 {
		return nil, len(in), false, false
	}
	data := in[:end]
	sol := true
	for i, c := range data {
		if sol && c == '.' {
			sol = false
			continue
		}
		sol = false
		out = append(out, c)
		switch c {
		case '\r':
			if i+1 >= len(data) || data[i+1] != '\n' {
				bare = true
			}
		case '\n':
			if i == 0 || data[i-1] != '\r' {
				bare = true
			} else {
				sol = true
			}
		}
	}
	return out, end + 3, true, bare
}

func FuzzDataReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "a\n.\n.\r\n", "a\r\n.\nb\r\n.\r\n",
		"x\r.\r\n\r\n.\r\n", "\r\n.\r\n", ".\r", "a\r\n.\r", "..x\r\n..\r\n.\r\nNOOP\r\n", "a\rb\r\n.\r\n"} {
		f.Add([]byte(s), uint8(16))
	}
	f.Fuzz(func(t *testing.T, in []byte, bufSize uint8) {
		wantOut, wantConsumed, wantDone, wantBare := refDecode(in)
		r := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(in)), 16+int(bufSize))
		var d dotDecoder
		var out []byte
		err := readData(r, &d, func(b []byte) { out = append(out, b...) })
		if !wantDone {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("no terminator in %q but err %v", in, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		rest, _ := io.ReadAll(r)
		if consumed := len(in) - len(rest); consumed != wantConsumed {
			t.Fatalf("%q: consumed %d, want %d", in, consumed, wantConsumed)
		}
		if d.bare != wantBare {
			t.Fatalf("%q: bare %v, want %v", in, d.bare, wantBare)
		}
		if !d.bare {
			if !bytes.Equal(out, wantOut) {
				t.Fatalf("%q: out %q, want %q", in, out, wantOut)
			}
			// Accepted data never contains a bare LF or CR.
			if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) || bytes.Count(out, []byte("\r")) != bytes.Count(out, []byte("\n")) {
				t.Fatalf("%q: accepted output %q has bare CR/LF", in, out)
			}
		}
	})
}

func FuzzCRLFChecker(f *testing.F) {
	f.Add([]byte("a\r\nb\r\n"), uint8(3))
	f.Add([]byte("a\nb"), uint8(1))
	f.Add([]byte("a\r"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		var c crlfChecker
		for rest := in; len(rest) > 0; {
			n := int(split)%7 + 1
			n = min(n, len(rest))
			c.check(rest[:n])
			rest = rest[n:]
		}
		got := c.end()
		want := bytes.Count(in, []byte("\n")) == bytes.Count(in, []byte("\r\n")) &&
			bytes.Count(in, []byte("\r")) == bytes.Count(in, []byte("\r\n"))
		if got != want {
			t.Fatalf("%q split %d: clean %v, want %v", in, split, got, want)
		}
	})
}
