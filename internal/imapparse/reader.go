// Package imapparse reads IMAP client commands off the wire and turns them
// into typed Go values for internal/imapserver. It covers every command of
// IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) and the extensions Yizhan
// announces: LITERAL+, SASL-IR, ID, ENABLE, IDLE, NAMESPACE, UNSELECT,
// UIDPLUS, MULTIAPPEND, CATENATE, MOVE, CREATE-SPECIAL-USE, LIST-EXTENDED,
// LIST-STATUS, ESEARCH, SEARCHRES, CONDSTORE, QRESYNC, STATUS=SIZE, BINARY,
// UTF8=ACCEPT, COMPRESS, QUOTA, SORT, SORT=DISPLAY, THREAD, ESORT,
// CONTEXT=SEARCH/SORT, NOTIFY and URLAUTH.
//
// A command is one logical line that literals may interrupt (RFC 9051 §4.3):
// "{n}" is synchronising (the client waits for a continuation request
// before sending the octets), "{n+}" is not (RFC 7888) and "~{n}" is a
// literal8 that may hold NUL (RFC 3516). The Reader parses the line segment
// in hand with one octet of look-ahead and fetches a literal only when the
// grammar reaches it, so the limit that applies (an APPEND message or any
// other string) is checked before a single octet of the literal is read.
//
// ReadCommand reports four kinds of failure. A *ParseError or a
// *TooBigError or a *BadCharsetError means the offending command has been
// consumed and the session can answer it (BAD, NO [TOOBIG], NO [BADCHARSET])
// and go on. Anything else (I/O errors as the bufio.Reader returned them,
// the error of the continuation callback, ErrDiscardLimit) ends the session.
package imapparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Default limits, used for a zero (or negative) field of Limits.
const (
	// DefaultMaxLine bounds the non-literal octets of one command. The
	// longest lines real clients send are UID sets after a resync and
	// SEARCH programs; 64 KiB leaves room for thousands of ranges
	// (RFC 7162 §4 asks servers to allow at least 8192 octets).
	DefaultMaxLine = 64 << 10
	// DefaultMaxLiteral bounds one literal outside APPEND: those carry
	// mailbox names, passwords and search strings, never messages.
	DefaultMaxLiteral = 64 << 10
	// DefaultMaxAppend bounds an APPEND message when the server passes no
	// APPENDLIMIT of its own.
	DefaultMaxAppend = 64 << 20
	// DefaultMaxNesting bounds parenthesised search keys and NOT/OR chains;
	// no client nests deeper than a handful of levels.
	DefaultMaxNesting = 32
	// defaultLiteralsFactor sets the default MaxLiterals as a multiple of
	// MaxLiteral: enough for a LOGIN with two literals or a SEARCH with a
	// few, while a line full of "{n+}" announcements cannot make us hold
	// thousands of maximum-size literals at once.
	defaultLiteralsFactor = 4
)

// Limits bound what one command may make the Reader read and keep. A zero
// field takes its default.
type Limits struct {
	MaxLine    int   // octets of one command line outside literals (default 64 KiB)
	MaxLiteral int64 // one literal in any command but APPEND's message (default 64 KiB)
	MaxAppend  int64 // an APPEND message literal; the server passes its APPENDLIMIT (default 64 MiB)
	MaxNesting int   // parenthesis / search-key nesting depth (default 32)
	// MaxLiterals bounds all literals of one command together, the APPEND
	// message apart (default 4×MaxLiteral): each "{n+}" costs only a few
	// octets of line, so without it a single command could pin
	// MaxLine/5 literals of MaxLiteral octets each.
	MaxLiterals int64
	// MaxAppendTotal bounds the message literals and CATENATE TEXT parts
	// of one APPEND together (default MaxAppend). The Reader holds them
	// all until the command ends, so MULTIAPPEND (RFC 3502) must not let
	// one command pin many times what a single APPEND may.
	MaxAppendTotal int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = DefaultMaxLiteral
	}
	if l.MaxAppend <= 0 {
		l.MaxAppend = DefaultMaxAppend
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = DefaultMaxNesting
	}
	if l.MaxAppendTotal <= 0 {
		l.MaxAppendTotal = l.MaxAppend
	}
	if l.MaxLiterals <= 0 {
		l.MaxLiterals = defaultLiteralsFactor * l.MaxLiteral
	}
	return l
}

// ParseError is a syntax error in a client command. By the time it is
// returned the rest of the command has been read and dropped, so the server
// answers "Tag BAD Msg" and reads the next command. Tag is "*" when no tag
// could be read (the answer is then untagged) and "" for ReadLine.
type ParseError struct {
	Tag string // the command's tag, "*" if none could be read
	Msg string // human-readable, safe to send after BAD: printable, no CR or LF
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("imapparse: command %q: %s", e.Tag, e.Msg)
}

// TooBigError reports a literal over its limit (RFC 9051 §7.1: the server
// answers "Tag NO [TOOBIG]"; RFC 7889 for APPEND). A synchronising
// literal was neither requested nor read, so the client, still waiting for
// a continuation request, sees the tagged answer instead and sends no more
// of the command (RFC 9051 §2.2.1). A non-synchronising
// one has been read and dropped together with the rest of its command
// (RFC 7888 §4 lets the server do that or close the connection).
type TooBigError struct {
	Tag    string // the command's tag
	Append bool   // the literal was an APPEND message or CATENATE TEXT part (limit MaxAppend)
	// Total is set when the literal fits MaxAppend but not what is left of
	// MaxAppendTotal after the command's earlier messages; Limit is then
	// MaxAppendTotal.
	Total bool
	Size  int64 // the size the client announced
	Limit int64 // the limit it exceeded
}

func (e *TooBigError) Error() string {
	what := "literal"
	if e.Append {
		what = "APPEND message"
	}
	if e.Total {
		what = "APPEND messages together"
	}
	return fmt.Sprintf("imapparse: command %q: %s of %d octets exceeds limit of %d", e.Tag, what, e.Size, e.Limit)
}

// BadCharsetError reports a SEARCH, SORT or THREAD charset other than
// UTF-8 and US-ASCII. The command was well-formed and has been consumed; the
// server answers "Tag NO [BADCHARSET (UTF-8 US-ASCII)]" (RFC 9051 §6.4.4).
type BadCharsetError struct {
	Tag     string // the command's tag
	Name    string // "SEARCH", "SORT" or "THREAD"
	Charset string // the charset as the client sent it
}

func (e *BadCharsetError) Error() string {
	return fmt.Sprintf("imapparse: command %q: %s charset %q not supported", e.Tag, e.Name, e.Charset)
}

// ErrDiscardLimit is returned (wrapped) when recovering from an error
// would mean reading and dropping more than MaxAppend+MaxLine octets, such as a
// huge "{n+}" literal after a syntax error. The session must end: the
// stream can no longer be resynchronised at reasonable cost.
var ErrDiscardLimit = errors.New("imapparse: too much data to discard")

// tailKeep is how many octets of a discarded line are kept to see whether it
// ends in a literal announcement: "~{9223372036854775807+}" is 23.
const tailKeep = 32

// maxTagScan bounds how far into an over-long line a tag is looked for.
const maxTagScan = 256

// Reader reads IMAP commands from a client. It is not safe for concurrent
// use; one session owns one Reader.
type Reader struct {
	br   *bufio.Reader
	cont func() error
	lim  Limits
	utf8 bool // mailbox names are UTF-8, not modified UTF-7

	// State of the command being read, reset by begin.
	line     []byte            // segment in hand: up to CRLF or a literal announcement
	pos      int               // parse position in line
	lineLeft int               // MaxLine budget left for this command's segments
	litLeft  int64             // MaxLiterals budget left
	appLeft  int64             // MaxAppendTotal budget left
	dropLeft int64             // octets that may still be discarded before giving up
	tag      string            // tag for errors
	raw      bool              // reading a bare line (ReadLine): no literals, no tag
	done     bool              // the rest of the command has been consumed already
	badName  *MailboxNameError // first mailbox name that did not decode
	badNames int               // how many did not decode
}

// NewReader returns a Reader over br. cont is called before the octets of a
// synchronising literal {n} are read, so that the server can send its
// continuation request "+ Ready" (RFC 9051 §7.6); an error from it is
// returned by ReadCommand as is. It is not called for {n+} or ~{n+}
// (RFC 7888), nor for a literal over its limit. cont may be nil.
func NewReader(br *bufio.Reader, cont func() error, lim Limits) *Reader {
	return &Reader{br: br, cont: cont, lim: lim.withDefaults()}
}

// SetUTF8 switches how mailbox names (and LIST patterns) are taken: as
// modified UTF-7 (RFC 3501 §5.1.3) when off, the initial state, and as
// UTF-8 when on, after ENABLE UTF8=ACCEPT (RFC 6855 §3) or ENABLE IMAP4rev2
// (RFC 9051 §5.1).
func (r *Reader) SetUTF8(on bool) { r.utf8 = on }

// begin resets the per-command state.
func (r *Reader) begin(raw bool) {
	r.line = r.line[:0]
	r.pos = 0
	r.lineLeft = r.lim.MaxLine
	r.litLeft = r.lim.MaxLiterals
	r.appLeft = r.lim.MaxAppendTotal
	r.dropLeft = r.lim.MaxAppend + int64(r.lim.MaxLine)
	r.tag = "*"
	r.raw = raw
	r.done = false
	r.badName, r.badNames = nil, 0
	if raw {
		r.tag = ""
	}
}

// ReadCommand reads and parses the next command. See the package comment
// for what its errors mean to the session.
func (r *Reader) ReadCommand() (*Command, error) {
	r.begin(false)
	if err := r.readSegment(true); err != nil {
		return nil, err
	}
	cmd, err := r.parseCommand()
	if err != nil {
		var (
			pe *ParseError
			tb *TooBigError
			bc *BadCharsetError
		)
		if errors.As(err, &pe) || errors.As(err, &tb) || errors.As(err, &bc) {
			if serr := r.skipRest(); serr != nil {
				return nil, serr
			}
		}
		return nil, err
	}
	return cmd, nil
}

// ReadLine reads one raw line and returns it without its line ending: an
// AUTHENTICATE response (RFC 9051 §6.2.2) or IDLE's "DONE" (RFC 2177 §3).
// MaxLine applies; a longer line is read to its end, dropped and reported
// as a *ParseError with an empty Tag. The returned slice is the caller's.
func (r *Reader) ReadLine() ([]byte, error) {
	r.begin(true)
	if err := r.readSegment(true); err != nil {
		return nil, err
	}
	return bytes.Clone(r.line), nil
}

// readSegment reads the next piece of the command, up to and without its
// line ending, into r.line. IMAP lines end in CRLF (RFC 9051 §2.2); a bare
// LF is accepted too, as most servers do. An over-long piece is read to its
// end and dropped, with any non-synchronising literal it announces and the
// rest of the command, and reported as a *ParseError.
func (r *Reader) readSegment(first bool) error {
	r.line = r.line[:0]
	r.pos = 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		// lineLeft+2 leaves room for the CRLF, which does not count.
		if len(r.line)+len(chunk) > r.lineLeft+2 {
			return r.overlong(first, chunk, err)
		}
		r.line = append(r.line, chunk...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if first && len(r.line) == 0 {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		return err
	}
	r.line = trimEOL(r.line)
	if len(r.line) > r.lineLeft {
		// Only possible with a bare LF: the line is complete, drop it.
		r.line = append(r.line, '\n')
		return r.overlong(first, nil, nil)
	}
	r.lineLeft -= len(r.line)
	return nil
}

// overlong handles a segment that exceeds the line budget. r.line holds
// what was kept so far and chunk the data that did not fit; err is what
// ReadSlice returned with chunk (nil when chunk ends the line).
func (r *Reader) overlong(first bool, chunk []byte, err error) error {
	seen := append(r.line, chunk...)
	if first && !r.raw {
		// At least MaxLine+2 octets have been seen whatever the read sizes
		// were; looking at no more than that keeps the tag we report
		// independent of them.
		r.tag = tagPrefix(seen[:min(len(seen), maxTagScan, r.lim.MaxLine+1)])
	}
	r.done = true
	if int64(len(seen)) > r.dropLeft {
		return fmt.Errorf("imapparse: discarding line: %w", ErrDiscardLimit)
	}
	r.dropLeft -= int64(len(seen))
	var tail []byte
	if err == nil && len(seen) > 0 && seen[len(seen)-1] == '\n' {
		tail = trimEOL(lastN(seen, tailKeep+2))
	} else {
		if err != nil && err != bufio.ErrBufferFull {
			return eofToUnexpected(err)
		}
		var derr error
		tail, derr = r.discardLine(lastN(seen, tailKeep))
		if derr != nil {
			return derr
		}
	}
	r.line = r.line[:0]
	if !r.raw {
		if derr := r.dropLiterals(tail); derr != nil {
			return derr
		}
	}
	return &ParseError{Tag: r.tag, Msg: "command line too long"}
}

// discardLine reads and drops the rest of a line and returns its last few
// octets (without the line ending); prev is the tail of what was already read
// of it.
func (r *Reader) discardLine(prev []byte) ([]byte, error) {
	tail := append([]byte(nil), prev...)
	for {
		chunk, err := r.br.ReadSlice('\n')
		if int64(len(chunk)) > r.dropLeft {
			return nil, fmt.Errorf("imapparse: discarding line: %w", ErrDiscardLimit)
		}
		r.dropLeft -= int64(len(chunk))
		tail = lastN(append(tail, lastN(chunk, tailKeep+2)...), tailKeep+2)
		if err == nil {
			return trimEOL(tail), nil
		}
		if err != bufio.ErrBufferFull {
			return nil, eofToUnexpected(err)
		}
	}
}

// skipRest consumes what is left of the command after an error: the rest of
// the segment in hand is dropped and, as long as a segment ends in a
// non-synchronising literal, the literal and the next segment too. A
// synchronising literal ends the command: the client waits for a
// continuation request that it will not get, and takes the tagged BAD as
// the end of the command (RFC 9051 §2.2.1).
func (r *Reader) skipRest() error {
	if r.done {
		return nil
	}
	r.done = true
	tail := r.line
	r.line = r.line[:0]
	return r.dropLiterals(tail)
}

func (r *Reader) dropLiterals(tail []byte) error {
	for {
		n, nonSync, ok := trailingLiteral(tail)
		if !ok || !nonSync {
			return nil
		}
		if n > r.dropLeft {
			return fmt.Errorf("imapparse: discarding literal of %d octets: %w", n, ErrDiscardLimit)
		}
		r.dropLeft -= n
		// Discard takes an int; go in steps that fit any int size.
		for n > 0 {
			k := min(n, 1<<30)
			if _, err := r.br.Discard(int(k)); err != nil {
				return eofToUnexpected(err)
			}
			n -= k
		}
		var err error
		if tail, err = r.discardLine(nil); err != nil {
			return err
		}
	}
}

// trailingLiteral reports whether line ends in a literal announcement
// "{n}", "{n+}" (or the same after "~") and its size; a size too large to
// represent is returned as math.MaxInt64.
func trailingLiteral(line []byte) (n int64, nonSync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false, false
	}
	digits := line[open+1 : len(line)-1]
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		nonSync = true
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return 0, false, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, nonSync, true
}

// literal reads a literal whose announcement starts at the current
// position ("{", or "~" when allow8): it checks the announced size against
// the limit, asks for the data with cont when the literal is synchronising,
// reads it, and then reads the segment that follows so that r.line always
// holds unread input (skipRest relies on that). appendMsg selects the
// MaxAppend limit. A literal that is not literal8 may not contain NUL
// (RFC 9051 §9, CHAR8).
func (r *Reader) literal(what string, appendMsg, allow8 bool) (data []byte, binary bool, err error) {
	if r.raw {
		return nil, false, r.errorf("unexpected literal")
	}
	if r.take('~') {
		if !allow8 {
			return nil, false, r.errorf("literal8 not allowed for %s", what)
		}
		binary = true
	}
	if !r.take('{') {
		return nil, false, r.errorf("expected literal for %s", what)
	}
	start := r.pos
	var n int64
	for r.pos < len(r.line) && isDigit(r.line[r.pos]) {
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
		} else {
			n = n*10 + int64(r.line[r.pos]-'0')
		}
		r.pos++
	}
	if r.pos == start {
		return nil, false, r.errorf("missing literal size for %s", what)
	}
	nonSync := r.take('+')
	if !r.take('}') {
		return nil, false, r.errorf("bad literal announcement for %s", what)
	}
	if !r.end() {
		return nil, false, r.errorf("literal announcement for %s must end the line", what)
	}
	limit := r.lim.MaxLiteral
	if appendMsg {
		limit = r.lim.MaxAppend
	} else if r.litLeft < limit {
		limit = r.litLeft
	}
	if n > limit {
		// Neither cont nor the data: skipRest drops a non-synchronising
		// literal, while the client of a synchronising one sends nothing.
		return nil, binary, &TooBigError{Tag: r.tag, Append: appendMsg, Size: n, Limit: limit}
	}
	if appendMsg && n > r.appLeft {
		return nil, binary, &TooBigError{Tag: r.tag, Append: true, Total: true, Size: n, Limit: r.lim.MaxAppendTotal}
	}
	if !nonSync && r.cont != nil {
		if err := r.cont(); err != nil {
			return nil, binary, err
		}
	}
	if data, err = r.readN(n); err != nil {
		return nil, binary, err
	}
	if appendMsg {
		r.appLeft -= n
	} else {
		r.litLeft -= n
	}
	if err := r.readSegment(false); err != nil {
		return nil, binary, err
	}
	if !binary && bytes.IndexByte(data, 0) >= 0 {
		return nil, binary, r.errorf("NUL in literal for %s", what)
	}
	return data, binary, nil
}

// readN reads exactly n octets. The buffer grows as data arrives rather
// than by the announced size, so a client that announces a large literal
// and sends nothing does not make us allocate it.
func (r *Reader) readN(n int64) ([]byte, error) {
	const step = 64 << 10
	if n <= step {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.br, b); err != nil {
			return nil, eofToUnexpected(err)
		}
		return b, nil
	}
	b := make([]byte, 0, step)
	for int64(len(b)) < n {
		k := int(min(n-int64(len(b)), step))
		b = slices.Grow(b, k)
		m, err := io.ReadFull(r.br, b[len(b):len(b)+k])
		b = b[:len(b)+m]
		if err != nil {
			return nil, eofToUnexpected(err)
		}
	}
	return b, nil
}

// eofToUnexpected turns io.EOF in the middle of a command into
// io.ErrUnexpectedEOF; other errors pass through unchanged.
func eofToUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// trimEOL strips a trailing LF and the CR before it.
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

func lastN(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// tagPrefix returns the tag at the start of a line, or "*" if the line does
// not start with a valid tag followed by a space.
func tagPrefix(b []byte) string {
	i := 0
	for i < len(b) && isTagChar(b[i]) {
		i++
	}
	if i == 0 || i == len(b) || b[i] != ' ' {
		return "*"
	}
	return string(b[:i])
}
