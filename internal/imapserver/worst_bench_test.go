//go:build linux

package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The worst LIST and SEARCH a logged-in user can send, within the limits
// (issue 11 item 6), timed in CPU-seconds of the whole test process (the
// server and its one client) per command:
//
//	go test -run '^$' -bench Worst -benchtime 3x ./internal/imapserver/
//
// The account is made for each attack: for LIST 1,200 mailboxes with
// names of 400 bytes, 200 levels deep; for SEARCH 20 messages of 200 KB
// of text made so that the needles match everywhere or nearly (one
// repeated character, and an 8-character period of distinct trigrams),
// 4 MB of text in all; for the searches whose cost is per message, 5,000
// small messages.

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runCPU runs cmd b.N times and reports the CPU-seconds per command.
func runCPU(b *testing.B, c *client, cmd string, wantOK bool) {
	b.Helper()
	c.ok("NOOP")
	start := cpuTime()
	b.ResetTimer()
	for range b.N {
		tag := c.nextTag()
		c.send(tag + " " + cmd + "\r\n")
		r := c.read(tag)
		if ok := strings.HasPrefix(r.status(), "OK"); ok != wantOK {
			b.Fatalf("%.100s: %.200s", cmd, r.tagged)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

func BenchmarkWorstList(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	deep := strings.Repeat("a/", 200)
	for i := range 1000 {
		name := fmt.Sprintf("%s%d", deep, i)
		if _, err := e.st.CreateMailbox(ctx, e.ids[alice], name, ""); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if err := e.st.SetSubscribed(ctx, e.ids[alice], name, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	c := e.login(alice)
	for _, tc := range []struct{ name, cmd string }{
		{"star", `LIST "" *`},
		{"60000-stars", `LIST "" ` + strings.Repeat("*", 60000)},
		{"32-wildcards", `LIST "" "` + strings.Repeat("*a/%", 16) + `"`},
		{"32-patterns-recursive-status", `LIST (SUBSCRIBED RECURSIVEMATCH) "" (` +
			strings.TrimSpace(strings.Repeat(`"*/a/%" `, 16)) + `) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))`},
		{"lsub", `LSUB "" "*a/%"`},
	} {
		b.Run(tc.name, func(b *testing.B) { runCPU(b, c, tc.cmd, true) })
	}
}

func BenchmarkWorstSearch(b *testing.B) {
	e := newEnv(b, nil)
	const size = 200 << 10 // what the index keeps of a message: 256 KiB, headers included
	for range 10 {
		e.deliver(simpleMsg("a", "b"+strings.Repeat("a", size)+"b\r\n"), delivery{})
		e.deliver(simpleMsg("period", strings.Repeat("abcdefgh", size/8)+"\r\n"), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	c.ok("SEARCH BODY zzz") // indexes the mailbox
	literal := func(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }
	for _, tc := range []struct{ name, cmd string }{
		{"body-60000-a", "SEARCH BODY " + literal(strings.Repeat("a", 60000)+"b")},
		{"text-60000-a", "SEARCH TEXT " + literal(strings.Repeat("a", 60000)+"b")},
		{"body-8-a", "SEARCH BODY aaaaaaaa"},
		{"body-3-a", "SEARCH BODY aaa"},
		{"body-2-ab-like", "SEARCH BODY ab"},
		{"body-phrase-distinct", "SEARCH BODY abcdefgh"},
		{"body-phrase-10", "SEARCH BODY abcdefghab"},
		{"4-phrases", "SEARCH BODY abcdefgh BODY bcdefgha BODY cdefghab BODY defghabc"},
		{"4-long-needles", "SEARCH BODY " + literal(strings.Repeat("a", 1000)+"b") + " BODY " + literal(strings.Repeat("a", 1001)+"b") +
			" TEXT " + literal(strings.Repeat("a", 1002)+"b") + " TEXT " + literal(strings.Repeat("abcdefgh", 100)+"x")},
		{"16-content-keys", "SEARCH BODY abcdefgh BODY bcdefgha BODY cdefghab BODY defghabc" + strings.Repeat(" HEADER Subject aaaaaaaaaaaa", 12)},
		{"sort-thread", "THREAD REFERENCES UTF-8 BODY abcdefgh"},
	} {
		b.Run(tc.name, func(b *testing.B) { runCPU(b, c, tc.cmd, true) })
	}
}

// BenchmarkWorstSearchMany: searches whose cost is per message, over a
// mailbox of 5,000 small messages.
func BenchmarkWorstSearchMany(b *testing.B) {
	e := newEnv(b, nil)
	const n = 5000
	for i := range n {
		e.deliver(fmt.Sprintf("From: Sender %d <s%d@example.test>\r\nTo: alice@example.test\r\nSubject: message %d aaaaaaaaaaaa\r\n"+
			"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <%d@example.test>\r\nReferences: <%d@example.test>\r\nX-Header: %s\r\n\r\nbody %d\r\n",
			i, i, i, i, i/2, strings.Repeat("a", 200), i), delivery{})
	}
	c := e.login(alice)
	c.ok("SELECT INBOX")
	var odd strings.Builder
	for i := 1; i < 2*n; i += 2 {
		fmt.Fprintf(&odd, "%d,", i)
	}
	set := strings.TrimSuffix(odd.String(), ",")
	c.ok("SEARCH RETURN (SAVE) ALL")
	for _, tc := range []struct{ name, cmd string }{
		{"flags-256-keys", "SEARCH" + strings.Repeat(" UNSEEN", 256)},
		{"uid-set-5000-ranges", "UID SEARCH UID " + set},
		{"saved-result", "SEARCH $ NOT $ OR $ UNSEEN"},
		{"16-header-keys", "SEARCH" + strings.Repeat(" HEADER X-Header aaaaaaaaaaaaaaaaaaaab", 16)},
		{"16-envelope-keys", "SEARCH" + strings.Repeat(" OR FROM zzz SUBJECT aaaaaaaaaaaaaaab", 8)},
		{"sort-all", "SORT (SUBJECT FROM DATE) UTF-8 ALL"},
		{"thread-references-all", "THREAD REFERENCES UTF-8 ALL"},
	} {
		b.Run(tc.name, func(b *testing.B) { runCPU(b, c, tc.cmd, true) })
	}
}
