package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sync"
)

// copyChunk is the read size used when streaming a message: large enough
// for throughput, small enough that a session never holds more than this
// (plus its bufio.Writer) of a message in memory.
const copyChunk = 32 * 1024

var chunkPool = sync.Pool{New: func() any { b := make([]byte, copyChunk); return &b }}

// dotStuffer turns a message into the body of a multi-line response (RFC
// 1939 §3): a line starting with "." gets another "." in front, bare LF
// line endings become CRLF, and finish ends the last line with CRLF before
// the terminating ".\r\n". With bodyLines >= 0 it stops after the header,
// the blank line and that many body lines (RFC 1939 §7 TOP).
type dotStuffer struct {
	w           *bufio.Writer
	bodyLines   int   // TOP's line count; -1 for the whole message (RETR)
	atLineStart bool  // the next octet begins a line
	prevCR      bool  // the last octet of the current line was CR
	lineLen     int64 // octets of the current line so far, CR included
	inBody      bool  // the blank line after the header has been passed
	sentBody    int   // body lines written so far
	done        bool  // TOP limit reached; ignore the rest
}

func newDotStuffer(w *bufio.Writer, bodyLines int) *dotStuffer {
	d := &dotStuffer{w: w, bodyLines: bodyLines, atLineStart: true}
	d.checkDone()
	return d
}

func (d *dotStuffer) checkDone() {
	if d.bodyLines >= 0 && d.inBody && d.sentBody >= d.bodyLines {
		d.done = true
	}
}

// write processes one chunk of the message. Errors are those of the
// underlying writer (the client connection).
func (d *dotStuffer) write(p []byte) error {
	for len(p) > 0 && !d.done {
		if d.atLineStart {
			d.atLineStart = false
			if p[0] == '.' {
				// RFC 1939 §3: "each line ... beginning with the
				// termination octet is byte-stuffed".
				if err := d.w.WriteByte('.'); err != nil {
					return err
				}
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if _, err := d.w.Write(p); err != nil {
				return err
			}
			d.prevCR = p[len(p)-1] == '\r'
			d.lineLen += int64(len(p))
			return nil
		}
		seg := p[:i]
		if _, err := d.w.Write(seg); err != nil {
			return err
		}
		if len(seg) > 0 {
			d.prevCR = seg[len(seg)-1] == '\r'
		}
		d.lineLen += int64(len(seg))
		eol := "\n"
		if d.prevCR {
			d.lineLen-- // the CR belongs to the line ending
		} else {
			eol = "\r\n" // bare LF: the response must use CRLF
		}
		if _, err := d.w.WriteString(eol); err != nil {
			return err
		}
		if !d.inBody {
			d.inBody = d.lineLen == 0 // RFC 5322 §2.1: a blank line ends the header
		} else {
			d.sentBody++
		}
		d.checkDone()
		d.atLineStart, d.prevCR, d.lineLen = true, false, 0
		p = p[i+1:]
	}
	return nil
}

// finish ends an unterminated last line and writes the terminating line.
func (d *dotStuffer) finish() error {
	if !d.atLineStart && !d.done {
		eol := "\r\n"
		if d.prevCR {
			eol = "\n"
		}
		if _, err := d.w.WriteString(eol); err != nil {
			return err
		}
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// errClient wraps a failure writing to the client, to tell it apart from a
// failure reading the message.
type errClient struct{ err error }

func (e errClient) Error() string { return "writing to client: " + e.err.Error() }
func (e errClient) Unwrap() error { return e.err }

// streamMessage copies r into w as a dot-stuffed multi-line body, one
// chunk at a time, stopping early for TOP. It never holds more than one
// chunk of the message. ctx is checked between chunks so a forced shutdown
// interrupts a long transfer.
func streamMessage(ctx context.Context, w *bufio.Writer, r io.Reader, bodyLines int) error {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	d := newDotStuffer(w, bodyLines)
	for !d.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if werr := d.write(buf[:n]); werr != nil {
				return errClient{werr}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := d.finish(); err != nil {
		return errClient{err}
	}
	return nil
}
