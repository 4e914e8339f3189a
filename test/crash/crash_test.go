// Package crash checks durability end to end: mail acknowledged with 250
// survives kill -9 of the server, exactly once.
package crash

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	rcpt     = "alice@example.test"
	password = "crash test password"
	clients  = 8
	cycles   = 3
	// loadTime is how long the clients run before the kill; at least
	// minAcks messages must have been acknowledged by then too.
	loadTime = 1500 * time.Millisecond
	minAcks  = 20
)

// ledger is what the clients saw, over all cycles.
type ledger struct {
	mu        sync.Mutex
	attempted map[string]bool   // Message-ID → MAIL FROM was sent
	acked     map[string]string // Message-ID → tracking id from the 250 reply
	errors    []string          // failures not explained by the kill
}

func TestKill9DuringLoad(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{Listeners: []string{testenv.SMTP, testenv.POP3S}})
	srv.AddDomain(t, "example.test")
	srv.AddUser(t, rcpt, password)

	led := &ledger{attempted: map[string]bool{}, acked: map[string]string{}}
	for cycle := 1; cycle <= cycles; cycle++ {
		before := len(led.acked)
		inFlight := runLoadAndKill(t, srv, led, cycle)
		if len(led.errors) > 0 {
			t.Fatalf("cycle %d: SMTP failures before the kill:\n%s", cycle, strings.Join(led.errors, "\n"))
		}
		srv.Restart(t)
		found := verify(t, srv, led)
		t.Logf("cycle %d: %d acknowledged (%d this cycle), %d attempted, %d clients mid-transaction at the kill, %d messages in INBOX after restart",
			cycle, len(led.acked), len(led.acked)-before, len(led.attempted), inFlight, found)
		if t.Failed() {
			return
		}
	}
	srv.Stop(t)
}

// runLoadAndKill runs the clients until loadTime has passed and minAcks
// messages are acknowledged, then kills the server and waits for the
// clients to notice. It returns how many clients were inside a
// transaction when the kill was sent.
func runLoadAndKill(t *testing.T, srv *testenv.Server, led *ledger, cycle int) int {
	t.Helper()
	addr := srv.Addr(t, testenv.SMTP)
	var (
		killed   atomic.Bool
		acks     atomic.Int64
		inTx     atomic.Int64
		wg       sync.WaitGroup
		enough   = make(chan struct{})
		once     sync.Once
		allDone  = make(chan struct{})
		deadline = time.Now().Add(loadTime)
	)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client(addr, cycle, w, led, &killed, &inTx, func() {
				if acks.Add(1) >= minAcks {
					once.Do(func() { close(enough) })
				}
			})
		}()
	}
	go func() { wg.Wait(); close(allDone) }()

	select {
	case <-enough:
	case <-allDone: // every client failed: the errors say why
		return 0
	}
	if d := time.Until(deadline); d > 0 {
		select {
		case <-time.After(d):
		case <-allDone:
			return 0
		}
	}
	killed.Store(true)
	n := int(inTx.Load())
	srv.Kill(t)
	<-allDone
	return n
}

// client sends messages in a loop, a few per connection, until the server
// goes away. Every message has a unique Message-ID, recorded before MAIL
// FROM; it is recorded as acknowledged only on the 250 reply to DATA.
func client(addr string, cycle, w int, led *ledger, killed *atomic.Bool, inTx *atomic.Int64, acked func()) {
	fail := func(format string, args ...any) {
		if killed.Load() {
			return // the kill explains it
		}
		led.mu.Lock()
		led.errors = append(led.errors, fmt.Sprintf("client %d: ", w)+fmt.Sprintf(format, args...))
		led.mu.Unlock()
	}
	seq := 0
	for conn := 0; !killed.Load(); conn++ {
		c, err := testenv.DialSMTP(addr)
		if err != nil {
			fail("dial: %v", err)
			return
		}
		if err := c.Hello(fmt.Sprintf("client%d.remote.test", w)); err != nil {
			c.Close()
			fail("EHLO: %v", err)
			return
		}
		perConn := 1 + (w+conn)%5
		for i := 0; i < perConn && !killed.Load(); i++ {
			seq++
			id := fmt.Sprintf("c%d.w%d.%d@crash.test", cycle, w, seq)
			led.mu.Lock()
			led.attempted[id] = true
			led.mu.Unlock()
			inTx.Add(1)
			reply, err := c.Send("sender@remote.test", []string{rcpt}, message(id, seq))
			inTx.Add(-1)
			if err != nil {
				c.Close()
				fail("message %s: %v", id, err)
				return
			}
			tid, ok := testenv.TrackingID(reply)
			if !ok || !strings.HasPrefix(reply, "2.0.0") {
				// ReadResponse strips the code; the enhanced code and
				// id= must follow it.
				fail("message %s: 250 reply %q lacks \"2.0.0 ... id=\"", id, reply)
			}
			led.mu.Lock()
			led.acked[id] = tid
			led.mu.Unlock()
			acked()
		}
		if err := c.Quit(); err != nil {
			fail("QUIT: %v", err)
			return
		}
	}
}

// message builds a message of varying size (up to ~64 KiB) so that kills
// land in every phase of a transaction.
func message(id string, seq int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <sender@remote.test>\r\nTo: <%s>\r\nSubject: crash %s\r\nMessage-ID: <%s>\r\n\r\n", rcpt, id, id)
	lines := []int{1, 40, 300, 1000}[seq%4]
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&b, "line %d of %s: the quick brown fox jumps over the lazy dog\r\n", i, id)
	}
	return b.Bytes()
}

// verify reads every message header over POP3S and checks the ledger:
// each acknowledged message is there exactly once (with its tracking id in
// the header), nothing is there twice, and nothing is there that was never
// sent. It returns the number of messages in the maildrop.
func verify(t *testing.T, srv *testenv.Server, led *ledger) int {
	t.Helper()
	c, err := testenv.DialPOP3S(srv.Addr(t, testenv.POP3S))
	if err != nil {
		t.Fatalf("pop3s dial after restart: %v", err)
	}
	defer c.Quit()
	if err := c.Login(rcpt, password); err != nil {
		t.Fatalf("pop3 login after restart: %v", err)
	}
	n, _, err := c.Stat()
	if err != nil {
		t.Fatalf("STAT: %v", err)
	}
	seen := map[string]int{}
	header := map[string][]byte{}
	for i := 1; i <= n; i++ {
		h, err := c.Top(i, 0)
		if err != nil {
			t.Fatalf("TOP %d 0: %v", i, err)
		}
		mid, ok := testenv.Header(h, "Message-ID")
		if !ok {
			t.Errorf("message %d has no Message-ID:\n%s", i, h)
			continue
		}
		mid = strings.Trim(mid, "<>")
		seen[mid]++
		header[mid] = h
	}

	led.mu.Lock()
	defer led.mu.Unlock()
	var missing, dup, phantom, noTrace []string
	for id, tid := range led.acked {
		switch seen[id] {
		case 0:
			missing = append(missing, id+" (id="+tid+")")
		case 1:
			if tid != "" && !bytes.Contains(header[id], []byte(tid)) {
				noTrace = append(noTrace, id+" (id="+tid+")")
			}
		}
	}
	for id, k := range seen {
		if k > 1 {
			dup = append(dup, fmt.Sprintf("%s ×%d", id, k))
		}
		if !led.attempted[id] {
			phantom = append(phantom, id)
		}
	}
	report := func(what string, ids []string) {
		if len(ids) == 0 {
			return
		}
		sort.Strings(ids)
		if len(ids) > 20 {
			ids = append(ids[:20], fmt.Sprintf("... and %d more", len(ids)-20))
		}
		t.Errorf("%s:\n  %s", what, strings.Join(ids, "\n  "))
	}
	report("acknowledged with 250 but missing after kill -9 and restart", missing)
	report("stored more than once", dup)
	report("in the INBOX but never sent", phantom)
	report("tracking id from the 250 reply not in the stored header", noTrace)
	return n
}
