package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/config"
)

// A second serve on a data directory already served refuses to start,
// saying why; admin commands (a store handle of their own) still work.
func TestSecondServeRefused(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &lineWriter{addrs: map[string]string{}, ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, testConfig(dir), config.Source{Embedded: true}, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	select {
	case <-w.ready:
		cancel()
		<-done
		t.Fatal("a second serve started on a data directory in use")
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "in use by another yizhan serve") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("second serve: %v, want an error saying %s is in use", err, dir)
		}
	}
	provision(t, dir) // admin access while serve runs

	// Once the first has stopped, the directory is free again.
	first.stop()
	start(t, dir)
}
