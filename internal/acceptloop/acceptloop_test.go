package acceptloop

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var errClosed = errors.New("closed")

func TestRunHandsOutConnectionsAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closing atomic.Bool
	got := make(chan net.Conn, 2)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), ln, slog.New(slog.DiscardHandler), closing.Load, errClosed, func(c net.Conn) { got <- c })
	}()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case sc := <-got:
			sc.Close()
		case <-time.After(10 * time.Second):
			t.Fatal("connection not handed to the handler")
		}
	}
	closing.Store(true)
	ln.Close()
	if err := <-done; !errors.Is(err, errClosed) {
		t.Fatalf("Run after shutdown = %v, want errClosed", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, slog.New(slog.DiscardHandler), func() bool { return false }, errClosed, func(c net.Conn) { c.Close() })
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still open after Run returned")
	}
}

// flakyListener fails Accept with EMFILE a few times before succeeding.
type flakyListener struct {
	net.Listener
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

func TestRunRetriesTransientErrors(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner, fails: 3}
	got := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, slog.New(slog.DiscardHandler), func() bool { return false }, errClosed, func(c net.Conn) { c.Close(); got <- struct{}{} })
	}()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Run gave up after transient accept errors")
	}
	cancel()
	<-done
	if !Retryable(&net.OpError{Op: "accept", Err: syscall.EMFILE}) || Retryable(errors.New("other")) {
		t.Fatal("Retryable misclassifies errors")
	}
}

func TestListenersCloseStopsServe(t *testing.T) {
	var lns Listeners
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- lns.Serve(context.Background(), ln, slog.New(slog.DiscardHandler), errClosed, func(c net.Conn) { c.Close() })
	}()
	// Wait until Serve accepts, so Close finds the listener registered.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	lns.Close()
	if err := <-done; !errors.Is(err, errClosed) {
		t.Fatalf("Serve after Close = %v, want errClosed", err)
	}
	if !lns.Closing() {
		t.Fatal("Closing() false after Close")
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := lns.Serve(context.Background(), ln2, slog.New(slog.DiscardHandler), errClosed, func(c net.Conn) { c.Close() }); !errors.Is(err, errClosed) {
		t.Fatalf("Serve after Close = %v, want errClosed at once", err)
	}
	if _, err := net.Dial("tcp", ln2.Addr().String()); err == nil {
		t.Fatal("a listener handed to Serve after Close was left open")
	}
}
