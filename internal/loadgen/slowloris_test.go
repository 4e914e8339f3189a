package loadgen

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// capServer holds at most limit connections (greeting 220, reading on), cuts
// each after cut, and refuses the rest with 421.
type capServer struct {
	addr string
	mu   sync.Mutex
	open int
}

func startCapServer(t *testing.T, limit int, cut time.Duration) *capServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &capServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			full := s.open >= limit
			if !full {
				s.open++
			}
			s.mu.Unlock()
			if full {
				c.Write([]byte("421 4.7.0 Too many connections\r\n"))
				c.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { s.mu.Lock(); s.open--; s.mu.Unlock() }()
				defer c.Close()
				c.Write([]byte("220 capserver\r\n"))
				c.SetReadDeadline(time.Now().Add(cut))
				var b [64]byte
				for {
					if _, err := c.Read(b[:]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

func TestSlowloris(t *testing.T) {
	target := startCapServer(t, 4, time.Hour)
	sink := newSink(t).start()
	res, err := RunSlowloris(context.Background(), SlowlorisOptions{
		Targets:   []string{target.addr},
		Conns:     10,
		SourceIPs: []string{"127.0.0.1"},
		Interval:  20 * time.Millisecond,
		Settle:    500 * time.Millisecond,
		Hold:      time.Second,
		Probe:     20 * time.Millisecond,
		SMTP:      SMTPOptions{Addr: sink.addr, Size: 1000, Timeout: 20 * time.Second},
	})
	if err != nil {
		t.Fatalf("RunSlowloris: %v", err)
	}
	t.Log(res.KV())
	f := res.Floods[0]
	if f.MaxHeld != 4 || f.MinHeld != 4 || f.Refused == 0 || f.Cut != 0 {
		t.Errorf("flood: %+v, want 4 held, some refused, none cut", f)
	}
	if res.SMTP == nil || res.SMTP.OK == 0 || res.SMTP.Errors != 0 || res.IMAP != nil {
		t.Fatalf("probes: smtp %+v imap %+v", res.SMTP, res.IMAP)
	}
	if got := sink.stats().accepted; got < res.SMTP.OK {
		t.Errorf("sink accepted %d messages, the probe counted %d", got, res.SMTP.OK)
	}
	if err := res.Err(); err != nil {
		t.Error(err)
	}
}

// A connection the server closes is counted as cut and opened again.
func TestSlowlorisReconnects(t *testing.T) {
	target := startCapServer(t, 2, 50*time.Millisecond)
	res, err := RunSlowloris(context.Background(), SlowlorisOptions{
		Targets:   []string{target.addr},
		Conns:     2,
		SourceIPs: []string{"127.0.0.1"},
		Interval:  10 * time.Millisecond,
		Settle:    10 * time.Millisecond,
		Hold:      500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("RunSlowloris: %v", err)
	}
	if f := res.Floods[0]; f.Cut == 0 {
		t.Errorf("flood: %+v, want connections cut (and opened again)", f)
	}
}

// With no target the normal clients are timed alone (the flood runs in
// another process).
func TestSlowlorisProbesOnly(t *testing.T) {
	sink := newSink(t).start()
	res, err := RunSlowloris(context.Background(), SlowlorisOptions{
		Settle: time.Hour, // not waited for without a flood
		Hold:   300 * time.Millisecond,
		Probe:  20 * time.Millisecond,
		SMTP:   SMTPOptions{Addr: sink.addr, Size: 1000, Timeout: 20 * time.Second},
	})
	if err != nil {
		t.Fatalf("RunSlowloris: %v", err)
	}
	if len(res.Floods) != 0 || res.SMTP == nil || res.SMTP.OK == 0 || res.Err() != nil {
		t.Fatalf("result %s (err %v)", res.KV(), res.Err())
	}
}

func TestSlowlorisOptions(t *testing.T) {
	for _, o := range []SlowlorisOptions{
		{}, // no target
		{Targets: []string{"x:1"}, Conns: -1},
		{SMTP: SMTPOptions{Addr: "nowhere"}}, // no port
		{Targets: []string{"x:1"}, SourceIPs: []string{"nowhere"}},
	} {
		if _, err := RunSlowloris(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
