package pop3server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/acceptloop"
	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/recovery"
)

// Defaults for zero Config fields.
const (
	// defaultIdleTimeout is RFC 1939 §3's minimum autologout timer: "at
	// least 10 minutes of duration".
	defaultIdleTimeout = 10 * time.Minute
	// defaultMaxErrors is how many protocol errors a session may make
	// before it is closed: enough for a confused client, few enough to stop
	// a scanner.
	defaultMaxErrors = 20
	// handshakeTimeout bounds a TLS handshake (STLS and implicit TLS) so a
	// silent client cannot hold a connection slot.
	handshakeTimeout = 30 * time.Second
	// defaultLoginTimeout bounds the AUTHORIZATION state: clients log in
	// within a second; a person at a terminal needs more. Without it a
	// client sending a command every few minutes stayed unauthenticated
	// (and held a connection slot) forever.
	defaultLoginTimeout = 3 * time.Minute
	// refusalTimeout bounds writing a refusal to a client we are turning
	// away.
	refusalTimeout = 5 * time.Second
	// defaultWriteTimeout is how long a client may leave our output
	// unread: one that takes nothing of a RETR for two minutes is gone or
	// means harm, and holds its maildrop's lock meanwhile.
	defaultWriteTimeout = 2 * time.Minute
	// defaultMinDataRate is the rate at which a client reading a RETR
	// keeps its response going (a 50 MiB message may take a day).
	defaultMinDataRate = 500
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("pop3server: server closed")

// Config configures a Server. Only Hostname and, for any login to be
// possible, TLSConfig are needed; the rest has defaults.
type Config struct {
	Hostname    string             // name in the greeting
	TLSConfig   *tls.Config        // for STLS and implicit TLS; nil disables both, and so every login
	AuthLimiter *authlimit.Limiter // failed-login throttle shared across protocols; nil = none
	ConnLimiter *connlimit.Limiter // concurrent connection cap; nil = unlimited
	IdleTimeout time.Duration      // RFC 1939 §3 autologout; default 10 minutes

	// LoginTimeout bounds the AUTHORIZATION state, from connecting to
	// logging in; default 3 minutes.
	LoginTimeout time.Duration

	// WriteTimeout bounds how long the server waits for the client to
	// take its output (deadline.Writer): a response (RETR) goes on while
	// the client reads MinDataRate bytes per second (default 500), and a
	// client that reads nothing for WriteTimeout is disconnected
	// (default 2 minutes).
	WriteTimeout time.Duration
	MinDataRate  int64

	MaxErrors int          // protocol errors before the session is closed; default 20
	Logger    *slog.Logger // default slog.Default()
}

// Server is a POP3 server. One Server may serve several listeners (port
// 110 with STLS and port 995 with implicit TLS) at once; they share the
// maildrop locks, so an account has at most one POP3 session per Server.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	lns acceptloop.Listeners // listeners being served; closed by Shutdown

	mu       sync.Mutex
	sessions map[*session]struct{} // running
	locked   map[string]struct{}   // accounts with a session in TRANSACTION (RFC 1939 §4: exclusive-access lock)
	wg       sync.WaitGroup        // session goroutines
	done     chan struct{}         // made by Shutdown, closed when the last session has ended
	drained  bool                  // done is closed

	panics recovery.Counter // panics recovered in sessions (see Panics)
}

// Panics returns how many sessions ended in a recovered panic: a count
// until the server has metrics (issue 14); each is also logged with its
// stack.
func (s *Server) Panics() int64 { return s.panics.Load() }

// New returns a Server for cfg and b.
func New(cfg Config, b Backend) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = defaultLoginTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.MinDataRate <= 0 {
		cfg.MinDataRate = defaultMinDataRate
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = defaultMaxErrors
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		backend:  b,
		log:      cfg.Logger.With("proto", "pop3"),
		sessions: map[*session]struct{}{},
		locked:   map[string]struct{}{},
	}
	if cfg.TLSConfig == nil {
		s.log.Warn("no TLS configuration: STLS and pop3s unavailable, so nobody can log in")
	}
	return s
}

// Serve accepts plain connections on ln (port 110) where clients upgrade
// with STLS (RFC 2595 §4) before they may log in. It returns when ctx is
// done, when Shutdown is called (ErrServerClosed) or on a permanent accept
// error, closing ln in every case. Sessions run with a context derived from
// ctx: cancelling ctx is a hard stop, Shutdown the graceful one.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// ServeTLS accepts connections on ln (port 995) that begin with a TLS
// handshake (RFC 8314 §3.3 implicit TLS); otherwise as Serve.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	if s.cfg.TLSConfig == nil {
		ln.Close()
		return errors.New("pop3server: ServeTLS needs Config.TLSConfig")
	}
	return s.serve(ctx, ln, true)
}

// listenerName is the name of the listener in the log, as in the config:
// pop3 (STLS) or pop3s (implicit TLS).
func listenerName(implicitTLS bool) string {
	if implicitTLS {
		return "pop3s"
	}
	return "pop3"
}

func (s *Server) serve(ctx context.Context, ln net.Listener, implicitTLS bool) error {
	log := s.log.With("listener", listenerName(implicitTLS), "addr", ln.Addr().String())
	// Each listener has its own budget of connections not logged in, so
	// a flood on one leaves the others alone (internal/connlimit).
	budget := s.cfg.ConnLimiter.Listener(listenerName(implicitTLS) + " " + ln.Addr().String())
	return s.lns.Serve(ctx, ln, log, ErrServerClosed, func(c net.Conn) {
		s.startSession(ctx, c, implicitTLS, budget)
	})
}

// startSession registers and runs a session for c in its own goroutine.
func (s *Server) startSession(ctx context.Context, c net.Conn, implicitTLS bool, budget *connlimit.Listener) {
	ip := connlimit.AddrOf(c)
	sess := &session{
		srv:         s,
		raw:         c,
		ip:          ip,
		implicitTLS: implicitTLS,
		budget:      budget,
		log:         s.log.With("listener", listenerName(implicitTLS), "session", newSessionID(), "client_ip", ip.String()),
		loginBy:     time.Now().Add(s.cfg.LoginTimeout),
	}
	s.mu.Lock()
	if s.lns.Closing() {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, sess)
			s.checkDrainedLocked()
			s.mu.Unlock()
		}()
		defer s.recoverSession(sess.log)
		sess.run(ctx)
	}()
}

// Shutdown stops accepting connections and ends sessions gracefully:
// sessions waiting for a command get "-ERR [SYS/TEMP] server shutting
// down" and are closed without entering UPDATE; a session in the middle of
// a command (a RETR being streamed, an UPDATE expunging) finishes it
// first. When ctx ends before every session has, the remaining
// connections are closed and their contexts cancelled, and Shutdown
// returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	// Closing before taking mu: a session starting now either sees it
	// and is refused, or registered before the loop below.
	s.lns.Close()
	s.mu.Lock()
	if s.done == nil {
		s.done = make(chan struct{})
		s.checkDrainedLocked()
	}
	done := s.done
	for sess := range s.sessions {
		sess.interrupt()
	}
	s.mu.Unlock()

	select {
	case <-done:
		s.wg.Wait()
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.kill()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// checkDrainedLocked closes done once Shutdown has begun and the last
// session has ended. s.mu must be held.
func (s *Server) checkDrainedLocked() {
	if len(s.sessions) == 0 && s.done != nil && !s.drained {
		s.drained = true
		close(s.done)
	}
}

// lock takes the exclusive-access lock on account's maildrop (RFC 1939
// §4), reporting false when another session holds it.
func (s *Server) lock(account string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.locked[account]; held {
		return false
	}
	s.locked[account] = struct{}{}
	return true
}

func (s *Server) unlock(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.locked, account)
}

// newSessionID returns a short random id that ties a session's log lines
// together.
func newSessionID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
