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
