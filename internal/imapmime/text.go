package imapmime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// errFull stops copying once the text budget is spent.
var errFull = errors.New("imapmime: text budget spent")

// textSink collects output up to a byte budget, cutting at a UTF-8
// character boundary.
type textSink struct {
	b    strings.Builder
	left int  // bytes still allowed; <0 means no limit
	full bool // the budget is spent
	// partsCut: Parse ran out of its part budget (maxParts), so
	// multiparts may end in parts it left unparsed.
	partsCut bool
}

func (s *textSink) Write(p []byte) (int, error) {
	if s.full {
		return 0, errFull
	}
	if s.left >= 0 && len(p) > s.left {
		n := s.left
		for n > 0 && !utf8.RuneStart(p[n]) {
			n--
		}
		s.b.Write(p[:n])
		s.left, s.full = 0, true
		return n, errFull
	}
	s.b.Write(p)
	if s.left >= 0 {
		s.left -= len(p)
	}
	return len(p), nil
}

func (s *textSink) WriteString(t string) {
	_, _ = s.Write([]byte(t)) // errFull is checked through s.full
}

// take returns what was collected and starts afresh, keeping the budget.
func (s *textSink) take() string {
	t := s.b.String()
	s.b.Reset()
	return t
}

// Text returns decoded UTF-8 text of the message for a full-text index:
// headers holds every header field, one "Name: value" per line with
// continuation lines joined and RFC 2047 encoded words decoded (RFC 2047
// §6) and charsets converted: the fields before the root's header (the
// served trace fields: the root is read from offset 0), the root's own,
// and those of every MIME part and encapsulated message, since SEARCH
// TEXT looks in "the header (including MIME header fields)" (RFC 9051
// §6.4.4) and a word only in an X- field or the Date must be found.
// body holds every text/* part not marked as an attachment (RFC 2183
// §2.2), transfer-decoded and converted to UTF-8, HTML reduced to its text
// (tags, comments, script and style dropped, entities decoded), followed
// by the same for encapsulated messages. At most maxBytes bytes are
// returned in all, at most half of them headers; maxBytes <= 0 means no
// limit. Parts in an unknown transfer encoding or charset are skipped or
// kept as bytes; only read errors are returned.
//
// Entities Parse left opaque (nested past maxDepth, or past its maxParts
// budget) have their raw bytes in body, flat: a word hidden deep inside
// a message made to defeat the parser is still found, within the same
// byte budget.
func Text(r io.ReaderAt, root *Part, maxBytes int) (headers, body string, err error) {
	// The headers get at most half the budget: the part headers of a
	// message of thousands of parts would otherwise leave no room for
	// any of their text.
	s := &textSink{left: maxBytes - maxBytes/2, partsCut: countParts(root, maxParts) >= maxParts}
	if maxBytes <= 0 {
		s.left = -1
	}
	if err := writeHeaders(s, r, root, 0); err != nil {
		return "", "", err
	}
	headers = s.take()
	if maxBytes > 0 {
		s.left, s.full = maxBytes-len(headers), false
	}
	if err := writeBodyText(s, r, root); err != nil {
		return "", "", err
	}
	return headers, s.take(), nil
}

// writeHeaders writes the header fields of p, read from start, and then
// those of the entities inside it.
func writeHeaders(s *textSink, r io.ReaderAt, p *Part, start int64) error {
	if s.full {
		return nil
	}
	// 8-bit header text without encoded words is most often in the
	// entity's charset; it is the best guess for converting it.
	if err := writeHeaderFields(s, r, start, p.BodyStart, p.Param("charset")); err != nil {
		return err
	}
	for _, c := range p.Parts {
		if err := writeHeaders(s, r, c, c.HeaderStart); err != nil {
			return err
		}
	}
	if p.Message != nil {
		return writeHeaders(s, r, p.Message, p.Message.HeaderStart)
	}
	return nil
}

// maxField bounds one unfolded header field: a longer one (a header made
// of one endless field) is indexed up to there.
const maxField = 64 << 10

// writeHeaderFields writes the fields of the header in [start, end) as
// "Name: value" lines, decoded.
func writeHeaderFields(s *textSink, r io.ReaderAt, start, end int64, fallback string) error {
	if start < 0 || end <= start {
		return nil
	}
	raw := &readErr{r: io.NewSectionReader(r, start, end-start)}
	br := bufio.NewReaderSize(raw, readBufSize)
	var field []byte
	midLine := false // the last read stopped inside a long line
	flush := func() {
		name, value, ok := bytes.Cut(field, []byte(":"))
		field = field[:0]
		if !ok || len(bytes.TrimSpace(name)) == 0 {
			return
		}
		s.WriteString(strings.ToValidUTF8(string(bytes.TrimSpace(name)), "\uFFFD"))
		s.WriteString(": ")
		s.WriteString(decodeHeader(string(bytes.TrimSpace(value)), fallback))
		s.WriteString("\n")
	}
	for !s.full {
		l, err := br.ReadSlice('\n')
		line := bytes.TrimRight(l, "\r\n")
		switch {
		case midLine:
			// The rest of a long line: same field.
		case len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && len(field) > 0:
			// A continuation line: unfolding drops the line break only
			// (RFC 5322 §2.2.3).
		case len(l) > 0 && len(line) == 0:
			flush()
			return nil // the blank line ends the header
		case len(l) > 0:
			if len(field) > 0 {
				flush()
			}
		}
		if room := maxField - len(field); room > 0 {
			field = append(field, line[:min(len(line), room)]...)
		}
		midLine = err == bufio.ErrBufferFull
		if err != nil && !midLine {
			if raw.err != nil {
				return fmt.Errorf("imapmime: read header: %w", raw.err)
			}
			break // the end of the range
		}
	}
	if len(field) > 0 {
		flush()
	}
	return nil
}

// writeEnvelopeText writes the subject and addresses of an encapsulated
// message, one per line.
func writeEnvelopeText(s *textSink, env *Envelope, fallback string) {
	if env == nil {
		return
	}
	if env.Subject != "" {
		s.WriteString(decodeHeader(env.Subject, fallback))
		s.WriteString("\n")
	}
	for _, list := range [...][]Address{env.From, env.To, env.Cc, env.Bcc} {
		if t := addressText(list, fallback); t != "" {
			s.WriteString(t)
			s.WriteString("\n")
		}
	}
}

// addressText formats a list as "Name <mailbox@host>, ..." with names
// decoded.
func addressText(list []Address, fallback string) string {
	var b strings.Builder
	for _, a := range list {
		if a.IsGroupEnd() {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if a.IsGroupStart() {
			b.WriteString(decodeHeader(a.Mailbox, fallback))
			b.WriteString(":")
			continue
		}
		if a.Name != "" {
			b.WriteString(decodeHeader(a.Name, fallback))
			b.WriteString(" <")
		}
		b.WriteString(a.Mailbox)
		b.WriteString("@")
		b.WriteString(a.Host)
		if a.Name != "" {
			b.WriteString(">")
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// decodeHeader decodes RFC 2047 encoded words; raw 8-bit text that is not
// UTF-8 (RFC 6532) is converted from the fallback charset.
func decodeHeader(raw, fallback string) string {
	dec := mime.WordDecoder{CharsetReader: charset.Reader}
	s, err := dec.DecodeHeader(raw)
	if err != nil {
		s = raw
	}
	if !utf8.ValidString(s) {
		s = toUTF8(fallback, []byte(s))
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// readErr remembers a read error of the stored message, to tell it from a
// decoder complaining about bad content.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// writeBodyText walks the tree in order and writes the text of each text
// part; it returns only read errors.
func writeBodyText(s *textSink, r io.ReaderAt, p *Part) error {
	if s.full {
		return nil
	}
	switch {
	case p.isMultipart() && len(p.Parts) == 0:
		// Not parsed: nested too deep, or no usable boundary.
		return writeFlat(s, r, p.BodyStart, p.End, "")
	case p.isMultipart():
		for _, c := range p.Parts {
			if err := writeBodyText(s, r, c); err != nil {
				return err
			}
		}
		if s.partsCut {
			// The parts after the budget ran out stay in the body
			// after the last parsed one (with the epilogue).
			return writeFlat(s, r, p.Parts[len(p.Parts)-1].End, p.End, "")
		}
	case p.isMessage() && p.Message == nil:
		// An encapsulated message left unparsed: too deep, out of part
		// budget, or in a transfer encoding (RFC 2046 §5.2.1 forbids
		// it, but it is sent) that is undone here.
		return writeFlat(s, r, p.BodyStart, p.End, p.Encoding)
	case p.Message != nil:
		// A forwarded message's subject and senders are searchable as
		// body text too: they are in the body of the message.
		writeEnvelopeText(s, p.Message.Envelope, p.Message.Param("charset"))
		return writeBodyText(s, r, p.Message)
	case p.Type == "text" && p.Disposition != "attachment":
		body, _, err := byteRange(r, p.BodyStart, p.End)
		if err != nil {
			return err
		}
		raw := &readErr{r: body}
		d, err := decodeStream(raw, p.Encoding)
		if err != nil {
			return nil // unknown transfer encoding: nothing to index
		}
		text := charsetReader(p.Param("charset"), d)
		var w io.Writer = s
		var h *htmlText
		if p.Subtype == "html" {
			h = &htmlText{w: s}
			w = h
		}
		// The copy ends with errFull, a decoder error on bad content or a
		// read error; only the last one matters.
		if _, err := io.Copy(w, text); err == nil && h != nil {
			_ = h.flush() // errFull is all it can return
		}
		if raw.err != nil {
			return fmt.Errorf("imapmime: read text part: %w", raw.err)
		}
		s.WriteString("\n")
	}
	return nil
}

// writeFlat writes the bytes in [start, end) as text, transfer-decoded
// by enc, invalid UTF-8 replaced: the text of an entity Parse did not
// take apart, boundaries and headers of inner parts included.
func writeFlat(s *textSink, r io.ReaderAt, start, end int64, enc string) error {
	body, _, err := byteRange(r, start, end)
	if err != nil {
		return err
	}
	raw := &readErr{r: body}
	d, err := decodeStream(raw, enc)
	if err != nil {
		d = raw // unknown transfer encoding: the bytes as they are
	}
	_, _ = io.Copy(s, charsetReader("", d))
	if raw.err != nil {
		return fmt.Errorf("imapmime: read unparsed entity: %w", raw.err)
	}
	s.WriteString("\n")
	return nil
}

// countParts counts the entities of the tree under p, stopping at limit.
func countParts(p *Part, limit int) int {
	n := 1
	for _, c := range p.Parts {
		if n >= limit {
			return n
		}
		n += countParts(c, limit-n)
	}
	if p.Message != nil && n < limit {
		n += countParts(p.Message, limit-n)
	}
	return n
}

// charsetReader converts text in charset cs to UTF-8 (RFC 2046 §4.1.2).
// No charset, US-ASCII and unknown charsets are read as UTF-8, a superset
// of US-ASCII that unlabelled 8-bit mail mostly uses; invalid bytes become
// U+FFFD.
func charsetReader(cs string, r io.Reader) io.Reader {
	switch strings.ToLower(cs) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
	default:
		if cr, err := charset.Reader(cs, r); err == nil {
			return cr
		}
	}
	cr, err := charset.Reader("utf-8", r)
	if err != nil {
		// Not expected: UTF-8 is always known. Unvalidated bytes are
		// still made valid by the callers' sinks.
		return r
	}
	return cr
}

// htmlText reduces HTML to its text as it streams through: tags and
// comments are dropped, the content of script and style is skipped,
// character references are decoded, white space runs collapse to one space
// and block elements start a new line. It is a tolerant scanner, not an
// HTML parser; that is enough for a search index.
type htmlText struct {
	w       io.Writer
	state   int
	name    []byte // tag name, lower-case, cut at maxTagName
	closing bool   // the tag is an end tag
	quote   byte   // quote character of the attribute value being skipped
	dashes  int    // '-' run in a comment
	ent     []byte // character reference being read, without '&'
	skip    string // raw text element whose content is being skipped
	space   bool   // last output was white space
	out     []byte
}

const (
	hText    = iota
	hTagOpen // after '<'
	hTagName
	hTagRest  // attributes, up to '>'
	hBang     // after "<!"
	hBangDash // after "<!-"
	hComment
	hEntity
)

// Bounds for the scanner's buffers.
const (
	maxTagName = 16
	maxEntity  = 32
)

func (h *htmlText) Write(p []byte) (int, error) {
	h.out = h.out[:0]
	for _, c := range p {
		h.step(c)
	}
	if _, err := h.w.Write(h.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes a character reference cut off by the end of the part.
func (h *htmlText) flush() error {
	h.out = h.out[:0]
	if h.state == hEntity {
		h.emitEntity(false)
	}
	_, err := h.w.Write(h.out)
	return err
}

func (h *htmlText) step(c byte) {
	switch h.state {
	case hText:
		switch {
		case c == '<':
			h.state, h.name, h.closing = hTagOpen, h.name[:0], false
		case h.skip != "":
		case c == '&':
			h.state, h.ent = hEntity, h.ent[:0]
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			h.emitSpace(' ')
		default:
			h.out = append(h.out, c)
			h.space = false
		}
	case hTagOpen:
		switch {
		case c == '/':
			h.closing, h.state = true, hTagName
		case h.skip != "":
			// Inside script or style only an end tag matters.
			h.state = hText
			h.step(c)
		case isLetter(c):
			h.name = append(h.name, c|0x20)
			h.state = hTagName
		case c == '!':
			h.state = hBang
		case c == '?':
			h.state = hTagRest
		default:
			// Not a tag: a lone '<' in text.
			h.state = hText
			h.out = append(h.out, '<')
			h.space = false
			h.step(c)
		}
	case hTagName:
		switch {
		case c == '>':
			h.endTag()
		case isLetter(c) || '0' <= c && c <= '9' || c == '-' || c == ':':
			if len(h.name) < maxTagName {
				h.name = append(h.name, c|0x20)
			}
		default:
			h.state = hTagRest
		}
	case hTagRest:
		switch {
		case h.quote != 0:
			if c == h.quote {
				h.quote = 0
			}
		case c == '"' || c == '\'':
			h.quote = c
		case c == '>':
			h.endTag()
		}
	case hBang:
		if c == '-' {
			h.state = hBangDash
		} else {
			h.state = hTagRest // <!DOCTYPE ...>
			h.step(c)
		}
	case hBangDash:
		if c == '-' {
			h.state, h.dashes = hComment, 0
		} else {
			h.state = hTagRest
			h.step(c)
		}
	case hComment:
		switch {
		case c == '-':
			h.dashes++
		case c == '>' && h.dashes >= 2:
			h.state = hText
		default:
			h.dashes = 0
		}
	case hEntity:
		switch {
		case c == ';':
			h.emitEntity(true)
			h.state = hText
		case (isLetter(c) || '0' <= c && c <= '9' || c == '#') && len(h.ent) < maxEntity:
			h.ent = append(h.ent, c)
		default:
			h.emitEntity(false)
			h.state = hText
			h.step(c)
		}
	}
}

// endTag acts on a complete tag.
func (h *htmlText) endTag() {
	h.state, h.quote = hText, 0
	name := string(h.name)
	if h.skip != "" {
		if h.closing && name == h.skip {
			h.skip = ""
		}
		return
	}
	switch name {
	case "script", "style":
		if !h.closing {
			h.skip = name
		}
	case "br", "p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3",
		"h4", "h5", "h6", "blockquote", "hr", "title", "pre", "section",
		"article", "header", "footer", "dd", "dt":
		h.emitSpace('\n')
	case "td", "th":
		h.emitSpace(' ')
	}
}

// emitSpace writes one white space character unless one was just written.
func (h *htmlText) emitSpace(c byte) {
	if h.space {
		if c == '\n' && len(h.out) > 0 && h.out[len(h.out)-1] == ' ' {
			h.out[len(h.out)-1] = '\n'
		}
		return
	}
	h.out = append(h.out, c)
	h.space = true
}

// emitEntity decodes the character reference read so far.
func (h *htmlText) emitEntity(semicolon bool) {
	ref := "&" + string(h.ent)
	if semicolon {
		ref += ";"
	}
	t := html.UnescapeString(ref)
	if t == "\u00a0" {
		h.emitSpace(' ')
		return
	}
	h.out = append(h.out, t...)
	h.space = false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
