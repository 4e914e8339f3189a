package daemon

import (
	"bytes"
	"context"
	"log/slog"
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
