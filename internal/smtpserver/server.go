package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/acceptloop"
	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/recovery"
)

// Config configures a Server. Zero values get the defaults named on each
// field.
type Config struct {
	Mode     Mode   // which listener this is
	Hostname string // greeting, EHLO and Received name; default os.Hostname()

	// TLSConfig enables STARTTLS (RFC 3207) and is required by
	// ModeSubmissions (implicit TLS, RFC 8314). nil: no TLS.
	TLSConfig *tls.Config

	MaxMessageSize int64 // octets, SIZE extension (RFC 1870); default 50 MiB
	MaxRecipients  int   // per transaction; default 100 (RFC 5321 §4.5.3.1.8 minimum)
	MaxHeaderSize  int64 // header section, buffered in memory; default 1 MiB
	MaxReceived    int   // Received fields before a loop is assumed; default 100
	// MaxErrors is how many client errors end the session with "421 4.7.0
	// Too many errors"; default 20. Every 4xx/5xx reply caused by the
	// client counts as one error; a recipient refused by the Backend with
	// a 5xx counts as half an error (large lists may hold stale addresses,
	// but a dictionary attack still runs into the limit); temporary
	// refusals by the Backend and our own failures do not count.
	MaxErrors int

	// RFC 5321 §4.5.3.2 timeouts, each an upper bound on a whole phase
	// (internal/deadline): waiting for and reading one command line
	// (default 5m); message data, DATA or one BDAT chunk (3m, extended
	// while the client keeps up MinDataRate); and our reply after the end
	// of data, which bounds delivery (10m).
	CommandTimeout   time.Duration
	DataBlockTimeout time.Duration
	DataEndTimeout   time.Duration
	// MinDataRate is the transfer rate in bytes per second that earns a
	// client more time than DataBlockTimeout for its message data;
	// default 500.
	MinDataRate int64
	// LoginTimeout bounds the time from connecting to a successful AUTH on
	// the submission listeners (default 3m): a client that answers every
	// command in time but never logs in is closed.
	LoginTimeout time.Duration
	// WriteTimeout bounds how long the server waits for the client to
	// take its replies (deadline.Writer): a client that reads nothing for
	// WriteTimeout, or reads below MinDataRate, is disconnected (default
	// 2 minutes).
	WriteTimeout time.Duration
	// MaxJunkCommands is how many commands that do not advance a mail
	// transaction (NOOP, RSET, VRFY, EXPN, HELP) a session may send
	// between two accepted messages before it is closed with 421;
	// default 100.
	MaxJunkCommands int

	AuthLimiter *authlimit.Limiter // shared across protocols; default: own limiter, 10 failures per login per hour → 15m block
	ConnLimiter *connlimit.Limiter // shared across listeners, a budget per Serve; nil = unlimited
	Logger      *slog.Logger       // default slog.Default()
}

// Defaults for Config's zero values.
const (
	defaultMaxMessageSize = 50 << 20
	defaultMaxRecipients  = 100
	defaultMaxHeaderSize  = 1 << 20
	defaultMaxReceived    = 100
	defaultMaxErrors      = 20
	// defaultMinDataRate: a 50 MiB message may take a day at this rate,
	// while holding a connection costs a slow-client attacker 500 B/s.
	defaultMinDataRate = 500
	// defaultLoginTimeout: clients log in within a second of connecting;
	// three minutes leave a person typing at a terminal time to do it.
	defaultLoginTimeout = 3 * time.Minute
	// defaultMaxJunkCommands: legitimate clients send a few NOOPs and
	// RSETs per message; a hundred still means an hours-long session
	// for a client answering just in time.
	defaultMaxJunkCommands = 100

	// maxLine is our command line limit including CRLF. RFC 5321 §4.5.3.1.4
	// says 512 octets; SMTPUTF8 paths and AUTH initial responses (RFC 4954
	// §4) need more, so we are liberal.
	maxLine = 4096

	// readBufSize is the per-connection read buffer; message data is
	// decoded in place, a window of this size at a time.
	readBufSize = 32 << 10
	// writeBufSize holds the replies of a pipelined group (RFC 2920).
	writeBufSize = 4 << 10
	// bodyBufSize is the size of writes to a MessageWriter.
	bodyBufSize = 64 << 10
	// tlsHandshakeTimeout bounds the TLS handshake (STARTTLS and port 465).
	tlsHandshakeTimeout = 30 * time.Second
	// refusalTimeout bounds answering a connection refused for the
	// connection limits, TLS handshake included.
	refusalTimeout = 5 * time.Second
	// defaultWriteTimeout: a client that takes none of our replies for
	// two minutes is gone or means harm.
	defaultWriteTimeout = 2 * time.Minute
	// goodbyeTimeout bounds writing the last reply of a session.
	goodbyeTimeout = 5 * time.Second
)

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Hostname = h
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = defaultMaxMessageSize
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = defaultMaxRecipients
	}
	if c.MaxHeaderSize <= 0 {
		c.MaxHeaderSize = defaultMaxHeaderSize
	}
	if c.MaxReceived <= 0 {
		c.MaxReceived = defaultMaxReceived
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = defaultMaxErrors
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 5 * time.Minute
	}
	if c.DataBlockTimeout <= 0 {
		c.DataBlockTimeout = 3 * time.Minute
	}
	if c.DataEndTimeout <= 0 {
		c.DataEndTimeout = 10 * time.Minute
	}
	if c.MinDataRate <= 0 {
		c.MinDataRate = defaultMinDataRate
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = defaultLoginTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.MaxJunkCommands <= 0 {
		c.MaxJunkCommands = defaultMaxJunkCommands
	}
	if c.AuthLimiter == nil {
		c.AuthLimiter = authlimit.New(authlimit.Config{Failures: 10, Window: time.Hour, Penalty: 15 * time.Minute})
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server accepts SMTP sessions on one or more listeners of one Mode.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	lns acceptloop.Listeners // listeners being served; closed by Shutdown

	mu       sync.Mutex
	sessions map[*session]struct{}
	wg       sync.WaitGroup // session goroutines

	panics recovery.Counter // panics recovered in sessions (see Panics)
}

// Panics returns how many sessions ended in a recovered panic: a count
// until the server has metrics (issue 14); each is also logged with its
// stack.
func (s *Server) Panics() int64 { return s.panics.Load() }

// New returns a Server speaking cfg.Mode for backend b.
func New(cfg Config, b Backend) *Server {
	cfg.setDefaults()
	return &Server{
		cfg:      cfg,
		backend:  b,
		log:      cfg.Logger.With("mode", cfg.Mode.String()),
		sessions: map[*session]struct{}{},
	}
}

// errNoTLS is returned by Serve for ModeSubmissions without a TLSConfig.
var errNoTLS = errors.New("smtpserver: submissions mode needs a TLSConfig")

// Serve accepts connections on ln until Shutdown (then it returns nil) or
// until ctx is cancelled (then it returns ctx.Err() and closes every session
// at once: cancelling ctx is a hard stop, Shutdown the graceful one). ctx is
// also the parent of the contexts given to the Backend.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.Mode == ModeSubmissions && s.cfg.TLSConfig == nil {
		return errNoTLS
	}
	// Each listener has its own budget of connections not logged in, so
	// a flood on one leaves the others alone (internal/connlimit).
	budget := s.cfg.ConnLimiter.Listener(s.cfg.Mode.String() + " " + ln.Addr().String())
	return s.lns.Serve(ctx, ln, s.log, nil, func(c net.Conn) {
		sess := newSession(ctx, s, c, budget)
		s.mu.Lock()
		if s.lns.Closing() {
			s.mu.Unlock()
			sess.cancel()
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
				s.mu.Unlock()
			}()
			defer s.recoverSession(sess.log)
			sess.run()
		}()
	})
}

// Shutdown stops accepting connections. Idle sessions get "421 4.3.2
// shutting down" and are closed; sessions receiving or delivering a message
// may finish it (and then get the 421) until ctx ends, when every remaining
// connection is closed and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	// Closing before taking mu: a session starting now either sees it
	// and is refused, or registered before the copy below.
	s.lns.Close()
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.interrupt()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.kill()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// Pools of per-connection and per-message buffers.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
	bodyPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bodyBufSize) }}
	headerPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}
)

// maxPooledHeader keeps unusually large header buffers out of the pool.
const maxPooledHeader = 64 << 10
