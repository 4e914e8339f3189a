package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

// fakeMessage is one message of the fake back end; body or gen supplies
// the octets.
type fakeMessage struct {
	uidl string
	body string
	gen  func() io.Reader // streamed content, for large messages
	size int64            // with gen
	open func(ctx context.Context) (io.ReadCloser, error)
}

func (m fakeMessage) info() MessageInfo {
	if m.gen != nil || m.open != nil {
		return MessageInfo{UIDL: m.uidl, Size: m.size}
	}
	return MessageInfo{UIDL: m.uidl, Size: int64(len(m.body))}
}

// fakeBackend is an in-memory Backend that records what the server asks.
type fakeBackend struct {
	mu         sync.Mutex
	passwords  map[string]string        // user → password
	boxes      map[string][]fakeMessage // account → messages
	authCalls  int
	expunges   map[string][][]int // account → Expunge calls
	expungeErr error
	opened     int // maildrops opened
	closed     int // maildrops closed
	maxRead    int // largest buffer passed to a message reader's Read
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		passwords: map[string]string{"alice@example.com": "secret pw", "bob@example.com": "hunter2"},
		boxes:     map[string][]fakeMessage{},
		expunges:  map[string][][]int{},
	}
}

func (b *fakeBackend) Authenticate(ctx context.Context, username, password string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.authCalls++
	account := strings.ToLower(username)
	if p, ok := b.passwords[account]; !ok || p != password {
		return "", ErrAuthFailed
	}
	return account, nil
}

func (b *fakeBackend) OpenMaildrop(ctx context.Context, account string) (Maildrop, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.opened++
	return &fakeMaildrop{b: b, account: account, msgs: append([]fakeMessage(nil), b.boxes[account]...)}, nil
}

func (b *fakeBackend) stats() (authCalls, opened, closed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authCalls, b.opened, b.closed
}

func (b *fakeBackend) expungeCalls(account string) [][]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]int(nil), b.expunges[account]...)
}

type fakeMaildrop struct {
	b       *fakeBackend
	account string
	msgs    []fakeMessage
}

func (m *fakeMaildrop) Messages() []MessageInfo {
	out := make([]MessageInfo, len(m.msgs))
	for i, msg := range m.msgs {
		out[i] = msg.info()
	}
	return out
}

func (m *fakeMaildrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	msg := m.msgs[i]
	switch {
	case msg.open != nil:
		return msg.open(ctx)
	case msg.gen != nil:
		return io.NopCloser(&readSizeRecorder{r: msg.gen(), b: m.b}), nil
	}
	return io.NopCloser(&readSizeRecorder{r: strings.NewReader(msg.body), b: m.b}), nil
}

func (m *fakeMaildrop) Expunge(ctx context.Context, idx []int) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.expunges[m.account] = append(m.b.expunges[m.account], append([]int(nil), idx...))
	if m.b.expungeErr != nil {
		return m.b.expungeErr
	}
	var keep []fakeMessage
	for i, msg := range m.b.boxes[m.account] {
		if !containsInt(idx, i) {
			keep = append(keep, msg)
		}
	}
	m.b.boxes[m.account] = keep
	return nil
}

func (m *fakeMaildrop) Close() error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.closed++
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// readSizeRecorder notes the largest buffer the server reads a message
// into, to show that messages are streamed in chunks.
type readSizeRecorder struct {
	r io.Reader
	b *fakeBackend
}

func (r *readSizeRecorder) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	r.b.maxRead = max(r.b.maxRead, len(p))
	r.b.mu.Unlock()
	return r.r.Read(p)
}

// testCert is testenv.Cert for the names this package's servers use.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	return testenv.Cert(t, "localhost")
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testAuthFailures is the test AuthLimiter's limit per login.
const testAuthFailures = 5

// testEnv is a running server with a plain and an implicit-TLS listener.
type testEnv struct {
	t        testing.TB
	srv      *Server
	backend  *fakeBackend
	plain    string // address of the STLS port
	implicit string // address of the pop3s port
	roots    *x509.CertPool
	logs     *syncBuffer
	clock    *testenv.Clock // the AuthLimiter's: its tarpit waits are recorded, not slept
	served   sync.WaitGroup
	serveErr chan error
}

func newTestEnv(t testing.TB, configure func(*Config)) *testEnv {
	t.Helper()
	cert, roots := testCert(t)
	clock := testenv.NewClock()
	env := &testEnv{t: t, backend: newFakeBackend(), roots: roots, logs: &syncBuffer{}, serveErr: make(chan error, 2), clock: clock}
	cfg := Config{
		Hostname:  "pop.example.com",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		AuthLimiter: authlimit.New(authlimit.Config{Failures: testAuthFailures, Window: time.Hour, Penalty: time.Hour,
			Now: clock.Now, Sleep: clock.Sleep}),
		Logger: slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	env.srv = New(cfg, env.backend)
	lnPlain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnTLS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.plain, env.implicit = lnPlain.Addr().String(), lnTLS.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	env.served.Add(2)
	go func() { defer env.served.Done(); env.serveErr <- env.srv.Serve(ctx, lnPlain) }()
	go func() { defer env.served.Done(); env.serveErr <- env.srv.ServeTLS(ctx, lnTLS) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := env.srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		env.srv.wg.Wait()
		env.served.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", env.logs.String())
		}
	})
	return env
}

func (env *testEnv) setBox(account string, msgs ...fakeMessage) {
	env.backend.mu.Lock()
	defer env.backend.mu.Unlock()
	env.backend.boxes[account] = msgs
}

// waitFor polls cond until it holds, failing the test after a generous
// bound. It waits for asynchronous server-side effects; it does not
// measure time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// client is a minimal POP3 client for tests.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	env  *testEnv
}

// dial connects to the plain port and reads the greeting.
func (env *testEnv) dial() *client {
	env.t.Helper()
	c := env.dialRaw(env.plain)
	if g := c.line(); g != "+OK pop.example.com Yizhan POP3 ready" {
		env.t.Fatalf("greeting = %q", g)
	}
	return c
}

// dialTLS connects to the pop3s port and reads the greeting.
func (env *testEnv) dialTLS() *client {
	env.t.Helper()
	c := env.dialRaw(env.implicit)
	c.handshake()
	if g := c.line(); g != "+OK pop.example.com Yizhan POP3 ready" {
		env.t.Fatalf("greeting = %q", g)
	}
	return c
}

func (env *testEnv) dialRaw(addr string) *client {
	env.t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		env.t.Fatal(err)
	}
	env.t.Cleanup(func() { conn.Close() })
	return &client{t: env.t, conn: conn, r: bufio.NewReader(conn), env: env}
}

func (c *client) handshake() {
	c.t.Helper()
	tc := tls.Client(c.conn, &tls.Config{ServerName: "localhost", RootCAs: c.env.roots})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// stls upgrades a plain connection.
func (c *client) stls() {
	c.t.Helper()
	c.expect("STLS", "+OK Begin TLS negotiation")
	c.handshake()
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) cmd(s string) string {
	c.t.Helper()
	c.send(s)
	return c.line()
}

func (c *client) expect(cmd, want string) {
	c.t.Helper()
	if got := c.cmd(cmd); got != want {
		c.t.Fatalf("%s: got %q, want %q", cmd, got, want)
	}
}

func (c *client) expectPrefix(cmd, want string) string {
	c.t.Helper()
	got := c.cmd(cmd)
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("%s: got %q, want prefix %q", cmd, got, want)
	}
	return got
}

// multi reads the body of a multi-line response, raw (still dot-stuffed),
// up to and excluding the terminating line.
func (c *client) multiRaw() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read multi-line: %v", err)
		}
		if l == ".\r\n" {
			return sb.String()
		}
		sb.WriteString(l)
	}
}

// multiLines reads a multi-line response as lines, un-stuffed.
func (c *client) multiLines() []string {
	c.t.Helper()
	raw := c.multiRaw()
	if raw == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, ".")
	}
	return lines
}

// expectEOF checks that the server closed the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	l, err := c.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("expected EOF, got %q, %v", l, err)
	}
}

// msg builds a message with CRLF line endings from lines.
func msg(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n"
}
