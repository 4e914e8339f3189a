package connlimit

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

func mustAcquire(t *testing.T, b *Listener, ip string) *Slot {
	t.Helper()
	s, why := b.Acquire(netip.MustParseAddr(ip))
	if why != OK {
		t.Fatalf("Acquire(%s) refused: %v", ip, why)
	}
	return s
}

func refused(t *testing.T, b *Listener, ip string, want Reason) {
	t.Helper()
	s, why := b.Acquire(netip.MustParseAddr(ip))
	if why == OK {
		s.Release()
		t.Fatalf("Acquire(%s) allowed, want refused (%v)", ip, want)
	}
	if why != want || s != nil {
		t.Fatalf("Acquire(%s) refused by %v (slot %v), want %v", ip, why, s, want)
	}
}

func TestPerAddrLimit(t *testing.T) {
	b := New(Config{PerAddr: 2}).Listener("smtp")
	s1 := mustAcquire(t, b, "192.0.2.1")
	mustAcquire(t, b, "192.0.2.1")
	refused(t, b, "192.0.2.1", AddrFull)
	mustAcquire(t, b, "192.0.2.2") // other address unaffected
	s1.Release()
	mustAcquire(t, b, "192.0.2.1")
	refused(t, b, "192.0.2.1", AddrFull)
}

// A few addresses of one /24 or one IPv6 /64 together get only the
// network's share.
func TestPerNetworkLimit(t *testing.T) {
	b := New(Config{PerAddr: 2, PerNetwork: 3}).Listener("smtp")
	mustAcquire(t, b, "192.0.2.1")
	mustAcquire(t, b, "192.0.2.1")
	mustAcquire(t, b, "192.0.2.200")
	refused(t, b, "192.0.2.201", NetworkFull)
	mustAcquire(t, b, "192.0.3.1") // the next /24

	mustAcquire(t, b, "2001:db8:0:1::1")
	mustAcquire(t, b, "2001:db8:0:1::1")
	refused(t, b, "2001:db8:0:1::1", AddrFull)
	mustAcquire(t, b, "2001:db8:0:1:ffff::2")
	refused(t, b, "2001:db8:0:1::3", NetworkFull)
	mustAcquire(t, b, "2001:db8:0:2::1")
}

func TestTotalLimit(t *testing.T) {
	l := New(Config{MaxTotal: 3})
	b := l.Listener("smtp")
	var ss []*Slot
	for i := range 3 {
		ss = append(ss, mustAcquire(t, b, fmt.Sprintf("192.0.2.%d", i+1)))
	}
	refused(t, b, "198.51.100.1", TotalFull)
	refused(t, l.Listener("imap"), "198.51.100.1", TotalFull)
	ss[1].Release()
	mustAcquire(t, b, "198.51.100.1")
	refused(t, b, "198.51.100.2", TotalFull)
}

// A flood that fills one listener's budget leaves the other listeners
// alone (issue 11 item 2: one shared cap refused every normal client).
func TestListenersHaveTheirOwnBudget(t *testing.T) {
	l := New(Config{MaxTotal: 100, PerListener: 3})
	smtp, imap := l.Listener("smtp"), l.Listener("imap")
	for i := range 3 {
		mustAcquire(t, smtp, fmt.Sprintf("192.0.2.%d", i+1))
	}
	refused(t, smtp, "198.51.100.1", ListenerFull)
	for i := range 3 {
		mustAcquire(t, imap, fmt.Sprintf("198.51.100.%d", i+1))
	}
	refused(t, imap, "203.0.113.1", ListenerFull)
}

// Logged-in sessions leave the counts of connections not logged in: they
// are never crowded out by a flood, and one address may have as many as
// MaxTotal allows (an office behind one NAT address).
func TestLoggedInLeavesTheBudget(t *testing.T) {
	l := New(Config{MaxTotal: 5, PerListener: 2, PerAddr: 1, PerNetwork: 1})
	b := l.Listener("imap")
	for range 4 {
		s := mustAcquire(t, b, "192.0.2.1")
		s.LoggedIn()
		s.LoggedIn() // twice: no effect
	}
	s := mustAcquire(t, b, "192.0.2.1") // fifth, not logged in
	refused(t, b, "192.0.2.1", TotalFull)
	s.Release()
	s = mustAcquire(t, b, "192.0.2.1")
	refused(t, b, "192.0.2.2", TotalFull)
	s.LoggedIn()
	s.Release()
	s.Release() // twice: no effect
	if l.total != 4 || b.open != 0 || len(l.perAddr) != 0 || len(l.perNet) != 0 {
		t.Fatalf("counts: total=%d open=%d perAddr=%v perNet=%v", l.total, b.open, l.perAddr, l.perNet)
	}
}

func TestReleaseOnce(t *testing.T) {
	l := New(Config{MaxTotal: 2, PerAddr: 1})
	b := l.Listener("smtp")
	s := mustAcquire(t, b, "192.0.2.1")
	s.Release()
	s.Release() // must not free a second slot
	if l.total != 0 || b.open != 0 || len(l.perAddr) != 0 || len(l.perNet) != 0 {
		t.Fatalf("after release: total=%d open=%d perAddr=%v perNet=%v, want 0 and empty", l.total, b.open, l.perAddr, l.perNet)
	}
	mustAcquire(t, b, "192.0.2.1")
	mustAcquire(t, b, "192.0.2.2")
	s.Release() // stale release of an earlier slot: still nothing
	refused(t, b, "192.0.2.3", TotalFull)
	refused(t, b, "192.0.2.1", TotalFull) // total is checked first
	if l.total != 2 {
		t.Fatalf("total = %d, want 2", l.total)
	}
}

func TestNilLimiter(t *testing.T) {
	var l *Limiter
	b := l.Listener("smtp")
	for range 1000 {
		s, why := b.Acquire(netip.MustParseAddr("192.0.2.1"))
		if why != OK {
			t.Fatalf("nil limiter refused: %v", why)
		}
		s.LoggedIn()
		s.Release()
	}
	done, ok := l.Refusal()
	if !ok {
		t.Fatal("nil limiter: refusal not allowed")
	}
	done()
}

func TestIPv4Mapped(t *testing.T) {
	b := New(Config{PerAddr: 1}).Listener("smtp")
	mustAcquire(t, b, "::ffff:192.0.2.1")
	refused(t, b, "192.0.2.1", AddrFull)
	// Distinct IPv4 clients in mapped form must not share one counter.
	mustAcquire(t, b, "::ffff:192.0.2.2")
	mustAcquire(t, b, "::ffff:198.51.100.7")
}

// Refusal handshakes are rationed: at most RefusalConcurrency at a time
// and RefusalRate a second.
func TestRefusalRationed(t *testing.T) {
	l := New(Config{RefusalConcurrency: 2, RefusalRate: 10})
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	d1, ok1 := l.Refusal()
	d2, ok2 := l.Refusal()
	if !ok1 || !ok2 {
		t.Fatal("first two refusals not allowed")
	}
	if _, ok := l.Refusal(); ok {
		t.Fatal("third concurrent refusal allowed")
	}
	d1()
	d1() // twice: frees one place only
	if _, ok := l.Refusal(); ok {
		t.Fatal("refusal allowed with no token left")
	}
	now = now.Add(100 * time.Millisecond) // one token at 10/s
	d3, ok := l.Refusal()
	if !ok {
		t.Fatal("refusal not allowed after a token came back")
	}
	if _, ok := l.Refusal(); ok {
		t.Fatal("refusal allowed beyond the concurrency")
	}
	d2()
	d3()
	now = now.Add(time.Hour) // tokens are capped at the burst
	for i := range 2 {
		if _, ok := l.Refusal(); !ok {
			t.Fatalf("refusal %d after an hour not allowed", i)
		}
	}
}

func TestAddrOf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()
	want := netip.MustParseAddr("127.0.0.1")
	if got := AddrOf(server); got != want {
		t.Fatalf("AddrOf(server side) = %v, want %v", got, want)
	}
	if got := AddrOf(client); got != want {
		t.Fatalf("AddrOf(client side) = %v, want %v", got, want)
	}
}

// pipeConn has a non-TCP remote address.
type pipeConn struct {
	net.Conn
	remote net.Addr
}

func (c pipeConn) RemoteAddr() net.Addr { return c.remote }

func TestAddrOfNonTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := AddrOf(a); got.IsValid() {
		t.Fatalf("AddrOf(pipe) = %v, want zero Addr", got)
	}
	c := pipeConn{Conn: a, remote: &net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.5"), Port: 25}}
	if got, want := AddrOf(c), netip.MustParseAddr("192.0.2.5"); got != want {
		t.Fatalf("AddrOf(udp addr) = %v, want %v", got, want)
	}
}
