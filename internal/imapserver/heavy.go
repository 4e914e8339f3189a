package imapserver

// Expensive commands (issue 11 item 6): LIST with wildcards, SEARCH on
// message content, SORT and THREAD cost work in proportion to the
// account's mailboxes or messages. Each is bounded by its own limits
// (listpattern.go, search.go, store.SearchText); here they are also
// limited in number per account, and cancelled when the client hangs up.

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
)

// Defaults of the per-account limit on expensive commands.
const (
	// defaultMaxExpensive: an account's sessions may run two expensive
	// commands at once. A client with several connections (five is
	// common) seldom searches in more than one at a time, and an
	// attacker with a password gets two cores' worth at most.
	defaultMaxExpensive = 2
	// defaultExpensiveWait: a command over the limit waits this long for
	// a turn before NO [LIMIT]; each expensive command is bounded, so a
	// turn normally comes within it.
	defaultExpensiveWait = 10 * time.Second
	// readAhead bounds what a hang-up watch reads ahead of the session
	// (commands pipelined behind an expensive one). Once it is full the
	// watch stops: the hang-up of a client that pipelined more goes
	// unnoticed until the command ends, which its limits bound anyway.
	readAhead = 4 << 10
)

// errHungUp is the cause of a command's context when its client hung up.
var errHungUp = errors.New("imapserver: client hung up")

// workCounters count what the expensive commands did.
type workCounters struct {
	listSteps atomic.Int64
	limited   atomic.Int64
	cancelled atomic.Int64
}

// Work is what the expensive commands of a server did so far.
type Work struct {
	// ListSteps counts the bytes of mailbox names LIST pattern matching
	// looked at, once per pattern segment.
	ListSteps int64
	// Limited counts commands refused with NO [LIMIT] because the
	// account had too many expensive commands running.
	Limited int64
	// Cancelled counts expensive commands whose client hung up before
	// they were done.
	Cancelled int64
}

// Work returns the work counters: counts until the server has metrics
// (issue 14), and what tests assert bounds on.
func (s *Server) Work() Work {
	return Work{
		ListSteps: s.work.listSteps.Load(),
		Limited:   s.work.limited.Load(),
		Cancelled: s.work.cancelled.Load(),
	}
}

// testHooks let the package's tests stop a command midway
// (export_test.go); nil outside tests.
type testHooks struct {
	// searchStep is called before each message a search evaluates by
	// its content.
	searchStep atomic.Pointer[func(context.Context)]
}

// expensiveLimiter counts the expensive commands running per account.
type expensiveLimiter struct {
	mu    sync.Mutex
	accts map[int64]*expensiveSlots
}

// expensiveSlots is one account's semaphore; it lives while a command
// holds or waits for a slot.
type expensiveSlots struct {
	slots chan struct{}
	users int // commands holding or waiting for a slot
}

// errBusy: the account's slots stayed taken for the whole wait.
var errBusy = errors.New("imapserver: too many expensive commands")

// acquire takes one of n slots of account acct, waiting up to wait.
func (l *expensiveLimiter) acquire(ctx context.Context, acct int64, n int, wait time.Duration) (release func(), err error) {
	l.mu.Lock()
	if l.accts == nil {
		l.accts = map[int64]*expensiveSlots{}
	}
	a := l.accts[acct]
	if a == nil {
		a = &expensiveSlots{slots: make(chan struct{}, n)}
		l.accts[acct] = a
	}
	a.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if a.users--; a.users == 0 {
			delete(l.accts, acct)
		}
		l.mu.Unlock()
	}
	release = func() {
		<-a.slots
		leave()
	}
	select {
	case a.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		leave()
		return nil, errBusy
	case <-ctx.Done():
		leave()
		return nil, context.Cause(ctx)
	}
}

// runCommand runs a command's handler, as an expensive command if it is
// one.
func (s *session) runCommand(ctx context.Context, cmd *imapparse.Command, run func(context.Context)) {
	if isExpensive(cmd) {
		s.expensive(ctx, cmd.Tag, cmd.Name, run)
		return
	}
	run(ctx)
}

// expensive runs an expensive command: with a context that ends if the
// client hangs up meanwhile, and within the account's limit on such
// commands (over it, after a bounded wait: NO [LIMIT], RFC 5530 §3).
func (s *session) expensive(ctx context.Context, tag, cmd string, run func(context.Context)) {
	ctx, stop := s.watchHangup(ctx)
	defer stop()
	release, err := s.srv.heavy.acquire(ctx, s.account.ID, s.srv.cfg.MaxExpensive, s.srv.cfg.ExpensiveWait)
	if err != nil {
		if errors.Is(err, errBusy) {
			s.srv.work.limited.Add(1)
			s.log.Info("command refused: too many expensive commands for the account", "command", cmd, "max", s.srv.cfg.MaxExpensive)
			s.no(tag, "[LIMIT] Too many searches or listings running for this account; try again")
			return
		}
		s.cancelled(ctx, tag, cmd)
		return
	}
	defer release()
	run(ctx)
}

// isExpensive reports whether a command is one that expensive limits:
// LIST/LSUB with a wildcard, SEARCH that reads message content, SORT and
// THREAD (they read every matched message's envelope).
func isExpensive(cmd *imapparse.Command) bool {
	switch a := cmd.Args.(type) {
	case *imapparse.List:
		for _, p := range a.Patterns {
			if strings.ContainsAny(p, "*%") {
				return true
			}
		}
	case *imapparse.Search:
		return readsContent(a.Key)
	case *imapparse.Sort, *imapparse.Thread:
		return true
	}
	return false
}

// readsContent reports whether a search key looks into messages.
func readsContent(k *imapparse.SearchKey) bool {
	switch k.Op {
	case "FROM", "TO", "CC", "BCC", "SUBJECT", "HEADER", "BODY", "TEXT", "SENTBEFORE", "SENTON", "SENTSINCE":
		return true
	}
	for _, c := range k.Children {
		if readsContent(c) {
			return true
		}
	}
	return false
}

// watchHangup returns a context that ends (cause errHungUp) if the client
// closes the connection while a command runs, and the function that ends
// the watch; it must be called before the session reads again.
//
// The session reads nothing while a command runs, so a client that left
// went unnoticed until the command's end. A goroutine reads the
// connection meanwhile, as IDLE and NOTIFY's wait do: what it reads
// (commands pipelined behind this one, at most readAhead bytes) goes back
// before the session's next read, and stop ends its read by the read
// deadline, which cuts nothing (the TLS record being read stays
// buffered, as IDLE relies on).
func (s *session) watchHangup(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	c := s.conn
	_ = c.SetReadDeadline(time.Time{})
	if s.closing.Load() {
		// Shutdown may have set its deadline just before; keep it.
		_ = s.netConn.SetReadDeadline(time.Now())
	}
	var (
		got  []byte
		rerr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		buf := make([]byte, readAhead)
		n := 0
		for n < len(buf) {
			k, err := c.Read(buf[n:])
			n += k
			if err != nil {
				if !os.IsTimeout(err) {
					rerr = err
					cancel(errHungUp)
				}
				break
			}
		}
		got = buf[:n]
	}()
	return ctx, func() {
		_ = c.SetReadDeadline(time.Now())
		<-done
		if len(got) > 0 {
			s.in.buf = append(s.in.buf, got...)
		}
		if rerr != nil {
			s.in.err = rerr
		}
		cancel(nil)
	}
}

// cancelled ends a command whose context ended before it was done: the
// client hung up (nobody reads the answer) or the server is shutting
// down.
func (s *session) cancelled(ctx context.Context, tag, cmd string) {
	if errors.Is(context.Cause(ctx), errHungUp) {
		s.srv.work.cancelled.Add(1)
		s.log.Info("command cancelled: the client hung up", "command", cmd)
	} else {
		s.log.Info("command cancelled", "command", cmd, "cause", context.Cause(ctx))
	}
	s.no(tag, "[UNAVAILABLE] "+cmd+" cancelled")
}
