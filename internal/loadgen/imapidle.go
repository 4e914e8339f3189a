package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// reidleEvery is how often a held connection ends and restarts its IDLE:
// RFC 2177 §3 has clients re-issue IDLE at least every 29 minutes, as
// servers may log out a client idle for 30.
const reidleEvery = 25 * time.Minute

// fdReserve is the descriptors a run needs besides its connections
// (standard streams, the runtime's poller, DNS, slack).
const fdReserve = 64

// IMAPIdleOptions configures an imap-idle run: many connections logged in,
// their mailbox selected, idling. Zero values take the defaults noted.
type IMAPIdleOptions struct {
	IMAPServer
	Mailbox     string        // default INBOX
	Connections int           // connections to hold; default 1000
	Parallel    int           // connections being set up (or ended) at once; default 200
	Hold        time.Duration // how long to hold them once all are set up; 0 = until ctx is done
	Progress    io.Writer     // gets warnings and a line when the connections are set up; may be nil
}

func (o *IMAPIdleOptions) setDefaults() error {
	if err := o.IMAPServer.setDefaults(); err != nil {
		return err
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.Connections == 0 {
		o.Connections = 1000
	}
	if o.Parallel == 0 {
		o.Parallel = 200
	}
	if o.Connections < 0 || o.Parallel < 0 || o.Hold < 0 {
		return errors.New("imap-idle: connections, parallel and hold must not be negative")
	}
	return checkMailbox(o.Mailbox)
}

// IMAPIdleResult summarises an imap-idle run.
type IMAPIdleResult struct {
	Conns       int           // connections attempted
	Established int           // connections that reached IDLE
	Failed      int           // connections that did not
	Setup       time.Duration // from the first connect until every connection was idling or had failed
	Held        time.Duration // time all were held after setup
	Dropped     int           // idling connections the server ended or broke during the hold
	Closed      int           // connections ended cleanly: DONE, its OK, LOGOUT
	FileLimit   uint64        // RLIMIT_NOFILE after raising it; 0 if unknown
	FirstErrors []error       // the first few failures, in order
}

// KV is the result as key=value pairs for scripts.
func (r *IMAPIdleResult) KV() string {
	return strings.Join([]string{
		"mode=imap-idle",
		fmt.Sprintf("conns=%d", r.Conns),
		fmt.Sprintf("established=%d", r.Established),
		fmt.Sprintf("failed=%d", r.Failed),
		fmt.Sprintf("setup_s=%.3f", r.Setup.Seconds()),
		fmt.Sprintf("hold_s=%.3f", r.Held.Seconds()),
		fmt.Sprintf("dropped=%d", r.Dropped),
		fmt.Sprintf("closed=%d", r.Closed),
		fmt.Sprintf("fd_limit=%d", r.FileLimit),
	}, " ")
}

// Err reports whether any connection failed or was dropped.
func (r *IMAPIdleResult) Err() error {
	if r.Failed == 0 && r.Dropped == 0 {
		return nil
	}
	err := fmt.Errorf("imap-idle: %d of %d connections failed, %d dropped", r.Failed, r.Conns, r.Dropped)
	if len(r.FirstErrors) > 0 {
		err = fmt.Errorf("%w; first: %w", err, r.FirstErrors[0])
	}
	return err
}

// idleHold is the state of one imap-idle run.
type idleHold struct {
	o     *IMAPIdleOptions
	sem   chan struct{} // bounds setups and teardowns in flight
	first firstErrors

	established, failed, dropped, closed atomic.Int64

	mu       sync.Mutex  // guards held
	held     []*heldConn // connections that reached IDLE
	stopping atomic.Bool // the hold is over: end every IDLE
}

// heldConn is one idling connection.
type heldConn struct {
	mu  sync.Mutex // orders the holder's read deadline against stopAll's
	c   *imapConn
	tag string // the tag of the IDLE in progress
}

// RunIMAPIdle opens o.Connections connections, o.Parallel at a time, each
// logged in with o.Mailbox selected and in IDLE (RFC 2177); holds them for
// o.Hold (or until ctx is done), re-issuing IDLE every 25 minutes; then
// ends each with DONE and LOGOUT. Failures are counted in the result; the
// error is only for options that make a run impossible.
func RunIMAPIdle(ctx context.Context, o IMAPIdleOptions) (*IMAPIdleResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &IMAPIdleResult{Conns: o.Connections}
	limit, err := raiseFileLimit()
	switch {
	case err != nil:
		fmt.Fprintf(progress, "imap-idle: cannot raise the open file limit: %v\n", err)
	case limit > 0 && limit < uint64(o.Connections)+fdReserve:
		fmt.Fprintf(progress, "imap-idle: open file limit is %d, too low for %d connections: raise the hard limit (ulimit -Hn)\n", limit, o.Connections)
	}
	res.FileLimit = limit

	h := &idleHold{o: &o, sem: make(chan struct{}, max(o.Parallel, 1))}
	var setupWG, allWG sync.WaitGroup
	t0 := time.Now()
	for i := range o.Connections {
		setupWG.Add(1)
		allWG.Go(func() { h.run(ctx, i, &setupWG) })
	}
	setupWG.Wait()
	res.Setup = time.Since(t0)
	res.Established, res.Failed = int(h.established.Load()), int(h.failed.Load())
	holdFor := "until interrupted"
	if o.Hold > 0 {
		holdFor = "for " + o.Hold.String()
	}
	fmt.Fprintf(progress, "imap-idle: %d of %d connections idling (%d failed) after %.2fs; holding %s\n",
		res.Established, res.Conns, res.Failed, res.Setup.Seconds(), holdFor)

	t1 := time.Now()
	if ctx.Err() == nil {
		var timeout <-chan time.Time
		if o.Hold > 0 {
			t := time.NewTimer(o.Hold)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ctx.Done():
		case <-timeout:
		}
	}
	res.Held = time.Since(t1)
	h.stopAll()
	allWG.Wait()
	res.Dropped, res.Closed = int(h.dropped.Load()), int(h.closed.Load())
	res.FirstErrors = h.first.list()
	return res, nil
}

// run is the life of connection i: set up, hold, end.
func (h *idleHold) run(ctx context.Context, i int, setupDone *sync.WaitGroup) {
	hc, err := h.setup(ctx, i)
	if err != nil {
		h.failed.Add(1)
		h.first.add(fmt.Errorf("connection %d: %w", i, err))
		setupDone.Done()
		return
	}
	h.established.Add(1)
	h.mu.Lock()
	h.held = append(h.held, hc)
	h.mu.Unlock()
	setupDone.Done()

	if err := h.hold(hc); err != nil {
		h.dropped.Add(1)
		h.first.add(fmt.Errorf("connection %d: during the hold: %w", i, err))
		hc.c.conn.Close()
		return
	}
	h.sem <- struct{}{}
	defer func() { <-h.sem }()
	c := hc.c
	if err := idleDone(c, hc.tag); err != nil {
		h.first.add(fmt.Errorf("connection %d: %w", i, err))
		c.conn.Close()
		return
	}
	if err := c.logout(); err != nil {
		h.first.add(fmt.Errorf("connection %d: LOGOUT: %w", i, err))
		return
	}
	h.closed.Add(1)
}

// setup connects, logs in, selects and starts IDLE, with at most
// o.Parallel setups in flight.
func (h *idleHold) setup(ctx context.Context, i int) (*heldConn, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	c, err := dialIMAP(ctx, &h.o.IMAPServer, i)
	if err != nil {
		return nil, err
	}
	if err = c.login(); err == nil {
		err = c.selectMailbox(h.o.Mailbox)
	}
	var tag string
	if err == nil {
		tag, err = idleStart(c)
	}
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	return &heldConn{c: c, tag: tag}, nil
}

// idleStart sends IDLE and waits for the server's continuation request.
func idleStart(c *imapConn) (tag string, err error) {
	tag, early, err := c.start("IDLE")
	if err == nil && early == nil {
		var cont bool
		var r reply
		cont, r, err = c.waitContinuation(tag)
		if err == nil && !cont {
			early = &r
		}
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("IDLE: %w", err)
	case early != nil && early.status == "OK":
		return "", errors.New("IDLE: completed without a continuation request")
	case early != nil:
		return "", early.err("IDLE")
	}
	return tag, nil
}

// idleDone ends the IDLE of tag with DONE and reads its completion.
func idleDone(c *imapConn, tag string) error {
	c.deadline()
	c.w.WriteString("DONE\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("IDLE DONE: %w", err)
	}
	r, err := c.wait(tag)
	if err != nil {
		return fmt.Errorf("IDLE DONE: %w", err)
	}
	return r.err("IDLE")
}

// hold waits on an idling connection, reading what the server sends
// (EXISTS, "* OK Still here"), until stopAll; a nil error means the
// connection is still idling and in step. It peeks rather than reads, so
// the deadline that stopAll sets never cuts a response in half.
func (h *idleHold) hold(hc *heldConn) error {
	c := hc.c
	reidle := time.Now().Add(reidleEvery)
	for {
		hc.mu.Lock()
		if h.stopping.Load() {
			hc.mu.Unlock()
			return nil
		}
		c.conn.SetDeadline(reidle)
		hc.mu.Unlock()
		_, err := c.r.Peek(1)
		var ne net.Error
		switch {
		case err == nil:
			c.deadline()
			kind, err := c.readResponse()
			if err != nil {
				return err
			}
			switch kind {
			case respUntagged:
				c.untagged()
				if c.bye != "" {
					return fmt.Errorf("server said %q", truncate(c.line, 100))
				}
			case respTagged:
				return fmt.Errorf("IDLE ended by the server: %q", truncate(c.line, 100))
			}
		case !errors.As(err, &ne) || !ne.Timeout():
			return noEOF(err)
		case h.stopping.Load():
			return nil
		default: // time to renew the IDLE
			if err := idleDone(c, hc.tag); err != nil {
				return err
			}
			if hc.tag, err = idleStart(c); err != nil {
				return err
			}
			reidle = time.Now().Add(reidleEvery)
		}
	}
}

// stopAll ends the hold: every holder's wait returns at once.
func (h *idleHold) stopAll() {
	h.stopping.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for _, hc := range h.held {
		hc.mu.Lock()
		hc.c.conn.SetReadDeadline(now)
		hc.mu.Unlock()
	}
}
