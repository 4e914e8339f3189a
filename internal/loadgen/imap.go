package loadgen

// The IMAP modes: the mix (this file), imap-idle (imapidle.go) and
// imap-probe (imapprobe.go), all on the raw client of imapconn.go and the
// messages of imapmsg.go. The mix has its own engine rather than run()'s:
// it needs a time limit as well as a count, a result per command kind,
// and clients that keep what they learnt of the mailbox across commands.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The operations of the IMAP mix, in the order they are reported.
const (
	opFetch         = "fetch"          // UID FETCH n BODY.PEEK[] of a known UID
	opStore         = "store"          // UID STORE n +FLAGS or -FLAGS (\Seen)
	opSearchUnseen  = "search_unseen"  // UID SEARCH UNSEEN
	opSearchSubject = "search_subject" // UID SEARCH SUBJECT word
	opSearchText    = "search_text"    // UID SEARCH TEXT word: reads every message
	opAppend        = "append"         // APPEND of a ~10 KB message
	opNoop          = "noop"           // NOOP
	opIdle          = "idle"           // IDLE, its continuation, DONE, its completion
	opConnect       = "connect"        // (re)connection, LOGIN, SELECT: counted only when it fails
)

// imapOps lists the mix's operations in report order.
var imapOps = []string{opFetch, opStore, opSearchUnseen, opSearchSubject, opSearchText, opAppend, opNoop, opIdle}

// DefaultIMAPMix is the default weighting of the mix: mostly reading and
// flag changes, as a mail client does, with a few searches (TEXT, which
// reads every message, the rarest), some deliveries and idles.
const DefaultIMAPMix = "fetch=35,store=20,search_unseen=5,search_subject=5,search_text=3,append=10,noop=15,idle=7"

// IMAPOptions configures an IMAP mix run. Zero values take the defaults
// noted.
type IMAPOptions struct {
	IMAPServer
	Mailbox     string        // mailbox selected and appended to; default INBOX
	Connections int           // concurrent clients; default 8
	Duration    time.Duration // length of the mix; default 10s unless Count is set
	Count       int           // operations in total; 0 = no limit (then Duration bounds the run)
	Mix         string        // "op=weight,..." (DefaultIMAPMix); ops not named are not run
	Word        string        // word for SEARCH SUBJECT and TEXT, planted in some appended messages; default invoice
	Size        int           // bytes per appended message; default 10240
	Seed        int64         // seeds each client's choices (client i uses Seed, i)
	IdleTime    time.Duration // how long an IDLE lasts after the server's continuation; default 0
}

func (o *IMAPOptions) setDefaults() error {
	if err := o.IMAPServer.setDefaults(); err != nil {
		return err
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.Connections == 0 {
		o.Connections = 8
	}
	if o.Duration == 0 && o.Count == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Mix == "" {
		o.Mix = DefaultIMAPMix
	}
	if o.Word == "" {
		o.Word = "invoice"
	}
	if o.Size == 0 {
		o.Size = 10240
	}
	switch {
	case o.Connections < 0 || o.Count < 0 || o.Duration < 0 || o.Size < 0 || o.IdleTime < 0:
		return errors.New("imap: connections, count, duration, size and idle time must not be negative")
	case strings.ContainsAny(o.Word, "\r\n\x00"):
		return errors.New("imap: the search word must not contain line breaks")
	}
	return checkMailbox(o.Mailbox)
}

// parseMix reads "op=weight,..." into weights indexed like imapOps.
func parseMix(s string) ([]int, error) {
	w := make([]int, len(imapOps))
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		i := slices.Index(imapOps, name)
		n, err := strconv.Atoi(val)
		if !ok || i < 0 || err != nil || n < 0 {
			return nil, fmt.Errorf("imap: mix %q: want op=weight with op one of %s", part, strings.Join(imapOps, ", "))
		}
		w[i] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("imap: mix %q has no weight", s)
	}
	return w, nil
}

// IMAPResult summarises an IMAP mix run.
type IMAPResult struct {
	// Total covers every operation: Latencies of the successful ones,
	// Errors and FirstErrors of all, Elapsed the wall time of the mix
	// (connection setup excluded; the commands in flight when the
	// duration ran out included, so a slow SEARCH can lengthen it).
	Total *Result
	// Ops has one Result per operation of imapOps, in that order, and one
	// for failed (re)connections at the end; Mode is the operation's name.
	Ops []*Result
	// Messages is the size of the mailbox when the first client
	// selected it.
	Messages int
	// Setup is the time taken to connect, log in, select and learn the
	// UIDs for all clients before the mix started.
	Setup time.Duration
	// FetchedBytes is the literal data received by fetch operations
	// (BODY[] contents).
	FetchedBytes int64
}

// Op returns the Result of operation name, or nil.
func (r *IMAPResult) Op(name string) *Result {
	for _, o := range r.Ops {
		if o.Mode == name {
			return o
		}
	}
	return nil
}

// Err reports whether any operation failed, quoting the first failure.
func (r *IMAPResult) Err() error {
	t := r.Total
	if t.Errors == 0 {
		return nil
	}
	return fmt.Errorf("imap: %d of %d operations failed; first: %w", t.Errors, t.N, t.FirstErrors[0])
}

// Summary is the report for people: a line for the whole run and a table
// with a row per operation.
//
//	imap: 6120 ops in 10.01s = 611.4 ops/s  latency p50=1.9ms p99=30.2ms max=51.0ms  errors=0  conns=8 messages=5000
//	  op                  ok  errors      p50      p99      max
//	  fetch             2140       0    1.2ms    6.3ms   20.1ms
func (r *IMAPResult) Summary() string {
	t := r.Total
	var b strings.Builder
	fmt.Fprintf(&b, "imap: %d ops in %.2fs = %.1f ops/s  latency p50=%s p99=%s max=%s  errors=%d  conns=%d messages=%d setup=%.2fs\n",
		t.OK, t.Elapsed.Seconds(), t.PerSecond(), ms(t.Percentile(50)), ms(t.Percentile(99)), ms(t.Max()),
		t.Errors, t.Conns, r.Messages, r.Setup.Seconds())
	fmt.Fprintf(&b, "  %-16s %7s %7s %8s %8s %8s", "op", "ok", "errors", "p50", "p99", "max")
	for _, o := range r.Ops {
		if o.N == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n  %-16s %7d %7d %8s %8s %8s", o.Mode, o.OK, o.Errors, ms(o.Percentile(50)), ms(o.Percentile(99)), ms(o.Max()))
	}
	return b.String()
}

// KV is the summary as key=value pairs for scripts: the run's figures,
// then n, errors, p50 and p99 of every operation (zero when it did not
// run, so every line has the same keys).
func (r *IMAPResult) KV() string {
	t := r.Total
	pairs := []string{
		"mode=imap",
		fmt.Sprintf("conns=%d", t.Conns),
		fmt.Sprintf("ops=%d", t.N),
		fmt.Sprintf("ok=%d", t.OK),
		fmt.Sprintf("errors=%d", t.Errors),
		fmt.Sprintf("elapsed_s=%.3f", t.Elapsed.Seconds()),
		fmt.Sprintf("ops_per_s=%.1f", t.PerSecond()),
		fmt.Sprintf("p50_ms=%.2f", msf(t.Percentile(50))),
		fmt.Sprintf("p99_ms=%.2f", msf(t.Percentile(99))),
		fmt.Sprintf("max_ms=%.2f", msf(t.Max())),
		fmt.Sprintf("messages=%d", r.Messages),
		fmt.Sprintf("setup_s=%.3f", r.Setup.Seconds()),
		fmt.Sprintf("fetched_bytes=%d", r.FetchedBytes),
	}
	for _, o := range r.Ops {
		pairs = append(pairs,
			fmt.Sprintf("%s_n=%d", o.Mode, o.N),
			fmt.Sprintf("%s_errors=%d", o.Mode, o.Errors))
		if o.Mode != opConnect {
			pairs = append(pairs,
				fmt.Sprintf("%s_p50_ms=%.2f", o.Mode, msf(o.Percentile(50))),
				fmt.Sprintf("%s_p99_ms=%.2f", o.Mode, msf(o.Percentile(99))))
		}
	}
	return strings.Join(pairs, " ")
}

// mixClient is one client of the mix: its connection and what it knows
// of the mailbox.
type mixClient struct {
	o     *IMAPOptions
	gen   *mailGen
	rnd   *rand.Rand
	id    int           // client number: picks the source address and seeds rnd
	c     *imapConn     // nil while disconnected
	uids  []uint32      // UIDs known in the mailbox, ascending
	dials *atomic.Int64 // connections opened by all clients
}

// connect opens the client's session: connect, LOGIN, SELECT, then UID
// FETCH 1:* (FLAGS) to learn every UID (RFC 9051 §6.4.9: a UID FETCH
// response always includes the UID).
func (m *mixClient) connect(ctx context.Context) error {
	m.dials.Add(1)
	c, err := dialIMAP(ctx, &m.o.IMAPServer, m.id)
	if err != nil {
		return err
	}
	if err := m.setup(c); err != nil {
		c.conn.Close()
		return err
	}
	m.c = c
	return nil
}

func (m *mixClient) setup(c *imapConn) error {
	if err := c.login(); err != nil {
		return err
	}
	if err := c.selectMailbox(m.o.Mailbox); err != nil {
		return err
	}
	m.uids = m.uids[:0]
	if c.exists == 0 {
		return nil
	}
	c.onUID = func(uid uint32) { m.uids = append(m.uids, uid) }
	err := c.simple("UID FETCH 1:* (FLAGS)")
	c.onUID = nil
	slices.Sort(m.uids)
	m.uids = slices.Compact(m.uids)
	return err
}

// learn adds uid, which is newer than every UID known.
func (m *mixClient) learn(uid uint32) {
	if len(m.uids) == 0 || uid > m.uids[len(m.uids)-1] {
		m.uids = append(m.uids, uid)
	}
}

// pick chooses an operation by weight.
func (m *mixClient) pick(weights []int, total int) string {
	x := m.rnd.IntN(total)
	for i, w := range weights {
		if x < w {
			return imapOps[i]
		}
		x -= w
	}
	return imapOps[len(imapOps)-1]
}

// do performs operation seq, of kind op, and returns the kind done and
// its latency: from writing the command to reading its tagged completion.
// fetch and store need a known message: with none known they append one
// instead. After an error that leaves the connection unusable, broken is
// true.
func (m *mixClient) do(op string, seq int) (done string, d time.Duration, broken bool, err error) {
	c := m.c
	if (op == opFetch || op == opStore) && len(m.uids) == 0 {
		op = opAppend
	}
	var parts []any
	switch op {
	case opFetch, opStore:
		u := strconv.FormatUint(uint64(m.uids[m.rnd.IntN(len(m.uids))]), 10)
		if op == opFetch {
			parts = []any{"UID FETCH " + u + " BODY.PEEK[]"}
		} else if m.rnd.IntN(2) == 0 {
			parts = []any{"UID STORE " + u + ` +FLAGS (\Seen)`}
		} else {
			parts = []any{"UID STORE " + u + ` -FLAGS (\Seen)`}
		}
	case opSearchUnseen:
		parts = []any{"UID SEARCH UNSEEN"}
	case opSearchSubject, opSearchText:
		key := " SUBJECT "
		if op == opSearchText {
			key = " TEXT "
		}
		parts = searchCommand(key, m.o.Word)
	case opAppend:
		parts = []any{"APPEND ", astring(m.o.Mailbox), " ", literal(m.gen.build(seq, time.Now()))}
	case opNoop:
		parts = []any{"NOOP"}
	case opIdle:
		d, err := m.idle()
		return op, d, err != nil && !isNoBad(err), err
	}

	t0 := time.Now()
	r, err := c.exec(parts...)
	d = time.Since(t0)
	name := commandName(parts)
	if err != nil {
		return op, d, true, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.err(name); err != nil {
		return op, d, false, err
	}
	if op == opAppend {
		// RFC 4315 §3: APPENDUID names the new message. Without UIDPLUS,
		// ask for the UIDs above the highest known (the server's EXISTS
		// has told of the new message): untimed bookkeeping.
		if uid, ok := appendUID(r.code); ok {
			m.learn(uid)
		} else if err := m.refresh(); err != nil {
			return op, d, !isNoBad(err), err
		}
	}
	return op, d, false, nil
}

// searchCommand is UID SEARCH with one key; a word that is not ASCII goes
// as a literal with CHARSET UTF-8 (RFC 9051 §6.4.4).
func searchCommand(key, word string) []any {
	arg := astring(word)
	if l, ok := arg.(literal); ok {
		return []any{"UID SEARCH CHARSET UTF-8" + key, l}
	}
	return []any{"UID SEARCH" + key + arg.(string)}
}

// refresh learns the UIDs of messages newer than the highest known.
func (m *mixClient) refresh() error {
	from := uint32(1)
	if len(m.uids) > 0 {
		from = m.uids[len(m.uids)-1] + 1
	}
	m.c.onUID = m.learn
	defer func() { m.c.onUID = nil }()
	return m.c.simple(fmt.Sprintf("UID FETCH %d:* (UID)", from))
}

// idle runs IDLE (RFC 2177, RFC 9051 §6.3.13): the command, the server's
// "+ idling", IdleTime of waiting, DONE and the tagged completion.
func (m *mixClient) idle() (time.Duration, error) {
	c := m.c
	t0 := time.Now()
	tag, _, err := c.start("IDLE")
	if err != nil {
		return 0, fmt.Errorf("IDLE: %w", err)
	}
	cont, r, err := c.waitContinuation(tag)
	if err != nil {
		return 0, fmt.Errorf("IDLE: %w", err)
	}
	if !cont {
		if r.status == "OK" {
			return 0, errors.New("IDLE: completed without a continuation request")
		}
		return 0, r.err("IDLE")
	}
	if m.o.IdleTime > 0 {
		time.Sleep(m.o.IdleTime)
	}
	c.deadline()
	c.w.WriteString("DONE\r\n")
	if err := c.w.Flush(); err != nil {
		return 0, fmt.Errorf("IDLE DONE: %w", err)
	}
	r, err = c.wait(tag)
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("IDLE DONE: %w", err)
	}
	return d, r.err("IDLE")
}

// isNoBad reports whether err is a tagged NO or BAD, after which the
// connection is still in step with the server.
func isNoBad(err error) bool {
	var ie *imapError
	return errors.As(err, &ie)
}

// opStats collects one worker's figures, merged at the end.
type opStats struct {
	lat   [][]time.Duration // per operation index (imapOps, then connect)
	errs  []int             // failures per operation index
	bytes int64             // BODY[] bytes fetched
	first *firstErrors      // shared by all workers
}

func newOpStats(first *firstErrors) *opStats {
	n := len(imapOps) + 1
	return &opStats{lat: make([][]time.Duration, n), errs: make([]int, n), first: first}
}

// firstErrors keeps the first few errors of a run, in the order they
// happened, across goroutines.
type firstErrors struct {
	mu   sync.Mutex
	errs []error
}

func (f *firstErrors) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) < maxKeptErrors {
		f.errs = append(f.errs, err)
	}
}

func (f *firstErrors) list() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs)
}

func opIndex(op string) int {
	if i := slices.Index(imapOps, op); i >= 0 {
		return i
	}
	return len(imapOps) // connect
}

// RunIMAP runs the IMAP mix: o.Connections clients connect, log in,
// select o.Mailbox and learn its UIDs; then each repeats operations drawn
// from o.Mix until o.Duration has passed or o.Count operations have been
// done. A NO or BAD completion counts as a failed operation. A client that
// cannot start is counted once as a failed connect and sits the run out; a
// client whose connection breaks reconnects, each failed attempt counted.
// The error is only for options that make a run impossible, and for a run
// where no client could start.
func RunIMAP(ctx context.Context, o IMAPOptions) (*IMAPResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	weights, err := parseMix(o.Mix)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	conns := o.Connections
	if o.Count > 0 {
		conns = min(conns, o.Count)
	}
	gen := newMailGen(o.Seed, o.Word, o.Size, o.User, time.Now())
	first := &firstErrors{}
	var dials atomic.Int64

	// Set up every client before the clock starts, so the mix measures
	// a steady state and not the logins.
	t0 := time.Now()
	clients := make([]*mixClient, conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelSetup)
	for i := range clients {
		m := &mixClient{o: &o, gen: gen, id: i, rnd: rand.New(rand.NewPCG(uint64(o.Seed), uint64(i))), dials: &dials}
		clients[i] = m
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := m.connect(ctx); err != nil {
				first.add(fmt.Errorf("client %d: %w", i, err))
			}
		})
	}
	wg.Wait()
	res := &IMAPResult{Setup: time.Since(t0)}
	started := 0
	for _, m := range clients {
		if m.c != nil {
			if started == 0 {
				res.Messages = m.c.exists
			}
			started++
		}
	}
	if started == 0 {
		return nil, fmt.Errorf("imap: no client could start; first: %w", first.list()[0])
	}

	runCtx := ctx
	if o.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var (
		next   atomic.Int64 // operations taken, for Count
		mu     sync.Mutex   // guards merged
		merged = newOpStats(first)
	)
	merged.errs[opIndex(opConnect)] = conns - started
	start := time.Now()
	for _, m := range clients {
		if m.c == nil {
			continue
		}
		wg.Go(func() {
			st := newOpStats(first)
			defer func() {
				if m.c != nil {
					m.c.logout()
				}
				mu.Lock()
				defer mu.Unlock()
				merged.merge(st)
			}()
			m.loop(runCtx, weights, total, &next, st)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res.Total = &Result{Mode: "imap", Conns: conns, Elapsed: elapsed, Dials: int(dials.Load()), Size: o.Size, FirstErrors: first.list()}
	for i, lat := range merged.lat {
		name := opConnect
		if i < len(imapOps) {
			name = imapOps[i]
		}
		slices.Sort(lat)
		r := &Result{Mode: name, OK: len(lat), Errors: merged.errs[i], Latencies: lat, Elapsed: elapsed, Conns: conns}
		r.N = r.OK + r.Errors
		res.Ops = append(res.Ops, r)
		res.Total.Latencies = append(res.Total.Latencies, lat...)
		res.Total.Errors += r.Errors
	}
	slices.Sort(res.Total.Latencies)
	res.Total.OK = len(res.Total.Latencies)
	res.Total.N = res.Total.OK + res.Total.Errors
	res.FetchedBytes = merged.bytes
	return res, nil
}

// maxParallelSetup bounds the connections being set up at once: a
// thousand simultaneous TLS handshakes and password hashes would measure
// the server's login path, not the mix.
const maxParallelSetup = 64

// Reconnection after a broken connection waits between failed attempts,
// doubling from the first pause to the last, so a server that is down is
// not hammered for the rest of the run.
const (
	reconnectPause    = 100 * time.Millisecond
	maxReconnectPause = 2 * time.Second
)

// loop does operations until ctx ends or the shared count is reached.
func (m *mixClient) loop(ctx context.Context, weights []int, total int, next *atomic.Int64, st *opStats) {
	pause := reconnectPause
	for ctx.Err() == nil {
		seq := int(next.Add(1) - 1)
		if m.o.Count > 0 && seq >= m.o.Count {
			return
		}
		if m.c == nil {
			if err := m.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return // the run ended while dialling: not the server's fault
				}
				st.fail(opConnect, fmt.Errorf("op %d: reconnect: %w", seq, err))
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
				pause = min(2*pause, maxReconnectPause)
				continue
			}
			pause = reconnectPause
		}
		op, d, broken, err := m.do(m.pick(weights, total), seq)
		if err != nil {
			st.fail(op, fmt.Errorf("op %d: %w", seq, err))
			if broken {
				m.c.conn.Close()
				m.c = nil
			}
			continue
		}
		if op == opFetch {
			st.bytes += m.c.litBytes // reset by each command: this fetch's BODY[]
		}
		i := opIndex(op)
		st.lat[i] = append(st.lat[i], d)
	}
}

func (s *opStats) fail(op string, err error) {
	s.errs[opIndex(op)]++
	s.first.add(err)
}

func (s *opStats) merge(o *opStats) {
	for i := range s.lat {
		s.lat[i] = append(s.lat[i], o.lat[i]...)
		s.errs[i] += o.errs[i]
	}
	s.bytes += o.bytes
}
