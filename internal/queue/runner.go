// Package queue delivers queued mail to other servers. The runner picks
// due recipients from the store, puts the recipients of one message at one
// domain into one SMTP transaction, finds the next hop (the domain's MX
// hosts, or the configured smarthost), hands the message over, and then
// takes each recipient off the queue, retries it later per the retry
// schedule, or returns it to the sender in a delivery status notification.
//
// The queue lives in the store, not in memory: the runner asks for what is
// due (an index seek), so a queue of 100,000 messages costs nothing at
// start-up and bounded memory while it runs.
package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/dsn"
	"github.com/yizhan-mail/yizhan/internal/recovery"
	"github.com/yizhan-mail/yizhan/internal/remote"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// Config tunes the runner.
type Config struct {
	Hostname          string
	RetrySchedule     []time.Duration // waits between attempts; the last repeats
	GiveUpAfter       time.Duration
	DelayWarningAfter time.Duration
	RemotePort        int
	SourceIP          netip.Addr // zero: any
	// Smarthost "host:port" takes all outbound mail; "" = MX delivery.
	Smarthost            string
	SmarthostAuth        *remote.ClientAuth
	SmarthostImplicitTLS bool
	SmarthostNoTLS       bool // a trusted relay on this host or network: plain text
	MaxConnections       int  // in total
	MaxPerHost           int  // to one host
	Resolver             *remote.Resolver
	Logger               *slog.Logger
	// Poll bounds the wait between looks at the queue, so recipients made
	// due by admin commands (other processes) are seen. Default 5 s.
	Poll time.Duration
	// Timeouts for the SMTP client; zero values take RFC 5321's.
	Timeouts remote.Timeouts
	// Bounce hands a notification (from <>) for rcpt to local delivery or
	// to the queue.
	Bounce func(ctx context.Context, rcpt string, msg []byte, trackingID string) error
	// Language is what the notifications are written in ([dsn] language).
	Language dsn.Language
}

// Runner delivers the queue.
type Runner struct {
	st  *store.Store
	cfg Config
	log *slog.Logger

	sem  chan struct{} // connections in total
	wake chan struct{} // a worker finished

	backlog []*job // due jobs read but not yet started (Run's goroutine only)

	mu       sync.Mutex
	inflight map[int64]bool        // recipient ids being worked on
	hosts    map[string]*hostSlots // per-host connection slots, while in use
	idle     map[string][]idleConn // reusable connections by address

	panics recovery.Counter // jobs that ended in a recovered panic (see Panics)
}

type idleConn struct {
	c     *remote.Conn
	since time.Time
}

// idleFor is how long an idle connection is kept for the next message to
// the same host.
const idleFor = 30 * time.Second

// New returns a Runner.
func New(st *store.Store, cfg Config) *Runner {
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 100
	}
	if cfg.MaxPerHost <= 0 {
		cfg.MaxPerHost = 10
	}
	if cfg.RemotePort == 0 {
		cfg.RemotePort = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.RetrySchedule) == 0 {
		cfg.RetrySchedule = []time.Duration{5 * time.Minute}
	}
	return &Runner{
		st: st, cfg: cfg, log: cfg.Logger.With("proto", "queue"),
		sem:      make(chan struct{}, cfg.MaxConnections),
		wake:     make(chan struct{}, 1),
		inflight: map[int64]bool{},
		hosts:    map[string]*hostSlots{},
		idle:     map[string][]idleConn{},
	}
}

// Run delivers until ctx ends, then waits for attempts in progress.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		r.closeIdle(time.Time{})
	}()
	for {
		r.dispatch(ctx, &wg)
		wait := r.cfg.Poll
		if next, ok, err := r.st.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.st.QueueKick():
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
		r.closeIdle(time.Now().Add(-idleFor))
	}
}

// job is the recipients of one message at one domain.
type job struct {
	items  []store.QueueItem
	events []store.Event // attempts, written with the job's outcome
	gone   bool          // the message left the queue meanwhile: nothing to record
}

func (r *Runner) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	// Jobs read earlier go first; the queue is read again only when they
	// are all under way (reading 1,000 due rows after every finished job
	// was most of the runner's CPU).
	if len(r.backlog) == 0 {
		// What is under way before the read: a job that ends between the
		// read and group would otherwise leave its recipients in the
		// snapshot as still due, and they would be tried (and bounced,
		// or sent) a second time.
		r.mu.Lock()
		busy := maps.Clone(r.inflight)
		r.mu.Unlock()
		due, err := r.st.DueRecipients(ctx, time.Now(), 1000)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("queue: reading due recipients", "err", err)
			}
			return
		}
		r.backlog = r.group(due, busy)
	}
	for len(r.backlog) > 0 {
		select {
		case r.sem <- struct{}{}:
		default:
			return // all connections busy: the next wake-up continues
		}
		j := r.backlog[0]
		r.backlog = r.backlog[1:]
		r.mu.Lock()
		for _, it := range j.items {
			r.inflight[it.ID] = true
		}
		r.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if hold := r.workSafely(ctx, j); !hold {
				r.mu.Lock()
				for _, it := range j.items {
					delete(r.inflight, it.ID)
				}
				r.mu.Unlock()
			}
			<-r.sem
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}()
	}
}

// workSafely runs work. A panic in it (a bug met on some message, reply
// or notice) ends only this job: it is logged and counted, and the job's
// recipients are deferred as after a temporary failure, so other
// deliveries go on and the message is tried again on the retry schedule
// rather than at once and in a loop. If even that fails, hold is true:
// the recipients stay out of new jobs until the server restarts.
func (r *Runner) workSafely(ctx context.Context, j *job) (hold bool) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		log := r.log.With("id", j.items[0].TrackingID)
		r.panics.Log(log, p)
		if err := r.deferAfterPanic(ctx, j); err != nil {
			log.Error("queue: recipients held until restart: deferring them after a panic failed", "err", err)
			hold = true
		}
	}()
	r.work(ctx, j)
	return false
}

// panicError is the last error a job's recipients show after a panic.
const panicError = "internal error during delivery (logged by the server), will retry"

// deferAfterPanic defers every recipient of j to its next retry.
func (r *Runner) deferAfterPanic(ctx context.Context, j *job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	now := time.Now()
	first := j.items[0]
	next := now.Add(r.cfg.RetrySchedule[min(first.Attempts, len(r.cfg.RetrySchedule)-1)])
	ids := make([]int64, 0, len(j.items))
	events := j.events
	for _, it := range j.items {
		ids = append(ids, it.ID)
		events = append(events, store.Event{TrackingID: it.TrackingID, At: now, Kind: tracking.EventDeferred,
			Detail: map[string]any{"recipient": it.Rcpt, "error": panicError, "next_attempt": next.UTC().Format(time.RFC3339)}})
	}
	return r.st.DeferRecipients(ctx, ids, next, panicError, false, events)
}

// Panics returns how many jobs ended in a recovered panic: a count until
// the server has metrics (issue 14); each is also logged with its stack.
func (r *Runner) Panics() int64 { return r.panics.Load() }

// group makes jobs of due recipients (one per message and domain), in the
// order they are due, leaving out recipients under way now or when due was
// read (busy).
func (r *Runner) group(due []store.QueueItem, busy map[int64]bool) []*job {
	type key struct {
		q      int64
		domain string
	}
	jobs := map[key]*job{}
	var out []*job
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range due {
		if r.inflight[it.ID] || busy[it.ID] {
			continue
		}
		k := key{it.QueueID, it.Domain}
		if jobs[k] == nil {
			jobs[k] = &job{}
			out = append(out, jobs[k])
		}
		jobs[k].items = append(jobs[k].items, it)
	}
	return out
}

// outcome is what became of one recipient in an attempt.
type outcome struct {
	reply     remote.Reply // the remote answer (or a synthetic one)
	remoteMTA string
	done      bool       // 2xx: relayed
	failed    bool       // 5xx: bounce
	reason    dsn.Reason // why, when no server answered (DNS); zero: from the reply
	noDSN     bool       // relayed to a server without the DSN extension
}

// hop is one address to try.
type hop struct {
	host string // name for TLS and Remote-MTA
	addr string // ip:port
}

func (r *Runner) work(ctx context.Context, j *job) {
	first := j.items[0]
	domain := first.Domain
	res := make([]outcome, len(j.items))
	var lastErr string
	var lastStatus string
	hops, lerr := r.route(ctx, domain)
	if lerr != nil {
		var le *remote.LookupError
		if errors.As(lerr, &le) && le.Permanent {
			for i := range res {
				res[i] = outcome{failed: true, reply: remote.Reply{Code: 550, Enhanced: le.Status, Text: le.Reason}, reason: lookupReason(le, domain)}
			}
			r.settle(ctx, j, res, "", le.Status)
			return
		}
		lastErr = lerr.Error()
		lastStatus = "4.4.3"
		if errors.As(lerr, &le) {
			lastErr, lastStatus = le.Reason, le.Status
		}
	}
	pending := func() []int {
		var idx []int
		for i := range res {
			if !res[i].done && !res[i].failed {
				idx = append(idx, i)
			}
		}
		return idx
	}
	for _, h := range hops {
		idx := pending()
		if len(idx) == 0 {
			break
		}
		errText, status := r.attempt(ctx, j, idx, res, h)
		if j.gone {
			return
		}
		if errText != "" {
			lastErr, lastStatus = errText, status
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.settle(ctx, j, res, lastErr, lastStatus)
}

// route returns the addresses to try for a domain, in order.
func (r *Runner) route(ctx context.Context, domain string) ([]hop, error) {
	if r.cfg.Smarthost != "" {
		host, _, err := net.SplitHostPort(r.cfg.Smarthost)
		if err != nil {
			return nil, fmt.Errorf("smarthost %q: %w", r.cfg.Smarthost, err)
		}
		return []hop{{host: host, addr: r.cfg.Smarthost}}, nil
	}
	rt, err := r.cfg.Resolver.LookupMX(ctx, domain)
	if err != nil {
		return nil, err
	}
	var hops []hop
	var lastErr error
	for _, h := range rt.Hosts {
		ips, err := r.cfg.Resolver.LookupIP(ctx, h.Name)
		if err != nil {
			lastErr = err
			continue
		}
		for _, ip := range ips {
			hops = append(hops, hop{host: h.Name, addr: net.JoinHostPort(ip.String(), strconv.Itoa(r.cfg.RemotePort))})
		}
	}
	if len(hops) == 0 && lastErr != nil {
		var le *remote.LookupError
		if errors.As(lastErr, &le) && le.Permanent && len(rt.Hosts) > 0 && !rt.Hosts[0].Implicit {
			// MX hosts that do not resolve are a misconfiguration the
			// domain's owner may fix: keep trying until give-up.
			return nil, &remote.LookupError{Domain: domain, Status: "4.4.4", Reason: "the mail servers of " + domain + " have no address: " + le.Reason}
		}
		return nil, lastErr
	}
	return hops, nil
}

// attempt tries one address for the recipients idx, filling res. It
// returns the error text and status of a failure that leaves them pending.
func (r *Runner) attempt(ctx context.Context, j *job, idx []int, res []outcome, h hop) (string, string) {
	first := j.items[0]
	done, err := r.hostSlot(ctx, h.host)
	if err != nil {
		return err.Error(), "4.4.1"
	}
	defer done()
	start := time.Now()
	conn, err := r.conn(ctx, h)
	if err != nil {
		j.event(tracking.EventAttempt, map[string]any{"host": h.host, "addr": h.addr, "error": err.Error(),
			"duration_ms": time.Since(start).Milliseconds()})
		return hopError(h, err), "4.4.1"
	}
	env := &remote.Envelope{From: first.From, Size: first.Size, Body8Bit: first.Body8Bit, SMTPUTF8: first.SMTPUTF8, EnvID: first.EnvID, Ret: first.Ret}
	for _, i := range idx {
		it := j.items[i]
		env.Rcpts = append(env.Rcpts, remote.RcptParams{Addr: it.Rcpt, Notify: it.Notify, ORcpt: it.ORcpt})
	}
	msg, err := r.st.OpenQueued(ctx, first.QueueID)
	if errors.Is(err, store.ErrNotFound) {
		// Dropped (`queue drop`) after the runner read it as due.
		j.gone = true
		r.release(h, conn, true)
		return "", ""
	}
	if err != nil {
		r.release(h, conn, false)
		return "cannot read the queued message: " + err.Error(), "4.3.0"
	}
	rcptReplies, data, err := conn.Send(ctx, env, msg)
	msg.Close()
	version, cipher := conn.TLS()
	detail := map[string]any{"host": h.host, "addr": h.addr, "duration_ms": time.Since(start).Milliseconds()}
	if version != "" {
		detail["tls"] = version + " " + cipher
	}
	var se *remote.SendError
	switch {
	case errors.As(err, &se) && se.Reply.Code >= 500:
		// The transaction was refused for good (MAIL, size, SMTPUTF8).
		detail["reply"] = se.Reply.String()
		j.event(tracking.EventAttempt, detail)
		for _, i := range idx {
			res[i] = outcome{failed: true, reply: se.Reply, remoteMTA: h.host}
		}
		r.release(h, conn, true)
		return "", ""
	case err != nil:
		detail["error"] = err.Error()
		j.event(tracking.EventAttempt, detail)
		r.release(h, conn, false)
		return hopError(h, err), statusOf(err)
	}
	detail["reply"] = data.String()
	j.event(tracking.EventAttempt, detail)
	var tempErr, tempStatus string
	for k, i := range idx {
		rep := rcptReplies[k]
		if rep.Code/100 == 2 {
			rep = data // the recipient's fate is the data's
		}
		switch {
		case rep.Code/100 == 2:
			_, dsnOK := conn.Extension("DSN")
			res[i] = outcome{done: true, reply: rep, remoteMTA: h.host, noDSN: !dsnOK}
		case rep.Code >= 500:
			res[i] = outcome{failed: true, reply: rep, remoteMTA: h.host}
		default:
			res[i].reply, res[i].remoteMTA = rep, h.host
			tempErr, tempStatus = h.host+" said: "+rep.String(), enhancedOr(rep, "4.0.0")
		}
	}
	r.release(h, conn, true)
	return tempErr, tempStatus
}

// hopError is the text a failed attempt leaves for the queue and the
// sender: the host and its address once, then what went wrong
// ("mx.example (192.0.2.1:25): connect: connection refused").
func hopError(h hop, err error) string {
	return fmt.Sprintf("%s (%s): %s", h.host, h.addr, strings.TrimPrefix(err.Error(), "remote: "))
}

func statusOf(err error) string {
	var se *remote.SendError
	if errors.As(err, &se) && se.Reply.Code != 0 {
		return enhancedOr(se.Reply, "4.0.0")
	}
	return "4.4.2" // connection lost
}

func enhancedOr(rep remote.Reply, def string) string {
	if rep.Enhanced != "" {
		return rep.Enhanced
	}
	return def
}

// settle records the outcome of a job: relayed recipients leave the
// queue, failed ones leave it with a bounce, the rest wait (or expire).
func (r *Runner) settle(ctx context.Context, j *job, res []outcome, lastErr, lastStatus string) {
	now := time.Now()
	first := j.items[0]
	var done, failed, waiting []int
	for i := range res {
		switch {
		case res[i].done:
			done = append(done, i)
		case res[i].failed:
			failed = append(failed, i)
		default:
			waiting = append(waiting, i)
		}
	}
	// Expired: give up on what still waits.
	if len(waiting) > 0 && now.Sub(first.Arrived) >= r.cfg.GiveUpAfter {
		for _, i := range waiting {
			rep := res[i].reply
			if rep.Code == 0 {
				rep = remote.Reply{Code: 450, Enhanced: "4.4.7", Text: lastErr}
			}
			res[i] = outcome{failed: true, reply: rep, remoteMTA: res[i].remoteMTA}
			if res[i].reply.Enhanced == "" || res[i].reply.Enhanced[0] != '5' {
				res[i].reply.Enhanced = "4.4.7"
			}
		}
		failed, waiting = append(failed, waiting...), nil
	}
	events := j.events // the attempts go with the first write
	var finish []int64
	var relayed []dsn.Recipient
	for _, i := range done {
		it := j.items[i]
		finish = append(finish, it.ID)
		events = append(events, store.Event{TrackingID: it.TrackingID, At: now, Kind: tracking.EventRelayed,
			Detail: map[string]any{"recipient": it.Rcpt, "host": res[i].remoteMTA, "reply": res[i].reply.String()}})
		r.log.Info("relayed", "id", it.TrackingID, "rcpt", it.Rcpt, "host", res[i].remoteMTA, "reply", res[i].reply.String())
		// RFC 3461 §5.2.2: NOTIFY=SUCCESS goes on to a next hop that
		// speaks DSN; to one that does not, we report "relayed" ourselves.
		if res[i].noDSN && it.Notify != "" && notifyAllows(it.Notify, "SUCCESS") {
			relayed = append(relayed, dsn.Recipient{Address: it.Rcpt, OriginalRcpt: it.ORcpt, Action: dsn.Relayed, Status: "2.0.0",
				RemoteMTA: res[i].remoteMTA, DiagnosticCode: res[i].reply.String(), LastAttempt: now,
				Reason: dsn.Reason{Kind: dsn.ReasonRelayedTo, Host: res[i].remoteMTA}})
		}
	}
	if len(relayed) > 0 {
		_ = r.notify(ctx, first, relayed, true) // a success notice is best effort: the message is delivered
	}
	if len(failed) > 0 {
		var rcpts []dsn.Recipient
		var reported []int
		var bounced []store.Event
		for _, i := range failed {
			it := j.items[i]
			if !notifyAllows(it.Notify, "FAILURE") {
				finish = append(finish, it.ID)
				// NOTIFY=NEVER (or without FAILURE): recorded, not reported.
				events = append(events, store.Event{TrackingID: it.TrackingID, At: now, Kind: tracking.EventBounced,
					Detail: map[string]any{"recipient": it.Rcpt, "reply": res[i].reply.String(), "notify": it.Notify}})
				continue
			}
			diag := ""
			if res[i].remoteMTA != "" && res[i].reply.Code != 0 && res[i].reply.Text != "" {
				diag = res[i].reply.String()
			}
			status := enhancedOr(res[i].reply, "5.0.0")
			reason := res[i].reason
			if reason.Kind == "" {
				reason = dsn.Explain(status, it.Domain, res[i].reply.Text)
			}
			rcpts = append(rcpts, dsn.Recipient{Address: it.Rcpt, OriginalRcpt: it.ORcpt, Action: dsn.Failed, Status: status,
				RemoteMTA: res[i].remoteMTA, DiagnosticCode: diag, LastAttempt: now, Reason: reason})
			reported = append(reported, i)
			bounced = append(bounced, store.Event{TrackingID: it.TrackingID, At: now, Kind: tracking.EventBounced,
				Detail: map[string]any{"recipient": it.Rcpt, "status": status, "reply": res[i].reply.String()}})
		}
		if err := r.notify(ctx, first, rcpts, len(rcpts) > 0); err != nil {
			// The sender must hear of the failure: the recipients stay
			// queued, and the notice is tried again with them.
			waiting = append(waiting, reported...)
			lastErr = "the failure notice could not be stored: " + err.Error()
		} else {
			for _, i := range reported {
				it := j.items[i]
				finish = append(finish, it.ID)
				r.log.Warn("bounced", "id", it.TrackingID, "rcpt", it.Rcpt, "status", res[i].reply.Enhanced, "reply", res[i].reply.String())
			}
			events = append(events, bounced...)
		}
	}
	if len(finish) > 0 {
		if err := r.st.FinishRecipients(ctx, finish, events); err != nil {
			r.log.Error("queue: finishing recipients", "id", first.TrackingID, "err", err)
		}
		events = nil
	}
	if len(waiting) == 0 {
		if len(events) > 0 {
			if err := r.st.RecordEvents(ctx, events); err != nil && ctx.Err() == nil {
				r.log.Warn("queue: recording events", "id", first.TrackingID, "err", err)
			}
		}
		return
	}
	attempts := first.Attempts // the same for the recipients of a job, or close to it
	wait := r.cfg.RetrySchedule[min(attempts, len(r.cfg.RetrySchedule)-1)]
	next := now.Add(wait)
	if limit := first.Arrived.Add(r.cfg.GiveUpAfter); next.After(limit) && limit.After(now) {
		next = limit // one last attempt at the deadline
	}
	warn := !first.Warned && now.Sub(first.Arrived) >= r.cfg.DelayWarningAfter && r.cfg.DelayWarningAfter > 0
	var ids []int64
	var delayed []dsn.Recipient
	for _, i := range waiting {
		it := j.items[i]
		ids = append(ids, it.ID)
		events = append(events, store.Event{TrackingID: it.TrackingID, At: now, Kind: tracking.EventDeferred,
			Detail: map[string]any{"recipient": it.Rcpt, "error": lastErr, "next_attempt": next.UTC().Format(time.RFC3339)}})
		if warn && notifyAllows(it.Notify, "DELAY") {
			delayed = append(delayed, dsn.Recipient{Address: it.Rcpt, OriginalRcpt: it.ORcpt, Action: dsn.Delayed,
				Status: lastStatusOr(lastStatus), RemoteMTA: res[i].remoteMTA, DiagnosticCode: replyIfAny(res[i]), LastAttempt: now,
				WillRetryUntil: first.Arrived.Add(r.cfg.GiveUpAfter), Reason: dsn.Explain(lastStatusOr(lastStatus), it.Domain, lastErr)})
		}
		r.log.Info("deferred", "id", it.TrackingID, "rcpt", it.Rcpt, "error", lastErr, "next", next.UTC().Format(time.RFC3339))
	}
	if len(delayed) > 0 {
		_ = r.notify(ctx, first, delayed, true) // best effort: the failure notice is what must not be lost
		events = append(events, store.Event{TrackingID: first.TrackingID, At: now, Kind: tracking.EventDelayed,
			Detail: map[string]any{"to": first.From}})
	}
	if err := r.st.DeferRecipients(ctx, ids, next, lastErr, warn, events); err != nil {
		r.log.Error("queue: deferring recipients", "id", first.TrackingID, "err", err)
	}
}

// lookupReasons words the permanent findings of a DNS lookup in a notice.
var lookupReasons = map[remote.Cause]dsn.ReasonKind{
	remote.CauseInvalidDomain: dsn.ReasonInvalidDomain,
	remote.CauseNoSuchDomain:  dsn.ReasonNoSuchDomain,
	remote.CauseNoMailServer:  dsn.ReasonNoMailServer,
	remote.CauseNullMX:        dsn.ReasonNullMX,
	remote.CauseMXNamesNoHost: dsn.ReasonMXNamesNoHost,
	remote.CauseNoAddress:     dsn.ReasonNoAddress,
}

// lookupReason is the Reason a notice gives for a permanent lookup
// failure for domain: the finding, about the name it was made for.
func lookupReason(le *remote.LookupError, domain string) dsn.Reason {
	kind, ok := lookupReasons[le.Cause]
	if !ok {
		return dsn.Explain(le.Status, domain, "")
	}
	if le.Domain != "" {
		domain = le.Domain
	}
	return dsn.Reason{Kind: kind, Domain: domain}
}

func lastStatusOr(s string) string {
	if s == "" {
		return "4.0.0"
	}
	return s
}

func replyIfAny(o outcome) string {
	if o.reply.Code != 0 && o.remoteMTA != "" {
		return o.reply.String()
	}
	return ""
}

// notifyAllows applies RFC 3461 NOTIFY: empty is the default (failures,
// and delays at our discretion: we send them), NEVER sends nothing.
func notifyAllows(notify, what string) bool {
	if notify == "" {
		return true
	}
	for _, n := range strings.Split(strings.ToUpper(notify), ",") {
		if n == what {
			return true
		}
	}
	return false
}

// notify sends a DSN about rcpts to the message's envelope sender, unless
// the message is itself a notification (never a bounce for a bounce) or
// the recipients asked for none.
func (r *Runner) notify(ctx context.Context, it store.QueueItem, rcpts []dsn.Recipient, allowed bool) error {
	if it.From == "" || !allowed || r.cfg.Bounce == nil {
		return nil
	}
	orig, err := r.st.OpenQueued(ctx, it.QueueID)
	if err != nil {
		r.log.Error("queue: reading the message for a notification", "id", it.TrackingID, "err", err)
		return err
	}
	defer orig.Close()
	msg, err := dsn.Build(&dsn.Report{
		ReportingMTA: r.cfg.Hostname, ArrivalDate: it.Arrived, EnvelopeID: it.EnvID,
		From: "MAILER-DAEMON@" + r.cfg.Hostname, To: it.From, Recipients: rcpts, Original: orig,
		ReturnHeadersOnly: strings.EqualFold(it.Ret, "HDRS"), MaxOriginal: 1 << 20, Date: time.Now(),
		Language: r.cfg.Language,
	})
	if err != nil {
		// A notice we cannot build will not build later either.
		r.log.Error("queue: building a notification", "id", it.TrackingID, "err", err)
		return nil
	}
	if err := r.cfg.Bounce(ctx, it.From, msg, it.TrackingID); err != nil {
		r.log.Error("queue: sending a notification", "id", it.TrackingID, "to", it.From, "err", err)
		return err
	}
	return nil
}

// event records a step of a job, written with its outcome.
func (j *job) event(kind string, detail map[string]any) {
	j.events = append(j.events, store.Event{TrackingID: j.items[0].TrackingID, At: time.Now(), Kind: kind, Detail: detail})
}

// hostSlots limits the connections to one host. It lives in Runner.hosts
// only while some attempt holds or waits for a slot, so the map does not
// grow with every host mail was ever sent to.
type hostSlots struct {
	ch   chan struct{} // a token per open connection
	refs int           // attempts holding or waiting for a token (under Runner.mu)
}

// hostSlot waits for one of host's connection slots (MaxPerHost) and
// returns the function that gives it back.
func (r *Runner) hostSlot(ctx context.Context, host string) (func(), error) {
	r.mu.Lock()
	hs := r.hosts[host]
	if hs == nil {
		hs = &hostSlots{ch: make(chan struct{}, r.cfg.MaxPerHost)}
		r.hosts[host] = hs
	}
	hs.refs++
	r.mu.Unlock()
	unref := func() {
		r.mu.Lock()
		if hs.refs--; hs.refs == 0 {
			delete(r.hosts, host)
		}
		r.mu.Unlock()
	}
	select {
	case hs.ch <- struct{}{}:
	case <-ctx.Done():
		unref()
		return nil, ctx.Err()
	}
	return func() { <-hs.ch; unref() }, nil
}

func (r *Runner) clientConfig(h hop) *remote.ClientConfig {
	cfg := &remote.ClientConfig{
		Hostname:  r.cfg.Hostname,
		LocalAddr: r.cfg.SourceIP,
		// Opportunistic TLS to MX hosts: without MTA-STS or DANE there
		// is no name to hold a certificate to (RFC 7435), so any
		// certificate beats plain text.
		TLSConfig: &tls.Config{ServerName: h.host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // opportunistic, see above
		Timeouts:  r.cfg.Timeouts,
	}
	switch {
	case r.cfg.Smarthost != "" && r.cfg.SmarthostNoTLS:
		cfg.TLSConfig = nil
	case r.cfg.Smarthost != "":
		// A configured relay is held to its certificate.
		cfg.TLSConfig = &tls.Config{ServerName: h.host, MinVersion: tls.VersionTLS12}
		cfg.RequireTLS = !r.cfg.SmarthostImplicitTLS
		cfg.ImplicitTLS = r.cfg.SmarthostImplicitTLS
		cfg.Auth = r.cfg.SmarthostAuth
	}
	return cfg
}

// conn returns an idle connection to h or dials one. A TLS handshake that
// fails on an MX host is retried in plain text (opportunistic TLS).
func (r *Runner) conn(ctx context.Context, h hop) (*remote.Conn, error) {
	r.mu.Lock()
	for len(r.idle[h.addr]) > 0 {
		l := r.idle[h.addr]
		ic := l[len(l)-1]
		r.idle[h.addr] = l[:len(l)-1]
		if time.Since(ic.since) < idleFor {
			r.mu.Unlock()
			if err := ic.c.Reset(ctx); err == nil {
				return ic.c, nil
			}
			ic.c.Close()
			r.mu.Lock()
			continue
		}
		go ic.c.Close()
	}
	r.mu.Unlock()
	cfg := r.clientConfig(h)
	c, err := remote.Dial(ctx, cfg, h.addr, h.host)
	var te *remote.TLSError
	if errors.As(err, &te) && r.cfg.Smarthost == "" {
		r.log.Info("TLS failed, retrying in plain text", "host", h.host, "addr", h.addr, "err", err)
		cfg.TLSConfig = nil
		c, err = remote.Dial(ctx, cfg, h.addr, h.host)
	}
	return c, err
}

// release keeps a healthy connection for the next message to the host.
func (r *Runner) release(h hop, c *remote.Conn, healthy bool) {
	if !healthy {
		c.Close()
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle[h.addr]) >= r.cfg.MaxPerHost {
		go c.Close()
		return
	}
	r.idle[h.addr] = append(r.idle[h.addr], idleConn{c: c, since: time.Now()})
}

// closeIdle closes idle connections older than before (all if zero).
func (r *Runner) closeIdle(before time.Time) {
	r.mu.Lock()
	var old []*remote.Conn
	for addr, l := range r.idle {
		keep := l[:0]
		for _, ic := range l {
			if before.IsZero() || ic.since.Before(before) {
				old = append(old, ic.c)
			} else {
				keep = append(keep, ic)
			}
		}
		if len(keep) == 0 {
			delete(r.idle, addr)
		} else {
			r.idle[addr] = keep
		}
	}
	r.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
}
