package loadgen

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// maxLine is the longest body line written, RFC 5322 §2.1.1's
// recommended limit of 78 characters before CRLF.
const maxLine = 78

// bodyAlphabet supplies body characters. It has no '.', so no line needs
// dot-stuffing (RFC 5321 §4.5.2) and the DATA payload is the message
// verbatim, and no leading space or tab, which could read as a folded
// header in a broken parser.
const bodyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "

// messageBuilder makes the test messages of one run.
type messageBuilder struct {
	from  string
	rcpts []string
	size  int    // target size of the whole message, headers included
	runID string // makes Message-IDs unique across runs
	host  string // right-hand side of Message-IDs

	// bodies caches writeBody's output by (length, seq offset): a body
	// depends on nothing else, and building 10 KB byte by byte for every
	// message cost the client as much CPU as the rest of its work, CPU
	// that the server under test shares on a small machine.
	bodies sync.Map // bodyKey -> []byte
}

type bodyKey struct{ n, off int }

func newMessageBuilder(from string, rcpts []string, size int, now time.Time) *messageBuilder {
	host := "loadgen.invalid"
	if _, dom, ok := strings.Cut(from, "@"); ok && dom != "" {
		host = dom
	}
	return &messageBuilder{from: from, rcpts: rcpts, size: size, runID: fmt.Sprintf("%x", now.UnixNano()), host: host}
}

// build returns message seq: RFC 5322 headers (From, To, Subject with the
// sequence number, Date, Message-ID) and a body of printable ASCII lines of
// at most 78 characters, together size bytes long when size leaves room
// for the headers and a one-line body. Lines end in CRLF.
func (b *messageBuilder) build(seq int, now time.Time) []byte {
	var m bytes.Buffer
	m.Grow(b.size + 64)
	fmt.Fprintf(&m, "From: <%s>\r\n", b.from)
	m.WriteString("To: ")
	for i, r := range b.rcpts {
		if i > 0 {
			m.WriteString(",\r\n ") // folded (RFC 5322 §2.2.3): one address per line
		}
		fmt.Fprintf(&m, "<%s>", r)
	}
	m.WriteString("\r\n")
	fmt.Fprintf(&m, "Subject: yizhan-load message %d\r\n", seq)
	fmt.Fprintf(&m, "Date: %s\r\n", now.Format(time.RFC1123Z)) // RFC 5322 §3.3 date-time
	fmt.Fprintf(&m, "Message-ID: <%s.%d@%s>\r\n", b.runID, seq, b.host)
	m.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	n := max(b.size-m.Len(), 3)
	k := bodyKey{n, seq % len(bodyAlphabet)}
	body, ok := b.bodies.Load(k)
	if !ok {
		var bb bytes.Buffer
		writeBody(&bb, n, seq)
		body, _ = b.bodies.LoadOrStore(k, bb.Bytes())
	}
	m.Write(body.([]byte))
	return m.Bytes()
}

// writeBody appends n bytes (n >= 3) of CRLF-terminated lines, none longer
// than maxLine characters and none empty.
func writeBody(m *bytes.Buffer, n, seq int) {
	full := maxLine + 2
	lines := n / full
	rest := n % full
	if rest == 1 || rest == 2 {
		// Too short for a non-empty line of its own: shorten the last full
		// line to make room.
		if lines == 0 {
			rest = 3 // n < 3 cannot happen; keep one character anyway
		} else {
			lines--
			rest += full
		}
	}
	var lengths []int
	for range lines {
		lengths = append(lengths, maxLine)
	}
	switch {
	case rest > full: // split between two lines, each at least one character
		a := (rest - 4) / 2
		lengths = append(lengths, a, rest-4-a)
	case rest > 0:
		lengths = append(lengths, rest-2)
	}
	for i, l := range lengths {
		off := (seq + i) % len(bodyAlphabet)
		for j := range l {
			c := bodyAlphabet[(off+j)%len(bodyAlphabet)]
			if j == 0 && c == ' ' {
				c = '-'
			}
			m.WriteByte(c)
		}
		m.WriteString("\r\n")
	}
}
