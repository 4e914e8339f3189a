package loadgen

// The IMAP client of the load generator: one raw connection per session,
// written on bufio rather than taken from a library so that the bytes on
// the wire, and the client's own cost per command, are known. It speaks
// the client side of IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) only as
// far as the modes need: one command at a time, every response read,
// literals read by length, untagged responses skipped after a glance for
// the few facts a mode uses (EXISTS, UIDs, SEARCH hits, capabilities).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

const (
	// imapBufSize is the read and write buffer of a connection: a FETCH
	// FLAGS line is ~40 bytes, so one fill of the buffer holds ~1,500
	// responses, and a 10 KB APPEND goes out in one write.
	imapBufSize = 64 << 10

	// maxIMAPLine bounds one response's text (its literals not counted).
	// The longest a mode provokes is "* SEARCH" listing every UID: 100,000
	// seven-digit UIDs are 0.8 MB; a runaway server stops at 64 MB.
	maxIMAPLine = 64 << 20

	// maxIMAPLiteral bounds one literal's declared size, so a corrupt
	// "{n}" fails instead of waiting for terabytes.
	maxIMAPLiteral = 1 << 34

	// literalMinusMax is the largest non-synchronising literal a server
	// that offers only LITERAL- (or IMAP4rev2, which includes it) accepts:
	// RFC 7888 §4, RFC 9051 §2.2.2.
	literalMinusMax = 4096
)

// IMAPServer says where an IMAP server is and how to log in; every IMAP
// mode takes one. Zero values take the defaults noted.
type IMAPServer struct {
	Addr       string        // host:port; default 127.0.0.1:2993 (Yizhan's default imaps)
	TLS        string        // TLSImplicit (default), TLSStartTLS or TLSNone
	Insecure   bool          // skip certificate verification (self-signed loopback servers)
	ServerName string        // TLS server name; default the host of Addr
	User       string        // LOGIN user name; required
	Password   string        // LOGIN password
	Timeout    time.Duration // limit for each exchange with the server; default 60s
	// SourceIPs are local addresses to connect from, taken in turn by
	// successive connections. Spreading a run over 127.0.0.x keeps it
	// under a server's per-client-address connection limit (Dovecot's
	// mail_max_userip_connections is 10).
	SourceIPs []string

	sources []net.IP // SourceIPs, parsed
}

func (s *IMAPServer) setDefaults() error {
	if s.Addr == "" {
		s.Addr = "127.0.0.1:2993"
	}
	if s.TLS == "" {
		s.TLS = TLSImplicit
	}
	if s.Timeout == 0 {
		s.Timeout = 60 * time.Second
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("imap: address %q: %w", s.Addr, err)
	}
	if s.ServerName == "" {
		s.ServerName = host
	}
	switch {
	case s.TLS != TLSNone && s.TLS != TLSStartTLS && s.TLS != TLSImplicit:
		return fmt.Errorf("imap: tls mode %q: want none, starttls or implicit", s.TLS)
	case s.User == "":
		return errors.New("imap: a user name is needed for LOGIN")
	case s.Timeout < 0:
		return errors.New("imap: timeout must not be negative")
	}
	s.sources = s.sources[:0]
	for _, a := range s.SourceIPs {
		ip := net.ParseIP(a)
		if ip == nil {
			return fmt.Errorf("imap: source address %q is not an IP address", a)
		}
		s.sources = append(s.sources, ip)
	}
	return nil
}

// checkMailbox refuses mailbox names the client cannot send as they are:
// non-ASCII names need modified UTF-7 (RFC 3501 §5.1.3), not implemented.
func checkMailbox(name string) error {
	if name == "" {
		return errors.New("imap: empty mailbox name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("imap: mailbox %q: only printable ASCII names are supported", name)
		}
	}
	return nil
}

// literal is a command argument sent as an IMAP literal (RFC 9051 §4.3).
type literal []byte

// respKind is what kind of server response was read (RFC 9051 §2.2.2).
type respKind int

const (
	respUntagged     respKind = iota // "* ..."
	respContinuation                 // "+ ..."
	respTagged                       // "TAG OK|NO|BAD ..."
)

// reply is a tagged completion result (RFC 9051 §7.1).
type reply struct {
	status string // OK, NO or BAD, upper-cased
	code   string // the response code without its brackets ("APPENDUID 7 12"); "" if none
	text   string // the whole resp-text, code included, for error messages
}

// imapError is a command the server completed with NO or BAD: counted as a
// failed operation, the connection stays usable.
type imapError struct {
	cmd string // the command's name, never its arguments (LOGIN has a password)
	r   reply
}

func (e *imapError) Error() string { return fmt.Sprintf("%s: %s %s", e.cmd, e.r.status, e.r.text) }

// err returns nil for OK and an *imapError otherwise.
func (r reply) err(cmd string) error {
	if r.status == "OK" {
		return nil
	}
	return &imapError{cmd: cmd, r: r}
}

// imapConn is one client connection.
type imapConn struct {
	srv  *IMAPServer
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tag  int             // number of the last tag used
	caps map[string]bool // capabilities, upper-cased; nil until the server lists them
	// capsSeen counts capability listings, so LOGIN can tell whether the
	// server sent new ones (RFC 9051 §6.2.3) or must be asked.
	capsSeen int

	// Mailbox state, from untagged responses (RFC 9051 §7.3, §7.1).
	exists      int    // messages in the selected mailbox
	uidValidity uint32 // UIDVALIDITY of the selected mailbox
	bye         string // the server's BYE response, if it sent one

	// Per-command accounting, reset when a command is sent.
	litBytes   int64 // literal bytes in the responses (BODY[] data)
	fetches    int   // untagged FETCH responses
	searchHits int   // numbers in "* SEARCH" responses
	// onUID, when set, is called with the UID of every FETCH response
	// that carries one.
	onUID func(uid uint32)
	// lit, when set, receives the literal data of responses; otherwise it
	// is skipped unread.
	lit io.Writer

	line []byte // the response being read: its text, literal data cut out; reused
}

func newIMAPConn(conn net.Conn, srv *IMAPServer) *imapConn {
	return &imapConn{srv: srv, conn: conn, r: bufio.NewReaderSize(conn, imapBufSize), w: bufio.NewWriterSize(conn, imapBufSize)}
}

// dialIMAP connects (from source address number n mod len, if any), does
// TLS as configured and reads the greeting. The session is not logged in.
func dialIMAP(ctx context.Context, srv *IMAPServer, n int) (*imapConn, error) {
	d := net.Dialer{Timeout: srv.Timeout}
	if len(srv.sources) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: srv.sources[n%len(srv.sources)]}
	}
	conn, err := d.DialContext(ctx, "tcp", srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := newIMAPConn(conn, srv)
	ok := false
	defer func() {
		if !ok {
			c.conn.Close()
		}
	}()
	c.deadline()
	if srv.TLS == TLSImplicit {
		if err := c.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	// RFC 9051 §7.1: the greeting is an untagged OK, PREAUTH or BYE.
	kind, err := c.readResponse()
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if kind != respUntagged || !(hasWordFold(c.line[2:], "OK") || hasWordFold(c.line[2:], "PREAUTH")) {
		return nil, fmt.Errorf("greeting: %q", truncate(c.line, 200))
	}
	c.untagged()
	if srv.TLS == TLSStartTLS {
		// RFC 9051 §6.2.1: STARTTLS, then the handshake; whatever the
		// server said before it is forgotten, capabilities included.
		r, err := c.exec("STARTTLS")
		if err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
		if err := r.err("STARTTLS"); err != nil {
			return nil, err
		}
		if c.r.Buffered() > 0 {
			return nil, errors.New("STARTTLS: server sent data after its OK (injection?)")
		}
		if err := c.startTLS(ctx); err != nil {
			return nil, err
		}
		c.caps = nil
	}
	ok = true
	return c, nil
}

func (c *imapConn) startTLS(ctx context.Context) error {
	tc := tls.Client(c.conn, &tls.Config{ServerName: c.srv.ServerName, InsecureSkipVerify: c.srv.Insecure})
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return nil
}

// deadline bounds the next exchange, so a stalled server fails the
// operation instead of hanging the run.
func (c *imapConn) deadline() { c.conn.SetDeadline(time.Now().Add(c.srv.Timeout)) }

// login authenticates with LOGIN (RFC 9051 §6.2.3) and makes sure the
// capabilities of the authenticated state are known.
func (c *imapConn) login() error {
	seen := c.capsSeen
	r, err := c.exec("LOGIN ", astring(c.srv.User), " ", astring(c.srv.Password))
	if err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	if err := r.err("LOGIN"); err != nil {
		return err
	}
	if c.capsSeen == seen {
		return c.simple("CAPABILITY")
	}
	return nil
}

// selectMailbox selects name (RFC 9051 §6.3.2); c.exists then holds its
// size.
func (c *imapConn) selectMailbox(name string) error {
	c.exists = 0
	return c.simple("SELECT ", astring(name))
}

// simple runs a command whose untagged responses are of no interest, and
// reports any failure, NO and BAD included, as an error.
func (c *imapConn) simple(parts ...any) error {
	name := commandName(parts)
	r, err := c.exec(parts...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return r.err(name)
}

// logout says LOGOUT (RFC 9051 §6.1.3) and closes the connection; a server
// that already hung up is no error worth reporting.
func (c *imapConn) logout() error {
	c.conn.SetDeadline(time.Now().Add(min(c.srv.Timeout, 5*time.Second)))
	var err error
	if c.bye == "" {
		_, err = c.exec("LOGOUT")
	}
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// exec sends a command and reads responses until its tagged completion.
// The error is for the connection (I/O, protocol); NO and BAD come back
// in the reply.
func (c *imapConn) exec(parts ...any) (reply, error) {
	tag, early, err := c.start(parts...)
	if err != nil || early != nil {
		if early != nil {
			return *early, err
		}
		return reply{}, err
	}
	return c.wait(tag)
}

// start sends a command: strings verbatim, literals as literals. A
// synchronising literal waits for the server's continuation; if the
// server refuses the command instead, its completion is returned as early.
func (c *imapConn) start(parts ...any) (tag string, early *reply, err error) {
	c.tag++
	tag = "a" + strconv.Itoa(c.tag)
	c.litBytes, c.fetches, c.searchHits = 0, 0, 0
	c.deadline()
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			c.w.WriteString(p)
		case literal:
			var buf [24]byte
			b := append(buf[:0], '{')
			b = strconv.AppendInt(b, int64(len(p)), 10)
			sync := !c.nonSyncLiteral(len(p))
			if !sync {
				b = append(b, '+') // RFC 7888 §3
			}
			b = append(b, '}', '\r', '\n')
			c.w.Write(b)
			if sync {
				if err := c.w.Flush(); err != nil {
					return tag, nil, err
				}
				cont, r, err := c.waitContinuation(tag)
				if err != nil || !cont {
					return tag, &r, err
				}
			}
			c.w.Write(p)
		default:
			panic(fmt.Sprintf("imap: command part of type %T", p))
		}
	}
	c.w.WriteString("\r\n")
	return tag, nil, c.w.Flush()
}

// nonSyncLiteral reports whether a literal of n bytes may be sent without
// waiting for the server's go-ahead.
func (c *imapConn) nonSyncLiteral(n int) bool {
	switch {
	case c.caps["LITERAL+"]:
		return true
	case c.caps["LITERAL-"] || c.caps["IMAP4REV2"]:
		return n <= literalMinusMax
	}
	return false
}

// waitContinuation reads responses until a continuation request (cont is
// true) or the completion of tag (cont is false, r holds it).
func (c *imapConn) waitContinuation(tag string) (cont bool, r reply, err error) {
	for {
		kind, err := c.readResponse()
		if err != nil {
			return false, reply{}, err
		}
		switch kind {
		case respContinuation:
			return true, reply{}, nil
		case respUntagged:
			c.untagged()
		case respTagged:
			r, err := c.tagged(tag)
			return false, r, err
		}
	}
}

// wait reads responses until the completion of tag.
func (c *imapConn) wait(tag string) (reply, error) {
	for {
		kind, err := c.readResponse()
		if err != nil {
			return reply{}, err
		}
		switch kind {
		case respUntagged:
			c.untagged()
		case respContinuation:
			return reply{}, fmt.Errorf("unexpected continuation request %q", truncate(c.line, 100))
		case respTagged:
			return c.tagged(tag)
		}
	}
}

// tagged parses the tagged response in c.line, which must be for tag: one
// command is in flight at a time.
func (c *imapConn) tagged(tag string) (reply, error) {
	t, rest, _ := bytes.Cut(c.line, []byte(" "))
	if string(t) != tag {
		return reply{}, fmt.Errorf("response for tag %q while waiting for %s: %q", t, tag, truncate(c.line, 100))
	}
	status, text, _ := bytes.Cut(rest, []byte(" "))
	r := reply{status: strings.ToUpper(string(status)), text: string(text)}
	if r.status != "OK" && r.status != "NO" && r.status != "BAD" {
		return reply{}, fmt.Errorf("tagged response with status %q", truncate(status, 20))
	}
	if code, ok := respCode(text); ok {
		r.code = string(code)
		c.responseCode(code)
	}
	return r, nil
}

// readResponse reads one whole response into c.line. For an untagged data
// response, a line ending in a literal's announcement "{n}" (or "~{n}",
// RFC 3516) is followed by exactly n bytes and then more of the response:
// those bytes are read by length, never as lines, and go to c.lit or are
// skipped; c.line keeps the announcement and the text around it (RFC 9051
// §4.3). Status responses (OK, NO, BAD, BYE, PREAUTH), continuation
// requests and tagged responses carry text, never literals (RFC 9051 §9,
// resp-cond-state and continue-req), so a "{5}" at their end is text.
func (c *imapConn) readResponse() (respKind, error) {
	c.line = c.line[:0]
	if err := c.readLine(); err != nil {
		return 0, err
	}
	switch {
	case len(c.line) > 0 && c.line[0] == '+':
		return respContinuation, nil
	case len(c.line) < 2 || c.line[0] != '*' || c.line[1] != ' ':
		return respTagged, nil
	}
	if isStatusResponse(c.line[2:]) {
		return respUntagged, nil
	}
	for seg := 0; ; {
		// Only the segment just read can announce a literal: after
		// "{5}\r\n<5 bytes>\r\n" the response has ended even though the
		// text so far still ends in "{5}".
		n, ok, err := literalAtEnd(c.line[seg:])
		if err != nil {
			return 0, err
		}
		if !ok {
			return respUntagged, nil
		}
		if c.lit != nil {
			if _, err := io.CopyN(c.lit, c.r, n); err != nil {
				return 0, fmt.Errorf("literal of %d bytes: %w", n, noEOF(err))
			}
		} else if _, err := c.r.Discard(int(n)); err != nil {
			return 0, fmt.Errorf("literal of %d bytes: %w", n, noEOF(err))
		}
		c.litBytes += n
		seg = len(c.line)
		if err := c.readLine(); err != nil {
			return 0, err
		}
	}
}

// readLine appends one line to c.line, without its CRLF (a bare LF is
// accepted too).
func (c *imapConn) readLine() error {
	for {
		b, err := c.r.ReadSlice('\n')
		if len(c.line)+len(b) > maxIMAPLine {
			return fmt.Errorf("response longer than %d bytes", maxIMAPLine)
		}
		c.line = append(c.line, b...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && c.bye != "" {
				return fmt.Errorf("connection closed after %q: %w", c.bye, err)
			}
			if err == io.EOF && len(b) == 0 && len(c.line) == 0 {
				return io.EOF // between responses: the server hung up
			}
			return noEOF(err)
		}
	}
	c.line = bytes.TrimSuffix(c.line, []byte("\n"))
	c.line = bytes.TrimSuffix(c.line, []byte("\r"))
	return nil
}

// noEOF turns a clean EOF in the middle of a response into
// io.ErrUnexpectedEOF: a server that hangs up there has failed.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// literalAtEnd reports the size n of a literal announced at the end of
// line: "{n}", "{n+}" or "~{n}" (RFC 9051 §4.3, RFC 7888, RFC 3516).
func literalAtEnd(line []byte) (n int64, ok bool, err error) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, nil
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false, nil
	}
	digits := bytes.TrimSuffix(line[open+1:len(line)-1], []byte("+"))
	if len(digits) == 0 || len(digits) > 12 {
		return 0, false, nil
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, false, nil
		}
		n = n*10 + int64(d-'0')
	}
	if n > maxIMAPLiteral {
		return 0, false, fmt.Errorf("literal of %d bytes announced", n)
	}
	return n, true, nil
}

// isStatusResponse reports whether an untagged response (after "* ") is a
// status response, whose text never holds a literal.
func isStatusResponse(b []byte) bool {
	for _, w := range []string{"OK", "NO", "BAD", "BYE", "PREAUTH"} {
		if hasWordFold(b, w) {
			return true
		}
	}
	return false
}

// hasWordFold reports whether b starts with word, case-insensitively,
// followed by a space or the end.
func hasWordFold(b []byte, word string) bool {
	return len(b) >= len(word) && bytes.EqualFold(b[:len(word)], []byte(word)) && (len(b) == len(word) || b[len(word)] == ' ')
}

// untagged takes what the modes need from the untagged response in c.line
// and ignores the rest.
func (c *imapConn) untagged() {
	b := c.line[2:]
	word, rest, _ := bytes.Cut(b, []byte(" "))
	if n, ok := atoi(word); ok {
		// message-data: "* n EXISTS", "* n EXPUNGE", "* n FETCH (...)".
		kind, data, _ := bytes.Cut(rest, []byte(" "))
		switch {
		case bytes.EqualFold(kind, []byte("EXISTS")):
			c.exists = n
		case bytes.EqualFold(kind, []byte("EXPUNGE")):
			c.exists--
		case bytes.EqualFold(kind, []byte("FETCH")):
			c.fetches++
			if c.onUID != nil {
				if uid, ok := fetchUID(data); ok {
					c.onUID(uid)
				}
			}
		}
		return
	}
	switch {
	case bytes.EqualFold(word, []byte("OK")), bytes.EqualFold(word, []byte("PREAUTH")):
		if code, ok := respCode(rest); ok {
			c.responseCode(code)
		}
	case bytes.EqualFold(word, []byte("BYE")):
		c.bye = truncate(c.line, 200)
	case bytes.EqualFold(word, []byte("CAPABILITY")):
		c.setCaps(rest)
	case bytes.EqualFold(word, []byte("SEARCH")):
		if len(rest) > 0 {
			c.searchHits += bytes.Count(rest, []byte(" ")) + 1
		}
	case bytes.EqualFold(word, []byte("ESEARCH")):
		c.searchHits += esearchCount(rest)
	}
}

// esearchCount returns how many messages an ESEARCH response (RFC 4731
// §3.1, RFC 9051 §7.3.4) reports: its COUNT, else the size of its ALL set.
// A server that knows IMAP4rev2 may answer so even to a client that did
// not enable it.
func esearchCount(b []byte) int {
	f := bytes.Fields(b)
	all := -1
	for i := 0; i+1 < len(f); i++ {
		switch {
		case bytes.EqualFold(f[i], []byte("COUNT")):
			n, _ := atoi(f[i+1])
			return n
		case bytes.EqualFold(f[i], []byte("ALL")):
			all = i + 1
		}
	}
	if all < 0 {
		return 0
	}
	n := 0
	for _, r := range bytes.Split(f[all], []byte(",")) {
		lo, hi, isRange := bytes.Cut(r, []byte(":"))
		x, ok1 := atoi(lo)
		y, ok2 := atoi(hi)
		switch {
		case !isRange && ok1:
			n++
		case ok1 && ok2:
			n += max(x, y) - min(x, y) + 1
		}
	}
	return n
}

// responseCode takes CAPABILITY and UIDVALIDITY from a response code
// (RFC 9051 §7.1).
func (c *imapConn) responseCode(code []byte) {
	name, args, _ := bytes.Cut(code, []byte(" "))
	switch {
	case bytes.EqualFold(name, []byte("CAPABILITY")):
		c.setCaps(args)
	case bytes.EqualFold(name, []byte("UIDVALIDITY")):
		if n, ok := atou32(args); ok {
			c.uidValidity = n
		}
	}
}

func (c *imapConn) setCaps(list []byte) {
	c.caps = map[string]bool{}
	for _, f := range bytes.Fields(list) {
		c.caps[strings.ToUpper(string(f))] = true
	}
	c.capsSeen++
}

// respCode returns the response code at the start of resp-text: "[CODE
// args] text" (RFC 9051 §7.1).
func respCode(text []byte) ([]byte, bool) {
	if len(text) == 0 || text[0] != '[' {
		return nil, false
	}
	end := bytes.IndexByte(text, ']')
	if end < 0 {
		return nil, false
	}
	return text[1:end], true
}

// appendUID returns the UID of an appended message from the APPENDUID
// response code "APPENDUID uidvalidity uid" (RFC 4315 §3). A MULTIAPPEND
// uid-set is not expected: the client appends one message at a time.
func appendUID(code string) (uid uint32, ok bool) {
	f := strings.Fields(code)
	if len(f) != 3 || !strings.EqualFold(f[0], "APPENDUID") {
		return 0, false
	}
	return atou32([]byte(f[2]))
}

// fetchUID finds "UID n" in the data of a FETCH response (RFC 9051 §7.5.2).
func fetchUID(data []byte) (uint32, bool) {
	for i := 0; ; {
		j := indexFold(data[i:], "UID ")
		if j < 0 {
			return 0, false
		}
		i += j
		if i > 0 && data[i-1] != '(' && data[i-1] != ' ' {
			i += 4
			continue
		}
		end := i + 4
		for end < len(data) && data[end] >= '0' && data[end] <= '9' {
			end++
		}
		return atou32(data[i+4 : end])
	}
}

// indexFold is bytes.Index for an upper-case ASCII needle, ignoring case.
func indexFold(b []byte, needle string) int {
	for i := 0; i+len(needle) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(needle)], []byte(needle)) {
			return i
		}
	}
	return -1
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	return n, true
}

func atou32(b []byte) (uint32, bool) {
	n, ok := atoi(b)
	if !ok || n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// astring encodes s as an IMAP astring (RFC 9051 §4.3, §9): an atom when
// it is one, a quoted string when it is printable ASCII, else a literal
// (8-bit text, CR, LF, NUL cannot be quoted in IMAP4rev1).
func astring(s string) any {
	atom := s != ""
	quotable := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c > 0x7e:
			atom, quotable = false, false
		case strings.IndexByte("(){ %*\"\\", c) >= 0:
			atom = false
		}
	}
	switch {
	case atom:
		return s
	case quotable:
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		b.WriteByte('"')
		return b.String()
	}
	return literal(s)
}

// commandName is the command's name for error messages: the first part up
// to its arguments ("UID FETCH", "SELECT").
func commandName(parts []any) string {
	if len(parts) == 0 {
		return ""
	}
	s, _ := parts[0].(string)
	f := strings.Fields(s)
	switch {
	case len(f) == 0:
		return ""
	case strings.EqualFold(f[0], "UID") && len(f) > 1:
		return "UID " + f[1]
	}
	return f[0]
}

// truncate shortens b for an error message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
