// Package outbound_test runs two Yizhan instances (127.0.0.2 and
// 127.0.0.3, the same smtp port, [delivery] remote_port set to it) and an
// authoritative DNS server on loopback, and checks the outbound journey:
// MX lookup, relay, retries, bounces.
package outbound_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type pair struct {
	dns  *testenv.Zone
	a, b *testenv.Server // a: sender side (a.test), b: next hop (b.test)
}

const pw = "outbound test password"

func setup(t *testing.T, queueTOML string) *pair {
	t.Helper()
	return setupWith(t, "", queueTOML)
}

// setupWith also adds deliveryA to a's [delivery] table.
func setupWith(t *testing.T, deliveryA, queueTOML string) *pair {
	t.Helper()
	z := testenv.StartDNS(t)
	ns := z.Addr
	port := testenv.SharedPort(t, "127.0.0.2", "127.0.0.3")
	extra := fmt.Sprintf("[dns]\nnameserver = %q\n\n[delivery]\nremote_port = %d\n\n[queue]\n%s\n", ns, port, queueTOML)
	extraA := strings.Replace(extra, "[delivery]\n", "[delivery]\n"+strings.ReplaceAll(deliveryA, "PORT", strconv.Itoa(port)), 1)
	a := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.Submission, testenv.POP3S},
		Addrs:     map[string]string{testenv.SMTP: "127.0.0.2:" + strconv.Itoa(port), testenv.Submission: "127.0.0.2:0", testenv.POP3S: "127.0.0.2:0"},
		Hostname:  "mx.a.test", Extra: extraA,
	})
	b := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.POP3S},
		Addrs:     map[string]string{testenv.SMTP: "127.0.0.3:" + strconv.Itoa(port), testenv.POP3S: "127.0.0.3:0"},
		Hostname:  "mx.b.test", Extra: extra,
	})
	a.AddDomain(t, "a.test")
	a.AddUser(t, "alice@a.test", pw)
	b.AddDomain(t, "b.test")
	b.AddUser(t, "bob@b.test", pw)
	b.AddUser(t, "carol@b.test", pw)
	z.Set(t, "a.test. 60 IN MX 10 mx.a.test.", "mx.a.test. 60 IN A 127.0.0.2",
		"b.test. 60 IN MX 10 mx.b.test.", "mx.b.test. 60 IN A 127.0.0.3")
	return &pair{dns: z, a: a, b: b}
}

// expectBounce declares the "bounced" warnings srv logs for rcpts, which
// the test provokes on purpose (testenv fails a test on any other WARN).
func expectBounce(t *testing.T, srv *testenv.Server, rcpts ...string) {
	t.Helper()
	for _, r := range rcpts {
		srv.ExpectLog(t, `level=WARN msg=bounced .* rcpt=`+regexp.QuoteMeta(r)+` `)
	}
}

// submit sends a message as alice through a's submission port
// (STARTTLS, AUTH PLAIN) and returns the 250 text (with the tracking id).
func (p *pair) submit(t *testing.T, to []string, subject string) string {
	t.Helper()
	c, err := testenv.DialSubmission(p.a.Addr(t, testenv.Submission), "client.a.test", "alice@a.test", pw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "From: alice@a.test\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: " + subject + "\r\n\r\nHello over the wire.\r\n"
	text, err := c.Send("alice@a.test", to, []byte(msg))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	_ = c.Quit()
	return text
}

// submitRaw submits as alice with the given MAIL and RCPT lines (DSN
// parameters and all) and the message text.
func (p *pair) submitRaw(t *testing.T, mail string, rcpts []string, msg string) {
	t.Helper()
	c, err := testenv.DialSubmission(p.a.Addr(t, testenv.Submission), "client.a.test", "alice@a.test", pw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	steps := []func() error{
		func() error { _, err := c.Cmd(250, "%s", mail); return err },
	}
	for _, r := range rcpts {
		steps = append(steps, func() error { _, err := c.Cmd(250, "%s", r); return err })
	}
	steps = append(steps,
		func() error { _, err := c.Cmd(354, "DATA"); return err },
		func() error { _, err := c.Cmd(250, "%s\r\n.", msg); return err })
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
}

// mailbox returns the messages in user's INBOX on s.
func mailbox(t *testing.T, s *testenv.Server, user string) [][]byte {
	t.Helper()
	c, err := testenv.DialPOP3S(s.Addr(t, testenv.POP3S))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pw); err != nil {
		t.Fatal(err)
	}
	n, _, err := c.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := 1; i <= n; i++ {
		m, err := c.Retr(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	_ = c.Quit()
	return out
}

// guard bounds every wait for the queue: it is not a performance
// expectation (retries are scheduled every second in these tests).
const guard = 60 * time.Second

// await polls user's INBOX on s until a message containing want arrives.
func await(t *testing.T, s *testenv.Server, user, want string) []byte {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		for _, m := range mailbox(t, s, user) {
			if strings.Contains(string(m), want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %q in %s's INBOX after %v; queue:\n%s", want, user, guard, s.MustAdmin(t, "", "queue", "list"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func trackingID(t *testing.T, reply string) string {
	t.Helper()
	i := strings.Index(reply, "id=")
	if i < 0 {
		t.Fatalf("no id in %q", reply)
	}
	return strings.Fields(reply[i+3:])[0]
}

// TestRelayViaMX: alice submits to two recipients at b.test; a finds
// b.test's MX, hands both over in one transaction, and the trace shows it.
func TestRelayViaMX(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	reply := p.submit(t, []string{"bob@b.test", "carol@b.test"}, "via MX")
	id := trackingID(t, reply)
	mb := await(t, p.b, "bob@b.test", "Subject: via MX")
	mc := await(t, p.b, "carol@b.test", "Subject: via MX")
	// One transaction: b gave both copies the same tracking id.
	idB := receivedID(t, mb, "mx.b.test")
	if idC := receivedID(t, mc, "mx.b.test"); idB != idC {
		t.Errorf("two transactions at the next hop: ids %s and %s", idB, idC)
	}
	// Both hops' Received fields are there, a's below b's.
	if !strings.Contains(string(mb), "by mx.a.test") {
		t.Errorf("no Received field of the first hop:\n%s", mb)
	}
	awaitQueueEmpty(t, p.a)
	trace := p.a.MustAdmin(t, "", "trace", id)
	for _, want := range []string{"received", "routed", "queued", "attempt", "relayed", "host=mx.b.test", "recipient=bob@b.test", "recipient=carol@b.test", "tls=\"TLS 1.3"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
}

// receivedID returns the id= of the Received field added by host.
func receivedID(t *testing.T, msg []byte, host string) string {
	t.Helper()
	for _, v := range testenv.Headers(msg, "Received") {
		if strings.Contains(v, "by "+host) {
			if i := strings.Index(v, "id "); i >= 0 {
				return strings.Fields(v[i+3:])[0]
			}
		}
	}
	t.Fatalf("no Received field by %s in:\n%s", host, msg)
	return ""
}

func awaitQueueEmpty(t *testing.T, s *testenv.Server) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for strings.TrimSpace(s.MustAdmin(t, "", "queue", "list")) != "queue is empty" {
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty after %v:\n%s", guard, s.MustAdmin(t, "", "queue", "list"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestImplicitMX: a domain without MX records is reached at its address;
// the connection leaves from [delivery] source_ip.
func TestImplicitMX(t *testing.T) {
	p := setupWith(t, "source_ip = \"127.0.0.2\"\n", `retry_schedule = ["1s"]`)
	p.b.AddDomain(t, "imp.test")
	p.b.AddUser(t, "dave@imp.test", pw)
	p.dns.Set(t, "imp.test. 60 IN A 127.0.0.3")
	p.submit(t, []string{"dave@imp.test"}, "implicit")
	m := await(t, p.b, "dave@imp.test", "Subject: implicit")
	if v := strings.Join(testenv.Headers(m, "Received"), "\n"); !strings.Contains(v, "[127.0.0.2]") {
		t.Errorf("the next hop did not see the connection come from source_ip 127.0.0.2:\n%s", v)
	}
}

// TestBounces: what cannot be delivered comes back to alice as a
// multipart/report saying why: an unknown user at the next hop (550), a
// domain that does not exist, a domain with a null MX.
func TestBounces(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	expectBounce(t, p.a, "nobody@b.test", "x@nowhere.test", "x@null.test")
	p.dns.NXDomain("nowhere.test")
	p.dns.Set(t, "null.test. 60 IN MX 0 .")
	p.submit(t, []string{"nobody@b.test"}, "to nobody")
	p.submit(t, []string{"x@nowhere.test"}, "to nowhere")
	p.submit(t, []string{"x@null.test"}, "to null")
	for _, c := range []struct{ subject, status, extra string }{
		{"to nobody", "Status: 5.1.1", "Diagnostic-Code: smtp; 550"},
		{"to nowhere", "Status: 5.1.2", "nowhere.test does not exist"},
		{"to null", "Status: 5.1.10", "null.test accepts no mail"},
	} {
		m := string(await(t, p.a, "alice@a.test", "Subject: "+c.subject))
		if !strings.Contains(m, "report-type=delivery-status") || !strings.Contains(m, c.status) || !strings.Contains(m, c.extra) ||
			!strings.Contains(m, "Return-Path: <>") {
			t.Errorf("bounce for %q:\n%s", c.subject, m)
		}
	}
	awaitQueueEmpty(t, p.a)
	awaitQueueEmpty(t, p.b)
}

// TestRetryUntilDelivered: the next hop is down; the recipient waits in the
// queue with the error, and is delivered once it is back.
func TestRetryUntilDelivered(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	p.b.AddDomain(t, "down.test")
	p.b.AddUser(t, "erin@down.test", pw)
	p.dns.Set(t, "down.test. 60 IN MX 10 mx.down.test.", "mx.down.test. 60 IN A 127.0.0.9") // nothing listens there
	p.submit(t, []string{"erin@down.test"}, "after a while")
	deadline := time.Now().Add(guard)
	for {
		l := p.a.MustAdmin(t, "", "queue", "list")
		// Under the header: ID SENDER RECIPIENT ATTEMPTS NEXT-ATTEMPT ERROR...
		if ls := strings.Split(strings.TrimSpace(l), "\n"); len(ls) == 2 {
			if f := strings.Fields(ls[1]); len(f) > 5 && f[3] != "0" {
				break // one attempt failed and its error is shown
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded:\n%s", l)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.dns.Clear("mx.down.test", "A")
	p.dns.Set(t, "mx.down.test. 60 IN A 127.0.0.3")
	await(t, p.b, "erin@down.test", "Subject: after a while")
	awaitQueueEmpty(t, p.a)
}

// TestDelayThenExpiry: a destination that never answers earns alice a
// delay notification once delay_warning_after has passed, then a failure
// notification once give_up_after has, and the queue lets go.
func TestDelayThenExpiry(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`+"\n"+`delay_warning_after = "2s"`+"\n"+`give_up_after = "5s"`)
	expectBounce(t, p.a, "x@dead.test")
	p.dns.Set(t, "dead.test. 60 IN MX 10 mx.dead.test.", "mx.dead.test. 60 IN A 127.0.0.9")
	p.submit(t, []string{"x@dead.test"}, "never arrives")
	delay := string(await(t, p.a, "alice@a.test", "Action: delayed"))
	if !strings.Contains(delay, "Subject: never arrives") || !strings.Contains(delay, "Will-Retry-Until:") {
		t.Errorf("delay notification:\n%s", delay)
	}
	fail := string(await(t, p.a, "alice@a.test", "Action: failed"))
	if !strings.Contains(fail, "Status: 4.4.") || !strings.Contains(fail, "x@dead.test") {
		t.Errorf("failure notification:\n%s", fail)
	}
	awaitQueueEmpty(t, p.a)
	// Exactly one of each.
	var delays, fails int
	for _, m := range mailbox(t, p.a, "alice@a.test") {
		delays += strings.Count(string(m), "Action: delayed")
		fails += strings.Count(string(m), "Action: failed")
	}
	if delays != 1 || fails != 1 {
		t.Errorf("%d delay and %d failure notifications, want one each", delays, fails)
	}
}

// TestQueueSurvivesKill: a queued message survives kill -9 of the sending
// server and is delivered after the restart.
func TestQueueSurvivesKill(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	p.b.AddDomain(t, "later.test")
	p.b.AddUser(t, "fay@later.test", pw)
	p.dns.Set(t, "later.test. 60 IN MX 10 mx.later.test.", "mx.later.test. 60 IN A 127.0.0.9")
	p.submit(t, []string{"fay@later.test"}, "through a crash")
	if l := p.a.MustAdmin(t, "", "queue", "list"); !strings.Contains(l, "<fay@later.test>") {
		t.Fatalf("not queued:\n%s", l)
	}
	p.a.Kill(t)
	p.dns.Clear("mx.later.test", "A")
	p.dns.Set(t, "mx.later.test. 60 IN A 127.0.0.3")
	p.a.Restart(t)
	m := await(t, p.b, "fay@later.test", "Subject: through a crash")
	awaitQueueEmpty(t, p.a)
	if n := strings.Count(string(mailboxJoined(t, p.b, "fay@later.test")), "Subject: through a crash"); n != 1 {
		t.Errorf("%d copies delivered, want 1:\n%s", n, m)
	}
}

func mailboxJoined(t *testing.T, s *testenv.Server, user string) []byte {
	t.Helper()
	var all []byte
	for _, m := range mailbox(t, s, user) {
		all = append(all, m...)
	}
	return all
}

// TestBounceHonoursDSNParameters: RET=HDRS returns only the header, ENVID
// and ORCPT come back in the report, NOTIFY=NEVER silences a recipient.
func TestBounceHonoursDSNParameters(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	expectBounce(t, p.a, "nobody@b.test")
	p.submitRaw(t, "MAIL FROM:<alice@a.test> RET=HDRS ENVID=env+2B42",
		[]string{"RCPT TO:<nobody@b.test> NOTIFY=FAILURE ORCPT=rfc822;nobody@b.test", "RCPT TO:<ghost@b.test> NOTIFY=NEVER"},
		"From: alice@a.test\r\nSubject: with dsn params\r\n\r\nSECRET BODY")
	m := string(await(t, p.a, "alice@a.test", "Original-Envelope-Id: env+42"))
	for _, want := range []string{"Original-Recipient: rfc822; nobody@b.test", "text/rfc822-headers", "Subject: with dsn params", "Final-Recipient: rfc822; nobody@b.test"} {
		if !strings.Contains(m, want) {
			t.Errorf("bounce lacks %q:\n%s", want, m)
		}
	}
	if strings.Contains(m, "SECRET BODY") || strings.Contains(m, "ghost@b.test") {
		t.Errorf("bounce returned the body (RET=HDRS) or reported the NOTIFY=NEVER recipient:\n%s", m)
	}
	awaitQueueEmpty(t, p.a)
}

// TestForwardingWithSRS: mail from a stranger to a local alias that
// forwards elsewhere leaves with an SRS sender of ours; a bounce to that
// sender finds its way back to the stranger.
func TestForwardingWithSRS(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	expectBounce(t, p.a, "nobody@b.test")
	p.a.MustAdmin(t, "", "alias", "add", "fwd@a.test", "bob@b.test")
	p.a.MustAdmin(t, "", "alias", "add", "fwd2@a.test", "nobody@b.test")
	// The stranger's own domain is served by b, so its bounce can arrive.
	p.b.AddDomain(t, "ext.test")
	p.b.AddUser(t, "someone@ext.test", pw)
	p.dns.Set(t, "ext.test. 60 IN MX 10 mx.b.test.")

	send := func(to, subject string) {
		t.Helper()
		c, err := testenv.DialSMTP(p.a.Addr(t, testenv.SMTP))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("mx.ext.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send("someone@ext.test", []string{to}, []byte("From: someone@ext.test\r\nSubject: "+subject+"\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.Quit()
	}
	send("fwd@a.test", "forwarded")
	m := await(t, p.b, "bob@b.test", "Subject: forwarded")
	rp, _ := testenv.Header(m, "Return-Path")
	if !strings.HasPrefix(strings.ToUpper(rp), "<SRS0=") || !strings.HasSuffix(rp, "=ext.test=someone@a.test>") {
		t.Errorf("Return-Path of the forwarded copy = %q, want an SRS0 address at a.test", rp)
	}
	// The second goes to a user b does not have: a's bounce goes to the
	// SRS address, which a turns back into someone@ext.test.
	send("fwd2@a.test", "forwarded into a wall")
	bounce := string(await(t, p.b, "someone@ext.test", "Subject: forwarded into a wall"))
	if !strings.Contains(bounce, "Status: 5.1.1") || !strings.Contains(bounce, "Return-Path: <>") {
		t.Errorf("bounce:\n%s", bounce)
	}
	// A forged SRS address is refused.
	c, err := testenv.DialSMTP(p.a.Addr(t, testenv.SMTP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.evil.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cmd(250, "MAIL FROM:<>"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cmd(550, "RCPT TO:<SRS0=AAAAAA=AA=victim.test=x@a.test>"); err != nil {
		t.Errorf("forged SRS address: %v", err)
	}
}

// TestSmarthost: with a smarthost every message goes there, whatever the
// recipient's domain and its DNS, over one connection reused for
// consecutive messages.
func TestSmarthost(t *testing.T) {
	p := setupWith(t, "smarthost = \"127.0.0.3:PORT\"\nsmarthost_tls = \"none\"\n", `retry_schedule = ["1s"]`)
	p.b.AddDomain(t, "nodns.test")
	p.b.AddUser(t, "gil@nodns.test", pw) // nodns.test has no DNS records at all
	p.submit(t, []string{"gil@nodns.test"}, "via the smarthost 1")
	await(t, p.b, "gil@nodns.test", "Subject: via the smarthost 1")
	p.submit(t, []string{"gil@nodns.test"}, "via the smarthost 2")
	await(t, p.b, "gil@nodns.test", "Subject: via the smarthost 2")
	// The second message reused the first one's connection: b saw one
	// SMTP session from a.
	if n := strings.Count(readLog(t, p.b), "listener=smtp"); n == 0 {
		t.Fatal("no smtp sessions in b's log")
	}
	sessions := map[string]bool{}
	for _, l := range strings.Split(readLog(t, p.b), "\n") {
		if strings.Contains(l, `msg="message accepted"`) && strings.Contains(l, "listener=smtp") {
			for _, f := range strings.Fields(l) {
				if strings.HasPrefix(f, "session=") {
					sessions[f] = true
				}
			}
		}
	}
	if len(sessions) != 1 {
		t.Errorf("b accepted the two messages in %d sessions, want 1 (connection reuse)", len(sessions))
	}
}

func readLog(t *testing.T, s *testenv.Server) string {
	t.Helper()
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSuccessNotification: NOTIFY=SUCCESS travels with the message to the
// next hop, which delivers it and reports back to the sender.
func TestSuccessNotification(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	p.submitRaw(t, "MAIL FROM:<alice@a.test> ENVID=track-me", []string{"RCPT TO:<bob@b.test> NOTIFY=SUCCESS,FAILURE"},
		"From: alice@a.test\r\nSubject: tell me it arrived\r\n\r\nbody")
	await(t, p.b, "bob@b.test", "Subject: tell me it arrived")
	m := string(await(t, p.a, "alice@a.test", "Action: delivered"))
	for _, want := range []string{"Reporting-MTA: dns; mx.b.test", "Original-Envelope-Id: track-me", "Final-Recipient: rfc822; bob@b.test", "Subject: tell me it arrived"} {
		if !strings.Contains(m, want) {
			t.Errorf("success notification lacks %q:\n%s", want, m)
		}
	}
}

// TestIPv6NextHop: a domain whose mail server has only an IPv6 address
// (AAAA) is reached over IPv6.
func TestIPv6NextHop(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	port := strings.TrimPrefix(p.a.Addr(t, testenv.SMTP), "127.0.0.2:")
	l, err := net.Listen("tcp", "[::1]:"+port)
	if err != nil {
		t.Skipf("cannot listen on [::1]:%s: %v", port, err)
	}
	l.Close()
	c := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.POP3S},
		Addrs:     map[string]string{testenv.SMTP: "[::1]:" + port, testenv.POP3S: "127.0.0.1:0"},
		Hostname:  "mx.v6.test",
	})
	c.AddDomain(t, "v6.test")
	c.AddUser(t, "hal@v6.test", pw)
	p.dns.Set(t, "v6.test. 60 IN MX 10 mx.v6.test.", "mx.v6.test. 60 IN AAAA ::1")
	id := trackingID(t, p.submit(t, []string{"hal@v6.test"}, "over IPv6"))
	m := string(await(t, c, "hal@v6.test", "Subject: over IPv6"))
	if !strings.Contains(m, "[::1]") {
		t.Errorf("the next hop's Received field does not show an IPv6 client:\n%s", m)
	}
	awaitQueueEmpty(t, p.a)
	if trace := p.a.MustAdmin(t, "", "trace", id); !strings.Contains(trace, "addr=[::1]:"+port) {
		t.Errorf("trace does not show the IPv6 address:\n%s", trace)
	}
}

// TestNextMXOnFailure: when the preferred MX does not answer, the next
// one by preference gets the message at the same attempt.
func TestNextMXOnFailure(t *testing.T) {
	p := setup(t, `retry_schedule = ["1h"]`) // a retry would be too late: the fallback must happen now
	p.b.AddDomain(t, "two.test")
	p.b.AddUser(t, "ivy@two.test", pw)
	p.dns.Set(t, "two.test. 60 IN MX 10 mx1.two.test.", "two.test. 60 IN MX 20 mx2.two.test.",
		"mx1.two.test. 60 IN A 127.0.0.9", "mx2.two.test. 60 IN A 127.0.0.3")
	id := trackingID(t, p.submit(t, []string{"ivy@two.test"}, "second choice"))
	await(t, p.b, "ivy@two.test", "Subject: second choice")
	awaitQueueEmpty(t, p.a)
	trace := p.a.MustAdmin(t, "", "trace", id)
	if !strings.Contains(trace, "host=mx1.two.test") || !strings.Contains(trace, "relayed") || !strings.Contains(trace, "host=mx2.two.test") {
		t.Errorf("trace does not show the failed first MX and the relay through the second:\n%s", trace)
	}
	if strings.Contains(trace, "deferred") {
		t.Errorf("deferred although the second MX was up:\n%s", trace)
	}
}

// fakeMTA is a minimal SMTP server that holds each message for a moment
// and records how many sessions it had at once.
type fakeMTA struct {
	mu               sync.Mutex
	active, max, got int
	rcptReply        string // if set, the answer to every RCPT
}

func (f *fakeMTA) serve(t *testing.T, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go f.session(c)
	}
}

func (f *fakeMTA) session(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.active++
	f.max = max(f.max, f.active)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.active--; f.mu.Unlock() }()
	_ = c.SetDeadline(time.Now().Add(guard))
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 fake ESMTP\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"):
			fmt.Fprint(c, "250 fake\r\n")
		case strings.HasPrefix(cmd, "DATA"):
			fmt.Fprint(c, "354 go on\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			time.Sleep(200 * time.Millisecond) // keep the session busy so others overlap
			f.mu.Lock()
			f.got++
			f.mu.Unlock()
			fmt.Fprint(c, "250 2.0.0 queued\r\n")
		case strings.HasPrefix(cmd, "QUIT"):
			fmt.Fprint(c, "221 bye\r\n")
			return
		case strings.HasPrefix(cmd, "RCPT") && f.rcptReply != "":
			fmt.Fprint(c, f.rcptReply+"\r\n")
		default: // MAIL, RCPT, RSET, NOOP
			fmt.Fprint(c, "250 2.0.0 ok\r\n")
		}
	}
}

// TestPerHostConnectionLimit: with max_connections_per_host = 2, six
// messages due at once reach one host over at most two connections.
func TestPerHostConnectionLimit(t *testing.T) {
	p := setupWith(t, "max_connections_per_host = 2\n", `retry_schedule = ["1s"]`)
	port := strings.TrimPrefix(p.a.Addr(t, testenv.SMTP), "127.0.0.2:")
	l, err := net.Listen("tcp", "127.0.0.5:"+port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.5:%s: %v", port, err)
	}
	defer l.Close()
	f := &fakeMTA{}
	go f.serve(t, l)
	p.dns.Set(t, "lim.test. 60 IN MX 10 mx.lim.test.", "mx.lim.test. 60 IN A 127.0.0.5")
	for i := range 6 {
		p.submit(t, []string{fmt.Sprintf("user%d@lim.test", i)}, fmt.Sprintf("limited %d", i))
	}
	deadline := time.Now().Add(guard)
	for {
		f.mu.Lock()
		got, mx := f.got, f.max
		f.mu.Unlock()
		if got >= 6 {
			if mx > 2 {
				t.Errorf("%d sessions at once to one host, limit 2", mx)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake MTA got %d of 6 messages", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	awaitQueueEmpty(t, p.a)
}

// TestSMTPUTF8NotOffered: a message that needs SMTPUTF8 (an internationalised
// address) to a server that does not offer it comes back with 5.6.7
// (RFC 6531 §3.4) instead of being sent.
func TestSMTPUTF8NotOffered(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`)
	expectBounce(t, p.a, "用户@old.test")
	port := strings.TrimPrefix(p.a.Addr(t, testenv.SMTP), "127.0.0.2:")
	l, err := net.Listen("tcp", "127.0.0.5:"+port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.5:%s: %v", port, err)
	}
	defer l.Close()
	f := &fakeMTA{} // offers no extensions at all
	go f.serve(t, l)
	p.dns.Set(t, "old.test. 60 IN MX 10 mx.old.test.", "mx.old.test. 60 IN A 127.0.0.5")
	p.submitRaw(t, "MAIL FROM:<alice@a.test> SMTPUTF8", []string{"RCPT TO:<用户@old.test>"},
		"From: alice@a.test\r\nSubject: needs utf8\r\n\r\nbody")
	m := string(await(t, p.a, "alice@a.test", "Status: 5.6.7"))
	if !strings.Contains(m, "SMTPUTF8") {
		t.Errorf("bounce does not say why:\n%s", m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got != 0 {
		t.Errorf("the message was sent to a server without SMTPUTF8")
	}
}

// TestNextMXOn4xx: a temporary refusal of the recipient by the preferred
// MX sends the message to the next one at the same attempt.
func TestNextMXOn4xx(t *testing.T) {
	p := setup(t, `retry_schedule = ["1h"]`)
	port := strings.TrimPrefix(p.a.Addr(t, testenv.SMTP), "127.0.0.2:")
	l, err := net.Listen("tcp", "127.0.0.5:"+port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.5:%s: %v", port, err)
	}
	defer l.Close()
	go (&fakeMTA{rcptReply: "451 4.3.0 try again later"}).serve(t, l)
	p.b.AddDomain(t, "busy.test")
	p.b.AddUser(t, "jo@busy.test", pw)
	p.dns.Set(t, "busy.test. 60 IN MX 10 mx1.busy.test.", "busy.test. 60 IN MX 20 mx2.busy.test.",
		"mx1.busy.test. 60 IN A 127.0.0.5", "mx2.busy.test. 60 IN A 127.0.0.3")
	id := trackingID(t, p.submit(t, []string{"jo@busy.test"}, "busy first"))
	await(t, p.b, "jo@busy.test", "Subject: busy first")
	awaitQueueEmpty(t, p.a)
	if trace := p.a.MustAdmin(t, "", "trace", id); strings.Contains(trace, "deferred") || !strings.Contains(trace, "host=mx1.busy.test") {
		t.Errorf("want an attempt at mx1 and the relay through mx2 without deferral:\n%s", trace)
	}
}

// TestNoticesInConfiguredLanguage: with [dsn] language = "zh-TW", the
// failure, delay and success notices that the queue and local delivery
// produce speak Traditional Chinese (with the English text after it),
// while the delivery-status part stays as RFC 3464 has it.
func TestNoticesInConfiguredLanguage(t *testing.T) {
	p := setup(t, `retry_schedule = ["1s"]`+"\n"+`delay_warning_after = "1s"`+"\n\n[dsn]\nlanguage = \"zh-TW\"")
	expectBounce(t, p.a, "x@nowhere.test", "nobody@b.test")
	p.dns.NXDomain("nowhere.test")
	p.dns.Set(t, "dead.test. 60 IN MX 10 mx.dead.test.", "mx.dead.test. 60 IN A 127.0.0.9") // nothing listens there
	p.submit(t, []string{"x@nowhere.test"}, "to nowhere")
	p.submit(t, []string{"nobody@b.test"}, "to nobody")
	p.submit(t, []string{"x@dead.test"}, "to the dead")
	p.submitRaw(t, "MAIL FROM:<alice@a.test>", []string{"RCPT TO:<bob@b.test> NOTIFY=SUCCESS,FAILURE"},
		"From: alice@a.test\r\nSubject: to bob\r\n\r\nbody")

	for _, c := range []struct {
		subject, action, wantSubject string
		want                         []string // in the decoded text part
	}{
		{"to nowhere", "failed", "郵件無法送達", []string{"nowhere.test 這個網域不存在", "很抱歉", "nowhere.test does not exist"}},
		{"to nobody", "failed", "郵件無法送達", []string{"收件端伺服器表示這個信箱不存在", "收件端伺服器（mx.b.test）的回覆：", "550 5.1.1"}},
		{"to the dead", "delayed", "郵件傳送延遲通知", []string{"無法連線到 dead.test 的郵件伺服器", "您不需要重新寄出這封郵件"}},
		{"to bob", "delivered", "郵件傳送狀態通知", []string{"您的郵件已送達收件者的信箱", "mx.b.test"}},
	} {
		raw := await(t, p.a, "alice@a.test", "Subject: "+c.subject)
		if !strings.Contains(string(raw), "Action: "+c.action) {
			t.Errorf("%s: notice without Action: %s:\n%s", c.subject, c.action, raw)
			continue
		}
		subject, lang, text := noticeText(t, raw)
		if !strings.HasPrefix(subject, c.wantSubject) {
			t.Errorf("%s: Subject = %q, want it to start with %q", c.subject, subject, c.wantSubject)
		}
		if lang != "zh-TW, en" {
			t.Errorf("%s: text part Content-Language = %q, want \"zh-TW, en\"", c.subject, lang)
		}
		// Chinese lines break between any two characters, English ones at
		// spaces: compare without the white space.
		flat := strings.Join(strings.Fields(text), "")
		for _, w := range c.want {
			if !strings.Contains(flat, strings.Join(strings.Fields(w), "")) {
				t.Errorf("%s: text part lacks %q:\n%s", c.subject, w, text)
			}
		}
	}
}

// noticeText parses a delivery status notification as a mail client
// would and returns its decoded Subject, and the Content-Language and the
// decoded text of its first (human-readable) part.
func noticeText(t *testing.T, raw []byte) (subject, lang, text string) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse notice: %v\n%s", err, raw)
	}
	subject, err = e.Header.Text("Subject")
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		t.Fatalf("notice is not multipart:\n%s", raw)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatalf("first part: %v", err)
	}
	if mt, params, _ := p.Header.ContentType(); mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("first part is %s %v, want text/plain; charset=utf-8", mt, params)
	}
	body, err := io.ReadAll(p.Body)
	if err != nil {
		t.Fatalf("read first part: %v", err)
	}
	return subject, p.Header.Get("Content-Language"), string(body)
}
