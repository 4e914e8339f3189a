package imapserver_test

// This file holds the harness of the protocol tests: a store with two
// accounts, a server listening on loopback (plain and implicit TLS), a
// delivery helper doing what internal/delivery does, and a small raw IMAP
// client that keeps responses byte for byte so tests can assert them
// exactly.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/fulltext"
	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/imapserver"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tlsutil"
)

// wait bounds every read of a test client: generous, so that a slow
// machine under -race never fails a test, while a hang still ends.
const wait = 10 * time.Second

const (
	alice = "alice@example.test"
	bob   = "bob@example.test"
	pass  = "secret"
)

var (
	tlsOnce sync.Once
	tlsConf *tls.Config
	tlsErr  error
	tlsDir  string
)

// serverTLS returns one self-signed configuration shared by all tests.
func serverTLS(t testing.TB) *tls.Config {
	tlsOnce.Do(func() {
		tlsDir, tlsErr = os.MkdirTemp("", "imapserver-tls-")
		if tlsErr != nil {
			return
		}
		var m *tlsutil.Manager
		m, tlsErr = tlsutil.New("", "", tlsDir, "mail.example.test", nil)
		if tlsErr == nil {
			tlsConf = m.ServerConfig()
		}
	})
	if tlsErr != nil {
		t.Fatalf("tls: %v", tlsErr)
	}
	return tlsConf
}

var (
	tmplOnce sync.Once
	tmplDir  string
	tmplIDs  map[string]int64
	tmplErr  error
)

// template returns a data directory holding example.test with alice and
// bob, made once: hashing two passwords with argon2id for every test
// would take most of the test time.
func template(t testing.TB) (string, map[string]int64) {
	tmplOnce.Do(func() {
		tmplDir, tmplErr = os.MkdirTemp("", "imapserver-store-")
		if tmplErr != nil {
			return
		}
		ctx := context.Background()
		var st *store.Store
		if st, tmplErr = store.Open(ctx, tmplDir, store.Options{}); tmplErr != nil {
			return
		}
		defer st.Close()
		if _, tmplErr = st.AddDomain(ctx, "example.test", ""); tmplErr != nil {
			return
		}
		tmplIDs = map[string]int64{}
		for _, a := range []string{alice, bob} {
			acct, err := st.AddAccount(ctx, a, pass)
			if err != nil {
				tmplErr = err
				return
			}
			tmplIDs[a] = acct.ID
		}
	})
	if tmplErr != nil {
		t.Fatalf("store template: %v", tmplErr)
	}
	return tmplDir, tmplIDs
}

// copyDir copies the files of the closed template store.
func copyDir(t testing.TB, from, to string) {
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy store: %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{tlsDir, tmplDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "mail.example.test"}
}

// env is a store and a server over it.
type env struct {
	t     testing.TB
	dir   string
	st    *store.Store
	srv   *imapserver.Server
	cfg   imapserver.Config
	plain string // address of the plain (STARTTLS) listener
	tls   string // address of the implicit-TLS listener
	ids   map[string]int64

	cancel context.CancelFunc
	served sync.WaitGroup
}

// newEnv opens a store in a temporary directory with alice and bob and
// starts a server; mod may change the configuration.
func newEnv(t testing.TB, mod func(*imapserver.Config)) *env {
	t.Helper()
	dir, ids := template(t)
	e := &env{t: t, dir: t.TempDir(), ids: ids}
	copyDir(t, dir, e.dir)
	e.openStore()
	e.startServer(mod)
	t.Cleanup(e.close)
	return e
}

func (e *env) openStore() {
	st, err := store.Open(context.Background(), e.dir, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
}

func (e *env) startServer(mod func(*imapserver.Config)) {
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("IMAPTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.cfg = imapserver.Config{
		Hostname:  "mail.example.test",
		TLSConfig: serverTLS(e.t),
		Indexer:   fulltext.New(e.st, log),
		Logger:    log,
	}
	if mod != nil {
		mod(&e.cfg)
	}
	e.srv = imapserver.New(e.cfg, e.st)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	lp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	lt, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.plain, e.tls = lp.Addr().String(), lt.Addr().String()
	e.served.Add(2)
	go func() { defer e.served.Done(); _ = e.srv.Serve(ctx, lp) }()
	go func() { defer e.served.Done(); _ = e.srv.ServeTLS(ctx, lt) }()
}

// stopServer shuts the server down and waits for its listeners.
func (e *env) stopServer() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	e.cancel()
	e.served.Wait()
	e.srv = nil
}

func (e *env) close() {
	e.stopServer()
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

// mailbox returns a mailbox of alice by name.
func (e *env) mailbox(user, name string) store.Mailbox {
	e.t.Helper()
	mb, err := e.st.MailboxByName(context.Background(), e.ids[user], name)
	if err != nil {
		e.t.Fatal(err)
	}
	return mb
}

// delivery describes a message to deliver.
type delivery struct {
	user    string    // account; alice if empty
	mailbox string    // INBOX if empty
	prefix  string    // trace fields served before the blob
	flags   []string  // initial flags
	date    time.Time // internal date; now if zero
	noMIME  bool      // store no parsed structure, as when delivery could not parse it
}

// deliver stores raw as internal/delivery does: a blob, its MIME structure
// parsed from the blob, then st.Deliver. It returns the new UID.
func (e *env) deliver(raw string, d delivery) uint32 {
	e.t.Helper()
	if d.user == "" {
		d.user = alice
	}
	if d.mailbox == "" {
		d.mailbox = "INBOX"
	}
	if d.date.IsZero() {
		d.date = time.Now()
	}
	blob, err := e.st.NewBlob()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := blob.Write([]byte(raw)); err != nil {
		e.t.Fatal(err)
	}
	p, err := imapmime.Parse(blob.Reader())
	if err != nil {
		e.t.Fatal(err)
	}
	var prefix []byte
	if d.prefix != "" {
		prefix = []byte(d.prefix)
	}
	mime := p.Marshal()
	if d.noMIME {
		mime = nil
	}
	out, err := e.st.Deliver(context.Background(), &store.Delivery{
		Blob:         blob,
		TrackingID:   fmt.Sprintf("t%d", time.Now().UnixNano()),
		InternalDate: d.date,
		MIME:         mime,
		Recipients:   []store.Recipient{{AccountID: e.ids[d.user], Mailbox: d.mailbox, Prefix: prefix, Flags: d.flags, Address: d.user}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out[0].UID
}

// simpleMsg returns a small text message.
func simpleMsg(subject, body string) string {
	return "From: Alice <alice@example.test>\r\n" +
		"To: Bob <bob@example.test>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.test>\r\n" +
		"\r\n" + body
}

// client is a raw IMAP client.
type client struct {
	t     testing.TB
	conn  net.Conn
	r     *bufio.Reader
	w     io.Writer
	flush func() error
	n     int
	greet string
}

// dial connects to addr (TLS when useTLS) and reads the greeting.
func (e *env) dial(useTLS bool) *client {
	e.t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", e.tls, clientTLS())
	} else {
		c, err = net.DialTimeout("tcp", e.plain, wait)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	cl := newClient(e.t, c)
	cl.greet = cl.line()
	if !strings.HasPrefix(cl.greet, "* OK ") {
		e.t.Fatalf("greeting: %q", cl.greet)
	}
	return cl
}

func newClient(t testing.TB, c net.Conn) *client {
	cl := &client{t: t, conn: c}
	cl.setTransport(c, c)
	t.Cleanup(func() { c.Close() })
	return cl
}

func (c *client) setTransport(r io.Reader, w io.Writer) {
	c.r = bufio.NewReader(r)
	c.w = w
	c.flush = func() error { return nil }
}

// login opens a TLS connection and logs user in.
func (e *env) login(user string) *client {
	e.t.Helper()
	c := e.dial(true)
	c.ok("LOGIN " + user + " " + pass)
	return c
}

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c.w, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	if err := c.flush(); err != nil {
		c.t.Fatalf("flush: %v", err)
	}
}

var literalRe = regexp.MustCompile(`~?\{(\d+)\}$`)

// line reads one response line with its literals inlined: "{n}\r\n" is
// followed by the n octets and the rest of the line. The final CRLF is
// dropped.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.readLine()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return l
}

func (c *client) readLine() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	var b strings.Builder
	for {
		s, err := c.r.ReadString('\n')
		if err != nil {
			return b.String() + s, err
		}
		s = strings.TrimSuffix(s, "\r\n")
		b.WriteString(s)
		m := literalRe.FindStringSubmatch(s)
		if m == nil {
			return b.String(), nil
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return b.String(), err
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// resp is the answer to one command.
type resp struct {
	untagged []string // untagged and continuation lines, in order
	tagged   string   // the tagged status line
}

// status returns the tagged line without its tag: "OK ...".
func (r *resp) status() string {
	_, s, _ := strings.Cut(r.tagged, " ")
	return s
}

// has reports whether an untagged line equals l.
func (r *resp) has(l string) bool {
	for _, u := range r.untagged {
		if u == l {
			return true
		}
	}
	return false
}

// prefixed returns the untagged lines starting with p.
func (r *resp) prefixed(p string) []string {
	var out []string
	for _, u := range r.untagged {
		if strings.HasPrefix(u, p) {
			out = append(out, u)
		}
	}
	return out
}

func (r *resp) String() string {
	return strings.Join(append(append([]string{}, r.untagged...), r.tagged), "\n")
}

// nextTag returns a fresh tag.
func (c *client) nextTag() string {
	c.n++
	return fmt.Sprintf("t%d", c.n)
}

// do sends a command with a fresh tag and reads up to its tagged answer.
func (c *client) do(cmd string) *resp {
	c.t.Helper()
	tag := c.nextTag()
	c.send(tag + " " + cmd + "\r\n")
	return c.read(tag)
}

// read collects lines up to the one tagged tag.
func (c *client) read(tag string) *resp {
	c.t.Helper()
	r := &resp{}
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			r.tagged = l
			return r
		}
		r.untagged = append(r.untagged, l)
	}
}

// ok runs a command that must succeed.
func (c *client) ok(cmd string) *resp {
	c.t.Helper()
	r := c.do(cmd)
	if !strings.HasPrefix(r.status(), "OK") {
		c.t.Fatalf("%s: %s", cmd, r)
	}
	return r
}

// expectStatus runs a command and checks the start of its tagged status.
func (c *client) expectStatus(cmd, want string) *resp {
	c.t.Helper()
	r := c.do(cmd)
	if !strings.HasPrefix(r.status(), want) {
		c.t.Fatalf("%s: want %q, got:\n%s", cmd, want, r)
	}
	return r
}

// closed reports whether the server closed the connection, reading what
// is left.
func (c *client) closed() bool {
	for {
		_, err := c.readLine()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		return true
	}
}

// eq fails unless got == want.
func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n got: %v\nwant: %v", what, got, want)
	}
}

// prefix fails unless got starts with want.
func prefix(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("%s:\n got: %q\nwant: %q...", what, got, want)
	}
}

// lines compares untagged lines exactly.
func lines(t testing.TB, what string, r *resp, want ...string) {
	t.Helper()
	if len(r.untagged) != len(want) {
		t.Fatalf("%s: want %d untagged lines %q, got:\n%s", what, len(want), want, r)
	}
	for i := range want {
		if r.untagged[i] != want[i] {
			t.Fatalf("%s: line %d:\n got: %q\nwant: %q\nall:\n%s", what, i, r.untagged[i], want[i], r)
		}
	}
}

// literal renders s as the client sees a literal in a response.
func literal(s string) string {
	return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
}
