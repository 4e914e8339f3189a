package loadgen

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestIMAPIdleHold(t *testing.T) {
	f := newFake(t, 3).start()
	var progress bytes.Buffer
	res, err := RunIMAPIdle(context.Background(), IMAPIdleOptions{IMAPServer: f.server(), Connections: 40, Parallel: 4,
		Hold: 200 * time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Established != 40 || res.Failed != 0 || res.Dropped != 0 || res.Closed != 40 || res.Err() != nil {
		t.Errorf("established=%d failed=%d dropped=%d closed=%d err=%v, want 40 0 0 40", res.Established, res.Failed, res.Dropped, res.Closed, res.Err())
	}
	if res.Held < 200*time.Millisecond || res.Setup <= 0 || res.FileLimit == 0 {
		t.Errorf("held %v, setup %v, file limit %d", res.Held, res.Setup, res.FileLimit)
	}
	for _, c := range []string{"LOGIN", "SELECT", "IDLE", "DONE", "LOGOUT"} {
		if got := f.count(c); got != 40 {
			t.Errorf("server got %d %s, want 40", got, c)
		}
	}
	f.mu.Lock()
	maxSetup, afterIdle := f.maxSetup, f.afterIdle
	f.mu.Unlock()
	if maxSetup > 4 || maxSetup < 1 || afterIdle != 0 {
		t.Errorf("%d connections in setup at once, want at most 4; %d sent something other than DONE", maxSetup, afterIdle)
	}
	if !strings.Contains(progress.String(), "40 of 40 connections idling (0 failed)") {
		t.Errorf("progress %q", progress.String())
	}
	want := "mode=imap-idle conns=40 established=40 failed=0 setup_s="
	if kv := res.KV(); !strings.HasPrefix(kv, want) || !strings.Contains(kv, " dropped=0 closed=40 fd_limit=") {
		t.Errorf("KV %q", kv)
	}
}

// Connections the server refuses are counted as failed, the rest held.
func TestIMAPIdleRefused(t *testing.T) {
	f := newFake(t, 0)
	f.maxOpen = 15
	f.start()
	res, err := RunIMAPIdle(context.Background(), IMAPIdleOptions{IMAPServer: f.server(), Connections: 20, Parallel: 20, Hold: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Established != 15 || res.Failed != 5 || res.Closed != 15 {
		t.Errorf("established=%d failed=%d closed=%d, want 15 5 15", res.Established, res.Failed, res.Closed)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "5 of 20 connections failed") || !strings.Contains(err.Error(), "too many connections") {
		t.Errorf("Err() = %v", err)
	}
}

// With no hold time the connections are held until the context ends.
func TestIMAPIdleUntilCancelled(t *testing.T) {
	f := newFake(t, 1).start()
	ctx, cancel := context.WithCancel(context.Background())
	var progress bytes.Buffer
	done := make(chan *IMAPIdleResult)
	go func() {
		res, err := RunIMAPIdle(ctx, IMAPIdleOptions{IMAPServer: f.server(), Connections: 5, Progress: &progress})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("returned before the context ended")
	default:
	}
	cancel()
	res := <-done
	if res.Established != 5 || res.Closed != 5 || res.Held < 100*time.Millisecond {
		t.Errorf("established=%d closed=%d held %v", res.Established, res.Closed, res.Held)
	}
	if !strings.Contains(progress.String(), "holding until interrupted") {
		t.Errorf("progress %q", progress.String())
	}
}

// A server that ends the IDLE with BYE: every connection counts as
// dropped.
func TestIMAPIdleDropped(t *testing.T) {
	f := newFake(t, 1)
	f.dropIdle = true
	f.start()
	res, err := RunIMAPIdle(context.Background(), IMAPIdleOptions{IMAPServer: f.server(), Connections: 6, Hold: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Established != 6 || res.Dropped != 6 || res.Closed != 0 {
		t.Errorf("established=%d dropped=%d closed=%d, want 6 6 0", res.Established, res.Dropped, res.Closed)
	}
	if len(res.FirstErrors) == 0 || !strings.Contains(res.FirstErrors[0].Error(), "BYE going away") {
		t.Errorf("errors %v", res.FirstErrors)
	}
}
