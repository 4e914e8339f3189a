package loadgen

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// Against a server that hangs up on clients that stop reading, every
// stalled connection counts as closed; the storm's STOREs are counted, and
// the memory of the process named is sampled (this test's own).
func TestIMAPStallClosed(t *testing.T) {
	f := newFake(t, 3).start()
	var progress bytes.Buffer
	res, err := RunIMAPStall(context.Background(), IMAPStallOptions{IMAPServer: f.server(), Stalled: 5,
		Hold: 300 * time.Millisecond, ServerPID: os.Getpid(), Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Established != 5 || res.Closed != 5 || res.Open != 0 || res.Stores == 0 || res.StoreErrors != 0 || len(res.FirstErrors) != 0 {
		t.Fatalf("%s; errors %v", res.Summary(), res.FirstErrors)
	}
	if res.RSSStartKB <= 0 || res.RSSPeakKB < res.RSSStartKB || res.RSSEndKB <= 0 {
		t.Errorf("RSS start %d, peak %d, end %d KiB", res.RSSStartKB, res.RSSPeakKB, res.RSSEndKB)
	}
	if got := f.count("FETCH"); got != 5 {
		t.Errorf("server got %d FETCH, want 5", got)
	}
	if !strings.Contains(progress.String(), `5 of 5 connections sent "FETCH 1:* BODY[]" and stopped reading`) {
		t.Errorf("progress %q", progress.String())
	}
	if kv := res.KV(); !strings.HasPrefix(kv, "mode=imap-stall stalled=5 established=5 closed=5 open=0 stores=") {
		t.Errorf("KV %q", kv)
	}
}

// Against a server that keeps answering a client that does not read, the
// stalled connection counts as open.
func TestIMAPStallOpen(t *testing.T) {
	f := newFake(t, 3)
	f.fetchStream = true
	f.start()
	res, err := RunIMAPStall(context.Background(), IMAPStallOptions{IMAPServer: f.server(), Stalled: 1, Storms: 1, Hold: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Established != 1 || res.Open != 1 || res.Closed != 0 || res.RSSPeakKB != 0 {
		t.Fatalf("%s; errors %v", res.Summary(), res.FirstErrors)
	}
}
