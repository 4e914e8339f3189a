package pop3server

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
)

// Line length limits.
const (
	// maxCommandLine is the longest command line accepted, terminating CRLF
	// included (RFC 2449 §4: "The maximum length of a command line is 255
	// octets, including the terminating CRLF").
	maxCommandLine = 255
	// maxAuthLine bounds AUTH command lines with an initial response and
	// SASL continuation lines (RFC 5034 §4 lifts the 255-octet limit for
	// them); 8 KiB is far more than any PLAIN response needs.
	maxAuthLine = 8 * 1024
)

var (
	errLineTooLong = errors.New("line too long")
	errEmptyLine   = errors.New("empty command line")
	errBadKeyword  = errors.New("invalid command keyword")
	errBadChars    = errors.New("control characters in command line")
)

// command is one parsed client command line (RFC 1939 §3: a keyword,
// possibly followed by arguments, separated by spaces).
type command struct {
	name string   // keyword, upper-cased: keywords are case-insensitive
	args []string // space-separated arguments, empty ones (from runs of spaces) dropped
	rest string   // everything after the keyword and its single separating space, verbatim
}

// parseCommand parses one command line without its line ending. Keywords
// are 3 or 4 ASCII letters in RFC 1939 and RFC 2449, but any run of letters
// is accepted here so that unknown commands get "-ERR unknown command"
// rather than a syntax error. Octets 0x80-0xFF pass through (UTF-8
// passwords); other control characters are refused. Lengths are the
// caller's business: the line limit (RFC 2449 §4) bounds every argument
// except an AUTH initial response.
func parseCommand(line []byte) (command, error) {
	if len(line) == 0 {
		return command{}, errEmptyLine
	}
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			return command{}, errBadChars
		}
	}
	kw, rest, _ := bytes.Cut(line, []byte{' '})
	if len(kw) == 0 || len(kw) > 16 {
		return command{}, errBadKeyword
	}
	for _, c := range kw {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return command{}, errBadKeyword
		}
	}
	cmd := command{name: strings.ToUpper(string(kw)), rest: string(rest)}
	for f := range strings.SplitSeq(cmd.rest, " ") {
		if f == "" {
			continue
		}
		cmd.args = append(cmd.args, f)
	}
	return cmd, nil
}

// trimEOL strips a trailing CRLF or bare LF.
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// readLine reads one line of at most max octets (line ending included) and
// returns it without the line ending. A longer line is read and discarded
// up to its LF and errLineTooLong is returned, so the session can answer
// -ERR and carry on (RFC 2449 §4). The result aliases buf.
func readLine(r *bufio.Reader, buf []byte, max int) ([]byte, []byte, error) {
	buf = buf[:0]
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max {
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, buf, errLineTooLong
			}
			return trimEOL(buf), buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, buf, err
		}
	}
}

// completeLineBuffered reports whether r holds a whole line already, that
// is whether the next command can be read without blocking. Replies are
// flushed only when it cannot (RFC 2449 §6.6 PIPELINING).
func completeLineBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// parseMsgNumber parses a message number: decimal digits only (no sign),
// 1 or more (RFC 1939 §3 "msg"), at most 9 digits so it fits an int.
func parseMsgNumber(s string) (int, bool) {
	n, ok := parseDecimal(s)
	return n, ok && n >= 1
}

// parseDecimal parses a non-negative decimal of at most 9 digits.
func parseDecimal(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
