package queue

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/dsn"
	"github.com/yizhan-mail/yizhan/internal/remote"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

// TestFailureNoticeNotLost: when the failure notice for a recipient cannot
// be stored, the recipient stays queued and the notice is tried again; it
// leaves the queue only once the sender's notice is in.
func TestFailureNoticeNotLost(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	z := testenv.StartDNS(t)
	z.NXDomain("nowhere.test")

	var mu sync.Mutex
	calls := 0
	r := New(st, Config{
		Hostname: "mx.a.test", RetrySchedule: []time.Duration{50 * time.Millisecond}, GiveUpAfter: time.Hour,
		Resolver: &remote.Resolver{Nameservers: []string{z.Addr}, Timeout: time.Second},
		Poll:     20 * time.Millisecond,
		Bounce: func(ctx context.Context, rcpt string, msg []byte, id string) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return errors.New("store unavailable")
			}
			if rcpt != "alice@a.test" || !strings.Contains(string(msg), "Status: 5.1.2") {
				t.Errorf("notice to %s:\n%s", rcpt, msg)
			}
			return nil
		},
	})
	b, err := st.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "Subject: x\r\n\r\ny\r\n")
	if _, err := st.Deliver(ctx, &store.Delivery{Blob: b, TrackingID: "t1", InternalDate: time.Now(),
		Remote: &store.Outbound{From: "alice@a.test", Rcpts: []store.QueueRcpt{{Addr: "x@nowhere.test", Domain: "nowhere.test"}}}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(runCtx) }()
	defer func() { stop(); <-done }()

	deadline := time.Now().Add(30 * time.Second) // a guard, not an expectation
	sawKept := false
	for {
		items, err := st.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := calls
		mu.Unlock()
		if len(items) == 1 && strings.Contains(items[0].LastError, "failure notice could not be stored") {
			sawKept = true
		}
		if len(items) == 0 {
			if n < 2 || !sawKept {
				t.Fatalf("left the queue after %d notice attempts (kept after the failed one: %v)", n, sawKept)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still queued after %d notice attempts: %+v", n, items)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostSlots: at most MaxPerHost attempts hold a host's slots at once,
// a waiter whose context ends gives up, and a host nobody is using any
// more is forgotten (the map would otherwise grow with every destination).
func TestHostSlots(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(st, Config{Hostname: "mx.a.test", MaxPerHost: 2})
	d1, err := r.hostSlot(ctx, "mx.b.test")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := r.hostSlot(ctx, "mx.b.test")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.hostSlot(short, "mx.b.test"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third slot with two held: %v, want to wait until the context ends", err)
	}
	d3, err := r.hostSlot(ctx, "mx.c.test") // other hosts are not held up
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		d, err := r.hostSlot(ctx, "mx.b.test")
		if err == nil {
			d()
		}
		got <- err
	}()
	d1()
	if err := <-got; err != nil {
		t.Fatalf("waiter after a release: %v", err)
	}
	d2()
	d3()
	r.mu.Lock()
	n := len(r.hosts)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("%d hosts still tracked after every slot came back", n)
	}
}

// TestLookupReason: every permanent DNS finding is worded as its own
// reason in a notice (so it can be translated), about the name looked up.
func TestLookupReason(t *testing.T) {
	for cause, want := range map[remote.Cause]dsn.ReasonKind{
		remote.CauseInvalidDomain: dsn.ReasonInvalidDomain,
		remote.CauseNoSuchDomain:  dsn.ReasonNoSuchDomain,
		remote.CauseNoMailServer:  dsn.ReasonNoMailServer,
		remote.CauseNullMX:        dsn.ReasonNullMX,
		remote.CauseMXNamesNoHost: dsn.ReasonMXNamesNoHost,
		remote.CauseNoAddress:     dsn.ReasonNoAddress,
	} {
		got := lookupReason(&remote.LookupError{Domain: "mx.example.net", Permanent: true, Cause: cause, Status: "5.1.2"}, "example.net")
		if got != (dsn.Reason{Kind: want, Domain: "mx.example.net"}) {
			t.Errorf("cause %v: reason %+v, want %s about mx.example.net", cause, got, want)
		}
	}
	// Without a cause the status decides; without a name, the domain.
	if got := lookupReason(&remote.LookupError{Status: "5.1.10"}, "example.net"); got != (dsn.Reason{Kind: dsn.ReasonNullMX, Domain: "example.net"}) {
		t.Errorf("no cause: reason %+v", got)
	}
}

// The error a failed attempt leaves in the queue (queue list, the notice
// to the sender) names the host and its address once, not three times
// ("mx (ip:port): remote: connect: connect to ip:port: dial tcp ip:port:
// connect: connection refused").
func TestHopErrorNamesTheAddressOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = remote.Dial(context.Background(), &remote.ClientConfig{Hostname: "client.example"}, addr, "mx.dead.example")
	if err == nil {
		t.Fatal("dialling a closed port succeeded")
	}
	got := hopError(hop{host: "mx.dead.example", addr: addr}, err)
	if want := "mx.dead.example (" + addr + "): connect: connection refused"; got != want {
		t.Errorf("hopError = %q, want %q", got, want)
	}
	var se *remote.SendError
	if !errors.As(err, &se) || se.Stage != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the dial error %v lost its cause", err)
	}
}

// A recipient whose job was under way when the due recipients were read
// is left out of the new jobs even if that job ended before they were
// grouped: the read still showed it due, and grouping it would try it a
// second time (a second bounce for an expired recipient; a second copy
// for one the first job relayed). Seen as "reading the message for a
// notification: not found" after a bounce in test/outbound.
func TestGroupLeavesOutRecipientsBusyAtRead(t *testing.T) {
	r := New(nil, Config{Hostname: "mx.example"})
	due := []store.QueueItem{
		{ID: 1, QueueID: 1, Domain: "a.example"}, {ID: 2, QueueID: 1, Domain: "a.example"},
		{ID: 3, QueueID: 2, Domain: "a.example"},
	}
	r.inflight[3] = true // still under way
	// Recipient 1's job was under way at the read and has ended since.
	jobs := r.group(due, map[int64]bool{1: true, 3: true})
	if len(jobs) != 1 || len(jobs[0].items) != 1 || jobs[0].items[0].ID != 2 {
		t.Fatalf("jobs: %+v, want one job with recipient 2", jobs)
	}
}

// TestPanicInAJobDefersIt (issue 11 item 7): a panic while working on a
// job (here in storing a failure notice) took the whole process down. Now
// it is counted, the job's recipients are deferred like after a temporary
// failure (on the retry schedule, not in a loop) and the runner goes on:
// the next attempt stores the notice and the queue empties.
func TestPanicInAJobDefersIt(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	z := testenv.StartDNS(t)
	z.NXDomain("nowhere.test")

	var mu sync.Mutex
	calls := 0
	r := New(st, Config{
		Hostname: "mx.a.test", RetrySchedule: []time.Duration{50 * time.Millisecond}, GiveUpAfter: time.Hour,
		Resolver: &remote.Resolver{Nameservers: []string{z.Addr}, Timeout: time.Second},
		Poll:     20 * time.Millisecond,
		Bounce: func(ctx context.Context, rcpt string, msg []byte, id string) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				panic("a bug in storing notices")
			}
			return nil
		},
	})
	b, err := st.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "Subject: x\r\n\r\ny\r\n")
	if _, err := st.Deliver(ctx, &store.Delivery{Blob: b, TrackingID: "t1", InternalDate: time.Now(),
		Remote: &store.Outbound{From: "alice@a.test", Rcpts: []store.QueueRcpt{{Addr: "x@nowhere.test", Domain: "nowhere.test"}}}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(runCtx) }()
	defer func() { stop(); <-done }()

	deadline := time.Now().Add(30 * time.Second) // a guard, not an expectation
	sawDeferred := false
	for {
		items, err := st.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 && strings.Contains(items[0].LastError, "internal error") {
			sawDeferred = true
		}
		if len(items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still queued: %+v", items)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	n := calls
	mu.Unlock()
	if n != 2 || !sawDeferred {
		t.Errorf("%d notice attempts, deferred after the panic: %v; want 2 and true", n, sawDeferred)
	}
	if p := r.Panics(); p != 1 {
		t.Errorf("Panics() = %d, want 1", p)
	}
}
