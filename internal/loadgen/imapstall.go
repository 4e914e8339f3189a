package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IMAPStallOptions configures an imap-stall run, issue 11 item 5's attack
// on a server's memory: Stalled connections log in, select Mailbox, send a
// command with a big answer and never read it, while Storms connections
// run STORE 1:* over the same mailbox again and again, so that every
// stalled session is sent every change. A server that holds what a
// stalled session loaded, and queues its changes without bound, grows
// with the mailbox, the stalled connections and the time; one with write
// deadlines and bounded queues does not. Zero values take the defaults
// noted.
type IMAPStallOptions struct {
	IMAPServer
	Mailbox string // default INBOX
	Stalled int    // connections that stop reading; default 40
	Storms  int    // connections running STORE 1:*; default 1
	// Command is what each stalled connection sends; default
	// "FETCH 1:* BODY[]".
	Command string
	// Hold is how long the attack lasts once the stalled connections are
	// set up; default 60s.
	Hold time.Duration
	// ServerPID, when above 0, is the server process whose resident
	// memory (VmRSS in /proc/PID/status, Linux) is sampled every 100 ms.
	ServerPID int
	Progress  io.Writer // gets a line when the connections are set up; may be nil
}

func (o *IMAPStallOptions) setDefaults() error {
	if err := o.IMAPServer.setDefaults(); err != nil {
		return err
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.Stalled == 0 {
		o.Stalled = 40
	}
	if o.Storms == 0 {
		o.Storms = 1
	}
	if o.Command == "" {
		o.Command = "FETCH 1:* BODY[]"
	}
	if o.Hold == 0 {
		o.Hold = 60 * time.Second
	}
	switch {
	case o.Stalled < 0 || o.Storms < 0 || o.Hold < 0 || o.ServerPID < 0:
		return errors.New("imap-stall: stalled, storms, hold and pid must not be negative")
	case strings.ContainsAny(o.Command, "\r\n"):
		return errors.New("imap-stall: the command must be one line")
	}
	return checkMailbox(o.Mailbox)
}

// IMAPStallResult summarises an imap-stall run.
type IMAPStallResult struct {
	Stalled     int           // stalled connections attempted
	Established int           // stalled connections that sent their command
	Closed      int           // of those, connections the server had closed by the end of the hold
	Open        int           // of those, connections the server still held at the end
	Stores      int           // STORE commands completed by the storm connections
	StoreErrors int           // STORE commands or storm connections that failed
	Held        time.Duration // time from the last stalled connection's command to the end
	// Resident memory of the server (KiB; 0 without ServerPID): before
	// the first connection, the highest sample, and at the end of the
	// hold.
	RSSStartKB, RSSPeakKB, RSSEndKB int64
	FirstErrors                     []error
}

// KV is the result as key=value pairs for scripts.
func (r *IMAPStallResult) KV() string {
	return strings.Join([]string{
		"mode=imap-stall",
		fmt.Sprintf("stalled=%d", r.Stalled),
		fmt.Sprintf("established=%d", r.Established),
		fmt.Sprintf("closed=%d", r.Closed),
		fmt.Sprintf("open=%d", r.Open),
		fmt.Sprintf("stores=%d", r.Stores),
		fmt.Sprintf("store_errors=%d", r.StoreErrors),
		fmt.Sprintf("hold_s=%.1f", r.Held.Seconds()),
		fmt.Sprintf("rss_start_mb=%.1f", float64(r.RSSStartKB)/1024),
		fmt.Sprintf("rss_peak_mb=%.1f", float64(r.RSSPeakKB)/1024),
		fmt.Sprintf("rss_end_mb=%.1f", float64(r.RSSEndKB)/1024),
	}, " ")
}

// Summary is a line for people.
func (r *IMAPStallResult) Summary() string {
	s := fmt.Sprintf("imap-stall: %d of %d stalled connections set up; after %.0fs the server had closed %d, %d still open; %d STOREs (%d failed)",
		r.Established, r.Stalled, r.Held.Seconds(), r.Closed, r.Open, r.Stores, r.StoreErrors)
	if r.RSSPeakKB > 0 {
		s += fmt.Sprintf("; server RSS %.1f MB before, %.1f MB peak, %.1f MB at the end",
			float64(r.RSSStartKB)/1024, float64(r.RSSPeakKB)/1024, float64(r.RSSEndKB)/1024)
	}
	return s
}

// stallRun is the state of one imap-stall run.
type stallRun struct {
	o     *IMAPStallOptions
	first firstErrors

	stores, storeErrors atomic.Int64
	stop                atomic.Bool // the hold is over
}

// RunIMAPStall runs the attack: the stalled connections (16 set up at a
// time) each send o.Command and read nothing more; then the storm
// connections run STORE 1:* +FLAGS.SILENT and -FLAGS.SILENT (\Flagged) in
// turn, reading their answers, for o.Hold. At the end each stalled
// connection is read to tell whether the server closed it (the end of the
// stream comes after what was in flight) or still answers (its answer
// keeps coming). Failures are counted in the result; the error is only for
// options that make a run impossible.
func RunIMAPStall(ctx context.Context, o IMAPStallOptions) (*IMAPStallResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &IMAPStallResult{Stalled: o.Stalled}
	r := &stallRun{o: &o}

	var sampler *rssSampler
	if o.ServerPID > 0 {
		var err error
		if sampler, err = startRSSSampler(o.ServerPID, 100*time.Millisecond); err != nil {
			return nil, err
		}
		res.RSSStartKB = sampler.start
	}

	stalled := make([]*imapConn, o.Stalled)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range stalled {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := r.stall(ctx, i)
			if err != nil {
				r.first.add(fmt.Errorf("stalled connection %d: %w", i, err))
				return
			}
			stalled[i] = c
		})
	}
	wg.Wait()
	for _, c := range stalled {
		if c != nil {
			res.Established++
			defer c.conn.Close()
		}
	}
	fmt.Fprintf(progress, "imap-stall: %d of %d connections sent %q and stopped reading; %d storm connections for %v\n",
		res.Established, res.Stalled, o.Command, o.Storms, o.Hold)

	t0 := time.Now()
	var storms sync.WaitGroup
	for i := range o.Storms {
		storms.Go(func() { r.storm(ctx, o.Stalled+i) })
	}
	select {
	case <-ctx.Done():
	case <-time.After(o.Hold):
	}
	res.Held = time.Since(t0)
	if sampler != nil {
		res.RSSEndKB = sampler.last()
	}
	r.stop.Store(true)
	storms.Wait()
	if sampler != nil {
		res.RSSPeakKB = sampler.stop()
	}

	var closed, open atomic.Int64
	for _, c := range stalled {
		if c == nil {
			continue
		}
		wg.Go(func() {
			if drainStalled(c) {
				closed.Add(1)
			} else {
				open.Add(1)
			}
		})
	}
	wg.Wait()
	res.Closed, res.Open = int(closed.Load()), int(open.Load())
	res.Stores, res.StoreErrors = int(r.stores.Load()), int(r.storeErrors.Load())
	res.FirstErrors = r.first.list()
	return res, nil
}

// stall sets up stalled connection i: log in, select, send the command.
func (r *stallRun) stall(ctx context.Context, i int) (*imapConn, error) {
	c, err := dialIMAP(ctx, &r.o.IMAPServer, i)
	if err != nil {
		return nil, err
	}
	if err = c.login(); err == nil {
		err = c.selectMailbox(r.o.Mailbox)
	}
	if err == nil {
		_, _, err = c.start(r.o.Command)
	}
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	c.conn.SetDeadline(time.Time{}) // nothing is read until the end
	return c, nil
}

// storm runs STORE 1:* on connection n until the hold is over, and
// reconnects after a failure.
func (r *stallRun) storm(ctx context.Context, n int) {
	for !r.stop.Load() && ctx.Err() == nil {
		c, err := dialIMAP(ctx, &r.o.IMAPServer, n)
		if err == nil {
			if err = c.login(); err == nil {
				err = c.selectMailbox(r.o.Mailbox)
			}
		}
		for add := true; err == nil && !r.stop.Load() && ctx.Err() == nil; add = !add {
			op := "-FLAGS.SILENT"
			if add {
				op = "+FLAGS.SILENT"
			}
			if err = c.simple(`STORE 1:* ` + op + ` (\Flagged)`); err == nil {
				r.stores.Add(1)
			}
		}
		if c != nil {
			c.conn.Close()
		}
		if err != nil && !r.stop.Load() {
			r.storeErrors.Add(1)
			r.first.add(fmt.Errorf("storm connection %d: %w", n, err))
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// stillAnsweringAfter is how much of a stalled connection's answer is read
// before the server is taken to be still answering it: more than the
// socket buffers of both ends hold (what a server that closed the
// connection had left in flight).
const stillAnsweringAfter = 64 << 20

// drainStalled reads what a stalled connection has waiting and reports
// whether the stream ended (the server had closed the connection). The
// server still holds it if its answer keeps coming past
// stillAnsweringAfter bytes, or ends and the connection stays silent (the
// whole answer had fitted in what it could write meanwhile).
func drainStalled(c *imapConn) (closed bool) {
	var n int64
	buf := make([]byte, 64<<10)
	for n < stillAnsweringAfter {
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, err := c.r.Read(buf)
		n += int64(k)
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			return false
		default:
			return true // EOF, a reset, a TLS alert
		}
	}
	return false
}

// rssSampler samples a process's resident memory in the background.
type rssSampler struct {
	path  string
	start int64
	peak  atomic.Int64
	now   atomic.Int64
	done  chan struct{}
	wg    sync.WaitGroup
}

func startRSSSampler(pid int, every time.Duration) (*rssSampler, error) {
	s := &rssSampler{path: "/proc/" + strconv.Itoa(pid) + "/status", done: make(chan struct{})}
	kb, err := readRSS(s.path)
	if err != nil {
		return nil, fmt.Errorf("imap-stall: server memory: %w", err)
	}
	s.start = kb
	s.peak.Store(kb)
	s.now.Store(kb)
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			kb, err := readRSS(s.path)
			if err != nil {
				continue // gone: the peak so far stands
			}
			s.now.Store(kb)
			if kb > s.peak.Load() {
				s.peak.Store(kb)
			}
		}
	})
	return s, nil
}

// last returns the latest sample.
func (s *rssSampler) last() int64 { return s.now.Load() }

// stop ends the sampling and returns the peak.
func (s *rssSampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.peak.Load()
}

// readRSS returns VmRSS from a /proc/PID/status file, in KiB.
func readRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS in %s", path)
}
