package connlimit

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
)

func mustAcquire(t *testing.T, l *Limiter, ip string) func() {
	t.Helper()
	release, ok, _ := l.Acquire(netip.MustParseAddr(ip))
	if !ok {
		t.Fatalf("Acquire(%s) refused", ip)
	}
	return release
}

func refused(t *testing.T, l *Limiter, ip string, wantPerIP bool) {
	t.Helper()
	release, ok, perIP := l.Acquire(netip.MustParseAddr(ip))
	if ok {
		release()
		t.Fatalf("Acquire(%s) allowed, want refused", ip)
	}
	if perIP != wantPerIP {
		t.Fatalf("Acquire(%s) perIP = %v, want %v", ip, perIP, wantPerIP)
	}
}

func TestPerIPLimit(t *testing.T) {
	l := New(0, 2)
	r1 := mustAcquire(t, l, "192.0.2.1")
	mustAcquire(t, l, "192.0.2.1")
	refused(t, l, "192.0.2.1", true)
	mustAcquire(t, l, "192.0.2.2") // other address unaffected
	r1()
	mustAcquire(t, l, "192.0.2.1")
	refused(t, l, "192.0.2.1", true)
}

func TestTotalLimit(t *testing.T) {
	l := New(3, 0)
	var rs []func()
	for i := range 3 {
		rs = append(rs, mustAcquire(t, l, fmt.Sprintf("192.0.2.%d", i+1)))
	}
	refused(t, l, "198.51.100.1", false)
	rs[1]()
	mustAcquire(t, l, "198.51.100.1")
	refused(t, l, "198.51.100.2", false)
}

func TestReleaseOnce(t *testing.T) {
	l := New(2, 1)
	r := mustAcquire(t, l, "192.0.2.1")
	r()
	r() // must not free a second slot
	if l.total != 0 || len(l.perIP) != 0 {
		t.Fatalf("after release: total=%d perIP=%v, want 0 and empty", l.total, l.perIP)
	}
	mustAcquire(t, l, "192.0.2.1")
	mustAcquire(t, l, "192.0.2.2")
	r() // stale release of an earlier slot: still nothing
	refused(t, l, "192.0.2.3", false)
	refused(t, l, "192.0.2.1", false) // total is checked first
	if l.total != 2 {
		t.Fatalf("total = %d, want 2", l.total)
	}
}

func TestNilLimiter(t *testing.T) {
	var l *Limiter
	for range 1000 {
		release, ok, perIP := l.Acquire(netip.MustParseAddr("192.0.2.1"))
		if !ok || perIP || release == nil {
			t.Fatalf("nil limiter: ok=%v perIP=%v release=%v", ok, perIP, release != nil)
		}
		release()
	}
}

func TestIPv6Slash64(t *testing.T) {
	l := New(0, 2)
	mustAcquire(t, l, "2001:db8:0:1::1")
	mustAcquire(t, l, "2001:db8:0:1:ffff::2")
	refused(t, l, "2001:db8:0:1::3", true)
	mustAcquire(t, l, "2001:db8:0:2::1")
}

func TestIPv4Mapped(t *testing.T) {
	l := New(0, 1)
	mustAcquire(t, l, "::ffff:192.0.2.1")
	refused(t, l, "192.0.2.1", true)
	// Distinct IPv4 clients in mapped form must not share one counter.
	mustAcquire(t, l, "::ffff:192.0.2.2")
	mustAcquire(t, l, "::ffff:198.51.100.7")
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
