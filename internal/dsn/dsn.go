// Package dsn builds delivery status notifications ("bounces"): the
// multipart/report messages of RFC 3464 that tell an envelope sender what
// happened to a message, as requested with the DSN SMTP extension (RFC 3461).
//
// A DSN has three parts (RFC 3464 §2, RFC 6522): a plain-language text for
// the person who sent the message, a machine-readable message/delivery-status
// part with one block of fields per recipient, and the original message (or
// only its header). When a recipient address is non-ASCII, the status part
// becomes message/global-delivery-status with "utf-8" address types (RFC 6533
// §3), so the report can be delivered to SMTPUTF8 users unchanged.
//
// The human-readable parts are written in Report.Language: English,
// Traditional Chinese or Simplified Chinese; a Chinese notice carries the
// English text after its own (see humanText). The reasons are not free
// text but a Reason each, worded at rendering time.
//
// Build only renders bytes. The caller queues them with an empty envelope
// sender (MAIL FROM:<>, RFC 5321 §4.5.5) so that a DSN never causes another.
package dsn

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Action values (RFC 3464 §2.3.3).
type Action string

// The actions a DSN can report for one recipient.
const (
	Failed    Action = "failed"    // permanent failure; the message is returned
	Delayed   Action = "delayed"   // still trying; a warning only
	Delivered Action = "delivered" // delivered to the recipient's mailbox
	Relayed   Action = "relayed"   // handed to a system that sends no DSNs
	Expanded  Action = "expanded"  // delivered to an alias or list, then expanded
)

// valid reports whether a is one of the RFC 3464 §2.3.3 action values.
func (a Action) valid() bool {
	switch a {
	case Failed, Delayed, Delivered, Relayed, Expanded:
		return true
	}
	return false
}

// Recipient is one per-recipient block.
type Recipient struct {
	Address        string    // final recipient as given in RCPT TO
	OriginalRcpt   string    // ORCPT as "type;address", address already decoded from xtext (go-smtp does this); "" if none
	Action         Action    // what happened to this recipient
	Status         string    // enhanced status code (RFC 3463), e.g. "5.1.1", "4.4.1"
	RemoteMTA      string    // host name (or [IP]) of the MTA that answered, "" if none
	DiagnosticCode string    // the remote SMTP reply, verbatim (may be multi-line); "" if none (DNS failures etc.)
	LastAttempt    time.Time // zero if none
	WillRetryUntil time.Time // for Delayed only
	// Reason is what the text part says happened; the zero value means
	// the one Action, Status and DiagnosticCode give (Explain).
	Reason Reason
}

// Report is one DSN.
type Report struct {
	ReportingMTA      string      // our hostname
	ReceivedFrom      string      // optional Received-From-MTA value, "dns; client.example"; "" to omit
	ArrivalDate       time.Time   // when we received the original message; zero to omit
	EnvelopeID        string      // ENVID parameter, decoded from xtext; "" if none
	From              string      // the DSN's From: header address, e.g. "MAILER-DAEMON@mail.example.com"
	To                string      // the original envelope sender (the DSN's recipient)
	Recipients        []Recipient // at least one
	Original          io.Reader   // the original message (headers + body); nil to attach nothing
	ReturnHeadersOnly bool        // RET=HDRS: attach only the header of the original
	MaxOriginal       int64       // if >0 and the original is bigger, attach its header only
	Date              time.Time   // the DSN's Date:; now if zero
	MessageID         string      // without angle brackets; generated from random bytes + ReportingMTA if ""
	Language          Language    // of the human-readable parts; "" = English
}

// maxLine is the RFC 5322 §2.1.1 limit on a line, without its CRLF.
const maxLine = 998

// foldAt is where header fields we write are folded when they can be: the
// RFC 5322 §2.1.1 recommended line length.
const foldAt = 78

// dateLayout is the RFC 5322 §3.3 date-time format.
const dateLayout = "Mon, 2 Jan 2006 15:04:05 -0700"

// maxBoundaryTries bounds the search for a boundary not found in any part;
// with 130 random bits a second try is already practically never needed.
const maxBoundaryTries = 8

// part is one body part of the multipart/report, already encoded.
type part struct {
	header []string // complete header lines without CRLF
	body   []byte   // encoded content, ending in CRLF
}

// Build renders the complete DSN message (RFC 5322, CRLF line endings), ready
// to be queued with an empty envelope sender (MAIL FROM:<>).
func Build(r *Report) ([]byte, error) {
	if r == nil {
		return nil, errors.New("dsn: nil report")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	lang, err := ParseLanguage(string(r.Language))
	if err != nil {
		return nil, err
	}
	t := catalog(lang)
	reportingMTA, err := hostForDNS(r.ReportingMTA)
	if err != nil {
		return nil, fmt.Errorf("dsn: reporting MTA %q: %w", r.ReportingMTA, err)
	}

	date := r.Date
	if date.IsZero() {
		date = time.Now()
	}
	msgID := r.MessageID
	if msgID == "" {
		// RFC 5322 §3.6.4: unique left part, our host name on the right.
		msgID = strings.ToLower(rand.Text()) + "@" + reportingMTA
	}

	var orig *original
	if r.Original != nil {
		orig, err = readOriginal(r.Original, r.MaxOriginal, r.ReturnHeadersOnly, t)
		if err != nil {
			return nil, err
		}
	}

	global := r.needsGlobal()
	status, err := r.statusPart(reportingMTA, global, t)
	if err != nil {
		return nil, err
	}
	parts := []part{textPart(humanText(r, orig, lang), t), status}
	if orig != nil {
		parts = append(parts, orig.part())
	}

	boundary, err := pickBoundary(parts)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	// A display name outside ASCII is an RFC 2047 §5(3) encoded-word;
	// addresses may be UTF-8 only for SMTPUTF8 senders, who accept RFC
	// 6532 headers.
	writeLine(&b, "From: "+encodeWords(t.fromName)+" <"+r.From+">")
	writeLine(&b, "To: <"+r.To+">")
	writeLine(&b, "Date: "+date.Format(dateLayout))
	writeLine(&b, "Message-ID: <"+msgID+">")
	writeField(&b, "Subject", r.subject(t))
	writeLine(&b, "MIME-Version: 1.0")
	// RFC 6522 §3 (multipart/report) with RFC 3464 §2's report-type.
	writeLine(&b, "Content-Type: multipart/report; report-type=delivery-status;")
	writeLine(&b, "\tboundary=\""+boundary+"\"")
	if anyEightBit(parts) {
		// RFC 2045 §6.4: a multipart carries the widest encoding of its parts.
		writeLine(&b, "Content-Transfer-Encoding: 8bit")
	}
	// RFC 3834 §5: marks the DSN as automatic so that vacation responders
	// and filters never answer it.
	writeLine(&b, "Auto-Submitted: auto-replied")
	writeLine(&b, "")
	writeLine(&b, "This is a MIME-encapsulated delivery status notification.")
	for _, p := range parts {
		writeLine(&b, "")
		writeLine(&b, "--"+boundary)
		for _, h := range p.header {
			writeLine(&b, h)
		}
		writeLine(&b, "")
		b.Write(p.body)
	}
	writeLine(&b, "")
	writeLine(&b, "--"+boundary+"--")
	return b.Bytes(), nil
}

// validate checks what Build cannot repair: a DSN about nothing, or fields
// that would put a CR or LF into a header.
func (r *Report) validate() error {
	if len(r.Recipients) == 0 {
		return errors.New("dsn: report has no recipients")
	}
	// A slice, not a map, so the first bad field is always the one reported.
	fields := []struct{ name, value string }{
		{"ReportingMTA", r.ReportingMTA}, {"From", r.From}, {"To", r.To},
		{"ReceivedFrom", r.ReceivedFrom}, {"MessageID", r.MessageID},
	}
	for i, f := range fields {
		if f.value == "" && i < 3 {
			return fmt.Errorf("dsn: %s is empty", f.name)
		}
		if hasControl(f.value) {
			return fmt.Errorf("dsn: %s %q contains control characters", f.name, f.value)
		}
	}
	if strings.ContainsAny(r.MessageID, "<> \t") {
		return fmt.Errorf("dsn: MessageID %q must be given without angle brackets or spaces", r.MessageID)
	}
	for i, rc := range r.Recipients {
		if rc.Address == "" {
			return fmt.Errorf("dsn: recipient %d: empty address", i)
		}
		if hasControl(rc.Address) || hasControl(rc.RemoteMTA) {
			return fmt.Errorf("dsn: recipient %q: address or remote MTA contains control characters", rc.Address)
		}
		if !rc.Action.valid() {
			return fmt.Errorf("dsn: recipient %q: invalid action %q (want failed, delayed, delivered, relayed or expanded)", rc.Address, rc.Action)
		}
		if !validStatus(rc.Status) {
			return fmt.Errorf("dsn: recipient %q: invalid status %q (want class.subject.detail with class 2, 4 or 5, RFC 3463)", rc.Address, rc.Status)
		}
		if rc.OriginalRcpt != "" && !strings.Contains(rc.OriginalRcpt, ";") {
			return fmt.Errorf("dsn: recipient %q: original recipient %q is not \"type;address\"", rc.Address, rc.OriginalRcpt)
		}
	}
	return nil
}

// validStatus reports whether s is an RFC 3463 §2 status code:
// class "." subject "." detail, class 2, 4 or 5, the others 1 to 3 digits.
func validStatus(s string) bool {
	f := strings.Split(s, ".")
	if len(f) != 3 || (f[0] != "2" && f[0] != "4" && f[0] != "5") {
		return false
	}
	for _, n := range f[1:] {
		if len(n) < 1 || len(n) > 3 {
			return false
		}
		for _, c := range []byte(n) {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// subject picks the Subject by the worst news in the report, RFC 2047
// encoded when it is not ASCII (§5(1)). A language other than English
// adds the English subject, as the text part adds the English text.
func (r *Report) subject(t *texts) string {
	pick := func(t *texts) string {
		delayed := false
		for _, rc := range r.Recipients {
			switch rc.Action {
			case Failed:
				return t.subjectFailed
			case Delayed:
				delayed = true
			}
		}
		if delayed {
			return t.subjectDelayed
		}
		return t.subjectOther
	}
	s := encodeWords(pick(t))
	if t.englishAfter {
		s += " (" + pick(&en) + ")"
	}
	return s
}

// encodeWords returns s as it may stand in an unstructured header field
// or a display name: unchanged if it is ASCII, else as RFC 2047 "B"
// encoded-words in UTF-8, each at most 75 characters (§2), separated by
// spaces at which writeField may fold. "B" because CJK text is shorter in
// base64 than in "Q".
func encodeWords(s string) string {
	return mime.BEncoding.Encode("utf-8", s)
}

// needsGlobal reports whether a recipient address in the status part is
// non-ASCII, which RFC 6533 §3 only allows in message/global-delivery-status.
func (r *Report) needsGlobal() bool {
	for _, rc := range r.Recipients {
		if !isASCII(rc.Address) || !isASCII(rc.OriginalRcpt) {
			return true
		}
	}
	return false
}

// statusPart renders the machine-readable part (RFC 3464 §2.2, §2.3).
func (r *Report) statusPart(reportingMTA string, global bool, t *texts) (part, error) {
	var b bytes.Buffer
	// Per-message fields, RFC 3464 §2.2.
	if r.EnvelopeID != "" {
		writeField(&b, "Original-Envelope-Id", statusText(r.EnvelopeID, false))
	}
	writeField(&b, "Reporting-MTA", "dns; "+reportingMTA)
	if r.ReceivedFrom != "" {
		v := r.ReceivedFrom
		if !strings.Contains(v, ";") {
			v = "dns; " + v // RFC 3464 §2.2.4 needs an mta-name-type
		}
		writeField(&b, "Received-From-MTA", statusText(v, false))
	}
	if !r.ArrivalDate.IsZero() {
		writeField(&b, "Arrival-Date", r.ArrivalDate.Format(dateLayout))
	}

	// Per-recipient fields, RFC 3464 §2.3, each block after a blank line.
	for _, rc := range r.Recipients {
		writeLine(&b, "")
		if rc.OriginalRcpt != "" {
			typ, addr, _ := strings.Cut(rc.OriginalRcpt, ";")
			writeField(&b, "Original-Recipient", strings.TrimSpace(typ)+"; "+statusText(strings.TrimSpace(addr), global))
		}
		writeField(&b, "Final-Recipient", addressType(rc.Address)+"; "+rc.Address)
		writeField(&b, "Action", string(rc.Action))
		writeField(&b, "Status", rc.Status)
		if rc.RemoteMTA != "" {
			host, err := hostForDNS(rc.RemoteMTA)
			if err != nil {
				return part{}, fmt.Errorf("dsn: recipient %q: remote MTA %q: %w", rc.Address, rc.RemoteMTA, err)
			}
			writeField(&b, "Remote-MTA", "dns; "+host)
		}
		if d := joinReply(rc.DiagnosticCode); d != "" {
			writeField(&b, "Diagnostic-Code", "smtp; "+statusText(d, global))
		}
		if !rc.LastAttempt.IsZero() {
			writeField(&b, "Last-Attempt-Date", rc.LastAttempt.Format(dateLayout))
		}
		if rc.Action == Delayed && !rc.WillRetryUntil.IsZero() {
			writeField(&b, "Will-Retry-Until", rc.WillRetryUntil.Format(dateLayout))
		}
	}

	typ, cte := "message/delivery-status", "7bit"
	if global {
		typ = "message/global-delivery-status" // RFC 6533 §6.1
	}
	if !isASCII(b.String()) {
		cte = "8bit"
	}
	return part{
		header: []string{
			"Content-Description: " + encodeWords(t.descStatus),
			"Content-Type: " + typ,
			"Content-Transfer-Encoding: " + cte,
		},
		body: b.Bytes(),
	}, nil
}

// addressType is the RFC 3464 §2.3.2 address type of a final recipient:
// "utf-8" for internationalised addresses (RFC 6533 §3), else "rfc822".
func addressType(addr string) string {
	if isASCII(addr) {
		return "rfc822"
	}
	return "utf-8"
}

// hostForDNS returns host as an "dns" MTA name (RFC 3464 §2.2.2): A-labels,
// since the field is ASCII; address literals such as "[192.0.2.1]" are kept.
func hostForDNS(host string) (string, error) {
	if host == "" || strings.ContainsAny(host, " \t;") || hasControl(host) {
		return "", errors.New("not a host name")
	}
	if isASCII(host) {
		return host, nil
	}
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("IDNA: %w", err)
	}
	return a, nil
}

// joinReply turns a possibly multi-line SMTP reply into the single logical
// line a Diagnostic-Code holds (RFC 3464 §2.3.6): lines joined by one space,
// other control characters replaced by spaces.
func joinReply(reply string) string {
	lines := strings.FieldsFunc(reply, func(r rune) bool { return r == '\r' || r == '\n' })
	for i, l := range lines {
		lines[i] = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, l))
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}

// statusText makes s fit a delivery-status field: no control characters
// and, unless the part is message/global-delivery-status, US-ASCII only
// (RFC 3464 §2.1.1). Unrepresentable bytes become '?'; a lost character is
// better than a lost report.
func statusText(s string, utf8OK bool) string {
	if utf8OK {
		s = strings.ToValidUTF8(s, "?")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r >= utf8.RuneSelf && !utf8OK:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeField writes "name: value" folded at spaces (RFC 5322 §2.2.3) so that
// lines stay near foldAt octets and never exceed maxLine. Runs of spaces are
// kept in one line, as a line of only white space is not a legal fold.
func writeField(b *bytes.Buffer, name, value string) {
	line := name + ":"
	content := false // line holds more than the field name
	for _, word := range strings.Split(value, " ") {
		piece := " " + word
		if content && word != "" && len(line)+len(piece) > foldAt {
			writeLine(b, line)
			line = ""
		}
		// A word too long for any line: split it, although unfolding then
		// reads a space into it. Real SMTP replies never get here.
		for len(line)+len(piece) > maxLine {
			n := maxLine - len(line)
			n = cutUTF8(piece, n)
			writeLine(b, line+piece[:n])
			line, piece = "", " "+piece[n:]
		}
		line += piece
		content = content || word != ""
	}
	writeLine(b, line)
}

// cutUTF8 returns the largest n' <= n at which s can be cut without
// splitting a UTF-8 sequence, and at least 1 so progress is made.
func cutUTF8(s string, n int) int {
	for n > 1 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return max(n, 1)
}

// textPart encodes the human-readable text as text/plain; charset=utf-8,
// quoted-printable when it is not short-lined ASCII (RFC 2045 §6.7) so
// that it survives any relay. Content-Language (RFC 3282) names the
// languages it is written in, in their order.
func textPart(text string, t *texts) part {
	langs := string(t.language)
	if t.englishAfter {
		langs += ", " + string(English)
	}
	h := []string{
		"Content-Description: " + encodeWords(t.descText),
		"Content-Type: text/plain; charset=utf-8",
		"Content-Language: " + langs,
	}
	plain := isASCII(text)
	for l := range strings.Lines(text) {
		if len(strings.TrimRight(l, "\n")) > foldAt {
			plain = false
		}
	}
	var body bytes.Buffer
	if plain {
		body.WriteString(toCRLF(text))
		return part{header: append(h, "Content-Transfer-Encoding: 7bit"), body: endCRLF(body.Bytes())}
	}
	w := quotedprintable.NewWriter(&body) // writes line breaks as CRLF
	w.Write([]byte(text))                 // writes to a bytes.Buffer cannot fail
	w.Close()
	return part{header: append(h, "Content-Transfer-Encoding: quoted-printable"), body: endCRLF(body.Bytes())}
}

// pickBoundary returns a random boundary that occurs in no part (RFC 2046
// §5.1.1); the original message is arbitrary data, so this is checked.
func pickBoundary(parts []part) (string, error) {
	for range maxBoundaryTries {
		bd := "=_dsn_" + rand.Text()
		clash := false
		for _, p := range parts {
			if bytes.Contains(p.body, []byte("--"+bd)) {
				clash = true
				break
			}
		}
		if !clash {
			return bd, nil
		}
	}
	return "", errors.New("dsn: no MIME boundary found that is absent from the parts")
}

// anyEightBit reports whether a part declares 8bit content.
func anyEightBit(parts []part) bool {
	for _, p := range parts {
		for _, h := range p.header {
			if h == "Content-Transfer-Encoding: 8bit" {
				return true
			}
		}
	}
	return false
}

// writeLine writes s and the CRLF that ends every line of the message.
func writeLine(b *bytes.Buffer, s string) {
	b.WriteString(s)
	b.WriteString("\r\n")
}

// isASCII reports whether s is 7-bit.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasControl reports whether s has a character that could break or inject
// a header line.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// original is the returned message (RFC 3464 §2: the optional third part),
// its line endings already CRLF.
type original struct {
	data        []byte // the whole message, or only its header section
	headersOnly bool   // data is only the header section
	header8bit  bool   // the header has 8-bit bytes (RFC 6532 UTF-8 headers)
	t           *texts // the wording of its description
}

// readOriginal reads the original message, at most limit+1 bytes when
// limit > 0, and decides how much of it can be returned. It returns nil
// when nothing is left to return (an empty message).
func readOriginal(rd io.Reader, limit int64, headersOnly bool, t *texts) (*original, error) {
	if limit > 0 {
		rd = io.LimitReader(rd, limit+1)
	}
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("dsn: read original message: %w", err)
	}
	tooBig := limit > 0 && int64(len(raw)) > limit
	if tooBig {
		// A CR cut from its LF must not read as a line end.
		raw = bytes.TrimSuffix(raw, []byte("\r"))
	}
	data := []byte(toCRLF(string(raw)))
	if tooBig {
		// Cut off somewhere: keep only complete lines (none if the first
		// line is longer than the limit).
		if i := bytes.LastIndex(data, []byte("\r\n")); i >= 0 {
			data = data[:i+2]
		} else {
			data = nil
		}
	}
	data = endCRLF(data)

	hdr := data
	if bytes.HasPrefix(data, []byte("\r\n")) {
		hdr = nil // no header at all
	} else if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		hdr = data[:i+2]
	}
	o := &original{data: data, header8bit: !isASCII(string(hdr)), t: t}
	// message/rfc822 allows only 7bit and 8bit (RFC 2046 §5.2.1): a message
	// with over-long lines or NULs cannot be returned whole, so send its
	// header, which a text/* type may quoted-printable encode.
	if headersOnly || tooBig || !sevenOrEightBit(data) {
		o.data, o.headersOnly = hdr, true
	}
	if len(o.data) == 0 {
		return nil, nil
	}
	return o, nil
}

// part renders the original as the report's third part: message/rfc822, or
// with only the header text/rfc822-headers (RFC 6522 §4); their RFC 6533
// §6.3 and §6.4 counterparts message/global and message/global-headers when
// the header is UTF-8.
func (o *original) part() part {
	var typ, desc string
	switch {
	case o.headersOnly && o.header8bit:
		typ, desc = "message/global-headers", o.t.descHeaders
	case o.headersOnly:
		typ, desc = "text/rfc822-headers", o.t.descHeaders
	case o.header8bit:
		typ, desc = "message/global", o.t.descMessage
	default:
		typ, desc = "message/rfc822", o.t.descMessage
	}
	cte, body := "7bit", o.data
	switch {
	case !sevenOrEightBit(o.data):
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write(o.data) // writes to a bytes.Buffer cannot fail
		w.Close()
		cte, body = "quoted-printable", endCRLF(b.Bytes())
	case !isASCII(string(o.data)):
		cte = "8bit"
	}
	return part{
		header: []string{
			"Content-Description: " + encodeWords(desc),
			"Content-Type: " + typ,
			"Content-Transfer-Encoding: " + cte,
		},
		body: body,
	}
}

// sevenOrEightBit reports whether CRLF-ended data is valid 7bit or 8bit
// content (RFC 2045 §2.7, §2.8): no NUL and no line over maxLine octets.
func sevenOrEightBit(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	for l := range bytes.Lines(data) {
		if len(bytes.TrimSuffix(l, []byte("\r\n"))) > maxLine {
			return false
		}
	}
	return true
}

// toCRLF turns CRLF, bare LF and bare CR line endings all into CRLF, as
// RFC 5322 §2.3 allows no other.
func toCRLF(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/32)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString("\r\n")
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// endCRLF makes sure b ends in a line break, so the boundary delimiter that
// follows starts on a line of its own.
func endCRLF(b []byte) []byte {
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		b = append(b, '\r', '\n')
	}
	return b
}
