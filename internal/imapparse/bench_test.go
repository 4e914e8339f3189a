package imapparse

import (
	"bufio"
	"testing"
)

// loopReader serves the same command over and over, as a busy client would.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], l.data[l.off:])
		n += k
		l.off = (l.off + k) % len(l.data)
	}
	return n, nil
}

func BenchmarkReadCommand(b *testing.B) {
	for _, bc := range []struct{ name, cmd string }{
		{"uid-fetch-flags", "a1 UID FETCH 1:* (FLAGS)\r\n"},
		// What Thunderbird sends to fill a message list.
		{"fetch-header-fields", "a2 UID FETCH 1:4500 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS " +
			"(From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n"},
		{"search", "a3 UID SEARCH RETURN (ALL) CHARSET UTF-8 OR (FROM alice SINCE 1-Feb-2024) NOT DELETED\r\n"},
		{"append-literal", "a4 APPEND INBOX (\\Seen) {64+}\r\n" + string(make([]byte, 62)) + "\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.cmd)
			for i := range data {
				if data[i] == 0 {
					data[i] = 'x'
				}
			}
			r := NewReader(bufio.NewReader(&loopReader{data: data}), nil, Limits{})
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadCommand(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
