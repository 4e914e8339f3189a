package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/buildinfo"
	"github.com/yizhan-mail/yizhan/internal/config"
)

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runOnce starts the daemon with cfg and src, waits for its banner, stops
// it and returns what it printed and logged.
func runOnce(t *testing.T, cfg config.Config, src config.Source) (stdout, log string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWriter{addrs: map[string]string{}, ready: make(chan struct{})}
	var lb syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, src, w, slog.New(slog.NewTextHandler(&lb, nil))) }()
	select {
	case <-w.ready:
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("daemon: %v", err)
		}
	case err := <-done:
		cancel()
		t.Fatalf("daemon exited before its banner: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), lb.String()
}

// The banner names the listeners once (on stdout, not again in the log),
// shows the admin commands as the operator runs this binary, with the
// config file they gave, and the log says which build started.
func TestBanner(t *testing.T) {
	cfg := testConfig(t.TempDir())
	out, log := runOnce(t, cfg, config.Source{Path: "/etc/yizhan/yizhan.toml"})
	if n := strings.Count(out, "listening "); n != 5 {
		t.Errorf("stdout has %d listening lines, want 5:\n%s", n, out)
	}
	if strings.Contains(log, "127.0.0.1:") {
		t.Errorf("the log repeats the listeners printed on stdout:\n%s", log)
	}
	want := buildinfo.Command() + " --config /etc/yizhan/yizhan.toml domain add example.com"
	if !strings.Contains(out, want) {
		t.Errorf("banner lacks %q:\n%s", want, out)
	}
	if !strings.Contains(log, "msg=started") || !strings.Contains(log, "version=") || !strings.Contains(log, "go=go1.") {
		t.Errorf("the log does not say which build started:\n%s", log)
	}
	if strings.Contains(log, "level=WARN") {
		t.Errorf("warning with a fully qualified hostname:\n%s", log)
	}

	// Embedded defaults or ./yizhan.toml: the same directory finds the
	// same configuration, no --config needed.
	for _, src := range []config.Source{{Embedded: true}, {Path: "yizhan.toml"}} {
		out, _ := runOnce(t, testConfig(t.TempDir()), src)
		if want := "  " + buildinfo.Command() + " domain add example.com\n"; !strings.Contains(out, want) {
			t.Errorf("source %+v: banner lacks %q:\n%s", src, want, out)
		}
	}
}

// A hostname that is not fully qualified is served, with a warning: other
// mail servers judge the name in EHLO (RFC 5321 §4.1.1.1 wants a
// fully qualified domain name).
func TestBannerHostnameNotQualified(t *testing.T) {
	for _, host := range []string{"vm", "localhost.localdomain"} {
		cfg := testConfig(t.TempDir())
		cfg.Hostname = host
		_, log := runOnce(t, cfg, config.Source{Embedded: true})
		if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "hostname="+host) || !strings.Contains(log, "fully qualified") {
			t.Errorf("hostname %q: no warning in the log:\n%s", host, log)
		}
	}
}

// Every session's log lines name the listener it came in on (imaps and
// pop3s for implicit TLS, not imap and pop3) and the client's address
// under one key, client_ip, in every protocol.
func TestSessionLogKeys(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Listen.IMAP, cfg.Listen.IMAPS = "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWriter{addrs: map[string]string{}, ready: make(chan struct{})}
	var lb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, config.Source{Embedded: true}, w, slog.New(slog.NewTextHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}()
	select {
	case <-w.ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon exited: %v", err)
	}
	// One short session per listener: the greeting, then goodbye.
	for _, s := range []struct {
		listener string
		tls      bool
		bye      string
	}{
		{"smtp", false, "QUIT\r\n"}, {"submissions", true, "QUIT\r\n"},
		{"imap", false, "a LOGOUT\r\n"}, {"imaps", true, "a LOGOUT\r\n"},
		{"pop3", false, "QUIT\r\n"}, {"pop3s", true, "QUIT\r\n"},
	} {
		w.mu.Lock()
		addr := w.addrs[s.listener]
		w.mu.Unlock()
		var c net.Conn
		var err error
		if s.tls {
			c, err = tls.Dial("tcp", addr, insecure)
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.listener, err)
		}
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("%s: greeting: %v", s.listener, err)
		}
		io.WriteString(c, s.bye)
		io.Copy(io.Discard, r) // until the server closes
		c.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(lb.String(), "\n") {
		if !strings.Contains(line, " session=") {
			continue
		}
		if strings.Contains(line, " ip=") || !strings.Contains(line, " client_ip=127.0.0.1") {
			t.Errorf("session line without client_ip: %s", line)
		}
		_, rest, ok := strings.Cut(line, " listener=")
		if !ok {
			t.Errorf("session line without listener: %s", line)
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		seen[name] = true
		if (strings.Contains(line, "proto=imap") && name != "imap" && name != "imaps") ||
			(strings.Contains(line, "proto=pop3") && name != "pop3" && name != "pop3s") {
			t.Errorf("listener %q in: %s", name, line)
		}
	}
	for _, l := range []string{"smtp", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		if !seen[l] {
			t.Errorf("no session line with listener=%s in:\n%s", l, lb.String())
		}
	}
}
