package imapserver

import (
	"bufio"
	"compress/flate"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/deadline"
	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/inflate"
	"github.com/yizhan-mail/yizhan/internal/sasl"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/testhook"
)

// ioBuffer is the size of a session's read and write buffers: small,
// because thousands of sessions sit in IDLE holding them; longer lines
// and literals are read in pieces anyway.
const ioBuffer = 4 << 10

// state is the RFC 9051 §3 connection state.
type state int

const (
	stateNotAuth state = iota
	stateAuth
	stateSelected
	stateLogout
)

// session is one client connection.
type session struct {
	srv         *Server
	netConn     net.Conn // the accepted connection; never changes, so other goroutines may use it
	conn        net.Conn // current transport (TLS once negotiated); the session goroutine's own
	ip          netip.Addr
	implicitTLS bool
	tls         bool
	log         *slog.Logger

	in  pushback // what br reads from: the transport, after bytes read ahead
	br  *bufio.Reader
	r   *imapparse.Reader
	out *deadline.Writer // the transport under the write deadline; bw (or fw) writes to it
	bw  *bufio.Writer
	fw  *flate.Writer // COMPRESS=DEFLATE, RFC 4978
	// scratch formats numbers for responses without allocating.
	scratch [32]byte
	errs    int

	// The read deadline (see timedReader): the phase's and, until
	// login, the login deadline. Session goroutine only.
	phase readPhase
	timer deadline.Timer
	slot  *connlimit.Slot // this connection's place in the connection limits

	state   state
	account store.Account
	watcher *store.Watcher

	// Enabled extensions (RFC 5161 ENABLE) and what they switch on.
	rev2      bool // IMAP4rev2 behaviour
	utf8      bool // UTF8=ACCEPT: mailbox names and strings as UTF-8
	condstore bool // CONDSTORE in use: MODSEQ in FETCH responses
	qresync   bool // QRESYNC enabled: VANISHED instead of EXPUNGE

	sel *selected // the selected mailbox, in stateSelected
	// notify is what NOTIFY asked to hear of (notify.go); nil without.
	notify *notifyState

	closing atomic.Bool // server shutdown asked
	wake    chan struct{}

	// While idleArmed, a change in the feed interrupts the session's
	// read (see idle) and sets idleWoken.
	idleMu    sync.Mutex
	idleArmed bool
	idleWoken bool
}

func newSession(srv *Server, c net.Conn, ip netip.Addr, implicitTLS bool) *session {
	s := &session{
		srv:         srv,
		netConn:     c,
		conn:        c,
		ip:          ip,
		implicitTLS: implicitTLS,
		log:         srv.log.With("listener", listenerName(implicitTLS), "session", newSessionID(), "client_ip", ip.String()),
		wake:        make(chan struct{}, 1),
	}
	s.timer.SetLimit(time.Now().Add(srv.cfg.LoginTimeout))
	return s
}

// readPhase says which deadline governs the session's reads.
type readPhase uint8

const (
	// phaseOff: the code reading sets deadlines itself (IDLE).
	phaseOff readPhase = iota
	// phaseWaiting: between commands, the autologout timer runs
	// (RFC 9051 §5.4), or before login the login deadline.
	phaseWaiting
	// phaseCommand: a command has begun and must be complete, literals
	// and AUTHENTICATE responses included, within CommandTimeout (more
	// at MinDataRate). A deadline pushed forward by every read let a
	// client trickling a byte at a time hold its connection forever.
	phaseCommand
)

// timedReader reads the transport under the deadline of the session's
// read phase; the first bytes of a command move it from waiting to
// reading the command.
type timedReader struct {
	s *session
	c net.Conn
}

func (t timedReader) Read(p []byte) (int, error) {
	s := t.s
	if s.phase != phaseOff {
		_ = t.c.SetReadDeadline(s.timer.Deadline())
		if s.closing.Load() {
			// Shutdown may have set its deadline just before ours.
			_ = s.netConn.SetReadDeadline(time.Now())
		}
	}
	n, err := t.c.Read(p)
	if n > 0 {
		switch s.phase {
		case phaseWaiting:
			s.startCommand()
		case phaseCommand:
			s.timer.Read(n)
		}
	}
	return n, err
}

// waitCommand arms the deadline for the wait before the next command:
// the autologout timer, bounded before login by the login deadline.
func (s *session) waitCommand() {
	if s.br.Buffered() > 0 || s.in.buffered() {
		s.startCommand() // pipelined: the command has begun
		return
	}
	s.phase = phaseWaiting
	s.timer.Phase(s.srv.cfg.IdleTimeout)
}

// startCommand starts the time a command has to arrive whole.
func (s *session) startCommand() {
	s.phase = phaseCommand
	s.timer.DataPhase(s.srv.cfg.CommandTimeout, s.srv.cfg.MinDataRate)
}

// shutdown asks the session to end at its next command boundary.
func (s *session) shutdown() {
	s.closing.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	// Unblock a read waiting for the next command. The deadline of the
	// accepted connection also ends a read through TLS over it; s.conn
	// belongs to the session goroutine.
	_ = s.netConn.SetReadDeadline(time.Now())
}

func (s *session) limits() imapparse.Limits {
	return imapparse.Limits{MaxLine: 64 << 10, MaxLiteral: 64 << 10, MaxAppend: s.srv.cfg.AppendLimit, MaxNesting: 32}
}

// setTransport installs c (after TLS) as the connection, dropping any
// bytes buffered from the old one.
func (s *session) setTransport(c net.Conn) {
	s.conn = c
	s.in = pushback{r: timedReader{s: s, c: c}}
	s.br = bufio.NewReaderSize(&s.in, ioBuffer)
	s.out = deadline.NewWriter(c, s.srv.cfg.WriteTimeout, s.srv.cfg.MinDataRate)
	s.bw = bufio.NewWriterSize(s.out, ioBuffer)
	s.newReader()
}

// pushback reads from r, after bytes read ahead of the session's buffers
// (IDLE's wait for input, the hang-up watch of long commands) and the
// error that ended that read.
type pushback struct {
	r   io.Reader
	buf []byte // read ahead, served first
	err error  // what the read ahead ended with, served once buf is empty
}

func (p *pushback) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		if len(p.buf) == 0 {
			p.buf = nil
		}
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.r.Read(b)
}

// unread puts b back before what is to be read next.
func (p *pushback) unread(b []byte) {
	p.buf = append(append(make([]byte, 0, len(b)+len(p.buf)), b...), p.buf...)
}

// buffered reports whether bytes wait to be read.
func (p *pushback) buffered() bool { return len(p.buf) > 0 }

// releaseBuffers hands the session's read and write buffers to the
// server's pools while it idles. Only when nothing is buffered either way
// and the session is not compressed (the inflating reader keeps its own
// state over the buffered reader).
func (s *session) releaseBuffers() bool {
	if s.fw != nil || s.br.Buffered() > 0 || s.bw.Buffered() > 0 {
		return false
	}
	s.br.Reset(nil)
	s.bw.Reset(nil)
	s.srv.readers.Put(s.br)
	s.srv.writers.Put(s.bw)
	s.br, s.bw, s.r = nil, nil, nil
	return true
}

// takeBuffers gets buffers again after releaseBuffers.
func (s *session) takeBuffers() {
	if br, ok := s.srv.readers.Get().(*bufio.Reader); ok {
		br.Reset(&s.in)
		s.br = br
	} else {
		s.br = bufio.NewReaderSize(&s.in, ioBuffer)
	}
	if bw, ok := s.srv.writers.Get().(*bufio.Writer); ok {
		bw.Reset(s.out)
		s.bw = bw
	} else {
		s.bw = bufio.NewWriterSize(s.out, ioBuffer)
	}
	s.newReader()
}

func (s *session) newReader() {
	s.r = imapparse.NewReader(s.br, s.sendContinuation, s.limits())
	s.r.SetUTF8(s.utf8)
}

func (s *session) sendContinuation() error {
	s.bw.WriteString("+ Ready for literal data\r\n")
	return s.flush()
}

// flush sends everything written so far. Once the connection has taken
// it all, the next output starts a new write phase (deadline.Writer).
func (s *session) flush() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.fw != nil {
		if err := s.fw.Flush(); err != nil {
			return err
		}
	}
	s.out.Done()
	return nil
}

// writeFailed reports whether the client's output can no longer be
// written (it stopped reading past the write timeout, or went away):
// long commands stop early, as nothing more reaches the client.
func (s *session) writeFailed() bool {
	return s.out.Err() != nil
}

func (s *session) run(ctx context.Context) {
	defer func() {
		if s.watcher != nil {
			s.watcher.Close()
		}
		if s.out != nil {
			if err := s.out.Err(); err != nil && os.IsTimeout(err) {
				// No BYE: the client reads nothing, so it would only
				// wait in the buffers being freed.
				s.log.Info("closing: client does not read its output", "write_timeout", s.srv.cfg.WriteTimeout)
			}
		}
		s.conn.Close()
	}()
	if s.implicitTLS {
		tc := tls.Server(s.conn, s.srv.cfg.TLSConfig)
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Info("TLS handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		s.tls = true
		s.setTransport(tc)
	} else {
		s.setTransport(s.conn)
	}
	defer s.recoverPanic()
	s.log.Debug("connected", "tls", s.tls)
	s.untagged("OK [CAPABILITY " + s.capabilities() + "] " + s.srv.cfg.Hostname + " Yizhan IMAP ready")
	if s.flush() != nil {
		return
	}
	for s.state != stateLogout {
		if s.closing.Load() || ctx.Err() != nil {
			s.untagged("BYE [UNAVAILABLE] Server shutting down")
			_ = s.flush()
			return
		}
		s.waitCommand()
		if s.notify != nil {
			s.waitNotify(ctx) // RFC 5465: notifications between commands
		}
		cmd, err := s.r.ReadCommand()
		if err != nil {
			if !s.readError(err) {
				return
			}
		} else {
			s.dispatch(ctx, cmd)
			if s.state != stateLogout {
				s.notifyOthers(ctx)
			}
			if s.flush() != nil {
				return
			}
		}
		// Syntax errors count as much as commands answered BAD.
		if s.errs >= s.srv.cfg.MaxErrors {
			s.log.Warn("too many errors, closing")
			s.untagged("BYE Too many errors")
			_ = s.flush()
			return
		}
	}
}

// readError answers a command that could not be read and says whether
// the session goes on.
func (s *session) readError(err error) bool {
	var pe *imapparse.ParseError
	var tb *imapparse.TooBigError
	var bc *imapparse.BadCharsetError
	switch {
	case errors.As(err, &pe):
		s.errs++
		tag := pe.Tag
		if tag == "" {
			tag = "*"
		}
		s.log.Info("syntax error", "tag", tag, "err", pe.Msg)
		s.line(tag + " BAD " + pe.Msg)
		return s.flush() == nil
	case errors.As(err, &tb):
		s.errs++
		tag := tb.Tag
		if tag == "" {
			tag = "*"
		}
		switch {
		case tb.Total:
			// MULTIAPPEND: each message fits, but the command holds them
			// all in memory until it ends (imapparse.Limits).
			s.log.Info("APPEND refused: messages together over the limit", "limit", tb.Limit)
			s.line(tag + " NO [TOOBIG] The messages of one APPEND may not exceed " + fmt.Sprint(tb.Limit) + " bytes together; append them separately")
		case tb.Append:
			s.log.Info("APPEND refused: over APPENDLIMIT", "limit", s.srv.cfg.AppendLimit)
			s.line(tag + " NO [TOOBIG] Message exceeds the APPENDLIMIT of " + fmt.Sprint(s.srv.cfg.AppendLimit) + " bytes")
		default:
			s.log.Info("literal too big")
			s.line(tag + " BAD Literal too big")
		}
		return s.flush() == nil
	case errors.As(err, &bc):
		s.line(bc.Tag + " NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset")
		return s.flush() == nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		switch {
		case s.closing.Load():
			s.untagged("BYE [UNAVAILABLE] Server shutting down")
		case s.timer.LimitPassed():
			s.log.Info("autologout: no login within the login timeout", "login_timeout", s.srv.cfg.LoginTimeout)
			s.untagged("BYE Autologout; no login in time")
		case s.phase == phaseCommand:
			s.log.Info("autologout: command not complete within the command timeout", "command_timeout", s.srv.cfg.CommandTimeout)
			s.untagged("BYE Autologout; command took too long")
		default:
			s.log.Info("autologout: idle timeout")
			s.untagged("BYE Autologout; idle for too long")
		}
		_ = s.flush()
		return false
	}
	if errors.Is(err, imapparse.ErrDiscardLimit) {
		// A non-synchronising literal too big even to skip: the stream
		// cannot be resynchronised, so the connection ends, announced
		// with BYE (RFC 7888 §4, RFC 9051 §7.1.5).
		s.log.Info("closing: literal too big to discard", "err", err)
		s.untagged("BYE [TOOBIG] Literal too big")
		_ = s.flush()
		return false
	}
	if !errors.Is(err, io.EOF) {
		s.log.Info("read failed", "err", err)
	}
	return false
}

// line writes one response line.
func (s *session) line(l string) {
	s.bw.WriteString(l)
	s.bw.WriteString("\r\n")
}

// untagged writes "* " + l.
func (s *session) untagged(l string) {
	s.bw.WriteString("* ")
	s.line(l)
}

func (s *session) ok(tag, text string)  { s.line(tag + " OK " + text) }
func (s *session) no(tag, text string)  { s.line(tag + " NO " + text) }
func (s *session) bad(tag, text string) { s.errs++; s.line(tag + " BAD " + text) }

// capabilities lists what this session may use now (RFC 9051 §7.2.2).
func (s *session) capabilities() string {
	c := []string{"IMAP4rev1", "IMAP4rev2"}
	if s.state == stateNotAuth {
		if !s.tls && s.srv.cfg.TLSConfig != nil {
			c = append(c, "STARTTLS")
		}
		if !s.tls {
			c = append(c, "LOGINDISABLED")
		} else {
			c = append(c, "AUTH=PLAIN")
		}
	}
	c = append(c, "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS",
		"MULTIAPPEND", "CATENATE", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH",
		"SEARCHRES", "CONDSTORE", "QRESYNC", "STATUS=SIZE", fmt.Sprintf("APPENDLIMIT=%d", s.srv.cfg.AppendLimit),
		"BINARY", "UTF8=ACCEPT", "QUOTA", "QUOTA=RES-STORAGE", "SORT", "SORT=DISPLAY", "ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT", "NOTIFY", "URLAUTH", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT")
	if s.fw == nil {
		c = append(c, "COMPRESS=DEFLATE")
	}
	return strings.Join(c, " ")
}

// dispatch runs one command.
func (s *session) dispatch(ctx context.Context, cmd *imapparse.Command) {
	tag := cmd.Tag
	if testhook.Enabled {
		testhook.Input(tag)
	}
	// Commands valid in any state.
	switch cmd.Name {
	case "CAPABILITY":
		s.untagged("CAPABILITY " + s.capabilities())
		s.ok(tag, "CAPABILITY completed")
		return
	case "NOOP":
		s.update(ctx, true)
		s.ok(tag, "NOOP completed")
		return
	case "LOGOUT":
		s.untagged("BYE Logging out")
		s.ok(tag, "LOGOUT completed")
		s.state = stateLogout
		return
	case "ID":
		// RFC 2971: answer with who we are; the client's parameters are
		// only logged.
		if a, ok := cmd.Args.(*imapparse.ID); ok && a.Params != nil {
			s.log.Debug("client id", "params", a.Params)
		}
		s.untagged(`ID ("name" "Yizhan" "vendor" "yizhan-mail")`)
		s.ok(tag, "ID completed")
		return
	}
	switch s.state {
	case stateNotAuth:
		switch cmd.Name {
		case "STARTTLS":
			s.starttls(ctx, tag)
		case "LOGIN":
			a := cmd.Args.(*imapparse.Login)
			s.login(ctx, tag, a.User, a.Password)
		case "AUTHENTICATE":
			s.authenticate(ctx, tag, cmd.Args.(*imapparse.Authenticate))
		default:
			s.bad(tag, "Log in first, or command unknown: "+cmd.Name)
		}
		return
	}
	// Authenticated or selected.
	if cmd.BadName != nil && cmd.Name != "LIST" && cmd.Name != "LSUB" {
		// A name no mailbox can have (LIST left such patterns out).
		s.no(tag, "[CANNOT] "+badNameText(cmd.BadName))
		return
	}
	switch cmd.Name {
	case "STARTTLS", "LOGIN", "AUTHENTICATE":
		s.bad(tag, "Already authenticated")
	case "ENABLE":
		s.enable(ctx, tag, cmd.Args.(*imapparse.Enable))
	case "COMPRESS":
		s.compress(tag, cmd.Args.(*imapparse.Compress))
	case "NAMESPACE":
		// RFC 2342: one personal namespace, "/" separator.
		s.untagged(`NAMESPACE (("" "/")) NIL NIL`)
		s.ok(tag, "NAMESPACE completed")
	case "SELECT", "EXAMINE":
		s.selectCmd(ctx, tag, cmd.Name == "EXAMINE", cmd.Args.(*imapparse.Select))
	case "CREATE":
		s.create(ctx, tag, cmd.Args.(*imapparse.Create))
	case "DELETE":
		s.deleteCmd(ctx, tag, cmd.Args.(*imapparse.MailboxArg).Mailbox)
	case "RENAME":
		a := cmd.Args.(*imapparse.Rename)
		s.rename(ctx, tag, a.From, a.To)
	case "SUBSCRIBE", "UNSUBSCRIBE":
		s.subscribe(ctx, tag, cmd.Args.(*imapparse.MailboxArg).Mailbox, cmd.Name == "SUBSCRIBE")
	case "LIST", "LSUB":
		s.runCommand(ctx, cmd, func(ctx context.Context) { s.list(ctx, tag, cmd.Name == "LSUB", cmd.Args.(*imapparse.List)) })
	case "STATUS":
		s.status(ctx, tag, cmd.Args.(*imapparse.Status))
	case "APPEND":
		s.appendCmd(ctx, tag, cmd.Args.(*imapparse.Append))
	case "IDLE":
		s.idle(ctx, tag)
	case "NOTIFY":
		s.notifyCmd(ctx, tag, cmd.Args.(*imapparse.Notify))
	case "GENURLAUTH":
		s.genURLAuth(ctx, tag, cmd.Args.(*imapparse.GenURLAuth))
	case "RESETKEY":
		s.resetKey(ctx, tag, cmd.Args.(*imapparse.ResetKey))
	case "URLFETCH":
		s.urlFetch(ctx, tag, cmd.Args.(*imapparse.URLFetch))
	case "GETQUOTA", "GETQUOTAROOT", "SETQUOTA":
		s.quota(ctx, tag, cmd)
	default:
		if s.state != stateSelected {
			if selectedOnly[cmd.Name] {
				s.bad(tag, "No mailbox selected")
			} else {
				s.bad(tag, "Unknown command "+cmd.Name)
			}
			return
		}
		s.dispatchSelected(ctx, cmd)
	}
}

// selectedOnly are the commands of the selected state (RFC 9051 §6.4).
var selectedOnly = map[string]bool{
	"CHECK": true, "CLOSE": true, "UNSELECT": true, "EXPUNGE": true, "SEARCH": true, "FETCH": true,
	"STORE": true, "COPY": true, "MOVE": true, "SORT": true, "THREAD": true, "CANCELUPDATE": true,
}

func (s *session) dispatchSelected(ctx context.Context, cmd *imapparse.Command) {
	tag := cmd.Tag
	switch cmd.Name {
	case "CHECK":
		s.update(ctx, true)
		s.ok(tag, "CHECK completed")
	case "CLOSE":
		s.closeCmd(ctx, tag)
	case "UNSELECT":
		s.unselect()
		s.ok(tag, "UNSELECT completed")
	case "EXPUNGE":
		s.expunge(ctx, tag, cmd)
	case "SEARCH":
		s.runCommand(ctx, cmd, func(ctx context.Context) { s.search(ctx, tag, cmd.UID, cmd.Args.(*imapparse.Search)) })
	case "SORT":
		s.runCommand(ctx, cmd, func(ctx context.Context) { s.sortCmd(ctx, tag, cmd.UID, cmd.Args.(*imapparse.Sort)) })
	case "THREAD":
		s.runCommand(ctx, cmd, func(ctx context.Context) { s.threadCmd(ctx, tag, cmd.UID, cmd.Args.(*imapparse.Thread)) })
	case "FETCH":
		s.fetch(ctx, tag, cmd.UID, cmd.Args.(*imapparse.Fetch))
	case "STORE":
		s.store(ctx, tag, cmd.UID, cmd.Args.(*imapparse.Store))
	case "COPY", "MOVE":
		s.copyMove(ctx, tag, cmd.UID, cmd.Name == "MOVE", cmd.Args.(*imapparse.Copy))
	case "CANCELUPDATE":
		s.cancelUpdate(tag, cmd.Args.(*imapparse.CancelUpdate))
	default:
		s.bad(tag, "Unknown command "+cmd.Name)
	}
}

// starttls upgrades the connection (RFC 9051 §6.2.1). Bytes the client
// pipelined after STARTTLS are dropped before the handshake, so nothing
// sent in clear is taken as said under TLS.
func (s *session) starttls(ctx context.Context, tag string) {
	if s.tls || s.srv.cfg.TLSConfig == nil {
		s.bad(tag, "TLS not available")
		return
	}
	if s.br.Buffered() > 0 {
		s.log.Warn("discarding input pipelined after STARTTLS", "bytes", s.br.Buffered())
	}
	s.ok(tag, "Begin TLS negotiation now")
	if s.flush() != nil {
		s.state = stateLogout
		return
	}
	tc := tls.Server(s.conn, s.srv.cfg.TLSConfig)
	_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Info("STARTTLS handshake failed", "err", err)
		s.state = stateLogout
		return
	}
	_ = tc.SetDeadline(time.Time{})
	s.tls = true
	s.setTransport(tc)
}

// loginAllowed refuses passwords over a connection without TLS.
func (s *session) loginAllowed(tag string) bool {
	if !s.tls {
		s.no(tag, "[PRIVACYREQUIRED] Use STARTTLS first; no passwords in clear")
		return false
	}
	return true
}

func (s *session) login(ctx context.Context, tag, user, pass string) {
	if !s.loginAllowed(tag) {
		return
	}
	s.checkCredentials(ctx, tag, user, pass)
}

// authenticate runs SASL PLAIN (RFC 4616) with or without an initial
// response (RFC 4959).
func (s *session) authenticate(ctx context.Context, tag string, a *imapparse.Authenticate) {
	if !strings.EqualFold(a.Mechanism, "PLAIN") {
		s.no(tag, "Unsupported authentication mechanism")
		return
	}
	if !s.loginAllowed(tag) {
		return
	}
	resp := a.InitialResponse
	if !a.HasInitial {
		s.line("+ ")
		if s.flush() != nil {
			s.state = stateLogout
			return
		}
		line, err := s.r.ReadLine()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.readError(err) // says BYE
			}
			s.state = stateLogout
			return
		}
		if string(line) == "*" {
			s.bad(tag, "Authentication cancelled")
			return
		}
		resp, err = sasl.DecodeResponse(line)
		if err != nil {
			s.bad(tag, "Invalid base64")
			return
		}
	}
	p, err := sasl.ParsePlain(resp)
	if err != nil {
		s.bad(tag, "Invalid PLAIN response")
		return
	}
	authz, user, pass := p.Authz, p.Authc, p.Passwd
	if authz != "" && !strings.EqualFold(authz, user) {
		s.no(tag, "[AUTHORIZATIONFAILED] Cannot act as another user")
		return
	}
	s.checkCredentials(ctx, tag, user, pass)
}

// checkCredentials checks a password, throttled by the AuthLimiter:
// failures are answered late, and a login the limiter holds back gets
// NO [UNAVAILABLE] (RFC 5530 §3: try again later), not
// [AUTHENTICATIONFAILED], so the client does not ask for a new password.
func (s *session) checkCredentials(ctx context.Context, tag, user, pass string) {
	att, err := s.srv.cfg.AuthLimiter.Begin(ctx, s.ip, user)
	if err != nil {
		var r *authlimit.Refused
		if !errors.As(err, &r) {
			s.state = stateLogout // the session is ending
			return
		}
		s.log.Warn("login throttled", "user", user, "limit", r.Reason.String(), "until", r.Until)
		s.no(tag, "[UNAVAILABLE] "+throttledText(r.Reason))
		return
	}
	defer att.Abandon()
	acct, err := s.srv.st.Authenticate(ctx, user, pass)
	if errors.Is(err, store.ErrAuthFailed) {
		blocked := att.Fail(ctx, pass)
		s.log.Info("login failed", "user", user, "blocked", blocked)
		s.no(tag, "[AUTHENTICATIONFAILED] Invalid credentials")
		return
	}
	if err != nil {
		s.log.Error("login failed", "user", user, "err", err)
		s.no(tag, "[UNAVAILABLE] Temporary failure")
		return
	}
	att.Succeed()
	s.account = acct
	s.state = stateAuth
	s.timer.SetLimit(time.Time{}) // the login deadline is met
	s.slot.LoggedIn()             // and the connection no longer counts as a stranger's
	s.watcher = s.srv.st.Watch(acct.ID)
	s.watcher.SetLimit(s.srv.cfg.ChangeLimit)
	s.watcher.SetNotify(s.idleNotify)
	s.log = s.log.With("user", acct.Address)
	s.log.Info("logged in", "tls", s.tls)
	s.ok(tag, "[CAPABILITY "+s.capabilities()+"] Logged in")
}

// throttledText tells the client which limit it met, so its user knows
// that the password was not even checked.
func throttledText(r authlimit.Reason) string {
	switch r {
	case authlimit.ReasonLogin:
		return "Too many failed logins for this account from your address; try again later"
	case authlimit.ReasonClient:
		return "Too many failed logins from your address; try again later"
	default:
		return "Account under attack: logins from new addresses are slowed down; try again later"
	}
}

// enable switches on extensions (RFC 5161).
func (s *session) enable(ctx context.Context, tag string, a *imapparse.Enable) {
	var on []string
	for _, c := range a.Caps {
		switch strings.ToUpper(c) {
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2 = true
				s.setUTF8()
				on = append(on, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 {
				s.setUTF8()
				on = append(on, "UTF8=ACCEPT")
			}
		case "CONDSTORE":
			if !s.condstore {
				on = append(on, "CONDSTORE")
			}
		case "QRESYNC":
			if !s.qresync {
				s.qresync = true
				on = append(on, "QRESYNC")
			}
		}
	}
	s.untagged("ENABLED" + prefixAll(on))
	if slices.Contains(on, "CONDSTORE") || slices.Contains(on, "QRESYNC") {
		// RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
		s.enableCondstore(ctx)
	}
	s.ok(tag, "ENABLE completed")
}

// enableCondstore is called for every CONDSTORE enabling command (RFC 7162
// §3.1: ENABLE CONDSTORE, SELECT/EXAMINE (CONDSTORE), STATUS
// (HIGHESTMODSEQ), FETCH of MODSEQ or with CHANGEDSINCE, SEARCH/SORT with
// the MODSEQ criterion, STORE with UNCHANGEDSINCE). From then on every
// untagged FETCH about flags carries UID and MODSEQ. The first such
// command issued with a mailbox selected also reports the mailbox's
// HIGHESTMODSEQ in an untagged OK (§3.1), as the client may not have
// asked for it at SELECT.
func (s *session) enableCondstore(ctx context.Context) {
	if s.condstore {
		return
	}
	s.condstore = true
	if s.sel == nil {
		return
	}
	mb, err := s.srv.st.MailboxByID(ctx, s.sel.mb.ID)
	if err != nil {
		s.log.Error("HIGHESTMODSEQ for CONDSTORE", "err", err)
		return
	}
	s.untagged(fmt.Sprintf("OK [HIGHESTMODSEQ %d] Highest", mb.HighestModSeq))
}

func (s *session) setUTF8() {
	s.utf8 = true
	s.r.SetUTF8(true)
}

func prefixAll(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return " " + strings.Join(l, " ")
}

// compress starts DEFLATE in both directions (RFC 4978).
func (s *session) compress(tag string, a *imapparse.Compress) {
	if !strings.EqualFold(a.Mechanism, "DEFLATE") {
		s.bad(tag, "Unknown compression mechanism")
		return
	}
	if s.fw != nil {
		s.no(tag, "[COMPRESSIONACTIVE] Already compressing")
		return
	}
	s.ok(tag, "DEFLATE active")
	if s.flush() != nil {
		s.state = stateLogout
		return
	}
	// Raw DEFLATE (RFC 1951) both ways; a modest level keeps CPU low,
	// as RFC 4978 §4 suggests for servers.
	fw, _ := flate.NewWriter(s.out, 5)
	s.fw = fw
	s.bw = bufio.NewWriterSize(fw, ioBuffer)
	// Our inflater: it hands over what it has decoded whenever the
	// connection has nothing more buffered, whatever flush the client
	// used (internal/inflate says why the libraries' readers hang).
	s.br = bufio.NewReaderSize(inflate.NewReader(s.br), ioBuffer)
	s.newReader()
}

// badNameText says why a mailbox name is refused, quoting it as the
// client sent it: a UTF-8 name sent to a session that has not enabled
// UTF-8 is shown as the UTF-8 it is (RFC 9051 §9 allows UTF-8 in text),
// not as Latin-1 characters; octets that are not UTF-8 are escaped.
func badNameText(e *imapparse.MailboxNameError) string {
	raw := e.Raw
	const max = 200
	if len(raw) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		raw = raw[:cut] + "..."
	}
	if e.UTF8 {
		return "Mailbox name " + strconv.Quote(raw) + " is not valid UTF-8"
	}
	// RFC 3501 §5.1.3; RFC 6855 §3 lets a client send UTF-8 once it has
	// enabled UTF8=ACCEPT.
	return "Mailbox name " + strconv.Quote(raw) + " is not valid modified UTF-7 (" + e.Reason + "); UTF-8 names need ENABLE UTF8=ACCEPT"
}
