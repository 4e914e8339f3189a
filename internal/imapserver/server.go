// Package imapserver speaks IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501)
// with the extensions modern clients rely on for synchronisation and push:
// CONDSTORE/QRESYNC (RFC 7162), IDLE (RFC 2177), UIDPLUS, MULTIAPPEND,
// CATENATE, MOVE, SPECIAL-USE, LIST-EXTENDED/LIST-STATUS,
// ESEARCH/SEARCHRES, SORT/THREAD, SORT=DISPLAY, ESORT, CONTEXT=SEARCH/SORT,
// NOTIFY, URLAUTH, BINARY, COMPRESS=DEFLATE, QUOTA and UTF8=ACCEPT.
//
// Sessions read and write the store directly and learn of every change
// (SMTP delivery, another IMAP session, a POP3 deletion) from the store's
// change feed, which publishes after each commit; each session keeps its
// own view of the selected mailbox (the UID list behind sequence numbers)
// and brings it up to date only where RFC 9051 §7.5.1 allows.
package imapserver

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
	"github.com/yizhan-mail/yizhan/internal/store"
)

// Defaults for zero Config fields.
const (
	// defaultIdleTimeout is RFC 9051 §5.4's autologout timer: "at least
	// 30 minutes".
	defaultIdleTimeout = 30 * time.Minute
	// defaultAppendLimit matches the default max_message_size.
	defaultAppendLimit = 50 << 20
	// defaultMaxErrors is how many BADs a session may draw before it is
	// closed: plenty for a confused client, few for a scanner.
	defaultMaxErrors = 50
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout = 30 * time.Second
	// defaultLoginTimeout bounds the time from connecting to logging in:
	// clients log in within a second; a person at a terminal needs more.
	defaultLoginTimeout = 3 * time.Minute
	// defaultCommandTimeout bounds one command once begun. Commands are
	// sent whole by clients; literals get more time at MinDataRate.
	defaultCommandTimeout = 5 * time.Minute
	// defaultMinDataRate: the rate that earns a literal more time (a
	// 50 MiB APPEND may take a day at it; a slow-client attacker pays
	// 500 B/s per connection held).
	defaultMinDataRate = 500
	// defaultWriteTimeout is how long a client may leave our output
	// unread: a client that takes nothing for two minutes is gone or
	// means harm, and its session holds a goroutine and what its
	// command loaded.
	defaultWriteTimeout = 2 * time.Minute
	// defaultChangeLimit bounds the changes a session has waiting (about
	// 150 bytes each): enough for the bursts of a busy mailbox, while a
	// STORE 1:* over more messages makes the session read the mailbox
	// again, which is cheaper than announcing change by change anyway.
	defaultChangeLimit = 4096
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("imapserver: server closed")

// Indexer brings a mailbox's full-text index up to date before a BODY or
// TEXT search.
type Indexer interface {
	Sync(ctx context.Context, mailboxID int64) error
}

// Config configures a Server.
type Config struct {
	Hostname    string             // name in the greeting
	TLSConfig   *tls.Config        // STARTTLS and implicit TLS; nil: no login possible
	AuthLimiter *authlimit.Limiter // failed-login throttle shared with SMTP and POP3; nil = none
	ConnLimiter *connlimit.Limiter // concurrent connection cap; nil = unlimited
	IdleTimeout time.Duration      // autologout; IDLE may last until it; default 30 minutes
	AppendLimit int64              // largest message APPEND accepts (APPENDLIMIT); default 50 MiB
	MaxErrors   int                // BAD responses before the session is closed
	// NotifyLimit is how many changes to other mailboxes a NOTIFY session
	// may have waiting before its notifications stop with
	// NOTIFICATIONOVERFLOW (RFC 5465 §5.8); default 10,000.
	NotifyLimit int
	Indexer     Indexer // full-text indexer; nil: BODY/TEXT search what is indexed
	// MaxExpensive is how many expensive commands (LIST with wildcards,
	// SEARCH on message content, SORT, THREAD) an account's sessions may
	// run at once (default 2); one over it waits up to ExpensiveWait
	// (default 10 s) for a turn, then gets NO [LIMIT].
	MaxExpensive  int
	ExpensiveWait time.Duration
	Logger        *slog.Logger

	// LoginTimeout bounds the time from connecting to logging in
	// (default 3 minutes; RFC 9051 §5.4 lets the timer before
	// authentication be shorter than the autologout timer).
	LoginTimeout time.Duration
	// CommandTimeout bounds reading a command once its first byte has
	// arrived, literals included (default 5 minutes), extended while the
	// client keeps up MinDataRate bytes per second (default 500).
	CommandTimeout time.Duration
	MinDataRate    int64
	// WriteTimeout bounds how long the server waits for the client to
	// take its output (deadline.Writer): a response may go on while the
	// client reads MinDataRate bytes per second, and a client that reads
	// nothing for WriteTimeout is disconnected (default 2 minutes).
	WriteTimeout time.Duration
	// ChangeLimit is how many changes from the store's feed a session
	// may have waiting; past it they collapse into a resync (the session
	// reads the mailbox again and announces the difference). Default
	// 4,096.
	ChangeLimit int
}

// Server is an IMAP server over one store.
type Server struct {
	cfg Config
	st  *store.Store
	log *slog.Logger

	lns acceptloop.Listeners // listeners being served; closed by Shutdown

	mu       sync.Mutex
	sessions map[*session]struct{}
	wg       sync.WaitGroup

	// Read and write buffers that sessions in IDLE hand back while they
	// wait (see session.idle).
	readers sync.Pool // *bufio.Reader
	writers sync.Pool // *bufio.Writer

	panics recovery.Counter // panics recovered in sessions (see Panics)
	work   workCounters     // what expensive commands did (see Work)
	heavy  expensiveLimiter // expensive commands running per account
	hooks  testHooks        // set by the package's tests only
}

// Panics returns how many sessions ended in a recovered panic: a count
// until the server has metrics (issue 14); each is also logged with its
// stack.
func (s *Server) Panics() int64 { return s.panics.Load() }

// New returns a Server.
func New(cfg Config, st *store.Store) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = defaultLoginTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = defaultCommandTimeout
	}
	if cfg.MinDataRate <= 0 {
		cfg.MinDataRate = defaultMinDataRate
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.ChangeLimit <= 0 {
		cfg.ChangeLimit = defaultChangeLimit
	}
	if cfg.AppendLimit <= 0 {
		cfg.AppendLimit = defaultAppendLimit
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = defaultMaxErrors
	}
	if cfg.MaxExpensive <= 0 {
		cfg.MaxExpensive = defaultMaxExpensive
	}
	if cfg.ExpensiveWait <= 0 {
		cfg.ExpensiveWait = defaultExpensiveWait
	}
	if cfg.NotifyLimit <= 0 {
		cfg.NotifyLimit = defaultNotifyLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		st:       st,
		log:      cfg.Logger.With("proto", "imap"),
		sessions: map[*session]struct{}{},
	}
	if cfg.TLSConfig == nil {
		s.log.Warn("no TLS configuration: STARTTLS and imaps unavailable, so nobody can log in")
	}
	return s
}

// Serve accepts plain connections (port 143) that must STARTTLS before
// logging in (LOGINDISABLED, RFC 9051 §6.2.3).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// ServeTLS accepts implicit-TLS connections (port 993, RFC 8314).
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	if s.cfg.TLSConfig == nil {
		ln.Close()
		return errors.New("imapserver: ServeTLS needs Config.TLSConfig")
	}
	return s.serve(ctx, ln, true)
}

// listenerName is the name of the listener in the log, as in the config:
// imap (STARTTLS) or imaps (implicit TLS).
func listenerName(implicitTLS bool) string {
	if implicitTLS {
		return "imaps"
	}
	return "imap"
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

func (s *Server) startSession(ctx context.Context, c net.Conn, implicitTLS bool, budget *connlimit.Listener) {
	ip := connlimit.AddrOf(c)
	slot, why := budget.Acquire(ip)
	if why != connlimit.OK {
		s.log.Warn("connection refused: too many connections", "listener", listenerName(implicitTLS), "client_ip", ip.String(), "limit", why.String())
		s.refuseConn(c, implicitTLS, why)
		return
	}
	sess := newSession(s, c, ip, implicitTLS)
	sess.slot = slot
	s.mu.Lock()
	if s.lns.Closing() {
		s.mu.Unlock()
		c.Close()
		slot.Release()
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
			s.mu.Unlock()
			slot.Release()
		}()
		defer s.recoverSession(sess.log)
		sess.run(ctx)
	}()
}

// refusalTimeout bounds answering a refused connection, TLS handshake
// included.
const refusalTimeout = 5 * time.Second

// refuseConn tells a connection over the limits why it is closed (RFC 9051
// §7.1.5: BYE may be sent at any time). On the imaps port that takes a
// TLS handshake, which the limiter rations (connlimit.Limiter.Refusal);
// without one the connection is closed without a word.
func (s *Server) refuseConn(c net.Conn, implicitTLS bool, why connlimit.Reason) {
	text := "* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
	if why == connlimit.AddrFull || why == connlimit.NetworkFull {
		text = "* BYE [UNAVAILABLE] Too many connections from your " + why.String() + ", try again later\r\n"
	}
	if !implicitTLS {
		_ = c.SetWriteDeadline(time.Now().Add(refusalTimeout))
		_, _ = c.Write([]byte(text))
		c.Close()
		return
	}
	done, ok := s.cfg.ConnLimiter.Refusal()
	if !ok {
		c.Close()
		return
	}
	s.mu.Lock()
	if s.lns.Closing() {
		s.mu.Unlock()
		done()
		c.Close()
		return
	}
	s.wg.Add(1) // Shutdown waits for it, as for a session
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer done()
		defer c.Close()
		tc := tls.Server(c, s.cfg.TLSConfig)
		_ = c.SetDeadline(time.Now().Add(refusalTimeout))
		if tc.Handshake() != nil {
			return
		}
		_, _ = tc.Write([]byte(text))
		_ = tc.Close()
	}()
}

// Shutdown stops accepting, tells every session BYE at its next command
// boundary (sessions in IDLE at once), and waits for them until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	// Closing before taking mu: a session starting now either sees it
	// and is refused, or registered before the loop below.
	s.lns.Close()
	s.mu.Lock()
	for sess := range s.sessions {
		sess.shutdown()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.netConn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func newSessionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
