package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// banner collects serve's stdout and signals its start banner.
type banner struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (b *banner) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if strings.Contains(b.buf.String(), "Yizhan serving") {
		b.once.Do(func() { close(b.ready) })
	}
	return len(p), nil
}

// addr returns the address serve printed for listener name.
func (b *banner) addr(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "listening" && f[1] == name {
			return f[2]
		}
	}
	return ""
}

// serve runs `yizhan serve` in-process with c's config until the returned
// stop is called; its stdout tells the listening addresses.
func (c *cli) serve() (out *banner, stop func()) {
	c.t.Helper()
	out = &banner{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRoot(strings.NewReader(""), out, io.Discard)
		root.SetArgs([]string{"--config", c.config, "serve"})
		done <- root.ExecuteContext(ctx)
	}()
	select {
	case <-out.ready:
	case err := <-done:
		cancel()
		c.t.Fatalf("serve exited: %v", err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				c.t.Errorf("serve: %v", err)
			}
		}
	}
	c.t.Cleanup(stop)
	return out, stop
}

// TestAuthBlocksCommand lists and clears a block of a running server
// through its control socket: a wrong POP3 password blocks alice's login
// from 127.0.0.1 (auth_failures = 1), `auth blocks` shows it, the right
// password is refused until `auth blocks --clear` lifts it.
func TestAuthBlocksCommand(t *testing.T) {
	c := newCLI(t)
	cfg, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, `
[listen]
smtp = ""
submission = ""
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = "127.0.0.1:0"
http = ""

[limits]
auth_failures = 1
`...)
	if err := os.WriteFile(c.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("", "domain", "add", "example.test")
	c.ok("right-password\n", "user", "add", "alice@example.test", "--password-stdin")

	msg := c.fails("", "auth", "blocks")
	if !strings.Contains(msg, "serve is not running") {
		t.Fatalf("auth blocks without a server: %q", msg)
	}

	srv, stop := c.serve()
	if out := c.ok("", "auth", "blocks"); !strings.Contains(out, "no blocks") {
		t.Fatalf("auth blocks on a fresh server: %q", out)
	}
	pop, err := testenv.DialPOP3S(srv.addr("pop3s"))
	if err != nil {
		t.Fatal(err)
	}
	var perr *testenv.POP3Error
	if err := pop.Login("alice@example.test", "wrong"); !errors.As(err, &perr) || !strings.Contains(perr.Line, "[AUTH]") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := pop.Login("alice@example.test", "right-password"); !errors.As(err, &perr) || !strings.Contains(perr.Line, "[SYS/TEMP]") {
		t.Fatalf("right password while blocked: %v", err)
	}
	listing := c.ok("", "auth", "blocks")
	t.Logf("yizhan auth blocks:\n%s", listing)
	out := lines(listing)
	if len(out) != 2 || !strings.HasPrefix(out[0], "CLIENT") {
		t.Fatalf("auth blocks: %q, want a header and one block", out)
	}
	if f := strings.Fields(out[1]); len(f) < 4 || f[0] != "127.0.0.1" || f[1] != "alice@example.test" || f[2] != "1" || f[3] != "refused" {
		t.Fatalf("block line %q", out[1])
	}
	c.fails("", "auth", "blocks", "127.0.0.1") // a target needs --clear
	c.fails("", "auth", "blocks", "--clear")   // --clear needs a target
	if out := c.ok("", "auth", "blocks", "--clear", "bob@example.test"); !strings.Contains(out, "lifted 0 blocks") {
		t.Fatalf("clearing an account without blocks: %q", out)
	}
	if out := c.ok("", "auth", "blocks", "--clear", "127.0.0.1"); !strings.Contains(out, "lifted 1 block") {
		t.Fatalf("auth blocks --clear: %q", out)
	}
	if out := c.ok("", "auth", "blocks"); !strings.Contains(out, "no blocks") {
		t.Fatalf("auth blocks after clearing: %q", out)
	}
	if err := pop.Login("alice@example.test", "right-password"); err != nil {
		t.Fatalf("right password after clearing: %v", err)
	}
	pop2, err := testenv.DialPOP3S(srv.addr("pop3s"))
	if err != nil {
		t.Fatal(err)
	}
	pop2.Login("alice@example.test", "wrong-again")
	if out := c.ok("", "auth", "blocks", "--clear", "--all"); !strings.Contains(out, "lifted 1 block") {
		t.Fatalf("auth blocks --clear --all: %q", out)
	}
	stop()
	if msg := c.fails("", "auth", "blocks"); !strings.Contains(msg, "serve is not running") {
		t.Fatalf("auth blocks after serve stopped: %q", msg)
	}
}
