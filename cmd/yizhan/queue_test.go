package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// TestQueueAndTraceCommands drives `queue list|show|retry|drop` and
// `trace` over a queue filled through the store.
func TestQueueAndTraceCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("", "domain", "add", "example.test")
	ctx := context.Background()
	st, err := store.Open(ctx, c.dir, store.Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	id := tracking.NewID()
	b, err := st.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, "Message-ID: <abc@example.test>\r\nSubject: x\r\n\r\nbody\r\n")
	_, err = st.Deliver(ctx, &store.Delivery{Blob: b, TrackingID: id, MessageID: "abc@example.test", InternalDate: time.Now(),
		Events: []store.Event{{TrackingID: id, At: time.Now(), Kind: tracking.EventReceived,
			Detail: map[string]any{"message_id": "abc@example.test", "client_ip": "192.0.2.1",
				"rcpt": []string{"bob@remote.test", "carol@remote.test"}, "size": 1234}}},
		Remote: &store.Outbound{From: "alice@example.test", Rcpts: []store.QueueRcpt{
			{Addr: "bob@remote.test", Domain: "remote.test"}, {Addr: "carol@remote.test", Domain: "remote.test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := st.Queue(ctx)
	if err := st.DeferRecipients(ctx, []int64{items[0].ID}, time.Now().Add(time.Hour), "451 4.4.1 connection\nrefused", false, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	list := lines(c.ok("", "queue", "list"))
	if len(list) != 3 || strings.Join(strings.Fields(list[0]), " ") != "ID SENDER RECIPIENT ATTEMPTS NEXT ATTEMPT LAST ERROR" {
		t.Fatalf("queue list: %q", list)
	}
	// The due one first; the deferred one shows its attempt and its
	// error on one line.
	if !strings.Contains(list[1], "<carol@remote.test>") {
		t.Fatalf("queue list first line %q", list[1])
	}
	f := strings.Fields(list[2])
	if len(f) < 6 || f[0] != strconv.FormatInt(items[0].ID, 10) || f[1] != "<alice@example.test>" || f[3] != "1" ||
		!strings.HasSuffix(list[2], "  451 4.4.1 connection refused") {
		t.Fatalf("queue list line %q", list[2])
	}
	bobID := f[0]
	show := c.ok("", "queue", "show", bobID)
	for _, want := range []string{"tracking id:  " + id, "recipient:    <bob@remote.test>", "attempts:     1", "last error:   451 4.4.1 connection refused"} {
		if !strings.Contains(show, want) {
			t.Fatalf("queue show lacks %q:\n%s", want, show)
		}
	}
	// By tracking id: every waiting recipient of the message.
	show = c.ok("", "queue", "show", id)
	if !strings.Contains(show, "<bob@remote.test>") || !strings.Contains(show, "<carol@remote.test>") {
		t.Fatalf("queue show %s:\n%s", id, show)
	}
	if msg := c.fails("", "queue", "show", "999"); msg != "queue entry 999 does not exist" {
		t.Fatalf("queue show 999: %q", msg)
	}
	if msg := c.fails("", "queue", "show", tracking.NewID()); !strings.Contains(msg, "nothing waits in the queue") {
		t.Fatalf("queue show of an unknown tracking id: %q", msg)
	}
	c.fails("", "queue", "show", "x")
	c.fails("", "queue", "retry")
	if out := c.ok("", "queue", "retry", "--all"); !strings.HasPrefix(out, "2 recipient(s)") {
		t.Fatalf("retry --all: %q", out)
	}
	if out := c.ok("", "queue", "retry", bobID); !strings.HasPrefix(out, "1 recipient(s)") {
		t.Fatalf("retry: %q", out)
	}
	c.ok("", "queue", "drop", bobID)
	c.fails("", "queue", "drop", bobID)
	if list := lines(c.ok("", "queue", "list")); len(list) != 2 || !strings.Contains(list[1], "carol") {
		t.Fatalf("after drop: %q", list)
	}
	c.ok("", "queue", "drop", strings.Fields(lines(c.ok("", "queue", "list"))[1])[0])
	if out := c.ok("", "queue", "list"); out != "queue is empty\n" {
		t.Fatalf("queue list with nothing waiting: %q", out)
	}

	// trace by tracking id and by Message-ID (with or without brackets).
	for _, arg := range []string{id, "abc@example.test", "<abc@example.test>"} {
		out := c.ok("", "trace", arg)
		if !strings.HasPrefix(out, id+"\n") || !strings.Contains(out, "received") || !strings.Contains(out, "client_ip=192.0.2.1") ||
			!strings.Contains(out, "dropped") || !strings.Contains(out, "recipient=bob@remote.test") ||
			!strings.Contains(out, "rcpt=bob@remote.test,carol@remote.test ") || !strings.Contains(out, "size=1234\n") {
			t.Fatalf("trace %s:\n%s", arg, out)
		}
	}
	c.fails("", "trace", "nothing@example.test")
}
