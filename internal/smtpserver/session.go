package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/deadline"
	"github.com/yizhan-mail/yizhan/internal/testhook"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// Errors that end a session.
var (
	errLineTooLong = errors.New("smtpserver: line too long")
	errStopping    = errors.New("smtpserver: server shutting down")
	errQuit        = errors.New("smtpserver: session closed")
)

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newSessionID returns a short id for log lines (not a secret).
func newSessionID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return idEnc.EncodeToString(b[:6])
}

// transaction is the state of one mail transaction (RFC 5321 §3.3).
type transaction struct {
	active   bool     // MAIL accepted
	from     string   // reverse-path, "" for <>
	smtputf8 bool     // MAIL carried SMTPUTF8
	body8bit bool     // MAIL carried BODY=8BITMIME
	rcpts    []string // accepted forward-paths
	msg      *intake  // message being received by BDAT chunks
	// DSN (RFC 3461): RET and ENVID of MAIL, NOTIFY and ORCPT per RCPT.
	ret, envid string
	dsn        map[string]RcptDSN
}

// session is one SMTP connection.
type session struct {
	srv *Server
	cfg *Config
	log *slog.Logger
	raw net.Conn // the accepted connection
	ip  netip.Addr

	// conn is raw or, after TLS, the *tls.Conn over it. Written only by
	// the session goroutine, under mu.
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	ctx    context.Context
	cancel context.CancelFunc

	info     Session // handed to the Backend
	esmtp    bool    // EHLO (not HELO) was used
	greeted  bool    // EHLO or HELO done since the start or STARTTLS
	errScore int     // client errors, in halves (see countError)
	cmd      verb    // command being handled, for logs
	cmdArg   string  // its argument when harmless to log (MAIL, RCPT, EHLO)
	txn      transaction

	junk int // commands not advancing a transaction since the last message

	budget *connlimit.Listener // this listener's connection budget
	slot   *connlimit.Slot     // this connection's place in it; LoggedIn after AUTH
	// timer holds the read deadline of the current phase (a command
	// line, message data) and, until AUTH on submission, the login
	// deadline. Used by the session goroutine only.
	timer deadline.Timer
	// out writes conn under the write deadline of the current stretch
	// of replies (deadline.Writer). Session goroutine only.
	out *deadline.Writer

	mu       sync.Mutex
	stopping bool // Shutdown asked us to stop
	busy     bool // inside a transaction's data phase: let it finish
}

func newSession(ctx context.Context, srv *Server, c net.Conn, budget *connlimit.Listener) *session {
	s := &session{srv: srv, cfg: &srv.cfg, raw: c, conn: c, ip: connlimit.AddrOf(c), budget: budget}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.info = Session{ID: newSessionID(), Mode: srv.cfg.Mode, RemoteIP: s.ip}
	s.log = srv.log.With("session", s.info.ID, "client_ip", s.ip.String())
	if s.authOffered() {
		s.timer.SetLimit(time.Now().Add(srv.cfg.LoginTimeout))
	}
	return s
}

// interrupt is called by Shutdown: an idle session's pending read ends at
// once; a busy one finishes its transaction first.
func (s *session) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	if !s.busy {
		s.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// kill closes the connection when Shutdown's context has ended.
func (s *session) kill() {
	s.cancel()
	s.raw.Close()
}

func (s *session) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *session) setBusy(b bool) {
	s.mu.Lock()
	s.busy = b
	s.mu.Unlock()
}

// connReader is what the bufio.Reader reads from. Before blocking on the
// network it flushes the replies buffered so far (RFC 2920 §3.2: a server
// may batch replies, but must send them before waiting for more input), and
// it sets the read deadline of the current phase: fixed when the phase
// began, not pushed forward by each read, so a client trickling bytes
// cannot hold the session (internal/deadline).
type connReader struct{ s *session }

func (cr connReader) Read(p []byte) (int, error) {
	s := cr.s
	if s.w.Buffered() > 0 {
		if err := s.w.Flush(); err != nil {
			return 0, err
		}
	}
	s.out.Done() // the client has every reply: the next starts afresh
	s.mu.Lock()
	if s.stopping && !s.busy {
		s.mu.Unlock()
		return 0, errStopping
	}
	s.conn.SetReadDeadline(s.timer.Deadline())
	c := s.conn
	s.mu.Unlock()
	n, err := c.Read(p)
	s.timer.Read(n)
	return n, err
}

// connWriter is what the bufio.Writer writes to: the connection under the
// write deadline (out). A deadline pushed forward by every write, as
// before, held a client that pipelines EHLO and never reads for the
// command timeout at each write.
type connWriter struct{ s *session }

func (cw connWriter) Write(p []byte) (int, error) { return cw.s.out.Write(p) }

// currentConn is the session's connection, raw or TLS, as deadline.Writer
// writes to it.
type currentConn struct{ s *session }

func (c currentConn) Write(p []byte) (int, error)        { return c.s.conn.Write(p) }
func (c currentConn) SetWriteDeadline(t time.Time) error { return c.s.conn.SetWriteDeadline(t) }

// run is the whole life of a session.
func (s *session) run() {
	stop := context.AfterFunc(s.ctx, func() { s.raw.Close() })
	defer func() {
		stop()
		s.cancel()
		s.raw.Close()
	}()

	slot, why := s.budget.Acquire(s.ip)
	if why != connlimit.OK {
		s.refuseConn(why)
		return
	}
	defer slot.Release()
	s.slot = slot

	if s.cfg.Mode == ModeSubmissions {
		if !s.handshake() {
			return
		}
	}

	s.out = deadline.NewWriter(currentConn{s}, s.cfg.WriteTimeout, s.cfg.MinDataRate)
	s.r = readerPool.Get().(*bufio.Reader)
	s.w = writerPool.Get().(*bufio.Writer)
	s.r.Reset(connReader{s})
	s.w.Reset(connWriter{s})
	defer func() {
		s.abortTxn()
		s.r.Reset(nil)
		s.w.Reset(nil)
		readerPool.Put(s.r)
		writerPool.Put(s.w)
	}()
	defer s.recoverPanic()

	s.log.Debug("connected")
	s.replyLine("220 " + s.cfg.Hostname + " ESMTP Yizhan")
	err := s.loop()
	switch {
	case err == nil, errors.Is(err, errQuit):
	case isTimeout(s.out.Err()):
		// No 421: the client reads nothing.
		s.log.Info("timeout: client does not read its replies", "cmd", s.cmd.String(), "write_timeout", s.cfg.WriteTimeout)
	case errors.Is(err, errStopping) || isTimeout(err) && s.isStopping():
		s.replyLine("421 4.3.2 " + s.cfg.Hostname + " shutting down")
	case isTimeout(err) && s.timer.LimitPassed():
		s.log.Info("timeout: no AUTH within the login timeout", "cmd", s.cmd.String(), "login_timeout", s.cfg.LoginTimeout)
		s.replyLine("421 4.4.2 " + s.cfg.Hostname + " timeout exceeded")
	case isTimeout(err):
		s.log.Info("timeout", "cmd", s.cmd.String())
		s.replyLine("421 4.4.2 " + s.cfg.Hostname + " timeout exceeded")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
		s.log.Debug("client went away", "err", err)
	default:
		s.log.Info("session ended", "err", err)
	}
	if s.out.Err() == nil {
		s.out = deadline.NewWriter(currentConn{s}, goodbyeTimeout, 0)
	}
	s.w.Flush()
	s.log.Debug("closed")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// refuseConn answers a connection over the limits (connlimit) with 421
// (RFC 5321 §3.1: a server may refuse at connection time with 421, "try
// later") and closes. Port 465 clients expect TLS first and would take a
// plaintext 421 for garbage, so there the reply follows a handshake, which
// the limiter rations so that a flood of refused connections cannot buy
// one each; without one the connection is closed without a word.
func (s *session) refuseConn(why connlimit.Reason) {
	text := "421 4.7.0 Too many connections"
	if why == connlimit.AddrFull || why == connlimit.NetworkFull {
		text += " from your " + why.String()
	}
	text += ", try again later\r\n"
	s.log.Warn("connection refused", "reply", 421, "limit", why.String())
	var w io.Writer = s.raw
	s.raw.SetDeadline(time.Now().Add(refusalTimeout))
	if s.cfg.Mode == ModeSubmissions {
		done, ok := s.cfg.ConnLimiter.Refusal()
		if !ok {
			return
		}
		defer done()
		tc := tls.Server(s.raw, s.cfg.TLSConfig)
		if tc.HandshakeContext(s.ctx) != nil {
			return
		}
		defer tc.Close()
		w = tc
	}
	io.WriteString(w, text)
}

// handshake runs the server side of a TLS handshake on raw (RFC 8314 §3.3
// for port 465, RFC 3207 §4 after STARTTLS).
func (s *session) handshake() bool {
	tc := tls.Server(s.raw, s.cfg.TLSConfig)
	ctx, cancel := context.WithTimeout(s.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		return false
	}
	st := tc.ConnectionState()
	s.mu.Lock()
	s.conn = tc
	s.mu.Unlock()
	s.info.TLS = &st
	s.log.Debug("TLS established", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return true
}

// readLine reads one command line without its CRLF (a bare LF is accepted
// as the end of a command line) within CommandTimeout: RFC 5321
// §4.5.3.2.7's wait for a command, bounding the whole line. The result
// aliases the read buffer.
func (s *session) readLine() ([]byte, error) {
	s.timer.Phase(s.cfg.CommandTimeout)
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = s.r.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	if len(line) > maxLine {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// replyLine buffers one complete reply line (CRLF added).
func (s *session) replyLine(line string) {
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// reply buffers "code enhanced text" (RFC 2034 enhanced status codes).
func (s *session) reply(code int, enh, text string) {
	var num [3]byte
	num[0] = byte('0' + code/100)
	num[1] = byte('0' + code/10%10)
	num[2] = byte('0' + code%10)
	s.w.Write(num[:])
	s.w.WriteByte(' ')
	if enh != "" {
		s.w.WriteString(enh)
		s.w.WriteByte(' ')
	}
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// Weights of client errors, in halves of an error.
const (
	errFull  = 2 // a protocol error by the client
	errLight = 1 // a recipient refused by the backend with 5xx
)

// fail sends an error reply caused by the client, logs it and counts it.
// When the count reaches MaxErrors the session ends with 421 (RFC 5321
// §4.3.2 allows 421 at any time).
func (s *session) fail(code int, enh, text string) error {
	return s.failWeighted(code, enh, text, errFull)
}

func (s *session) failWeighted(code int, enh, text string, weight int) error {
	s.reply(code, enh, text)
	s.logRefusal(code, enh, text)
	s.errScore += weight
	if s.errScore >= 2*s.cfg.MaxErrors {
		s.log.Warn("too many errors, closing", "reply", 421, "errors", s.errScore/2)
		s.replyLine("421 4.7.0 Too many errors, closing connection")
		return errQuit
	}
	return nil
}

// refuse sends an error reply that is not the client's fault (not counted).
func (s *session) refuse(code int, enh, text string) {
	s.reply(code, enh, text)
	s.logRefusal(code, enh, text)
}

func (s *session) logRefusal(code int, enh, text string) {
	s.log.Info("refused", "cmd", s.cmd.String(), "arg", s.cmdArg, "reply", code, "status", enh, "text", text)
}

// sendReply sends a Backend *Reply verbatim, counting it with weight when
// it is a 5xx.
func (s *session) sendReply(r *Reply, weight int) error {
	if r.Code >= 500 {
		return s.failWeighted(r.Code, r.Enhanced, r.Text, weight)
	}
	s.refuse(r.Code, r.Enhanced, r.Text)
	return nil
}

// backendError turns an error from the Backend into a reply: *Reply as is,
// anything else 451 4.3.0 (logged).
func (s *session) backendError(err error, weight int) error {
	var r *Reply
	if errors.As(err, &r) {
		return s.sendReply(r, weight)
	}
	if errors.Is(err, syscall.ENOSPC) {
		// RFC 3463 §3.4: X.3.1 mail system full; 452, as RFC 5321
		// §4.2.3 gives for insufficient system storage.
		s.log.Error("backend error: out of disk space", "cmd", s.cmd.String(), "err", err)
		s.refuse(452, "4.3.1", "Insufficient system storage, try again later")
		return nil
	}
	s.log.Error("backend error", "cmd", s.cmd.String(), "err", err)
	s.refuse(451, "4.3.0", "Temporary local problem, try again later")
	return nil
}

func (s *session) loop() error {
	for {
		if s.isStopping() {
			return errStopping
		}
		line, err := s.readLine()
		if err == errLineTooLong {
			s.cmd, s.cmdArg = verbUnknown, ""
			if err := s.fail(500, "5.5.2", "Line too long"); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		v, arg := parseCommand(line)
		s.cmd, s.cmdArg = v, ""
		if err := s.dispatch(v, arg); err != nil {
			return err
		}
	}
}

func (s *session) dispatch(v verb, arg []byte) error {
	if testhook.Enabled {
		testhook.Input(string(arg))
	}
	if v == verbNOOP || v == verbRSET || v == verbHELP || v == verbVRFY || v == verbEXPN {
		// Commands that move no mail: answering them just in time,
		// a client could hold the session without ever sending any.
		if s.junk++; s.junk > s.cfg.MaxJunkCommands {
			s.log.Warn("too many commands without mail, closing", "reply", 421, "cmd", v.String(), "count", s.junk)
			s.replyLine("421 4.7.0 " + s.cfg.Hostname + " Too many commands without mail, closing connection")
			return errQuit
		}
	}
	switch v {
	case verbUnknown:
		return s.fail(500, "5.5.1", "Command not recognized")
	case verbEHLO, verbHELO:
		return s.cmdHello(v, arg)
	case verbNOOP:
		s.reply(250, "2.0.0", "OK")
		return nil
	case verbQUIT:
		if len(arg) > 0 {
			return s.fail(501, "5.5.4", "Syntax: QUIT")
		}
		s.reply(221, "2.0.0", s.cfg.Hostname+" closing connection")
		return errQuit
	case verbRSET:
		if len(arg) > 0 {
			return s.fail(501, "5.5.4", "Syntax: RSET")
		}
		s.abortTxn()
		s.reply(250, "2.0.0", "OK")
		return nil
	case verbSTARTTLS:
		return s.cmdStartTLS(arg)
	case verbHELP:
		s.reply(214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH")
		return nil
	}
	if !s.greeted {
		return s.fail(503, "5.5.1", "Send EHLO or HELO first")
	}
	switch v {
	case verbMAIL:
		return s.cmdMail(arg)
	case verbRCPT:
		return s.cmdRcpt(arg)
	case verbDATA:
		return s.cmdData(arg)
	case verbBDAT:
		return s.cmdBDAT(arg)
	case verbVRFY:
		// RFC 5321 §3.5.3 and §7.3: never confirm or deny users.
		if len(arg) == 0 {
			return s.fail(501, "5.5.4", "Syntax: VRFY <address>")
		}
		s.reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
		return nil
	case verbEXPN:
		// RFC 5321 §7.3: list expansion is not offered.
		return s.fail(502, "5.5.1", "EXPN not available")
	case verbAUTH:
		return s.cmdAuth(arg)
	}
	return s.fail(500, "5.5.1", "Command not recognized")
}

// authAllowed reports whether this listener offers AUTH at all.
func (s *session) authOffered() bool {
	return s.cfg.Mode != ModeInbound
}

func (s *session) cmdHello(v verb, arg []byte) error {
	domain := string(arg)
	s.cmdArg = domain
	if !validHelo(domain) {
		return s.fail(501, "5.5.4", "Syntax: "+v.String()+" <domain or address literal>")
	}
	// RFC 5321 §4.1.4: EHLO/HELO reset the transaction.
	s.abortTxn()
	s.info.Helo = domain
	s.greeted = true
	s.esmtp = v == verbEHLO
	if !s.esmtp {
		s.replyLine("250 " + s.cfg.Hostname)
		return nil
	}
	// RFC 5321 §4.1.1.1 EHLO response with the extension keywords.
	w := s.w
	w.WriteString("250-" + s.cfg.Hostname + " Hello " + domain + "\r\n")
	w.WriteString("250-PIPELINING\r\n") // RFC 2920
	w.WriteString("250-8BITMIME\r\n")   // RFC 6152
	w.WriteString("250-SMTPUTF8\r\n")   // RFC 6531
	w.WriteString("250-SIZE ")          // RFC 1870
	w.WriteString(strconv.FormatInt(s.cfg.MaxMessageSize, 10))
	w.WriteString("\r\n250-ENHANCEDSTATUSCODES\r\n") // RFC 2034
	w.WriteString("250-DSN\r\n")                     // RFC 3461
	if s.info.TLS == nil && s.cfg.TLSConfig != nil {
		w.WriteString("250-STARTTLS\r\n") // RFC 3207
	}
	if s.authOffered() && s.info.TLS != nil {
		w.WriteString("250-AUTH PLAIN LOGIN\r\n") // RFC 4954; RFC 8314 §3: only over TLS
	}
	w.WriteString("250 CHUNKING\r\n") // RFC 3030
	return nil
}

// cmdStartTLS implements RFC 3207.
func (s *session) cmdStartTLS(arg []byte) error {
	if len(arg) > 0 {
		return s.fail(501, "5.5.4", "Syntax: STARTTLS")
	}
	if s.info.TLS != nil {
		return s.fail(503, "5.5.1", "TLS already active")
	}
	if s.cfg.TLSConfig == nil {
		return s.fail(502, "5.5.1", "STARTTLS not available")
	}
	s.reply(220, "2.0.0", "Ready to start TLS")
	if err := s.w.Flush(); err != nil {
		return err
	}
	// Anything the client sent after STARTTLS before the handshake was
	// sent in plaintext and could be an injected command (CVE-2011-0411):
	// RFC 3207 §5 says to discard it.
	if n := s.r.Buffered(); n > 0 {
		s.log.Warn("discarding plaintext pipelined after STARTTLS", "bytes", n)
	}
	s.r.Reset(connReader{s})
	if !s.handshake() {
		return errQuit
	}
	// RFC 3207 §4.2: forget everything learnt before TLS; the client must
	// EHLO again.
	s.abortTxn()
	s.greeted = false
	s.esmtp = false
	s.info.Helo = ""
	return nil
}

// abortTxn ends the current transaction, discarding a partial BDAT message.
func (s *session) abortTxn() {
	if s.txn.msg != nil {
		s.txn.msg.release()
		s.setBusy(false)
	}
	rcpts := s.txn.rcpts[:0]
	s.txn = transaction{rcpts: rcpts}
}

func (s *session) cmdMail(arg []byte) error {
	s.cmdArg = string(arg)
	if s.authOffered() && s.info.AuthAccount == "" {
		// RFC 6409 §4.3 / RFC 4954 §4: submission needs authentication.
		return s.fail(530, "5.7.0", "Authentication required")
	}
	if s.txn.active {
		return s.fail(503, "5.5.1", "Nested MAIL command")
	}
	path, params, err := parsePathArg(arg, "FROM:")
	if err != nil {
		if err == errParamSyntax {
			return s.fail(501, "5.5.4", "Bad parameter syntax")
		}
		return s.fail(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
	}
	smtputf8, body8bit := false, false
	var ret, envid string
	for _, p := range params {
		if !s.esmtp {
			return s.fail(555, "5.5.4", "Parameters need EHLO")
		}
		switch p.Key {
		case "SIZE": // RFC 1870 §6
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if err != nil || n < 0 {
				return s.fail(501, "5.5.4", "Bad SIZE parameter")
			}
			if n > s.cfg.MaxMessageSize {
				return s.fail(552, "5.3.4", "Message size exceeds fixed maximum message size")
			}
		case "BODY": // RFC 6152
			v := strings.ToUpper(p.Value)
			if v != "7BIT" && v != "8BITMIME" {
				return s.fail(501, "5.5.4", "Bad BODY parameter")
			}
			body8bit = v == "8BITMIME"
		case "SMTPUTF8": // RFC 6531 §3.4
			if p.HasEq {
				return s.fail(501, "5.5.4", "SMTPUTF8 takes no value")
			}
			smtputf8 = true
		case "RET": // RFC 3461 §4.3
			v := strings.ToUpper(p.Value)
			if (v != "FULL" && v != "HDRS") || ret != "" {
				return s.fail(501, "5.5.4", "Bad RET parameter")
			}
			ret = v
		case "ENVID": // RFC 3461 §4.4
			v, ok := decodeXtext(p.Value)
			if !ok || len(v) > 100 || envid != "" {
				return s.fail(501, "5.5.4", "Bad ENVID parameter")
			}
			envid = v
		case "AUTH":
			// RFC 4954 §5: accepted and ignored where AUTH is offered.
			if !s.authOffered() {
				return s.fail(555, "5.5.4", "Unsupported parameter AUTH")
			}
		default:
			return s.fail(555, "5.5.4", "Unsupported parameter "+p.Key)
		}
	}
	from := ""
	if path != "" {
		// RFC 5321 §4.1.1.2 / Appendix C: a source route in the
		// reverse-path is ignored.
		if path[0] == '@' {
			if i := strings.IndexByte(path, ':'); i > 0 {
				path = path[i+1:]
			}
		}
		if !smtputf8 && !isASCII(path) {
			// RFC 6531 §3.4: UTF-8 addresses need the SMTPUTF8 parameter.
			return s.fail(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
		}
		a, err := address.Parse(path)
		if err != nil {
			return s.fail(501, "5.1.7", "Bad sender address syntax")
		}
		from = a.String()
	}
	if s.info.AuthAccount != "" && from != "" {
		if err := s.srv.backend.CheckSender(s.ctx, &s.info, from, ""); err != nil {
			return s.backendError(err, errFull)
		}
	}
	s.txn.active = true
	s.txn.from = from
	s.txn.smtputf8 = smtputf8
	s.txn.body8bit = body8bit
	s.txn.ret, s.txn.envid = ret, envid
	s.reply(250, "2.1.0", "OK")
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (s *session) cmdRcpt(arg []byte) error {
	s.cmdArg = string(arg)
	if !s.txn.active {
		return s.fail(503, "5.5.1", "Need MAIL before RCPT")
	}
	path, params, err := parsePathArg(arg, "TO:")
	if err != nil {
		if err == errParamSyntax {
			return s.fail(501, "5.5.4", "Bad parameter syntax")
		}
		return s.fail(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
	}
	var dsn RcptDSN
	for _, p := range params {
		switch p.Key {
		case "NOTIFY": // RFC 3461 §4.1
			v, ok := parseNotify(p.Value)
			if !ok || dsn.Notify != "" {
				return s.fail(501, "5.5.4", "Bad NOTIFY parameter")
			}
			dsn.Notify = v
		case "ORCPT": // RFC 3461 §4.2: addr-type ";" xtext
			typ, val, found := strings.Cut(p.Value, ";")
			v, ok := decodeXtext(val)
			if !found || typ == "" || !ok || dsn.ORcpt != "" {
				return s.fail(501, "5.5.4", "Bad ORCPT parameter")
			}
			dsn.ORcpt = typ + ";" + v
		default:
			return s.fail(555, "5.5.4", "Unsupported parameter "+p.Key)
		}
	}
	var rcpt string
	if strings.EqualFold(path, "postmaster") {
		// RFC 5321 §4.1.1.3: <postmaster> without a domain must be
		// accepted; it is handed to the backend as "postmaster".
		rcpt = "postmaster"
	} else {
		if !s.txn.smtputf8 && !isASCII(path) {
			return s.fail(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
		}
		a, err := address.Parse(path)
		switch {
		case errors.Is(err, address.ErrAddressLiteral) && s.info.AuthAccount != "":
			// An address literal (RFC 5321 §4.1.3) is valid syntax, but
			// Yizhan neither owns nor delivers to one. A user who may
			// relay must not read "Relaying denied" for that: 553 is
			// "mailbox name not allowed" (RFC 5321 §4.2.2) and X.1.2 a
			// destination system that cannot take the mail (RFC 3463
			// §3.2). Without authentication (port 25) it stays a relay
			// attempt, below.
			return s.fail(553, "5.1.2", "Address literals are not accepted; use the recipient's domain name")
		case errors.Is(err, address.ErrRelayHack):
			// RFC 5321 §3.6.1, §7.1: source routes and '%' paths are
			// only used to abuse relays.
			return s.fail(550, "5.7.1", "Relaying denied")
		case err != nil:
			return s.fail(501, "5.1.3", "Bad recipient address syntax")
		}
		rcpt = a.String()
	}
	for _, r := range s.txn.rcpts {
		if r == rcpt {
			s.reply(250, "2.1.5", "OK")
			return nil
		}
	}
	if len(s.txn.rcpts) >= s.cfg.MaxRecipients {
		// RFC 5321 §4.5.3.1.10: the client sends the rest later.
		s.refuse(452, "4.5.3", "Too many recipients")
		return nil
	}
	if err := s.srv.backend.CheckRecipient(s.ctx, &s.info, s.txn.from, rcpt); err != nil {
		return s.backendError(err, errLight)
	}
	s.txn.rcpts = append(s.txn.rcpts, rcpt)
	if dsn != (RcptDSN{}) {
		if s.txn.dsn == nil {
			s.txn.dsn = map[string]RcptDSN{}
		}
		s.txn.dsn[rcpt] = dsn
	}
	s.reply(250, "2.1.5", "OK")
	return nil
}

// parseNotify checks a NOTIFY value: NEVER alone, or a list of SUCCESS,
// FAILURE and DELAY (RFC 3461 §4.1); it returns it upper-cased.
func parseNotify(v string) (string, bool) {
	v = strings.ToUpper(v)
	if v == "NEVER" {
		return v, true
	}
	seen := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		if (k != "SUCCESS" && k != "FAILURE" && k != "DELAY") || seen[k] {
			return "", false
		}
		seen[k] = true
	}
	return v, true
}

func upperHex(c byte) bool { return ('0' <= c && c <= '9') || ('A' <= c && c <= 'F') }

// decodeXtext decodes RFC 3461 §4 xtext ("+HH" for special octets).
func decodeXtext(v string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '+':
			if i+2 >= len(v) || !upperHex(v[i+1]) || !upperHex(v[i+2]) {
				return "", false
			}
			n, _ := strconv.ParseUint(v[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// cmdData implements DATA (RFC 5321 §4.1.1.4).
func (s *session) cmdData(arg []byte) error {
	if len(arg) > 0 {
		return s.fail(501, "5.5.4", "Syntax: DATA")
	}
	if s.txn.msg != nil {
		// RFC 3030 §3: DATA may not follow BDAT in one transaction.
		return s.fail(503, "5.5.1", "DATA not allowed after BDAT")
	}
	if !s.txn.active || len(s.txn.rcpts) == 0 {
		return s.fail(503, "5.5.1", "Need MAIL and RCPT before DATA")
	}
	s.setBusy(true)
	defer s.setBusy(false)
	s.replyLine("354 Start mail input; end with <CRLF>.<CRLF>")
	if err := s.w.Flush(); err != nil {
		return err
	}
	m := newIntake(s)
	defer m.release()
	// RFC 5321 §4.5.3.2.5's data block timeout bounds the whole data
	// unless the client keeps up the minimum rate.
	s.timer.DataPhase(s.cfg.DataBlockTimeout, s.cfg.MinDataRate)
	var dec dotDecoder
	if err := readData(s.r, &dec, m.emit); err != nil {
		return err
	}
	m.bare = dec.bare
	return s.finish(m)
}

// cmdBDAT implements CHUNKING (RFC 3030 §2): exactly n octets follow the
// command line, not dot-stuffed.
func (s *session) cmdBDAT(arg []byte) error {
	n, last, ok := parseBDAT(arg)
	if !ok {
		return s.fail(501, "5.5.4", "Syntax: BDAT <size> [LAST]")
	}
	if !s.esmtp || !s.txn.active || len(s.txn.rcpts) == 0 {
		if err := s.discard(n); err != nil {
			return err
		}
		return s.fail(503, "5.5.1", "Need MAIL and RCPT before BDAT")
	}
	// Between chunks the transaction stays busy for Shutdown.
	s.setBusy(true)
	defer func() { s.setBusy(s.txn.msg != nil) }()
	if s.txn.msg == nil {
		s.txn.msg = newIntake(s)
	}
	m := s.txn.msg
	s.timer.DataPhase(s.cfg.DataBlockTimeout, s.cfg.MinDataRate)
	for n > 0 {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				return err
			}
		}
		k := int64(s.r.Buffered())
		if k > n {
			k = n
		}
		b, _ := s.r.Peek(int(k))
		m.crlf.check(b)
		m.emit(b)
		s.r.Discard(int(k))
		n -= k
	}
	if !last {
		s.reply(250, "2.0.0", strconv.FormatInt(m.size, 10)+" octets received")
		return nil
	}
	s.txn.msg = nil
	defer m.release()
	m.bare = !m.crlf.end()
	return s.finish(m)
}

// discard reads and drops n octets (a BDAT chunk we refuse).
func (s *session) discard(n int64) error {
	s.timer.DataPhase(s.cfg.DataBlockTimeout, s.cfg.MinDataRate)
	for n > 0 {
		k := int64(s.r.Buffered())
		if k == 0 {
			if _, err := s.r.Peek(1); err != nil {
				return err
			}
			continue
		}
		if k > n {
			k = n
		}
		s.r.Discard(int(k))
		n -= k
	}
	return nil
}

// finish ends the data phase of a transaction: refuse or deliver, reply,
// and reset the transaction (RFC 5321 §4.1.1.4).
func (s *session) finish(m *intake) error {
	defer s.abortTxn()
	if r, clientErr := m.verdict(); r != nil {
		if clientErr {
			return s.fail(r.Code, r.Enhanced, r.Text)
		}
		s.refuse(r.Code, r.Enhanced, r.Text)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DataEndTimeout)
	defer cancel()
	env, err := m.deliver(ctx)
	if err != nil {
		return s.backendError(err, errFull)
	}
	s.log.Info("message accepted", "id", env.TrackingID, "from", env.From, "rcpts", len(env.Recipients), "size", env.Size, "message_id", env.MessageID)
	s.reply(250, "2.0.0", "OK id="+env.TrackingID)
	s.junk = 0
	return nil
}

// newTrackingID is a variable for tests.
var newTrackingID = tracking.NewID
