package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SlowlorisOptions configures a slowloris run: many connections to one or
// more listeners, opened from a few addresses and held by sending one byte
// now and then (a command line that never ends), while normal clients are
// timed on the side: an SMTP transaction and an IMAP login, each on a
// fresh connection. Issue 11 item 2's attack: 4,096 such connections from
// 18 addresses refused every normal client of every protocol.
type SlowlorisOptions struct {
	// Targets are the listeners flooded (host:port, plain text: the first
	// line the server sends tells a held connection from a refused one).
	// None: only the normal clients are timed, e.g. in a second process
	// so that the flood's goroutines do not delay their timing.
	Targets []string
	// Conns is how many connections each target's flood tries to hold;
	// default 2048.
	Conns int
	// SourceIPs are the addresses the flood connects from, in turn;
	// default 18 loopback addresses in distinct /24s (127.0.1.1,
	// 127.0.2.1, ... 127.0.18.1), so that per-network limits apply one
	// network per address.
	SourceIPs []string
	// Interval is the time between two bytes on a held connection;
	// default 10s.
	Interval time.Duration
	// Parallel is how many flood connections are being opened at once;
	// default 256.
	Parallel int
	// Hold is how long the normal clients are timed once the flood has
	// opened what it could; default 60s.
	Hold time.Duration
	// Settle is how long the flood may take to open its connections
	// before the timing starts; default 20s.
	Settle time.Duration
	// Probe is the pause between two probes of each kind; default 100ms.
	Probe time.Duration

	// SMTP, when its Addr is set, is the normal SMTP client: one message
	// per connection, timed from connect to the reply to QUIT.
	SMTP SMTPOptions
	// IMAP, when its Addr is set, is the normal IMAP client: timed from
	// connect to the tagged OK of LOGIN (the LOGOUT after it is not).
	IMAP IMAPServer

	// Progress gets a line when the flood has settled; may be nil.
	Progress io.Writer
}

func (o *SlowlorisOptions) setDefaults() error {
	if len(o.Targets) == 0 && o.SMTP.Addr == "" && o.IMAP.Addr == "" {
		return errors.New("slowloris: nothing to do: no listener to flood and no normal client to time")
	}
	if o.Conns == 0 {
		o.Conns = 2048
	}
	if len(o.SourceIPs) == 0 {
		for i := 1; i <= 18; i++ {
			o.SourceIPs = append(o.SourceIPs, fmt.Sprintf("127.0.%d.1", i))
		}
	}
	if o.Interval == 0 {
		o.Interval = 10 * time.Second
	}
	if o.Parallel == 0 {
		o.Parallel = 256
	}
	if o.Hold == 0 {
		o.Hold = 60 * time.Second
	}
	if o.Settle == 0 {
		o.Settle = 20 * time.Second
	}
	if o.Probe == 0 {
		o.Probe = 100 * time.Millisecond
	}
	if o.Conns < 0 || o.Parallel < 0 || o.Interval < 0 || o.Hold < 0 || o.Settle < 0 || o.Probe < 0 {
		return errors.New("slowloris: conns, parallel, interval, hold, settle and probe must not be negative")
	}
	for _, a := range o.SourceIPs {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("slowloris: source address %q is not an IP address", a)
		}
	}
	if o.SMTP.Addr != "" {
		o.SMTP.PerConn = 1
		if err := o.SMTP.setDefaults(); err != nil {
			return err
		}
	}
	if o.IMAP.Addr != "" {
		if err := o.IMAP.setDefaults(); err != nil {
			return err
		}
	}
	return nil
}

// FloodStats is what one target's flood achieved.
type FloodStats struct {
	Addr    string
	MaxHeld int // most connections held at once, over the timed period
	MinHeld int // fewest held at once, over the timed period
	Refused int // connections the server refused (reply, reset or close before its greeting)
	Cut     int // held connections the server closed later (its deadlines)
}

// SlowlorisResult summarises a slowloris run.
type SlowlorisResult struct {
	Floods []FloodStats
	SMTP   *Result // normal SMTP transactions during the flood; nil if not run
	IMAP   *Result // normal IMAP logins during the flood; nil if not run
}

// flood is one target's flood in progress.
type flood struct {
	addr     string
	held     atomic.Int64
	refused  atomic.Int64
	cut      atomic.Int64
	min, max atomic.Int64 // of held, sampled while timing
}

// RunSlowloris floods o.Targets and times the normal clients meanwhile.
func RunSlowloris(ctx context.Context, o SlowlorisOptions) (*SlowlorisResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if lim, err := raiseFileLimit(); err == nil && lim > 0 && uint64(o.Conns*len(o.Targets)+fdReserve) > lim {
		return nil, fmt.Errorf("slowloris: %d connections need more open files than the limit of %d", o.Conns*len(o.Targets), lim)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg     sync.WaitGroup
		floods []*flood
		sem    = make(chan struct{}, o.Parallel)
	)
	for _, addr := range o.Targets {
		f := &flood{addr: addr}
		f.min.Store(int64(o.Conns))
		floods = append(floods, f)
		for i := range o.Conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.worker(ctx, &o, o.SourceIPs[i%len(o.SourceIPs)], sem)
			}()
		}
	}
	defer wg.Wait()
	defer stop()

	settle := o.Settle
	if len(floods) == 0 {
		settle = 0
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(settle):
	}
	if o.Progress != nil && len(floods) > 0 {
		var parts []string
		for _, f := range floods {
			parts = append(parts, fmt.Sprintf("%s %d held, %d refused", f.addr, f.held.Load(), f.refused.Load()))
		}
		fmt.Fprintf(o.Progress, "flood settled: %s; timing normal clients for %v\n", strings.Join(parts, "; "), o.Hold)
	}

	tctx, tstop := context.WithTimeout(ctx, o.Hold)
	defer tstop()
	res := &SlowlorisResult{}
	var pwg sync.WaitGroup
	if o.SMTP.Addr != "" {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			mb := newMessageBuilder(o.SMTP.From, o.SMTP.Rcpts, o.SMTP.Size, time.Now())
			res.SMTP = probe(tctx, "smtp-during-flood", o.Probe, func(seq int) error {
				s, err := dialSMTP(tctx, &o.SMTP, mb)
				if err != nil {
					return err
				}
				if _, err := s.do(seq); err != nil {
					s.conn.Close()
					return err
				}
				return s.close()
			})
		}()
	}
	if o.IMAP.Addr != "" {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			res.IMAP = probe(tctx, "imap-login-during-flood", o.Probe, func(seq int) error {
				c, err := dialIMAP(tctx, &o.IMAP, seq)
				if err != nil {
					return err
				}
				defer c.conn.Close()
				return c.login()
			})
		}()
	}
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	for _, f := range floods {
		f.sample()
	}
sampling:
	for {
		select {
		case <-tctx.Done():
			break sampling
		case <-sample.C:
			for _, f := range floods {
				f.sample()
			}
		}
	}
	pwg.Wait()
	for _, f := range floods {
		res.Floods = append(res.Floods, FloodStats{
			Addr: f.addr, MaxHeld: int(f.max.Load()), MinHeld: int(f.min.Load()),
			Refused: int(f.refused.Load()), Cut: int(f.cut.Load()),
		})
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

func (f *flood) sample() {
	h := f.held.Load()
	if h > f.max.Load() {
		f.max.Store(h)
	}
	if h < f.min.Load() {
		f.min.Store(h)
	}
}

// worker keeps one flood connection open from source: it connects, reads
// the first line (a greeting means held, anything else refused), then
// sends one byte per interval and never a line end, until the server
// closes; then it connects again. A refused worker waits an interval.
func (f *flood) worker(ctx context.Context, o *SlowlorisOptions, source string, sem chan struct{}) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 30 * time.Second}
	for ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		conn, held := f.open(ctx, &d)
		<-sem
		if !held {
			f.refused.Add(1)
			if !sleepCtx(ctx, o.Interval) {
				return
			}
			continue
		}
		f.held.Add(1)
		f.hold(ctx, conn, o.Interval)
		f.held.Add(-1)
		if ctx.Err() == nil {
			f.cut.Add(1)
		}
	}
}

// open connects and reads the server's first line.
func (f *flood) open(ctx context.Context, d *net.Dialer) (net.Conn, bool) {
	conn, err := d.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return nil, false
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.SetReadDeadline(time.Time{})
	// A greeting: SMTP 220, IMAP * OK, POP3 +OK. A refusal: 421, * BYE,
	// -ERR, or a close.
	if err != nil || !(strings.HasPrefix(line, "220") || strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "+OK")) {
		conn.Close()
		return nil, false
	}
	return conn, true
}

// hold trickles bytes on conn until the server closes it or ctx ends.
func (f *flood) hold(ctx context.Context, conn net.Conn, interval time.Duration) {
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		var b [512]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				return
			}
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.Close()
			<-closed
			return
		case <-closed:
			return
		case <-t.C:
			if _, err := conn.Write([]byte{'x'}); err != nil {
				conn.Close()
				<-closed
				return
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ended reports whether ctx is done or past its deadline: a dial bounded by
// the deadline can fail a moment before ctx.Err says so.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// probe runs op every pause until ctx ends and times each run.
func probe(ctx context.Context, mode string, pause time.Duration, op func(seq int) error) *Result {
	res := &Result{Mode: mode, Conns: 1}
	start := time.Now()
	for seq := 0; ctx.Err() == nil; seq++ {
		t0 := time.Now()
		err := op(seq)
		d := time.Since(t0)
		res.Dials++
		switch {
		case err == nil:
			res.Latencies = append(res.Latencies, d)
		case ended(ctx):
			// cut short by the end of the run: not the server's failure
		default:
			res.Errors++
			if len(res.FirstErrors) < maxKeptErrors {
				res.FirstErrors = append(res.FirstErrors, fmt.Errorf("%s %d: %w", mode, seq, err))
			}
		}
		if !sleepCtx(ctx, pause) {
			break
		}
	}
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	res.OK = len(res.Latencies)
	res.N = res.OK + res.Errors
	return res
}

// KV is the run as key=value pairs for scripts: per target the
// connections held (min and max while timing), refused and cut, then the
// normal clients' latencies.
func (r *SlowlorisResult) KV() string {
	var pairs []string
	for i, f := range r.Floods {
		p := fmt.Sprintf("flood%d_", i)
		pairs = append(pairs, p+"addr="+f.Addr,
			fmt.Sprintf("%sheld_min=%d", p, f.MinHeld), fmt.Sprintf("%sheld_max=%d", p, f.MaxHeld),
			fmt.Sprintf("%srefused=%d", p, f.Refused), fmt.Sprintf("%scut=%d", p, f.Cut))
	}
	for _, pr := range []*Result{r.SMTP, r.IMAP} {
		if pr == nil {
			continue
		}
		pairs = append(pairs, fmt.Sprintf("%s_ok=%d %s_errors=%d %s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f",
			pr.Mode, pr.OK, pr.Mode, pr.Errors, pr.Mode, msf(pr.Percentile(50)), pr.Mode, msf(pr.Percentile(99)), pr.Mode, msf(pr.Max())))
	}
	return strings.Join(pairs, " ")
}

// Err reports a normal client that failed during the flood.
func (r *SlowlorisResult) Err() error {
	for _, pr := range []*Result{r.SMTP, r.IMAP} {
		if pr != nil && pr.Errors > 0 {
			return pr.Err()
		}
	}
	return nil
}
