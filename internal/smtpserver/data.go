package smtpserver

import (
	"bufio"
	"bytes"
)

// States of the DATA decoder.
const (
	stSOL   uint8 = iota // at the start of a line (after CRLF, or at the start)
	stMid                // inside a line
	stCR                 // inside a line, last byte seen was CR
	stDot                // a '.' at the start of a line was seen (and dropped)
	stDotCR              // ".\r" at the start of a line: end if LF follows
	stDone               // CRLF "." CRLF seen
)

var crOnly = []byte{'\r'}

// dotDecoder removes the transparency dots of DATA (RFC 5321 §4.5.2) and
// finds the end of the mail data, which is only CRLF "." CRLF (§4.1.1.4);
// the start of the data counts as following a CRLF. It also notes any bare
// LF or bare CR (not part of a CRLF pair): SMTP smuggling relies on servers
// that treat "\n.\n" or "\r\n.\n" as the end of data, so such a message is
// refused whole (RFC 5321 §2.3.8 allows CR and LF only as CRLF).
//
// A line starts only after CRLF: after a bare LF no dot is removed and a
// following ".\r\n" does not end the data.
type dotDecoder struct {
	st   uint8
	bare bool // a bare CR or LF was seen
}

// feed decodes b, calling emit with the unstuffed bytes (slices of b, or
// crOnly). It returns how many bytes of b belong to the mail data including
// the terminating ".\r\n", and whether the end was reached.
func (d *dotDecoder) feed(b []byte, emit func([]byte)) (int, bool) {
	i, start := 0, 0
	flush := func(end int) {
		if end > start {
			emit(b[start:end])
		}
	}
	for i < len(b) {
		switch d.st {
		case stSOL:
			if b[i] == '.' {
				flush(i)
				i++
				start = i
				d.st = stDot
				continue
			}
			d.st = stMid
		case stDot:
			if b[i] == '\r' {
				flush(i)
				i++
				start = i
				d.st = stDotCR
				continue
			}
			d.st = stMid
		case stDotCR:
			if b[i] == '\n' {
				d.st = stDone
				return i + 1, true
			}
			// The held-back CR was not the terminator after all.
			emit(crOnly)
			d.bare = true
			d.st = stMid
		case stCR:
			if b[i] == '\n' {
				i++
				d.st = stSOL
				continue
			}
			d.bare = true
			d.st = stMid
		case stMid:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				rest := b[i:]
				if k := bytes.IndexByte(rest, '\r'); k >= 0 && k < len(rest)-1 {
					d.bare = true
				}
				if rest[len(rest)-1] == '\r' {
					d.st = stCR
				}
				i = len(b)
				continue
			}
			line := b[i : i+j]
			crlf := j > 0 && line[j-1] == '\r'
			if crlf {
				line = line[:j-1]
			} else {
				d.bare = true
			}
			if bytes.IndexByte(line, '\r') >= 0 {
				d.bare = true
			}
			i += j + 1
			if crlf {
				d.st = stSOL
			} else {
				d.st = stMid
			}
		}
	}
	flush(len(b))
	return len(b), false
}

// readData runs the decoder over r until the end of the mail data, without
// copying: emit gets slices of r's buffer, valid only during the call.
func readData(r *bufio.Reader, d *dotDecoder, emit func([]byte)) error {
	for {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				return err
			}
		}
		b, _ := r.Peek(r.Buffered())
		n, done := d.feed(b, emit)
		if _, err := r.Discard(n); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// crlfChecker finds bare CR and LF in BDAT chunks (RFC 3030 §2: chunks are
// not dot-stuffed, so only the line endings need checking). A CRLF pair may
// be split across chunks.
type crlfChecker struct {
	prevCR bool // the previous chunk ended in CR
	bare   bool
}

// check scans b. Every LF must follow a CR, and there must be exactly as
// many CRs as such LFs (else some CR is bare).
func (c *crlfChecker) check(b []byte) {
	if len(b) == 0 || c.bare {
		return
	}
	crs := bytes.Count(b, crOnly)
	pairs := 0
	rest := b
	off := 0
	for {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		pos := off + j
		if pos == 0 {
			if !c.prevCR {
				c.bare = true
				return
			}
			crs++ // the CR from the previous chunk
		} else if b[pos-1] != '\r' {
			c.bare = true
			return
		}
		pairs++
		off = pos + 1
		rest = b[off:]
	}
	if c.prevCR && b[0] != '\n' {
		c.bare = true
		return
	}
	c.prevCR = b[len(b)-1] == '\r'
	if c.prevCR {
		crs--
	}
	if crs != pairs {
		c.bare = true
	}
}

// end reports whether the content seen ended cleanly (no CR left hanging).
func (c *crlfChecker) end() bool {
	if c.prevCR {
		c.bare = true
	}
	return !c.bare
}
