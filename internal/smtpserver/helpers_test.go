package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

const testHost = "mx.example.test"

var (
	certOnce sync.Once
	testCert tls.Certificate
	certPool *x509.CertPool
)

// testTLS returns server and client TLS configs around a self-signed
// certificate for testHost.
func testTLS(t testing.TB) (server, client *tls.Config) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: testHost},
			DNSNames:              []string{testHost},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
		certPool = x509.NewCertPool()
		certPool.AddCert(cert)
	})
	return &tls.Config{Certificates: []tls.Certificate{testCert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: certPool, ServerName: testHost}
}

// delivery is one message handed to fakeBackend.Deliver.
type delivery struct {
	env  *Envelope
	data string
}

// fakeBackend is an in-memory Backend.
type fakeBackend struct {
	mu          sync.Mutex
	users       map[string]string   // user → password
	accounts    map[string]string   // user → canonical account
	senders     map[string][]string // account → addresses it may use
	rcpts       map[string]error    // recipient → verdict (nil: accept)
	defaultErr  error               // verdict for unknown recipients
	delivered   []delivery
	aborted     int
	newMessages int
	authCalls   int
	checked     []string      // recipients passed to CheckRecipient
	deliverErr  error         // returned by Deliver
	deliverGo   chan struct{} // when set, Deliver waits for it
	discard     bool          // do not keep message bytes (benchmark)
	deliveredC  chan struct{} // receives after each delivery, if set
	panicRcpt   string        // CheckRecipient panics on this recipient (a bug in a handler)
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		users:    map[string]string{"alice@example.test": "secret", "用户@例子.台灣": "秘密"},
		accounts: map[string]string{"alice@example.test": "alice@example.test", "用户@例子.台灣": "用户@例子.台灣"},
		senders: map[string][]string{
			"alice@example.test": {"alice@example.test", "alice+tag@example.test"},
			"用户@例子.台灣":           {"用户@例子.台灣"},
		},
		rcpts: map[string]error{
			"bob@example.test":   nil,
			"carol@example.test": nil,
			"用户@例子.台灣":           nil,
			"postmaster":         nil,
			"over@example.test":  &Reply{452, "4.2.2", "Mailbox full"},
			"later@example.test": &Reply{451, "4.3.2", "No queue yet"},
			"relay@other.test":   &Reply{554, "5.7.1", "Relaying denied"},
		},
		defaultErr: &Reply{550, "5.1.1", "No such user"},
	}
}

func (b *fakeBackend) Authenticate(ctx context.Context, user, pass string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.authCalls++
	if p, ok := b.users[user]; ok && p == pass {
		return b.accounts[user], nil
	}
	return "", ErrAuthFailed
}

func (b *fakeBackend) CheckSender(ctx context.Context, s *Session, addr, field string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.senders[s.AuthAccount] {
		if a == addr {
			return nil
		}
	}
	if field != "" {
		return &Reply{553, "5.7.1", field + ": header: sender address not yours"}
	}
	return &Reply{553, "5.7.1", "Sender address not yours"}
}

func (b *fakeBackend) CheckRecipient(ctx context.Context, s *Session, from, rcpt string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checked = append(b.checked, rcpt)
	if b.panicRcpt != "" && rcpt == b.panicRcpt {
		panic("fakeBackend: panicRcpt")
	}
	if err, ok := b.rcpts[rcpt]; ok {
		return err
	}
	if strings.HasSuffix(rcpt, "@many.test") {
		return nil
	}
	return b.defaultErr
}

type fakeWriter struct {
	b       *fakeBackend
	buf     bytes.Buffer
	n       int64
	discard bool
}

func (w *fakeWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.discard {
		return len(p), nil
	}
	return w.buf.Write(p)
}

func (w *fakeWriter) Abort() {
	w.b.mu.Lock()
	w.b.aborted++
	w.b.mu.Unlock()
}

func (b *fakeBackend) NewMessage(ctx context.Context) (MessageWriter, error) {
	b.mu.Lock()
	b.newMessages++
	b.mu.Unlock()
	return &fakeWriter{b: b, discard: b.discard}, nil
}

func (b *fakeBackend) Deliver(ctx context.Context, env *Envelope, msg MessageWriter) error {
	b.mu.Lock()
	wait, err := b.deliverGo, b.deliverErr
	b.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	w := msg.(*fakeWriter)
	if w.n != env.Size {
		return errors.New("size mismatch")
	}
	b.mu.Lock()
	if !b.discard {
		b.delivered = append(b.delivered, delivery{env: env, data: w.buf.String()})
	}
	c := b.deliveredC
	b.mu.Unlock()
	if c != nil {
		c <- struct{}{}
	}
	return nil
}

func (b *fakeBackend) deliveries() []delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivery(nil), b.delivered...)
}

func (b *fakeBackend) abortCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aborted
}

// testServer is a running Server on 127.0.0.1:0.
type testServer struct {
	srv     *Server
	addr    string
	backend *fakeBackend
	serveC  chan error
	client  *tls.Config
	clock   *testenv.Clock // the default AuthLimiter's: its tarpit waits are recorded, not slept
}

// testAuthFailures is the default AuthLimiter's limit per login.
const testAuthFailures = 5

// testLogger writes to stderr when -v is given with YIZHAN_TEST_LOG=1,
// else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("YIZHAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startServer runs a server with cfg (Hostname, TLSConfig and Logger
// filled in when empty).
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	stls, ctls := testTLS(t)
	if cfg.Hostname == "" {
		cfg.Hostname = testHost
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = stls
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	clock := testenv.NewClock()
	if cfg.AuthLimiter == nil {
		cfg.AuthLimiter = authlimit.New(authlimit.Config{Failures: testAuthFailures, Window: time.Hour, Penalty: time.Hour,
			Now: clock.Now, Sleep: clock.Sleep})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{backend: newFakeBackend(), addr: ln.Addr().String(), serveC: make(chan error, 1), client: ctls, clock: clock}
	ts.srv = New(cfg, ts.backend)
	go func() { ts.serveC <- ts.srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		<-ts.serveC
	})
	return ts
}

// rawClient speaks SMTP by hand.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
	return rc
}

// dialGreeted dials and reads the greeting.
func (ts *testServer) dialGreeted(t testing.TB) *rawClient {
	t.Helper()
	rc := ts.dial(t)
	rc.expect("220 " + testHost + " ESMTP Yizhan")
	return rc
}

// send writes raw text (no CRLF added).
func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (c *rawClient) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply (after %q): %v", lines, err)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expect reads a reply whose last line starts with prefix.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	lines := c.reply()
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("got reply %q, want prefix %q", lines, prefix)
	}
	return last
}

// cmd sends a command line and expects a reply starting with prefix.
func (c *rawClient) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// expectClosed checks the server closed the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	if l, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("expected close, got %q", l)
	}
}

// startTLS upgrades the connection after a 220 to STARTTLS.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// login brings a submission session to the authenticated state.
func (c *rawClient) login(ts *testServer) {
	c.t.Helper()
	c.authReady(ts)
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "235 2.7.0")
}

// authReady brings a submission session to where AUTH is accepted
// (EHLO, STARTTLS, EHLO).
func (c *rawClient) authReady(ts *testServer) {
	c.t.Helper()
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("STARTTLS", "220 2.0.0")
	c.startTLS(ts.client)
	c.cmd("EHLO client.example.test", "250 ")
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func (b *fakeBackend) opened() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.newMessages
}
