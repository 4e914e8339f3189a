// Package acceptloop runs a listener's accept loop for the protocol
// servers: it hands each connection to a handler, retries transient
// accept errors (descriptor exhaustion, aborted connections) with a
// growing pause instead of spinning or giving up, and stops when the
// context ends or the listener is closed.
package acceptloop

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// maxBackoff caps the pause after repeated transient accept errors.
const maxBackoff = time.Second

// Run accepts on ln until ctx ends, closing() reports true, or a
// permanent error occurs; it closes ln before returning. closing is the
// server's own "shutting down" state (Shutdown closes listeners, which
// makes Accept fail); Run returns errClosed in that case.
func Run(ctx context.Context, ln net.Listener, log *slog.Logger, closing func() bool, errClosed error, handle func(net.Conn)) error {
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if closing() {
				return errClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if Retryable(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), maxBackoff)
				log.Warn("accept failed, retrying", "err", err, "backoff", backoff)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
				continue
			}
			log.Error("accept failed", "err", err)
			return err
		}
		backoff = 0
		handle(c)
	}
}

// Retryable reports accept errors worth retrying after a pause:
// descriptor exhaustion, a connection reset before it was accepted, and
// timeouts.
func Retryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

// Listeners is a server's set of listeners and its shutting-down state,
// shared by Serve (which registers each listener) and Shutdown (which
// closes them all). The zero value is ready to use.
type Listeners struct {
	mu      sync.Mutex
	closing bool
	lns     map[net.Listener]struct{}
}

// Closing reports whether Close has been called.
func (l *Listeners) Closing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// Close marks the server as shutting down and closes every listener being
// served, so each Serve returns errClosed. Listeners handed to Serve later
// are closed at once.
func (l *Listeners) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for ln := range l.lns {
		ln.Close()
	}
}

// Serve registers ln and runs the accept loop on it (see Run) until ctx
// ends or Close is called.
func (l *Listeners) Serve(ctx context.Context, ln net.Listener, log *slog.Logger, errClosed error, handle func(net.Conn)) error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		ln.Close()
		return errClosed
	}
	if l.lns == nil {
		l.lns = map[net.Listener]struct{}{}
	}
	l.lns[ln] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.lns, ln)
		l.mu.Unlock()
	}()
	return Run(ctx, ln, log, l.Closing, errClosed, handle)
}
