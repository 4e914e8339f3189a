package store

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDiskFullIsENOSPC: SQLite's "database or disk is full" reaches the
// caller as ENOSPC, which the protocols answer as a full mail system
// (SMTP 452 4.3.1) rather than a generic local error.
func TestDiskFullIsENOSPC(t *testing.T) {
	s, acct := setup(t)
	ctx := context.Background()
	var pages int64
	if err := s.wconn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The committer's connection may not grow the file any more.
	if _, err := s.wconn.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.FormatInt(pages, 10)); err != nil {
		t.Fatal(err)
	}
	b, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "Subject: x\r\n\r\n"+strings.Repeat("x", 60<<10))
	_, err = s.Deliver(ctx, &Delivery{
		Blob: b, TrackingID: "t1", InternalDate: time.Now(),
		Recipients: []Recipient{{AccountID: acct.ID, Mailbox: "INBOX"}},
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Deliver on a full database: %v, want ENOSPC", err)
	}
}
