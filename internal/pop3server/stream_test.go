package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// stuff runs streamMessage over in, fed by r.
func stuff(t testing.TB, r io.Reader, bodyLines int) string {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if err := streamMessage(context.Background(), w, r, bodyLines); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestStreamMessage(t *testing.T) {
	for _, tc := range []struct {
		in        string
		bodyLines int
		want      string
	}{
		{"", -1, ".\r\n"},
		{"a\r\n", -1, "a\r\n.\r\n"},
		{"a", -1, "a\r\n.\r\n"},
		{"a\r", -1, "a\r\n.\r\n"},
		{".\r\n", -1, "..\r\n.\r\n"},
		{".", -1, "..\r\n.\r\n"},
		{"..x\r\n.y\r\nz.\r\n", -1, "...x\r\n..y\r\nz.\r\n.\r\n"},
		{"bare\nlf\n.dot\n", -1, "bare\r\nlf\r\n..dot\r\n.\r\n"},
		{"cr\rinside\r\n", -1, "cr\rinside\r\n.\r\n"},
		{"H: 1\r\n\r\nb1\r\nb2\r\n", 0, "H: 1\r\n\r\n.\r\n"},
		{"H: 1\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"H: 1\r\n\r\n.b1\r\nb2", 5, "H: 1\r\n\r\n..b1\r\nb2\r\n.\r\n"},
		{"H: 1\n\n\nb2\n", 1, "H: 1\r\n\r\n\r\n.\r\n"},
		{"H: 1\r\nH: 2", 3, "H: 1\r\nH: 2\r\n.\r\n"},
	} {
		// Whole, one octet at a time, and split at every position: chunk
		// boundaries must not matter.
		readers := map[string]func() io.Reader{
			"whole":   func() io.Reader { return strings.NewReader(tc.in) },
			"bytes":   func() io.Reader { return iotest.OneByteReader(strings.NewReader(tc.in)) },
			"halfway": func() io.Reader { return iotest.HalfReader(strings.NewReader(tc.in)) },
		}
		for i := range len(tc.in) {
			readers[fmt.Sprintf("split%d", i)] = func() io.Reader {
				return io.MultiReader(strings.NewReader(tc.in[:i]), strings.NewReader(tc.in[i:]))
			}
		}
		for name, r := range readers {
			if got := stuff(t, r(), tc.bodyLines); got != tc.want {
				t.Errorf("%q top=%d %s: got %q, want %q", tc.in, tc.bodyLines, name, got, tc.want)
			}
		}
	}
}

func TestStreamMessageReadError(t *testing.T) {
	w := bufio.NewWriter(io.Discard)
	r := io.MultiReader(strings.NewReader("abc\r\n"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if err := streamMessage(context.Background(), w, r, -1); err == nil {
		t.Fatal("read error swallowed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := streamMessage(ctx, w, strings.NewReader("x"), -1); err == nil {
		t.Fatal("cancelled context ignored")
	}
}

// FuzzDotStuff checks that un-stuffing the response gives back the message
// (with CRLF line endings and a final CRLF) for any input.
func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\n", "..\n.", "x\r\r\n", "\n\n.\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := stuff(t, iotest.HalfReader(bytes.NewReader(in)), -1)
		if !strings.HasSuffix(out, "\r\n.\r\n") && out != ".\r\n" {
			t.Fatalf("no terminator: %q", out)
		}
		body := strings.TrimSuffix(out, ".\r\n")
		if strings.Contains(body, "\r\n.\r\n") || strings.HasPrefix(body, ".\r\n") {
			t.Fatalf("early terminator in %q", out)
		}
		var lines []string
		if body != "" {
			for l := range strings.SplitSeq(strings.TrimSuffix(body, "\r\n"), "\r\n") {
				lines = append(lines, strings.TrimPrefix(l, "."))
			}
		}
		want := strings.ReplaceAll(strings.ReplaceAll(string(in), "\r\n", "\n"), "\n", "\r\n")
		if want != "" && !strings.HasSuffix(want, "\r\n") {
			want = strings.TrimSuffix(want, "\r") + "\r\n"
		}
		got := strings.Join(lines, "\r\n")
		if len(lines) > 0 {
			got += "\r\n"
		}
		if got != want {
			t.Fatalf("round trip of %q: got %q, want %q", in, got, want)
		}
	})
}

// maxWriter records the largest single Write.
type maxWriter struct{ max int }

func (w *maxWriter) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return len(p), nil
}

// bigMessage is a generated message of about size octets whose every
// seventh line starts with a dot; it is never held in memory whole.
type bigMessage struct {
	lines int
}

// newBigMessage makes a message of at least size octets (lines average 73).
func newBigMessage(size int) bigMessage { return bigMessage{lines: size / 70} }

func (m bigMessage) reader() io.Reader {
	i := -1
	line := make([]byte, 0, 128) // reused: the generator must not allocate per line
	var cur []byte
	dots, ps := strings.Repeat("d", 50), strings.Repeat("p", 52)
	return readerFunc(func(p []byte) (int, error) {
		n := 0
		for n < len(p) {
			if len(cur) == 0 {
				i++
				switch {
				case i == 0:
					line = append(line[:0], "Subject: big\r\n\r\n"...)
				case i > m.lines:
					if n == 0 {
						return 0, io.EOF
					}
					return n, nil
				case i%7 == 0:
					line = append(line[:0], ".dotted line "...)
					line = strconv.AppendInt(line, int64(i), 10)
					line = append(append(append(line, ' '), dots...), "\r\n"...)
				default:
					line = append(line[:0], "plain line "...)
					line = strconv.AppendInt(line, int64(i), 10)
					line = append(append(append(line, ' '), ps...), "\r\n"...)
				}
				cur = line
			}
			c := copy(p[n:], cur)
			cur = cur[c:]
			n += c
		}
		return n, nil
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// sizeAndHash measures the generated message.
func (m bigMessage) sizeAndHash() (int64, [32]byte) {
	h := sha256.New()
	n, _ := io.Copy(h, m.reader())
	var sum [32]byte
	h.Sum(sum[:0])
	return n, sum
}

func TestStreamMessageWritesInChunks(t *testing.T) {
	m := newBigMessage(4 << 20)
	var mw maxWriter
	w := bufio.NewWriterSize(&mw, writeBufSize)
	if err := streamMessage(context.Background(), w, m.reader(), -1); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if mw.max > writeBufSize {
		t.Errorf("largest write %d octets, want at most %d", mw.max, writeBufSize)
	}
}

// TestRetrLargeMessageStreams sends a 20 MB message over a real socket and
// checks it arrives intact while the server reads it in small pieces and
// allocates far less than its size.
func TestRetrLargeMessageStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB transfer")
	}
	env := newTestEnv(t, nil)
	m := newBigMessage(20 << 20)
	size, want := m.sizeAndHash()
	env.setBox("alice@example.com", fakeMessage{uidl: "big", size: size, gen: m.reader})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c.expect("RETR 1", fmt.Sprintf("+OK %d octets", size))
	h := sha256.New()
	for {
		l, err := c.r.ReadSlice('\n')
		if err != nil {
			t.Fatalf("reading message: %v", err)
		}
		if string(l) == ".\r\n" {
			break
		}
		if l[0] == '.' {
			l = l[1:]
		}
		h.Write(l)
	}
	runtime.ReadMemStats(&after)
	var got [32]byte
	h.Sum(got[:0])
	if got != want {
		t.Fatal("message arrived altered")
	}
	c.expect("NOOP", "+OK")

	// Generous bounds: loading the message whole would allocate at least
	// its 20 MB; streaming allocates (client side included) a few hundred KB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("RETR of %d octets: %d octets allocated, heap in use %+d", size, alloc, int64(after.HeapInuse)-int64(before.HeapInuse))
	if alloc > 8<<20 {
		t.Errorf("RETR of %d octets allocated %d octets", size, alloc)
	}
	env.backend.mu.Lock()
	maxRead := env.backend.maxRead
	env.backend.mu.Unlock()
	if maxRead > 64<<10 {
		t.Errorf("message read into a %d-octet buffer", maxRead)
	}
}

func BenchmarkRetr(b *testing.B) {
	env := newTestEnv(b, nil)
	m := newBigMessage(1 << 20)
	size, _ := m.sizeAndHash()
	env.setBox("alice@example.com", fakeMessage{uidl: "big", size: size, gen: m.reader})
	c := env.dialTLS()
	c.expectPrefix(c.loginCmd("alice@example.com", "secret pw"), "+OK")
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c.send("RETR 1")
		c.line()
		for {
			l, err := c.r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if string(l) == ".\r\n" {
				break
			}
		}
	}
}
