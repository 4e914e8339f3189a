package imapmime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
)

// readBufSize is the read buffer of Parse. Body lines longer than this are
// only inspected through their first readBufSize bytes, which is plenty to
// recognise a boundary line (at most maxBoundary plus a few bytes).
const readBufSize = 16 << 10

// line is one physical line of the message.
type line struct {
	start int64  // offset of the line's first byte
	text  []byte // content without the line break; valid until the next read
	term  int    // length of the line break: 2 for CRLF, 1 for a bare LF, 0 at end of input
	long  bool   // text was cut short: the line is longer than the reader was asked to keep
}

// lineReader splits the message into lines, counting bytes exactly as they
// are so that offsets hold for CRLF and bare-LF messages alike.
type lineReader struct {
	br    *bufio.Reader
	off   int64  // offset of the next unread byte
	lines int64  // lines returned so far
	acc   []byte // assembles lines longer than the read buffer
	err   error  // read error other than io.EOF
	done  bool   // end of input or read error
}

// next returns the next line, keeping at most keep bytes of its content in
// memory; ok is false at end of input.
func (lr *lineReader) next(keep int) (l line, ok bool) {
	if lr.done {
		return line{start: lr.off}, false
	}
	l.start = lr.off
	frag, err := lr.br.ReadSlice('\n')
	lr.off += int64(len(frag))
	if err == nil || (err == io.EOF && len(frag) > 0) {
		// The common case: the whole line sits in the read buffer.
		if err == io.EOF {
			lr.done = true
		}
		lr.lines++
		n := len(frag)
		l.term = eolLen(frag, 0)
		l.text = frag[:n-l.term]
		if len(l.text) > keep {
			l.text, l.long = l.text[:keep], true
		}
		return l, true
	}
	if err != bufio.ErrBufferFull {
		lr.done = true
		if err != io.EOF {
			lr.err = err
		}
		return line{start: l.start}, false
	}
	// A line longer than the buffer: keep up to keep+2 bytes (the +2 lets
	// us strip a line break that falls inside the kept prefix) and count
	// the rest.
	lr.acc = lr.acc[:0]
	total := 0
	var last byte // last byte of the previous fragment, to see a CR split from its LF
	for {
		if room := keep + 2 - len(lr.acc); room > 0 {
			lr.acc = append(lr.acc, frag[:min(room, len(frag))]...)
		}
		total += len(frag)
		if err != bufio.ErrBufferFull {
			break
		}
		last = frag[len(frag)-1]
		frag, err = lr.br.ReadSlice('\n')
		lr.off += int64(len(frag))
	}
	if err != nil {
		lr.done = true
		if err != io.EOF {
			lr.err = err
		}
	}
	lr.lines++
	l.term = eolLen(frag, last)
	content := total - l.term
	l.text = lr.acc[:min(len(lr.acc), content, keep)]
	l.long = content > keep
	return l, true
}

// eolLen returns the length of the line break ending frag; prev is the byte
// read just before frag, for a CR that ended the previous fragment.
func eolLen(frag []byte, prev byte) int {
	n := len(frag)
	switch {
	case n == 0 || frag[n-1] != '\n':
		return 0
	case n >= 2 && frag[n-2] == '\r', n == 1 && prev == '\r':
		return 2
	default:
		return 1
	}
}

// Header fields the parser keeps; everything else is skipped.
const (
	fContentType = iota
	fEncoding
	fID
	fDescription
	fMD5
	fDisposition
	fLanguage
	fLocation
	fDate // the fields below matter only for a message header (ENVELOPE)
	fSubject
	fFrom
	fSender
	fReplyTo
	fTo
	fCc
	fBcc
	fInReplyTo
	fMessageID
	numFields
)

// fieldID maps a header field name to the field it fills, or -1.
func fieldID(name []byte, message bool) int {
	var buf [32]byte
	if len(name) > len(buf) {
		return -1
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	id := -1
	switch string(buf[:len(name)]) {
	case "content-type":
		id = fContentType
	case "content-transfer-encoding":
		id = fEncoding
	case "content-id":
		id = fID
	case "content-description":
		id = fDescription
	case "content-md5":
		id = fMD5
	case "content-disposition":
		id = fDisposition
	case "content-language":
		id = fLanguage
	case "content-location":
		id = fLocation
	case "date":
		id = fDate
	case "subject":
		id = fSubject
	case "from":
		id = fFrom
	case "sender":
		id = fSender
	case "reply-to":
		id = fReplyTo
	case "to":
		id = fTo
	case "cc":
		id = fCc
	case "bcc":
		id = fBcc
	case "in-reply-to":
		id = fInReplyTo
	case "message-id":
		id = fMessageID
	}
	if id >= fDate && !message {
		return -1
	}
	return id
}

// header collects the unfolded values of the fields one entity needs.
type header struct {
	vals  [numFields]string
	seen  [numFields]bool
	cur   int    // field being collected, or -1
	buf   []byte // value of the field being collected
	used  int    // bytes kept so far, bounded by maxHeaderBytes
	isMsg bool   // the entity is a message: collect ENVELOPE fields
}

// add appends b to the value being collected, within the entity budget.
func (h *header) add(b []byte) {
	if room := maxHeaderBytes - h.used; room < len(b) {
		b = b[:max(room, 0)]
	}
	h.used += len(b)
	h.buf = append(h.buf, b...)
}

// finishField stores the field being collected. Unfolding is removing the
// line breaks (RFC 5322 §2.2.3), which the line reader already did, so the
// value is the concatenation of its lines, trimmed.
func (h *header) finishField() {
	if h.cur >= 0 {
		h.vals[h.cur] = string(bytes.Trim(h.buf, " \t\r"))
		h.cur = -1
	}
	h.buf = h.buf[:0]
}

// line takes one header line.
func (h *header) line(t []byte) {
	if len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
		// Continuation of the previous field (RFC 5322 §2.2.3).
		if h.cur >= 0 {
			h.add(t)
		}
		return
	}
	h.finishField()
	colon := bytes.IndexByte(t, ':')
	if colon <= 0 {
		// Not a field (an mbox "From " line, garbage): RFC 9051 wants a
		// structure anyway, so skip it and stay in the header.
		return
	}
	id := fieldID(bytes.TrimRight(t[:colon], " \t"), h.isMsg)
	if id < 0 || h.seen[id] {
		// Unneeded, or a repeat: the first occurrence wins.
		return
	}
	h.seen[id] = true
	h.cur = id
	h.add(t[colon+1:])
}

// parser walks the message once, entity by entity.
type parser struct {
	lr       lineReader
	cur      line     // the current line, not yet consumed
	ok       bool     // cur is valid; false at end of input
	bound    int      // index in bounds of the boundary cur is, or -1
	closing  bool     // cur is a close delimiter ("--boundary--")
	prevTerm int      // line break length of the line before cur
	prevNL   bool     // the line before cur held nothing but its line break
	bounds   [][]byte // delimiters ("--" + boundary) of the open multiparts, innermost last
	nparts   int      // entities created, bounded by maxParts
	fieldBuf []byte   // reused header value buffer
}

// Line keep limits: header lines are kept whole (within the header
// budget), body lines only as far as needed to spot a boundary.
const (
	keepHeader = maxHeaderBytes
	keepBody   = readBufSize
)

// Parse reads a whole message and returns its MIME structure. It reads the
// message as a stream and keeps only the header fields it needs, so memory
// does not grow with the message size. It fails only on read errors:
// malformed MIME yields a best-effort structure.
func Parse(r io.Reader) (*Part, error) {
	p := &parser{lr: lineReader{br: bufio.NewReaderSize(r, readBufSize)}}
	p.advance(keepHeader)
	root := &Part{}
	p.nparts = 1
	p.entity(root, 0, false, true)
	if p.lr.err != nil {
		return nil, fmt.Errorf("imapmime: read message: %w", p.lr.err)
	}
	return root, nil
}

// advance makes the next line current, keeping up to keep bytes of it.
func (p *parser) advance(keep int) {
	if p.ok {
		p.prevTerm = p.cur.term
		p.prevNL = len(p.cur.text) == 0 && !p.cur.long
	}
	p.cur, p.ok = p.lr.next(keep)
	p.matchBoundary()
}

// pos is the offset of the current line, or of the end of input.
func (p *parser) pos() int64 {
	if p.ok {
		return p.cur.start
	}
	return p.lr.off
}

// matchBoundary sets p.bound and p.closing for the current line. A
// delimiter line is "--" boundary, optionally "--" for the close delimiter,
// then optional linear whitespace (RFC 2046 §5.1.1). The innermost
// boundary is tried first.
func (p *parser) matchBoundary() {
	p.bound, p.closing = -1, false
	t := p.cur.text
	if !p.ok || p.cur.long || len(p.bounds) == 0 || len(t) < 2 || t[0] != '-' || t[1] != '-' {
		return
	}
	for i := len(p.bounds) - 1; i >= 0; i-- {
		d := p.bounds[i]
		if !bytes.HasPrefix(t, d) {
			continue
		}
		rest := t[len(d):]
		closing := false
		if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
			rest, closing = rest[2:], true
		}
		if len(bytes.Trim(rest, " \t\r")) == 0 {
			p.bound, p.closing = i, closing
			return
		}
	}
}

// entity parses one entity starting at the current line, and returns with
// the current line at the first boundary line of an enclosing multipart,
// or at the end of input. depth counts enclosing entities; digest marks a
// child of multipart/digest; message marks a message header (root or
// encapsulated), whose ENVELOPE fields are collected.
func (p *parser) entity(e *Part, depth int, digest, message bool) {
	e.HeaderStart = p.pos()
	h := header{cur: -1, buf: p.fieldBuf[:0], isMsg: message}
	blank := false
	for p.ok && p.bound < 0 {
		if len(p.cur.text) == 0 && !p.cur.long {
			blank = true
			break
		}
		h.line(p.cur.text)
		p.advance(keepHeader)
	}
	h.finishField()
	p.fieldBuf = h.buf[:0]
	e.setContent(&h, digest)
	if message {
		e.Envelope = newEnvelope(&h)
	}

	if !blank {
		// The header ran into a boundary or the end of input: no body.
		e.BodyStart = p.pos()
		p.finish(e, p.lr.lines-boolInt(p.ok))
		return
	}
	e.BodyStart = p.cur.start + int64(p.cur.term)
	bodyLine := p.lr.lines // index of the first body line

	boundary := e.Param("boundary")
	switch {
	case depth+1 >= maxDepth:
		// Too deep: every entity from here on is an opaque leaf.
		p.advance(keepBody)
		p.skipBody()
	case e.isMultipart() && boundary != "" && len(boundary) <= maxBoundary:
		p.advance(keepBody)
		p.multipart(e, depth, boundary)
	case e.isMessage() && identityEncoding(e.Encoding) && p.nparts < maxParts:
		// RFC 2046 §5.2.1: message/rfc822 bodies are 7bit, 8bit or binary;
		// an encoded one cannot be parsed as a message and stays a leaf.
		p.advance(keepHeader)
		p.nparts++
		e.Message = &Part{}
		p.entity(e.Message, depth+1, false, true)
	default:
		p.advance(keepBody)
		p.skipBody()
	}
	p.finish(e, bodyLine)
}

// skipBody consumes lines up to an enclosing boundary or the end.
func (p *parser) skipBody() {
	for p.ok && p.bound < 0 {
		p.advance(keepBody)
	}
}

// multipart parses the body of multipart entity e: preamble, body parts,
// epilogue (RFC 2046 §5.1.1). The current line is the first body line.
func (p *parser) multipart(e *Part, depth int, boundary string) {
	own := len(p.bounds)
	p.bounds = append(p.bounds, append([]byte("--"), boundary...))
	p.matchBoundary() // the current line may be our first delimiter
	digest := e.Subtype == "digest"
	p.skipBody() // preamble
	for p.ok && p.bound == own && !p.closing {
		if p.nparts >= maxParts {
			// Out of part budget: the rest up to the close delimiter stays
			// in this multipart's body, unparsed.
			for p.ok && (p.bound < 0 || p.bound == own && !p.closing) {
				p.advance(keepBody)
			}
			break
		}
		p.advance(keepHeader)
		p.nparts++
		c := &Part{}
		p.entity(c, depth+1, digest, false)
		e.Parts = append(e.Parts, c)
	}
	p.bounds = p.bounds[:own]
	if p.ok && p.bound == own && p.closing {
		// Epilogue: up to an enclosing boundary or the end. Our own
		// boundary was popped so it no longer matches.
		p.advance(keepBody)
		p.skipBody()
	}
	// A missing close delimiter: the multipart ends where its parent does
	// (the current line is an enclosing boundary or the end of input).
}

// finish sets e's End, Size and Lines now that the current line is the
// boundary line ending it or the end of input. bodyLine is the index of the
// first body line. Lines counts the lines of the body, a last line without
// a line break included.
//
// The line break before a boundary line belongs to the delimiter (RFC 2046
// §5.1.1), so an entity ending at one ends before that line break. When
// that line break is the one ending the entity's header (a header without
// body, or even an entity with no line at all), the header gives it up:
// offsets are clamped so that nested entities ending at the same boundary
// stay inside one another.
func (p *parser) finish(e *Part, bodyLine int64) {
	if !p.ok {
		e.End = p.lr.off
		e.Lines = p.lr.lines - bodyLine
	} else {
		limit := p.cur.start - int64(p.prevTerm)
		n := p.lr.lines - 1 - bodyLine // body lines before the boundary line
		if n > 0 && p.prevNL {
			n-- // that line held only the line break, now excluded
		}
		e.Lines = max(n, 0)
		e.HeaderStart = min(e.HeaderStart, limit)
		e.BodyStart = min(e.BodyStart, limit)
		e.End = limit
	}
	e.Size = e.End - e.BodyStart
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// identityEncoding reports whether a Content-Transfer-Encoding leaves the
// body as is (RFC 2045 §6.2).
func identityEncoding(enc string) bool {
	switch enc {
	case "7BIT", "8BIT", "BINARY":
		return true
	}
	return false
}

// setContent fills e's MIME fields from its header, applying the defaults
// of RFC 2045 §5.2 (text/plain; charset=us-ascii, also for an invalid
// Content-Type) and RFC 2046 §5.1.5 (message/rfc822 in a digest).
func (e *Part) setContent(h *header, digest bool) {
	typ, sub, params, ok := parseContentType(h.vals[fContentType])
	if !ok {
		if digest {
			typ, sub, params = "message", "rfc822", nil
		} else {
			typ, sub, params = "text", "plain", [][2]string{{"charset", "us-ascii"}}
		}
	}
	e.Type, e.Subtype, e.Params = typ, sub, params
	e.Encoding = parseEncoding(h.vals[fEncoding])
	e.ID = h.vals[fID]
	e.Description = h.vals[fDescription]
	e.MD5 = h.vals[fMD5]
	e.Disposition, e.DispositionParams = parseDisposition(h.vals[fDisposition])
	e.Language = parseLanguage(h.vals[fLanguage])
	e.Location = h.vals[fLocation]
}

// newEnvelope builds the ENVELOPE of a message header (RFC 9051 §7.5.2).
func newEnvelope(h *header) *Envelope {
	env := &Envelope{
		Date:      h.vals[fDate],
		Subject:   h.vals[fSubject],
		From:      ParseAddressList(h.vals[fFrom]),
		Sender:    ParseAddressList(h.vals[fSender]),
		ReplyTo:   ParseAddressList(h.vals[fReplyTo]),
		To:        ParseAddressList(h.vals[fTo]),
		Cc:        ParseAddressList(h.vals[fCc]),
		Bcc:       ParseAddressList(h.vals[fBcc]),
		InReplyTo: h.vals[fInReplyTo],
		MessageID: h.vals[fMessageID],
	}
	// RFC 9051 §7.5.2: absent or empty Sender and Reply-To take the value
	// of From.
	if len(env.Sender) == 0 {
		env.Sender = slices.Clone(env.From)
	}
	if len(env.ReplyTo) == 0 {
		env.ReplyTo = slices.Clone(env.From)
	}
	return env
}
