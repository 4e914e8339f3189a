package pop3server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/deadline"
	"github.com/yizhan-mail/yizhan/internal/sasl"
	"github.com/yizhan-mail/yizhan/internal/testhook"
)

// Replies that clients and tests match on.
const (
	replyPlaintextRefused = "-ERR [AUTH] Plaintext authentication disallowed; use STLS first"
	replyAuthFailed       = "-ERR [AUTH] Authentication failed"
	replyThrottled        = "-ERR [SYS/TEMP] Too many failed logins for this account from your address, try again later"
	replyInUse            = "-ERR [IN-USE] Maildrop already locked"
	replyTooManyConns     = "-ERR [SYS/TEMP] Too many connections"
	replyShuttingDown     = "-ERR [SYS/TEMP] server shutting down"
	replyTooManyErrors    = "-ERR Too many errors, closing connection"
	replyLineTooLong      = "-ERR line too long"
	replyLoginTimeout     = "-ERR No login in time, closing connection"
)

// Buffer sizes per session.
const (
	readBufSize  = 4 * 1024  // commands are short; AUTH lines span several reads
	writeBufSize = 32 * 1024 // RETR throughput; bounds memory per session
)

var (
	errShutdown = errors.New("server shutting down")
	errIdle     = errors.New("idle timeout")
	errNoLogin  = errors.New("login timeout")
)

// state is the RFC 1939 §3 session state. UPDATE is not kept: it is
// entered and left within the QUIT command.
type state int

const (
	stateAuthorization state = iota // RFC 1939 §4
	stateTransaction                // RFC 1939 §5
)

// session is one client connection.
type session struct {
	srv         *Server
	raw         net.Conn            // the accepted connection
	ip          netip.Addr          // client address, for limits and logs
	implicitTLS bool                // accepted on the pop3s port
	budget      *connlimit.Listener // the listener's connection budget
	slot        *connlimit.Slot     // this connection's place in it; LoggedIn at login
	log         *slog.Logger

	conn    net.Conn         // raw (its writes through out), or the TLS connection over it
	out     *deadline.Writer // writes raw under the write deadline
	br      *bufio.Reader    // reads conn
	bw      *bufio.Writer    // writes conn; flushed before blocking reads
	tls     bool             // TLS is active
	lineBuf []byte           // reused command line buffer

	state    state
	user     string // from USER, awaiting PASS
	errCount int    // protocol errors so far
	closing  bool   // end the session after this reply (MaxErrors)

	loginBy time.Time // the AUTHORIZATION state ends by then (LoginTimeout)

	account string        // logged-in account, holding the maildrop lock
	md      Maildrop      // open in TRANSACTION
	msgs    []MessageInfo // md.Messages(), taken once
	deleted []bool        // marked by DELE, parallel to msgs

	mu           sync.Mutex // guards the fields below, touched by Shutdown
	shuttingDown bool       // Shutdown has begun; stop at the next command
	cancel       context.CancelFunc
	killed       bool // Shutdown ran out of time
}

// writeConn is the raw connection with its writes under the session's
// write deadline (deadline.Writer); TLS runs over it, so its records are
// bounded too. A deadline pushed forward before every write, as before,
// let a client reading a little now and then hold a RETR for ever.
type writeConn struct {
	net.Conn
	s *session
}

func (c writeConn) Write(p []byte) (int, error) { return c.s.out.Write(p) }

// interrupt wakes a session blocked reading a command so it notices the
// shutdown; a busy session notices before reading its next command.
func (s *session) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shuttingDown = true
	s.raw.SetReadDeadline(time.Now())
}

// kill ends a session now: its connection is closed and its context
// cancelled, interrupting any backend call that honours it.
func (s *session) kill() {
	s.mu.Lock()
	s.killed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.raw.Close()
}

func (s *session) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s.mu.Lock()
	s.cancel = cancel
	killed := s.killed
	s.mu.Unlock()
	if killed {
		s.raw.Close()
		return
	}
	stop := context.AfterFunc(ctx, func() { s.raw.Close() })
	defer stop()
	defer func() {
		if tc, ok := s.conn.(*tls.Conn); ok {
			tc.Close() // sends close_notify, then closes raw
		}
		s.raw.Close()
	}()

	cfg := &s.srv.cfg
	s.out = deadline.NewWriter(s.raw, cfg.WriteTimeout, cfg.MinDataRate)
	s.conn = writeConn{Conn: s.raw, s: s}
	s.br = bufio.NewReaderSize(s.conn, readBufSize)
	s.bw = bufio.NewWriterSize(s.conn, writeBufSize)
	defer func() {
		if err := s.out.Err(); err != nil && os.IsTimeout(err) {
			s.log.Info("session closed: client does not read its output", "write_timeout", cfg.WriteTimeout)
		}
	}()

	slot, why := s.budget.Acquire(s.ip)
	if why != connlimit.OK {
		s.log.Warn("connection refused: too many connections", "limit", why.String())
		s.out = deadline.NewWriter(s.raw, refusalTimeout, 0)
		if s.implicitTLS {
			// The reply needs a handshake; a flood of refused
			// connections must not buy one each (connlimit).
			done, ok := cfg.ConnLimiter.Refusal()
			if !ok {
				return
			}
			defer done()
			if !s.startTLS(ctx, refusalTimeout) {
				return
			}
		}
		reply := replyTooManyConns
		if why == connlimit.AddrFull || why == connlimit.NetworkFull {
			reply += " from your " + why.String()
		}
		s.writeLine(reply)
		s.bw.Flush()
		return
	}
	defer slot.Release()
	s.slot = slot

	if s.implicitTLS && !s.startTLS(ctx, handshakeTimeout) {
		return
	}
	s.log.Info("session started", "tls", s.tls)
	defer s.endTransaction()
	defer s.recoverPanic()

	// RFC 1939 §4: the greeting opens the AUTHORIZATION state.
	s.writeLine("+OK " + cfg.Hostname + " Yizhan POP3 ready")
	for {
		line, err := s.readCommandLine()
		switch {
		case err == nil:
		case errors.Is(err, errLineTooLong):
			// RFC 2449 §4: the line was read and thrown away; the
			// session carries on.
			s.fail("line too long", replyLineTooLong)
			if s.closing {
				s.bw.Flush()
				return
			}
			continue
		case errors.As(err, new(parseError)):
			s.fail("bad command line: "+err.Error(), "-ERR Invalid command line: "+err.Error())
			if s.closing {
				s.bw.Flush()
				return
			}
			continue
		case errors.Is(err, errShutdown):
			s.log.Info("session closed: server shutting down")
			s.writeLine(replyShuttingDown)
			s.bw.Flush()
			return
		case errors.Is(err, errNoLogin):
			s.log.Info("session closed: no login within the login timeout", "login_timeout", cfg.LoginTimeout)
			s.writeLine(replyLoginTimeout)
			s.bw.Flush()
			return
		case errors.Is(err, errIdle):
			// RFC 1939 §3 autologout: close without entering UPDATE.
			s.log.Info("session closed: idle timeout")
			s.writeLine("-ERR [SYS/TEMP] Idle timeout, closing connection")
			s.bw.Flush()
			return
		default:
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				s.log.Info("session closed by client without QUIT")
			} else {
				s.log.Info("session closed: read failed", "err", err)
			}
			return
		}
		if s.handle(ctx, line) || s.closing {
			if err := s.bw.Flush(); err != nil {
				s.log.Info("final flush failed", "err", err)
			}
			return
		}
	}
}

// endTransaction releases the maildrop and its lock however the session
// ends. Without a successful QUIT nothing has been expunged (RFC 1939 §6:
// deletions happen only in the UPDATE state).
func (s *session) endTransaction() {
	if s.md == nil {
		return
	}
	if err := s.md.Close(); err != nil {
		s.log.Warn("closing maildrop failed", "err", err)
	}
	s.srv.unlock(s.account)
	s.md, s.msgs, s.deleted = nil, nil, nil
}

// readCommandLine flushes pending replies unless another command is
// already buffered (RFC 2449 §6.6 PIPELINING), then reads one line. Lines
// up to maxAuthLine are read so that AUTH initial responses fit; other
// commands must fit in maxCommandLine.
func (s *session) readCommandLine() (command, error) {
	raw, err := s.readLine(maxAuthLine)
	if err != nil {
		return command{}, err
	}
	cmd, perr := parseCommand(raw)
	if len(raw)+2 > maxCommandLine && (perr != nil || cmd.name != "AUTH") {
		return command{}, errLineTooLong
	}
	if perr != nil {
		return command{}, parseError{perr}
	}
	return cmd, nil
}

// parseError carries a parse failure up to the command loop.
type parseError struct{ err error }

func (e parseError) Error() string { return e.err.Error() }

// readLine reads one line (without its ending) under the idle timeout,
// which bounds the whole line, and before login under the login deadline.
func (s *session) readLine(max int) ([]byte, error) {
	if !completeLineBuffered(s.br) {
		if err := s.bw.Flush(); err != nil {
			return nil, err
		}
		s.out.Done() // the client has it all: the next output starts afresh
	}
	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		return nil, errShutdown
	}
	dl := time.Now().Add(s.srv.cfg.IdleTimeout)
	if s.state == stateAuthorization && s.loginBy.Before(dl) {
		dl = s.loginBy
	}
	s.raw.SetReadDeadline(dl)
	s.mu.Unlock()
	line, buf, err := readLine(s.br, s.lineBuf, max)
	s.lineBuf = buf[:0]
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.mu.Lock()
			shutting := s.shuttingDown
			s.mu.Unlock()
			if shutting {
				return nil, errShutdown
			}
			if s.state == stateAuthorization && !time.Now().Before(s.loginBy) {
				return nil, errNoLogin
			}
			return nil, errIdle
		}
		return nil, err
	}
	return line, nil
}

// writeLine queues one reply line.
func (s *session) writeLine(line string) {
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
}

// reply sends a positive or server-side negative reply.
func (s *session) reply(format string, args ...any) {
	fmt.Fprintf(s.bw, format, args...)
	s.bw.WriteString("\r\n")
}

// refuse sends a negative reply that is not the client's fault (locks,
// throttling, back-end trouble) and logs it.
func (s *session) refuse(why, reply string) {
	s.log.Info("refused", "why", why)
	s.writeLine(reply)
}

// fail sends a negative reply to a client mistake, logs it and counts it;
// at MaxErrors the session is told and closed.
func (s *session) fail(why, reply string) {
	s.errCount++
	if s.errCount >= s.srv.cfg.MaxErrors {
		s.log.Warn("refused, closing: too many errors", "why", why, "errors", s.errCount)
		s.writeLine(replyTooManyErrors)
		s.closing = true
		return
	}
	s.log.Info("refused", "why", why)
	s.writeLine(reply)
}

// handle runs one command; it reports whether the session must end.
func (s *session) handle(ctx context.Context, cmd command) bool {
	if testhook.Enabled {
		testhook.Input(cmd.name + " " + strings.Join(cmd.args, " "))
	}
	switch cmd.name {
	case "CAPA":
		return s.cmdCapa(cmd)
	case "QUIT":
		return s.cmdQuit(ctx, cmd)
	}
	if s.state == stateAuthorization {
		switch cmd.name {
		case "STLS":
			return s.cmdStls(ctx, cmd)
		case "USER":
			return s.cmdUser(cmd)
		case "PASS":
			return s.cmdPass(ctx, cmd)
		case "AUTH":
			return s.cmdAuth(ctx, cmd)
		case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL":
			s.fail(cmd.name+" before login", "-ERR "+cmd.name+" not allowed before login")
			return false
		}
	} else {
		switch cmd.name {
		case "STAT":
			return s.cmdStat(cmd)
		case "LIST":
			return s.cmdList(cmd)
		case "UIDL":
			return s.cmdUidl(cmd)
		case "RETR":
			return s.cmdRetr(ctx, cmd)
		case "TOP":
			return s.cmdTop(ctx, cmd)
		case "DELE":
			return s.cmdDele(cmd)
		case "NOOP":
			return s.cmdNoop(cmd)
		case "RSET":
			return s.cmdRset(cmd)
		case "STLS", "USER", "PASS", "AUTH":
			s.fail(cmd.name+" after login", "-ERR "+cmd.name+" not allowed after login")
			return false
		}
	}
	s.fail("unknown command", "-ERR Unknown command")
	return false
}

// noArgs refuses cmd when it carries arguments.
func (s *session) noArgs(cmd command) bool {
	if len(cmd.args) > 0 {
		s.fail(cmd.name+" with arguments", "-ERR "+cmd.name+" takes no arguments")
		return false
	}
	return true
}

// cmdCapa lists capabilities (RFC 2449 §5). USER and SASL appear only
// where a login is possible: over TLS in AUTHORIZATION (RFC 2595 §4 lets
// servers hide mechanisms before STLS).
func (s *session) cmdCapa(cmd command) bool {
	if !s.noArgs(cmd) {
		return false
	}
	s.writeLine("+OK Capability list follows")
	s.writeLine("TOP")  // RFC 2449 §6.1
	s.writeLine("UIDL") // RFC 2449 §6.8
	if s.state == stateAuthorization && s.tls {
		s.writeLine("USER")       // RFC 2449 §6.2
		s.writeLine("SASL PLAIN") // RFC 2449 §6.3, RFC 5034
	}
	s.writeLine("RESP-CODES")     // RFC 2449 §6.4
	s.writeLine("AUTH-RESP-CODE") // RFC 3206 §6
	s.writeLine("PIPELINING")     // RFC 2449 §6.6
	if s.state == stateAuthorization && !s.tls && s.srv.cfg.TLSConfig != nil {
		s.writeLine("STLS") // RFC 2595 §4
	}
	s.writeLine("IMPLEMENTATION Yizhan") // RFC 2449 §6.9
	s.writeLine(".")
	return false
}

// cmdQuit ends the session; in TRANSACTION it runs the UPDATE state (RFC
// 1939 §6): marked messages are expunged, all or none, then +OK.
func (s *session) cmdQuit(ctx context.Context, cmd command) bool {
	if !s.noArgs(cmd) {
		return false
	}
	host := s.srv.cfg.Hostname
	if s.state == stateAuthorization {
		s.log.Info("session ended by QUIT")
		s.reply("+OK %s Yizhan POP3 server signing off", host)
		return true
	}
	// The lock is released before the reply is flushed, so a client that
	// reconnects as soon as it reads "+OK" does not find its own maildrop
	// [IN-USE].
	defer s.endTransaction()
	var idx []int
	for i, d := range s.deleted {
		if d {
			idx = append(idx, i)
		}
	}
	if len(idx) > 0 {
		if err := s.md.Expunge(ctx, idx); err != nil {
			s.log.Error("UPDATE failed: expunge", "messages", len(idx), "err", err)
			// RFC 1939 §6 and RFC 3206 §4: the failure is ours and
			// temporary.
			s.refuse("expunge failed", "-ERR [SYS/TEMP] Some deleted messages not removed")
			return true
		}
	}
	s.log.Info("session ended by QUIT", "deleted", len(idx)) // the account is in s.log
	s.reply("+OK %s Yizhan POP3 server signing off (%d messages left)", host, len(s.msgs)-len(idx))
	return true
}

// cmdStls upgrades the connection (RFC 2595 §4). Input the client
// pipelined after STLS was sent in the clear and may have been injected by
// an attacker, so it is discarded rather than read as commands over TLS.
func (s *session) cmdStls(ctx context.Context, cmd command) bool {
	switch {
	case !s.noArgs(cmd):
		return false
	case s.tls:
		s.fail("STLS under TLS", "-ERR Already using TLS")
		return false
	case s.srv.cfg.TLSConfig == nil:
		s.fail("STLS without TLS config", "-ERR STLS not available")
		return false
	}
	s.writeLine("+OK Begin TLS negotiation")
	if err := s.bw.Flush(); err != nil {
		s.log.Info("STLS: writing reply failed", "err", err)
		return true
	}
	if n := s.br.Buffered(); n > 0 {
		s.log.Warn("STLS: discarding input pipelined before the TLS handshake", "bytes", n)
	}
	if !s.startTLS(ctx, handshakeTimeout) {
		return true
	}
	// The client must forget what it learned before TLS (RFC 2595 §4);
	// forget any USER as well.
	s.user = ""
	return false
}

// startTLS runs the server side of a TLS handshake over the connection,
// bounded by timeout, and makes the session read and write through TLS.
// Anything already buffered from the plain connection is dropped.
func (s *session) startTLS(ctx context.Context, timeout time.Duration) bool {
	tc := tls.Server(s.conn, s.srv.cfg.TLSConfig)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		s.log.Info("TLS handshake skipped: server shutting down")
		return false
	}
	s.raw.SetReadDeadline(time.Now().Add(timeout))
	s.mu.Unlock()
	if err := tc.HandshakeContext(hctx); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		return false
	}
	st := tc.ConnectionState()
	s.log.Info("TLS established", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	s.conn = tc
	s.tls = true
	s.br.Reset(tc)
	s.bw.Reset(tc)
	return true
}

// loginAllowed refuses logins over plaintext: passwords travel only under
// TLS (RFC 2595 §2.4, RFC 8314 §3).
func (s *session) loginAllowed(cmd command) bool {
	if !s.tls {
		s.fail(cmd.name+" before TLS", replyPlaintextRefused)
		return false
	}
	return true
}

// cmdUser records the name for PASS (RFC 1939 §7). It does not say
// whether the user exists.
func (s *session) cmdUser(cmd command) bool {
	if !s.loginAllowed(cmd) {
		return false
	}
	if len(cmd.args) != 1 {
		s.fail("USER syntax", "-ERR USER needs exactly one argument, the user name")
		return false
	}
	s.user = cmd.args[0]
	s.writeLine("+OK Send PASS")
	return false
}

// cmdPass completes USER/PASS (RFC 1939 §7). The password is the rest of
// the line verbatim, spaces included.
func (s *session) cmdPass(ctx context.Context, cmd command) bool {
	if !s.loginAllowed(cmd) {
		return false
	}
	if s.user == "" {
		s.fail("PASS without USER", "-ERR Send USER first")
		return false
	}
	if cmd.rest == "" {
		s.fail("PASS syntax", "-ERR PASS needs a password")
		return false
	}
	user := s.user
	s.user = ""
	s.login(ctx, user, cmd.rest)
	return false
}

// cmdAuth is the AUTH command (RFC 5034 §4) with the PLAIN mechanism (RFC
// 4616). Without an argument it lists the mechanisms, as many clients
// expect (an extension of the never-published AUTH draft, not RFC 5034).
func (s *session) cmdAuth(ctx context.Context, cmd command) bool {
	if !s.loginAllowed(cmd) {
		return false
	}
	if len(cmd.args) == 0 {
		s.writeLine("+OK Supported mechanisms follow")
		s.writeLine("PLAIN")
		s.writeLine(".")
		return false
	}
	if len(cmd.args) > 2 {
		s.fail("AUTH syntax", "-ERR AUTH takes a mechanism and an optional initial response")
		return false
	}
	if strings.ToUpper(cmd.args[0]) != "PLAIN" {
		s.fail("AUTH unsupported mechanism", "-ERR Unsupported SASL mechanism")
		return false
	}
	var resp string
	if len(cmd.args) == 2 {
		// RFC 5034 §4: an initial response of "=" is an empty one.
		resp = cmd.args[1]
		if resp == "=" {
			resp = ""
		}
	} else {
		// RFC 5034 §4: PLAIN's empty challenge is sent as "+ ".
		s.writeLine("+ ")
		line, err := s.readLine(maxAuthLine)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				s.fail("AUTH response too long", "-ERR SASL response too long")
				return false
			}
			s.log.Info("session closed during AUTH", "err", err)
			if errors.Is(err, errShutdown) {
				s.writeLine(replyShuttingDown)
			}
			return true
		}
		resp = string(line)
		if resp == "*" {
			// RFC 5034 §4: "*" cancels the exchange, answered with -ERR.
			s.refuse("AUTH cancelled by client", "-ERR AUTH cancelled")
			return false
		}
	}
	raw, err := sasl.DecodeResponse([]byte(resp))
	if err != nil {
		s.fail("AUTH bad base64", "-ERR Invalid base64 in SASL response")
		return false
	}
	// RFC 4616 §2: message = [authzid] NUL authcid NUL passwd.
	p, err := sasl.ParsePlain(raw)
	if err != nil || p.Authc == "" || p.Passwd == "" {
		s.fail("AUTH PLAIN malformed", "-ERR Malformed PLAIN response")
		return false
	}
	authz, authc, pass := p.Authz, p.Authc, p.Passwd
	if authz != "" && authz != authc {
		// Acting as another user is not offered; no password was tried.
		s.fail("AUTH PLAIN authzid differs from authcid", replyAuthFailed)
		return false
	}
	s.login(ctx, authc, pass)
	return false
}

// login authenticates, locks the maildrop and enters TRANSACTION (RFC
// 1939 §4). Failures are answered late by the AuthLimiter; a login it
// holds back gets -ERR [SYS/TEMP] (RFC 3206 §4: a temporary problem, not
// the user's credentials), so the client does not ask for a new password.
func (s *session) login(ctx context.Context, user, pass string) {
	att, err := s.srv.cfg.AuthLimiter.Begin(ctx, s.ip, user)
	if err != nil {
		var r *authlimit.Refused
		if !errors.As(err, &r) {
			s.closing = true // the session is ending
			return
		}
		s.log.Warn("login throttled", "user", logSafe(user), "limit", r.Reason.String(), "until", r.Until)
		s.refuse("login throttled", throttledReply(r.Reason))
		return
	}
	defer att.Abandon()
	account, err := s.srv.backend.Authenticate(ctx, user, pass)
	if errors.Is(err, ErrAuthFailed) {
		blocked := att.Fail(ctx, pass)
		s.log.Info("authentication failed", "user", logSafe(user), "blocked", blocked)
		s.fail("authentication failed", replyAuthFailed)
		return
	}
	if err != nil {
		s.log.Error("authentication back end failed", "user", logSafe(user), "err", err)
		s.refuse("authentication unavailable", "-ERR [SYS/TEMP] Authentication temporarily unavailable")
		return
	}
	att.Succeed()
	// RFC 1939 §4 exclusive-access lock; RFC 2449 §8.1.2 [IN-USE].
	if !s.srv.lock(account) {
		s.refuse("maildrop locked by another session: "+account, replyInUse)
		return
	}
	md, err := s.srv.backend.OpenMaildrop(ctx, account)
	if err != nil {
		s.srv.unlock(account)
		s.log.Error("opening maildrop failed", "account", account, "err", err)
		s.refuse("maildrop unavailable", "-ERR [SYS/TEMP] Unable to open maildrop")
		return
	}
	s.account, s.md = account, md
	s.msgs = md.Messages()
	s.deleted = make([]bool, len(s.msgs))
	s.state = stateTransaction
	s.slot.LoggedIn() // the connection no longer counts as a stranger's
	s.log = s.log.With("account", account)
	n, size := s.visible()
	s.log.Info("logged in", "messages", n, "octets", size)
	s.reply("+OK Maildrop has %d messages (%d octets)", n, size)
}

// throttledReply tells the client which limit it met, so its user knows
// that the password was not even checked.
func throttledReply(r authlimit.Reason) string {
	switch r {
	case authlimit.ReasonLogin:
		return replyThrottled
	case authlimit.ReasonClient:
		return "-ERR [SYS/TEMP] Too many failed logins from your address, try again later"
	default:
		return "-ERR [SYS/TEMP] Account under attack: logins from new addresses are slowed down, try again later"
	}
}

// visible counts the messages not marked deleted and their octets.
func (s *session) visible() (n int, size int64) {
	for i, m := range s.msgs {
		if !s.deleted[i] {
			n++
			size += m.Size
		}
	}
	return n, size
}

// message resolves a message-number argument to a 0-based index,
// answering -ERR itself when it is not a live message (RFC 1939 §5:
// "may NOT refer to a message marked as deleted").
func (s *session) message(cmd command, arg string) (int, bool) {
	n, ok := parseMsgNumber(arg)
	switch {
	case !ok:
		s.fail(cmd.name+" bad message number", "-ERR Invalid message number")
		return 0, false
	case n > len(s.msgs):
		s.fail(cmd.name+" no such message", fmt.Sprintf("-ERR No such message, only %d in maildrop", len(s.msgs)))
		return 0, false
	case s.deleted[n-1]:
		s.fail(cmd.name+" deleted message", fmt.Sprintf("-ERR Message %d already deleted", n))
		return 0, false
	}
	return n - 1, true
}

// cmdStat is RFC 1939 §5 STAT.
func (s *session) cmdStat(cmd command) bool {
	if s.noArgs(cmd) {
		n, size := s.visible()
		s.reply("+OK %d %d", n, size)
	}
	return false
}

// cmdList is RFC 1939 §5 LIST [msg].
func (s *session) cmdList(cmd command) bool {
	switch len(cmd.args) {
	case 0:
		n, size := s.visible()
		s.reply("+OK %d messages (%d octets)", n, size)
		for i, m := range s.msgs {
			if !s.deleted[i] {
				s.reply("%d %d", i+1, m.Size)
			}
		}
		s.writeLine(".")
	case 1:
		if i, ok := s.message(cmd, cmd.args[0]); ok {
			s.reply("+OK %d %d", i+1, s.msgs[i].Size)
		}
	default:
		s.fail("LIST syntax", "-ERR LIST takes at most one argument, a message number")
	}
	return false
}

// cmdUidl is RFC 1939 §7 UIDL [msg].
func (s *session) cmdUidl(cmd command) bool {
	switch len(cmd.args) {
	case 0:
		s.writeLine("+OK Unique-id listing follows")
		for i, m := range s.msgs {
			if !s.deleted[i] {
				s.reply("%d %s", i+1, m.UIDL)
			}
		}
		s.writeLine(".")
	case 1:
		if i, ok := s.message(cmd, cmd.args[0]); ok {
			s.reply("+OK %d %s", i+1, s.msgs[i].UIDL)
		}
	default:
		s.fail("UIDL syntax", "-ERR UIDL takes at most one argument, a message number")
	}
	return false
}

// cmdRetr is RFC 1939 §5 RETR msg.
func (s *session) cmdRetr(ctx context.Context, cmd command) bool {
	if len(cmd.args) != 1 {
		s.fail("RETR syntax", "-ERR RETR needs exactly one argument, a message number")
		return false
	}
	i, ok := s.message(cmd, cmd.args[0])
	if !ok {
		return false
	}
	return s.sendMessage(ctx, i, -1, fmt.Sprintf("+OK %d octets", s.msgs[i].Size))
}

// cmdTop is RFC 1939 §7 TOP msg n: the header, the blank line and the
// first n body lines.
func (s *session) cmdTop(ctx context.Context, cmd command) bool {
	if len(cmd.args) != 2 {
		s.fail("TOP syntax", "-ERR TOP needs two arguments, a message number and a line count")
		return false
	}
	i, ok := s.message(cmd, cmd.args[0])
	if !ok {
		return false
	}
	lines, ok := parseDecimal(cmd.args[1])
	if !ok {
		s.fail("TOP bad line count", "-ERR Invalid line count")
		return false
	}
	return s.sendMessage(ctx, i, lines, "+OK Top of message follows")
}

// sendMessage streams message i as a multi-line response. Once "+OK" is
// out, a failure cannot be reported in the protocol, so the connection is
// closed: the client sees a truncated response, never a short message
// passed off as whole.
func (s *session) sendMessage(ctx context.Context, i, bodyLines int, status string) bool {
	rc, err := s.md.Open(ctx, i)
	if err != nil {
		s.log.Error("opening message failed", "message", i+1, "err", err)
		s.refuse("message unavailable", "-ERR [SYS/TEMP] Unable to read message")
		return false
	}
	defer rc.Close()
	s.writeLine(status)
	if err := streamMessage(ctx, s.bw, rc, bodyLines); err != nil {
		var ce errClient
		if errors.As(err, &ce) {
			s.log.Info("sending message failed", "message", i+1, "err", err)
		} else {
			s.log.Error("reading message failed, closing connection", "message", i+1, "err", err)
		}
		return true
	}
	return false
}

// cmdDele is RFC 1939 §5 DELE msg: a mark only, acted on in UPDATE.
func (s *session) cmdDele(cmd command) bool {
	if len(cmd.args) != 1 {
		s.fail("DELE syntax", "-ERR DELE needs exactly one argument, a message number")
		return false
	}
	if i, ok := s.message(cmd, cmd.args[0]); ok {
		s.deleted[i] = true
		s.reply("+OK Message %d deleted", i+1)
	}
	return false
}

// cmdNoop is RFC 1939 §5 NOOP.
func (s *session) cmdNoop(cmd command) bool {
	if s.noArgs(cmd) {
		s.writeLine("+OK")
	}
	return false
}

// cmdRset is RFC 1939 §5 RSET: every deletion mark is removed.
func (s *session) cmdRset(cmd command) bool {
	if s.noArgs(cmd) {
		clear(s.deleted)
		n, size := s.visible()
		s.reply("+OK Maildrop has %d messages (%d octets)", n, size)
	}
	return false
}

// logSafe shortens client-chosen strings (user names can be 8 KiB in an
// AUTH PLAIN response) before they are logged.
func logSafe(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
