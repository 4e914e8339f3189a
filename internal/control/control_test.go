package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
)

// start listens in a fresh directory, registers an echo, a failing and
// a panicking command and serves until the test ends.
func start(t *testing.T) string {
	t.Helper()
	_, dir := startServer(t)
	return dir
}

func startServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Listen(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("echo", func(ctx context.Context, args json.RawMessage) (any, error) {
		var v map[string]string
		if err := json.Unmarshal(args, &v); err != nil {
			return nil, err
		}
		return v, nil
	})
	s.Handle("fail", func(ctx context.Context, args json.RawMessage) (any, error) {
		return nil, errors.New("no such thing")
	})
	s.Handle("panic", func(ctx context.Context, args json.RawMessage) (any, error) {
		panic("a bug in a handler")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, dir
}

func TestCall(t *testing.T) {
	dir := start(t)
	ctx := context.Background()
	var got map[string]string
	if err := Call(ctx, dir, "echo", map[string]string{"a": "b"}, &got); err != nil || got["a"] != "b" {
		t.Fatalf("echo: %v, %v", got, err)
	}
	if err := Call(ctx, dir, "fail", nil, nil); err == nil || err.Error() != "no such thing" {
		t.Fatalf("failing command: %v", err)
	}
	if err := Call(ctx, dir, "nosuch", nil, nil); err == nil || !strings.Contains(err.Error(), `unknown command "nosuch"`) {
		t.Fatalf("unknown command: %v", err)
	}
	fi, err := os.Stat(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v, want a 0600 socket", fi.Mode())
	}
}

// TestHandlerPanic (issue 11 item 7): a command whose handler panics
// answers an error and is counted; the server goes on serving.
func TestHandlerPanic(t *testing.T) {
	s, dir := startServer(t)
	ctx := context.Background()
	if err := Call(ctx, dir, "panic", nil, nil); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("panicking command: %v, want an internal error", err)
	}
	var got map[string]string
	if err := Call(ctx, dir, "echo", map[string]string{"a": "b"}, &got); err != nil || got["a"] != "b" {
		t.Fatalf("echo after the panic: %v, %v", got, err)
	}
	if n := s.Panics(); n != 1 {
		t.Errorf("Panics() = %d, want 1", n)
	}
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	err := Call(context.Background(), dir, "echo", nil, nil)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), Path(dir)) {
		t.Fatalf("no socket: %v, want ErrNotRunning naming the path", err)
	}
	// A socket file left by a server that died.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: Path(dir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if err := Call(context.Background(), dir, "echo", nil, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale socket: %v, want ErrNotRunning", err)
	}
	// A new server replaces it.
	s, err := Listen(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	s.Close()
	if _, err := os.Stat(Path(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after Close: %v", err)
	}
}

func TestSecondServerRefused(t *testing.T) {
	dir := start(t)
	if _, err := Listen(dir, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "another yizhan serve") {
		t.Fatalf("second Listen: %v", err)
	}
	// The first still answers.
	if err := Call(context.Background(), dir, "echo", map[string]string{}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestBadRequests(t *testing.T) {
	dir := start(t)
	for _, req := range []string{"not json\n", "[1,2]\n", "{\"command\":5}\n", "\n"} {
		c, err := net.Dial("unix", Path(dir))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(req))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		var resp response
		if err != nil || json.Unmarshal([]byte(line), &resp) != nil || resp.Error == "" {
			t.Errorf("request %q: answer %q, %v; want an error object", req, line, err)
		}
	}
}

func TestLongPath(t *testing.T) {
	dir := t.TempDir() + "/" + strings.Repeat("d", 120)
	if _, err := Listen(dir, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "shorter data_dir") {
		t.Fatalf("Listen with a long path: %v", err)
	}
}

// FuzzServeConn: no request makes the server fail to answer or crash.
func FuzzServeConn(f *testing.F) {
	f.Add([]byte("{\"command\":\"echo\",\"args\":{\"a\":\"b\"}}\n"))
	f.Add([]byte("{\"command\":\"fail\"}\n"))
	f.Add([]byte("{\"command\":\"echo\",\"args\":[\n"))
	f.Add([]byte("\x00\xff\n"))
	s := &Server{log: slog.New(slog.DiscardHandler), handlers: map[string]Handler{
		"echo": func(ctx context.Context, args json.RawMessage) (any, error) { return args, nil },
		"fail": func(ctx context.Context, args json.RawMessage) (any, error) { return nil, errors.New("x") },
	}}
	f.Fuzz(func(t *testing.T, req []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			defer server.Close()
			s.serveConn(context.Background(), server)
		}()
		go func() { client.Write(append(req, '\n')) }()
		line, err := bufio.NewReader(client).ReadBytes('\n')
		var resp response
		if err != nil || json.Unmarshal(line, &resp) != nil {
			t.Fatalf("request %q: answer %q, %v", req, line, err)
		}
	})
}
