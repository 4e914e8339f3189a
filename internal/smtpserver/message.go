package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/yizhan-mail/yizhan/internal/address"
)

// dateLayout is the RFC 5322 §3.3 date-time format.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// hdrReaderPool holds the readers textproto.ReadHeader needs.
var hdrReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// intake receives the bytes of one message (from DATA after dot-unstuffing
// or from BDAT chunks): it buffers and checks the header section, applies
// the submission fix-ups, and streams everything into the Backend's
// MessageWriter. Once a refusal is certain it stops writing but keeps
// counting, so that the client can be answered after the end of the data.
type intake struct {
	s  *session
	id string // tracking id

	hdr      *[]byte // header section being buffered (pooled)
	inHeader bool    // the end of the header section has not been seen

	size      int64 // octets received (after dot-unstuffing)
	tooBig    bool  // size > MaxMessageSize
	hdrTooBig bool  // header section > MaxHeaderSize
	bare      bool  // bare CR or LF seen (set by the caller at the end)
	nul       bool  // a NUL octet seen
	crlf      crlfChecker

	refusal   *Reply // from header checks
	clientErr bool   // refusal is the client's fault (counted)
	werr      error  // backend or write error

	messageID string // Message-ID after fix-ups, no brackets

	mw MessageWriter
	bw *bufio.Writer // over cw, bodyBufSize
	cw countingWriter
}

// countingWriter counts what reaches the MessageWriter (Envelope.Size).
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newIntake(s *session) *intake {
	return &intake{s: s, id: newTrackingID(), hdr: headerPool.Get().(*[]byte), inHeader: true}
}

// release returns pooled buffers and aborts a message not delivered.
func (m *intake) release() {
	if m.mw != nil {
		m.mw.Abort()
		m.mw = nil
	}
	if m.bw != nil {
		m.bw.Reset(nil)
		bodyPool.Put(m.bw)
		m.bw = nil
	}
	if m.hdr != nil {
		if cap(*m.hdr) <= maxPooledHeader {
			*m.hdr = (*m.hdr)[:0]
			headerPool.Put(m.hdr)
		}
		m.hdr = nil
	}
}

// stopped reports whether the message will be refused anyway.
func (m *intake) stopped() bool {
	return m.tooBig || m.hdrTooBig || m.nul || m.refusal != nil || m.werr != nil
}

// emit takes the next bytes of the message; b is only valid during the
// call.
func (m *intake) emit(b []byte) {
	m.size += int64(len(b))
	if m.size > m.s.cfg.MaxMessageSize {
		// RFC 1870 §6.3 / RFC 5321 §4.5.3.1.7: refused after the data.
		m.tooBig = true
	}
	if m.stopped() {
		return
	}
	if bytes.IndexByte(b, 0) >= 0 {
		// RFC 5322 §2.1 and RFC 5321 §4.1.1.4 leave NUL out of message
		// text, and without BINARYMIME (not offered) no body may carry
		// it: the next hop, or an IMAP client reading a plain literal,
		// would get bytes it must not. Refused after the data.
		m.nul = true
		return
	}
	if m.inHeader {
		m.addHeader(b)
		return
	}
	m.write(b)
}

func (m *intake) write(b []byte) {
	if _, err := m.bw.Write(b); err != nil {
		m.werr = err
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// addHeader buffers header bytes until the empty line that ends the header
// section (RFC 5322 §2.1), then processes the header and passes the rest
// on as body.
func (m *intake) addHeader(b []byte) {
	maxHdr := m.s.cfg.MaxHeaderSize
	h := *m.hdr
	old := len(h)
	take := b
	if room := maxHdr + 4 - int64(old); int64(len(take)) > room {
		take = take[:room]
	}
	h = append(h, take...)
	*m.hdr = h
	end := -1
	if old < 2 && len(h) >= 2 && h[0] == '\r' && h[1] == '\n' {
		end = 2 // no header fields at all
	} else {
		from := max(old-3, 0)
		if i := bytes.Index(h[from:], crlfcrlf); i >= 0 {
			end = from + i + 4
		}
	}
	if end < 0 {
		if int64(len(h)) > maxHdr {
			m.hdrTooBig = true
		}
		return
	}
	*m.hdr = h[:end]
	m.inHeader = false
	if int64(end) > maxHdr {
		m.hdrTooBig = true
		return
	}
	m.processHeader()
	if rest := b[end-old:]; len(rest) > 0 && !m.stopped() {
		m.write(rest)
	}
}

// processHeader checks the header section, applies the submission
// fix-ups and starts the MessageWriter with the header.
func (m *intake) processHeader() {
	s := m.s
	hdr := *m.hdr
	br := hdrReaderPool.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(hdr))
	h, perr := textproto.ReadHeader(br)
	br.Reset(nil)
	hdrReaderPool.Put(br)
	if perr == io.EOF {
		perr = nil // header section without a body
	}

	// RFC 5321 §6.3: a message with too many trace fields is looping.
	if h.FieldsByKey("Received").Len() > s.cfg.MaxReceived {
		m.refuse(554, "5.4.6", "Mail loop detected: too many Received header fields")
		return
	}
	m.messageID = trimMsgID(h.Get("Message-Id"))

	var prefix []byte
	if s.cfg.Mode != ModeInbound {
		if perr != nil {
			m.refuse(550, "5.6.0", "Malformed message header")
			return
		}
		if !m.checkFrom(&h) {
			return
		}
		// RFC 6409 §8.3: add Message-ID; §8.2: add Date.
		if m.messageID == "" {
			m.messageID = m.id + "@" + address.ASCIIDomain(s.cfg.Hostname)
			prefix = append(prefix, "Message-ID: <"+m.messageID+">\r\n"...)
		}
		if !h.Has("Date") {
			prefix = append(prefix, "Date: "+time.Now().Format(dateLayout)+"\r\n"...)
		}
	} else if perr != nil {
		// Inbound mail is delivered as sent, even when its header does
		// not parse; we only needed the trace fields.
		s.log.Debug("unparsable message header", "id", m.id, "err", perr)
	}

	mw, err := s.srv.backend.NewMessage(s.ctx)
	if err != nil {
		m.werr = err
		return
	}
	m.mw = mw
	m.bw = bodyPool.Get().(*bufio.Writer)
	m.cw = countingWriter{w: mw}
	m.bw.Reset(&m.cw)
	if len(prefix) > 0 {
		m.write(prefix)
	}
	m.write(hdr)
}

// senderFields are the header fields that name who sent a message: the
// author (RFC 5322 §3.6.2), the agent that sent it for them, and the same
// pair for a resent message (§3.6.6). A user may put only their own
// addresses in any of them.
var senderFields = []string{"From", "Sender", "Resent-From", "Resent-Sender"}

// checkFrom applies RFC 6409 §8 (the MSA may refuse) and RFC 5322 §3.6.2
// (From is required): every address in From, Sender and the Resent-
// fields must belong to the sender.
func (m *intake) checkFrom(h *textproto.Header) bool {
	s := m.s
	type named struct{ field, addr string }
	var addrs []named
	hasFrom := false
	for _, field := range senderFields {
		for _, v := range h.Values(field) {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				m.refuse(550, "5.6.0", "Malformed "+field+" header field")
				return false
			}
			for _, a := range list {
				pa, err := address.Parse(a.Address)
				if err != nil {
					m.refuse(550, "5.6.0", "Malformed address in "+field+" header field")
					return false
				}
				addrs = append(addrs, named{field, pa.String()})
				hasFrom = hasFrom || field == "From"
			}
		}
	}
	if !hasFrom {
		m.refuse(550, "5.6.0", "Message has no From header")
		return false
	}
	for _, a := range addrs {
		if err := s.srv.backend.CheckSender(s.ctx, &s.info, a.addr, a.field); err != nil {
			var r *Reply
			if errors.As(err, &r) {
				m.refusal, m.clientErr = r, r.Code >= 500
			} else {
				m.werr = err
			}
			return false
		}
	}
	return true
}

func (m *intake) refuse(code int, enh, text string) {
	m.refusal = &Reply{Code: code, Enhanced: enh, Text: text}
	m.clientErr = true
}

func trimMsgID(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "<")
	v = strings.TrimSuffix(v, ">")
	return strings.TrimSpace(v)
}

// verdict is called after the end of the data. It returns the refusal,
// if any, and whether it counts as a client error. On refusal the
// MessageWriter is aborted (by release).
func (m *intake) verdict() (r *Reply, clientErr bool) {
	if m.bare {
		return &Reply{550, "5.5.2", "bare LF or CR in message data; use CRLF line endings"}, true
	}
	if m.tooBig {
		return &Reply{552, "5.3.4", "Message size exceeds fixed maximum message size"}, true
	}
	if m.nul {
		return &Reply{554, "5.6.0", "NUL characters are not allowed in message data"}, true
	}
	if m.inHeader && !m.stopped() {
		// The message ended inside its header section.
		if int64(len(*m.hdr)) > m.s.cfg.MaxHeaderSize {
			m.hdrTooBig = true
		} else {
			m.inHeader = false
			m.processHeader()
		}
	}
	if m.hdrTooBig {
		return &Reply{552, "5.3.4", "Message header too large"}, true
	}
	if m.refusal != nil {
		return m.refusal, m.clientErr
	}
	return nil, false
}

// deliver completes the Envelope and calls Backend.Deliver.
func (m *intake) deliver(ctx context.Context) (*Envelope, error) {
	if m.werr == nil {
		if err := m.bw.Flush(); err != nil {
			m.werr = err
		}
	}
	if m.werr != nil {
		return nil, m.werr
	}
	s := m.s
	now := time.Now()
	rcpts := make([]string, len(s.txn.rcpts))
	copy(rcpts, s.txn.rcpts)
	env := &Envelope{
		Session:    s.sessionCopy(),
		TrackingID: m.id,
		From:       s.txn.from,
		Recipients: rcpts,
		SMTPUTF8:   s.txn.smtputf8,
		Body8Bit:   s.txn.body8bit,
		MessageID:  m.messageID,
		Size:       m.cw.n,
		Arrived:    now,
		Ret:        s.txn.ret,
		EnvID:      s.txn.envid,
		DSN:        s.txn.dsn,
	}
	env.Received = buildReceived(env, s.esmtp, s.cfg.Hostname, now)
	if err := s.srv.backend.Deliver(ctx, env, m.mw); err != nil {
		return nil, err // release aborts
	}
	m.mw = nil
	return env, nil
}

// sessionCopy is a snapshot of the session for an Envelope, so that the
// backend may keep it after the session changes.
func (s *session) sessionCopy() *Session {
	c := s.info
	return &c
}

// buildReceived formats the trace field of RFC 5321 §4.4 with the
// protocol keywords of RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC
// 6531 §3.7.3 (UTF8SMTP...), folded at spaces (RFC 5322 §2.2.3).
func buildReceived(env *Envelope, esmtp bool, hostname string, now time.Time) string {
	s := env.Session
	proto := "SMTP"
	if esmtp {
		proto = "ESMTP"
		if env.SMTPUTF8 {
			proto = "UTF8SMTP"
		}
		if s.TLS != nil {
			proto += "S"
		}
		if s.AuthAccount != "" {
			proto += "A"
		}
	}
	var b strings.Builder
	b.Grow(256)
	b.WriteString("Received: from ")
	b.WriteString(s.Helo)
	b.WriteString(" ([")
	b.WriteString(s.RemoteIP.String())
	b.WriteString("]) by ")
	b.WriteString(hostname)
	b.WriteString(" (Yizhan) with ")
	b.WriteString(proto)
	if s.TLS != nil {
		b.WriteString(" (")
		b.WriteString(strings.ReplaceAll(tls.VersionName(s.TLS.Version), " ", ""))
		b.WriteByte(' ')
		b.WriteString(tls.CipherSuiteName(s.TLS.CipherSuite))
		b.WriteByte(')')
	}
	if s.AuthAccount != "" {
		b.WriteString(" (authenticated as ")
		b.WriteString(s.AuthAccount)
		b.WriteByte(')')
	}
	b.WriteString(" id ")
	b.WriteString(env.TrackingID)
	if len(env.Recipients) == 1 {
		b.WriteString(" for <")
		b.WriteString(env.Recipients[0])
		b.WriteByte('>')
	}
	b.WriteString("; ")
	b.WriteString(now.Format(dateLayout))
	return fold(b.String(), 78)
}

// fold breaks a header field at spaces so that lines stay within width
// where possible, continuing with CRLF TAB; the result ends with CRLF.
func fold(field string, width int) string {
	var b strings.Builder
	b.Grow(len(field) + 16)
	lineLen := 0
	for i, word := range strings.Split(field, " ") {
		if i > 0 {
			if lineLen+1+len(word) > width {
				b.WriteString("\r\n\t")
				lineLen = 1
			} else {
				b.WriteByte(' ')
				lineLen++
			}
		}
		b.WriteString(word)
		lineLen += len(word)
	}
	b.WriteString("\r\n")
	return b.String()
}
