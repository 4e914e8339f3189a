package inflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// chunk is what a client sent at once, and what it decompresses to.
type chunk struct{ wire, plain []byte }

func loadChunks(t *testing.T) []chunk {
	t.Helper()
	b, err := os.ReadFile("testdata/partial-flush.bin")
	if err != nil {
		t.Fatal(err)
	}
	var out []chunk
	for len(b) > 0 {
		n := binary.BigEndian.Uint32(b)
		w := b[4 : 4+n]
		b = b[4+n:]
		m := binary.BigEndian.Uint32(b)
		p := b[4 : 4+m]
		b = b[4+m:]
		out = append(out, chunk{w, p})
	}
	return out
}

// TestReturnsAtEachFlush feeds zlib output chunk by chunk through a pipe,
// as a client would send it, and requires each chunk's commands to come
// out before the next chunk is sent. The second chunk (17 commands, one
// Z_PARTIAL_FLUSH, a dynamic block) is the one compress/flate and
// klauspost/compress waited on forever.
func TestReturnsAtEachFlush(t *testing.T) {
	chunks := loadChunks(t)
	pr, pw := io.Pipe()
	r := NewReader(bufio.NewReader(pr))
	for i, c := range chunks {
		go func() { pw.Write(c.wire) }()
		got := make([]byte, 0, len(c.plain))
		buf := make([]byte, 4096)
		done := make(chan error, 1)
		go func() {
			for len(got) < len(c.plain) {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("chunk %d: its data did not come out before the next chunk was sent (got %q)", i, got)
		}
		if !bytes.Equal(got, c.plain) {
			t.Fatalf("chunk %d: got %q, want %q", i, got, c.plain)
		}
	}
	pw.Close()
}

// TestRoundTrip compares with compress/flate's writer over random and
// repetitive data, at every level, with flushes in between.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for level := -2; level <= 9; level++ {
		var comp bytes.Buffer
		w, err := flate.NewWriter(&comp, level)
		if err != nil {
			t.Fatal(err)
		}
		var plain bytes.Buffer
		for i := 0; i < 40; i++ {
			var part []byte
			switch i % 3 {
			case 0:
				part = make([]byte, rng.IntN(5000))
				for j := range part {
					part[j] = byte(rng.IntN(256))
				}
			case 1:
				part = bytes.Repeat([]byte("a UID FETCH 1:* (FLAGS)\r\n"), rng.IntN(400))
			default:
				part = bytes.Repeat([]byte{byte(i)}, rng.IntN(70000))
			}
			plain.Write(part)
			w.Write(part)
			if i%5 == 0 {
				w.Flush()
			}
		}
		w.Close()
		got, err := io.ReadAll(NewReader(bufio.NewReader(&comp)))
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		if !bytes.Equal(got, plain.Bytes()) {
			t.Fatalf("level %d: round trip differs (%d vs %d bytes)", level, len(got), plain.Len())
		}
	}
}

func TestCorrupt(t *testing.T) {
	for _, in := range [][]byte{
		{0x07},                   // reserved block type
		{0x00, 0x01, 0x00, 0x00}, // stored LEN/NLEN mismatch
		{0x04, 0x00},             // dynamic header without tables
	} {
		_, err := io.ReadAll(NewReader(bufio.NewReader(bytes.NewReader(in))))
		if err == nil {
			t.Errorf("%x: no error", in)
		}
	}
}

// FuzzInflate checks that any input either decodes to what compress/flate
// decodes or fails, and never panics or loops.
func FuzzInflate(f *testing.F) {
	for _, c := range []string{"hello", "a NOOP\r\n", string(bytes.Repeat([]byte("xyz"), 1000))} {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, 6)
		w.Write([]byte(c))
		w.Close()
		f.Add(b.Bytes())
	}
	f.Add([]byte{0x07})
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
		got, gerr := io.ReadAll(NewReader(bufio.NewReader(bytes.NewReader(in))))
		if werr == nil && gerr == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, compress/flate %q", got, want)
		}
		if werr == nil && gerr != nil {
			t.Fatalf("compress/flate decodes it, we fail: %v", gerr)
		}
	})
}
