package daemon

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/yizhan-mail/yizhan/internal/config"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// instance is a daemon running in-process on ephemeral ports.
type instance struct {
	addrs  map[string]string
	cancel context.CancelFunc
	done   chan error
}

// lineWriter collects "listening NAME ADDR" lines and signals the banner.
type lineWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	addrs map[string]string
	ready chan struct{}
	once  sync.Once
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case <-w.ready:
		return len(p), nil // addresses are final once the banner is out
	default:
	}
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "listening" {
			w.addrs[f[1]] = f[2]
		}
		if strings.HasPrefix(line, "Yizhan serving") {
			w.once.Do(func() { close(w.ready) })
		}
	}
	return len(p), nil
}

func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = dir
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", Submissions: "127.0.0.1:0",
		POP3: "127.0.0.1:0", POP3S: "127.0.0.1:0"}
	return cfg
}

func start(t *testing.T, dir string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWriter{addrs: map[string]string{}, ready: make(chan struct{})}
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	go func() { done <- Run(ctx, testConfig(dir), config.Source{Embedded: true}, w, log) }()
	select {
	case <-w.ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon exited: %v", err)
	}
	w.mu.Lock()
	addrs := maps.Clone(w.addrs)
	w.mu.Unlock()
	in := &instance{addrs: addrs, cancel: cancel, done: done}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	<-in.done
	in.cancel = nil
}

// provision adds domains, users and aliases the way the CLI does: through
// a second store handle on the same directory.
func provision(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []string{"example.test", "例子.台灣", "catch.test"} {
		if _, err := st.AddDomain(ctx, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"alice@example.test", "bob@example.test", "用户@例子.台灣", "carol@catch.test"} {
		if _, err := st.AddAccount(ctx, u, "pw-"+strings.Split(u, "@")[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AddAlias(ctx, "team@example.test", []string{"alice@example.test", "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAlias(ctx, "fwd@example.test", []string{"far@remote.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAlias(ctx, "@catch.test", []string{"carol@catch.test"}); err != nil {
		t.Fatal(err)
	}
}

var insecure = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // self-signed test cert

// rawSMTP is a line-level SMTP conversation for exact reply checks.
type rawSMTP struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawSMTP {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawSMTP{t: t, c: c, br: bufio.NewReader(c)}
	r.reply() // greeting
	return r
}

func (r *rawSMTP) reply() string {
	r.t.Helper()
	var all []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read reply: %v (so far %q)", err, all)
		}
		all = append(all, strings.TrimRight(line, "\r\n"))
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(all, "\n")
		}
	}
}

func (r *rawSMTP) cmd(line, wantPrefix string) string {
	r.t.Helper()
	fmt.Fprintf(r.c, "%s\r\n", line)
	got := r.reply()
	if !strings.HasPrefix(got, wantPrefix) {
		r.t.Fatalf("%s: got %q, want %q", line, got, wantPrefix)
	}
	return got
}

func sendInbound(t *testing.T, addr, from, rcpt, body string) string {
	t.Helper()
	r := dialRaw(t, addr)
	r.cmd("EHLO client.remote.test", "250")
	r.cmd("MAIL FROM:<"+from+"> SMTPUTF8", "250")
	r.cmd("RCPT TO:<"+rcpt+">", "250")
	r.cmd("DATA", "354")
	return r.cmd(body+"\r\n.", "250 2.0.0 OK id=")
}

// pop3 is a minimal POP3 client over implicit TLS.
type pop3 struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialPOP3(t *testing.T, addr, user, pass string) *pop3 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, insecure)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &pop3{t: t, c: c, br: bufio.NewReader(c)}
	p.line("+OK")
	p.cmd("USER "+user, "+OK")
	p.cmd("PASS "+pass, "+OK")
	return p
}

func (p *pop3) line(want string) string {
	p.t.Helper()
	l, err := p.br.ReadString('\n')
	if err != nil {
		p.t.Fatal(err)
	}
	if !strings.HasPrefix(l, want) {
		p.t.Fatalf("got %q, want %q", l, want)
	}
	return strings.TrimRight(l, "\r\n")
}

func (p *pop3) cmd(c, want string) string {
	p.t.Helper()
	fmt.Fprintf(p.c, "%s\r\n", c)
	return p.line(want)
}

func (p *pop3) multi(c string) string {
	p.t.Helper()
	p.cmd(c, "+OK")
	var b strings.Builder
	for {
		l, err := p.br.ReadString('\n')
		if err != nil {
			p.t.Fatal(err)
		}
		if l == ".\r\n" {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

var (
	idRe         = regexp.MustCompile(`id=([a-z2-7]{20})`)   // in the 250 reply
	receivedIDRe = regexp.MustCompile(`\sid ([a-z2-7]{20})`) // in the Received field
)

func TestSubmissionToPOP3(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)

	c, err := smtp.DialStartTLS(in.addrs["submission"], insecure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "pw-alice")); err != nil {
		t.Fatal(err)
	}
	// No Message-ID and no Date: the MSA adds them (RFC 6409 §8).
	msg := "From: Alice <alice@example.test>\r\nTo: team@example.test\r\nSubject: hello team\r\n\r\nBody line.\r\n"
	if err := c.SendMail("alice@example.test", []string{"team@example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	for _, who := range []string{"alice", "bob"} {
		p := dialPOP3(t, in.addrs["pop3s"], who+"@example.test", "pw-"+who)
		got := p.multi("RETR 1")
		for _, want := range []string{"Return-Path: <alice@example.test>\r\n", "Delivered-To: " + who + "@example.test\r\n",
			"Received: from ", "authenticated", "Message-ID: <", "Date: ", "Subject: hello team\r\n", "Body line.\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s's copy lacks %q:\n%s", who, want, got)
			}
		}
		if !receivedIDRe.MatchString(got) {
			t.Errorf("no tracking id in %s's Received field", who)
		}
		p.cmd("DELE 1", "+OK")
		p.cmd("QUIT", "+OK")
	}
	p := dialPOP3(t, in.addrs["pop3s"], "bob@example.test", "pw-bob")
	p.cmd("STAT", "+OK 0 0")
}

func TestInboundRouting(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)
	smtpAddr := in.addrs["smtp"]

	r := dialRaw(t, smtpAddr)
	ehlo := r.cmd("EHLO client.remote.test", "250")
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("port 25 offers AUTH: %q", ehlo)
	}
	r.cmd("MAIL FROM:<someone@remote.test>", "250")
	r.cmd("RCPT TO:<nobody@example.test>", "550 5.1.1")
	r.cmd("RCPT TO:<victim@elsewhere.test>", "554 5.7.1")
	r.cmd("RCPT TO:<victim%elsewhere.test@example.test>", "550 5.7.1")
	r.cmd("RCPT TO:<@example.test:victim@elsewhere.test>", "550 5.7.1")
	r.cmd("RCPT TO:<victim@elsewhere.test@example.test>", "550 5.7.1")
	r.cmd("RCPT TO:<fwd@example.test>", "250") // forwarding alias: queued for the remote target

	// Each of these reaches an account.
	cases := []struct{ rcpt, user, pass string }{
		{"alice+lists@example.test", "alice@example.test", "pw-alice"},
		{"anything@catch.test", "carol@catch.test", "pw-carol"},
		{"postmaster@例子.台灣", "用户@例子.台灣", "pw-用户"},
		{"用户@xn--fsqu00a.xn--kpry57d", "用户@例子.台灣", "pw-用户"},
	}
	for i, c := range cases {
		reply := sendInbound(t, smtpAddr, "sender@remote.test", c.rcpt,
			fmt.Sprintf("From: sender@remote.test\r\nSubject: case %d\r\n\r\nhi", i))
		id := idRe.FindStringSubmatch(reply)[1]
		p := dialPOP3(t, in.addrs["pop3s"], c.user, c.pass)
		got := p.multi("TOP " + map[bool]string{true: "2", false: "1"}[i == 3] + " 0")
		if !strings.Contains(got, fmt.Sprintf("Subject: case %d", i)) || !strings.Contains(got, "id "+id) {
			t.Errorf("%s: message with id %s not found in %s's INBOX:\n%s", c.rcpt, id, c.user, got)
		}
		p.cmd("QUIT", "+OK")
	}
}

func TestSubmissionPolicy(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)

	r := dialRaw(t, in.addrs["submission"])
	r.cmd("EHLO me", "250")
	r.cmd("MAIL FROM:<alice@example.test>", "530 5.7.0")
	r.cmd("STARTTLS", "220")
	tc := tls.Client(r.c, insecure)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.c, r.br = tc, bufio.NewReader(tc)
	if !strings.Contains(r.cmd("EHLO me", "250"), "AUTH PLAIN LOGIN") {
		t.Fatal("no AUTH after STARTTLS")
	}
	r.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdy1hbGljZQ==", "235") // alice@example.test / pw-alice
	r.cmd("MAIL FROM:<bob@example.test>", "553 5.7.1")
	r.cmd("MAIL FROM:<alice+x@example.test>", "250")
	r.cmd("RCPT TO:<far@remote.test>", "250") // submission relays for its users
	r.cmd("RCPT TO:<bob@example.test>", "250")
	r.cmd("DATA", "354")
	r.cmd("From: bob@example.test\r\nSubject: spoof\r\n\r\nx\r\n.", "553 5.7.1")
	r.cmd("MAIL FROM:<alice@example.test>", "250")
	r.cmd("RCPT TO:<bob@example.test>", "250")
	r.cmd("DATA", "354")
	r.cmd("Subject: no from\r\n\r\nx\r\n.", "550 5.6.0")
}

func TestUIDLStableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)
	for i := 0; i < 3; i++ {
		sendInbound(t, in.addrs["smtp"], "x@remote.test", "bob@example.test", fmt.Sprintf("Subject: %d\r\n\r\nx", i))
	}
	p := dialPOP3(t, in.addrs["pop3s"], "bob@example.test", "pw-bob")
	before := p.multi("UIDL")
	p.cmd("QUIT", "+OK")
	in.stop()

	in = start(t, dir)
	p = dialPOP3(t, in.addrs["pop3s"], "bob@example.test", "pw-bob")
	after := p.multi("UIDL")
	if before != after || strings.Count(after, "\n") != 3 {
		t.Fatalf("UIDL changed across restart:\n%s\nvs\n%s", before, after)
	}
}

func TestSelfSignedCertPersists(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)
	serial := func() string {
		c, err := tls.Dial("tcp", in.addrs["submissions"], insecure)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	s1 := serial()
	in.stop()
	in = start(t, dir)
	if s2 := serial(); s1 != s2 {
		t.Fatalf("certificate regenerated on restart: %s vs %s", s1, s2)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls")); err != nil {
		t.Fatal(err)
	}
}

// TestQuotaRefusesDelivery checks that a full mailbox defers mail with
// 452 4.2.2 (the sender retries) while other recipients still get it.
func TestQuotaRefusesDelivery(t *testing.T) {
	dir := t.TempDir()
	provision(t, dir)
	in := start(t, dir)
	sendInbound(t, in.addrs["smtp"], "sender@remote.test", "bob@example.test", "Subject: fill\r\n\r\n"+strings.Repeat("x", 2000))
	st, err := store.Open(context.Background(), dir, store.Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetQuota(context.Background(), "bob@example.test", 1000); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := dialRaw(t, in.addrs["smtp"])
	r.cmd("EHLO client.remote.test", "250")
	r.cmd("MAIL FROM:<someone@remote.test>", "250")
	r.cmd("RCPT TO:<bob@example.test>", "452 4.2.2")
	r.cmd("RCPT TO:<alice@example.test>", "250")
}
