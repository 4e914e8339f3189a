package smtpserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/yizhan-mail/yizhan/internal/connlimit"
)

func plainResp(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const simpleMsg = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"

// sendData runs MAIL/RCPT/DATA for body (already dot-stuffed, without the
// final ".\r\n") and returns the final reply line.
func (c *rawClient) sendData(from, to, body, want string) string {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", "250 2.1.0")
	c.cmd("RCPT TO:<"+to+">", "250 2.1.5")
	c.cmd("DATA", "354 ")
	c.send(body + ".\r\n")
	return c.expect(want)
}

func TestGreetingAndEHLO(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 12345})
	c := ts.dialGreeted(t)
	lines := func() []string { c.send("EHLO client.example.test\r\n"); return c.reply() }()
	want := []string{"250-" + testHost + " Hello client.example.test", "250-PIPELINING", "250-8BITMIME", "250-SMTPUTF8",
		"250-SIZE 12345", "250-ENHANCEDSTATUSCODES", "250-DSN", "250-STARTTLS", "250 CHUNKING"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("EHLO reply:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	c.cmd("HELO client.example.test", "250 "+testHost)
	c.cmd("EHLO", "501 5.5.4")
	c.cmd("HELO", "501 5.5.4")
	c.cmd("EHLO bad..name", "501 5.5.4")
	c.cmd("EHLO bad_but!not", "501 5.5.4")
	c.cmd("EHLO [127.0.0.1]", "250 ")
	c.cmd("EHLO [IPv6:::1]", "250 ")
	c.cmd("EHLO [300.1.1.1]", "501 5.5.4")
	c.cmd("EHLO 例子.台灣", "250 ")
	// Inbound never offers or accepts AUTH.
	c.cmd("STARTTLS", "220 2.0.0")
	c.startTLS(ts.client)
	c.send("EHLO client.example.test\r\n")
	for _, l := range c.reply() {
		if strings.Contains(l, "AUTH") || strings.Contains(l, "STARTTLS") {
			t.Errorf("inbound EHLO after TLS offers %q", l)
		}
	}
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "502 5.5.1")
	c.cmd("STARTTLS", "503 5.5.1")
	c.cmd("QUIT", "221 2.0.0")
	c.expectClosed()
}

func TestSimpleCommands(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("NOOP", "250 2.0.0")
	c.cmd("RSET", "250 2.0.0")
	c.cmd("HELP", "214 2.0.0")
	c.cmd("MAIL FROM:<a@example.test>", "503 5.5.1") // before EHLO
	c.cmd("VRFY bob", "503 5.5.1")
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("VRFY bob", "252 2.5.0")
	c.cmd("VRFY", "501 5.5.4")
	c.cmd("EXPN list", "502 5.5.1")
	c.cmd("FOO", "500 5.5.1")
	c.cmd("RSET x", "501 5.5.4")
	c.cmd("QUIT now", "501 5.5.4")
	c.cmd("STARTTLS x", "501 5.5.4")
	c.cmd("DATA", "503 5.5.1")
	c.cmd("RCPT TO:<bob@example.test>", "503 5.5.1")
	c.cmd("MAIL FROM:<>", "250 2.1.0")
	c.cmd("MAIL FROM:<>", "503 5.5.1")
	c.cmd("DATA", "503 5.5.1") // no recipient yet
	c.cmd("RSET", "250 2.0.0")
	c.cmd("RCPT TO:<bob@example.test>", "503 5.5.1")
	c.cmd("quit", "221 2.0.0")
	c.expectClosed()
}

func TestMailRcptReplies(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1000, MaxRecipients: 3, MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test> SIZE=1001", "552 5.3.4")
	c.cmd("MAIL FROM:<a@example.test> SIZE=x", "501 5.5.4")
	c.cmd("MAIL FROM:<a@example.test> BODY=BINARYMIME", "501 5.5.4")
	c.cmd("MAIL FROM:<a@example.test> FOO=bar", "555 5.5.4")
	c.cmd("MAIL FROM:<a@example.test> AUTH=<>", "555 5.5.4") // no AUTH on inbound
	c.cmd("MAIL FROM:<not an address>", "501 5.1.7")
	c.cmd("MAIL FROM:a@example.test", "501 5.5.4")
	c.cmd("MAIL TO:<a@example.test>", "501 5.5.4")
	c.cmd("MAIL FROM:<a@example.test> SIZE=1000 BODY=8BITMIME", "250 2.1.0")
	c.cmd("RCPT TO:<bad address>", "501 5.1.3")
	c.cmd("RCPT TO:<@relay.test,@other.test:bob@example.test>", "550 5.7.1")
	c.cmd("RCPT TO:<bob%other.test@example.test>", "550 5.7.1")
	// Port 25 takes mail only for local domains, and a literal never is
	// one: to a stranger, a literal is a relay attempt (RFC 5321 §3.6.2).
	c.cmd("RCPT TO:<bob@[192.0.2.1]>", "550 5.7.1 Relaying denied")
	c.cmd("RCPT TO:<bob@[IPv6:2001:db8::1]>", "550 5.7.1 Relaying denied")
	c.cmd("RCPT TO:<bob@example.test> FOO=bar", "555 5.5.4")
	c.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER,SUCCESS", "501 5.5.4")
	c.cmd("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,SUCCESS", "501 5.5.4")
	c.cmd("RCPT TO:<bob@example.test> ORCPT=bob@example.test", "501 5.5.4") // no addr-type
	c.cmd("RCPT TO:<bob@example.test> ORCPT=rfc822;bob+2x", "501 5.5.4")    // bad xtext
	c.cmd("RCPT TO:<nobody@example.test>", "550 5.1.1")
	c.cmd("RCPT TO:<relay@other.test>", "554 5.7.1")
	c.cmd("RCPT TO:<over@example.test>", "452 4.2.2")
	c.cmd("RCPT TO:<later@example.test>", "451 4.3.2")
	c.cmd("RCPT TO:<bob@example.test>", "250 2.1.5")
	c.cmd("RCPT TO: <Postmaster>", "250 2.1.5")
	c.cmd("RCPT TO:<carol@example.test>", "250 2.1.5")
	c.cmd("RCPT TO:<x@many.test>", "452 4.5.3")
	c.cmd("DATA", "354 ")
	c.send(simpleMsg + ".\r\n")
	c.expect("250 2.0.0 OK id=")
	d := ts.backend.deliveries()
	if len(d) != 1 || strings.Join(d[0].env.Recipients, ",") != "bob@example.test,postmaster,carol@example.test" {
		t.Fatalf("deliveries %+v", d)
	}
	found := false
	for _, r := range ts.backend.checked {
		found = found || r == "postmaster"
	}
	if !found {
		t.Errorf("postmaster not passed to CheckRecipient: %q", ts.backend.checked)
	}
}

func TestDeliveryEnvelope(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	body := "From: a@example.test\r\nSubject: dots\r\n\r\n..leading dot\r\n.\r\n..\r\nend\r\n"
	line := c.sendData("a@example.test", "bob@example.test", body, "250 2.0.0 OK id=")
	id := strings.TrimPrefix(line, "250 2.0.0 OK id=")
	d := ts.backend.deliveries()
	if len(d) != 1 {
		t.Fatalf("%d deliveries", len(d))
	}
	env := d[0].env
	wantData := "From: a@example.test\r\nSubject: dots\r\n\r\n.leading dot\r\n"
	if d[0].data != wantData {
		// The lone "." line ended the data.
		t.Errorf("data %q, want %q", d[0].data, wantData)
	}
	if env.TrackingID != id || env.From != "a@example.test" || env.Size != int64(len(wantData)) ||
		env.Session.Helo != "client.example.test" || env.Arrived.IsZero() || env.SMTPUTF8 {
		t.Errorf("envelope %+v", env)
	}
	re := regexp.MustCompile(`^Received: from client\.example\.test \(\[127\.0\.0\.1\]\) by mx\.example\.test \(Yizhan\) with ESMTP id ` + id + ` for <bob@example\.test>;\s+\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n$`)
	if !re.MatchString(strings.ReplaceAll(env.Received, "\r\n\t", " ")) {
		t.Errorf("Received %q", env.Received)
	}
	// The client pipelined ".." and "end": they are commands now.
	c.expect("500 5.5.1")
	c.expect("500 5.5.1")
	c.expect("500 5.5.1") // and the final "." sendData added
	// A new transaction on the same connection.
	c.sendData("", "bob@example.test", simpleMsg, "250 2.0.0 OK id=")
	if d := ts.backend.deliveries(); len(d) != 2 || d[1].env.From != "" || d[1].env.MessageID != "" {
		t.Errorf("second delivery %+v", d[1].env)
	}
}

func TestBuildReceived(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	sess := &Session{Helo: "client.example.test", TLS: &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256},
		AuthAccount: "alice@example.test"}
	sess.RemoteIP = mustAddr("192.0.2.7")
	env := &Envelope{Session: sess, TrackingID: "abcdefghijklmnopqrst", Recipients: []string{"bob@example.test"}}
	got := buildReceived(env, true, "mx.example.test", now)
	want := "Received: from client.example.test ([192.0.2.7]) by mx.example.test (Yizhan)\r\n" +
		"\twith ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256) (authenticated as\r\n" +
		"\talice@example.test) id abcdefghijklmnopqrst for <bob@example.test>; Tue, 04\r\n" +
		"\tMar 2025 05:06:07 +0100\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line too long: %q", l)
		}
	}
	env.SMTPUTF8 = true
	env.Recipients = append(env.Recipients, "carol@example.test")
	got = buildReceived(env, true, "mx.example.test", now)
	if !strings.Contains(got, "with UTF8SMTPSA") || strings.Contains(got, " for ") {
		t.Errorf("got %q", got)
	}
	sess.TLS, sess.AuthAccount = nil, ""
	if got = buildReceived(env, false, "h", now); !strings.Contains(got, "with SMTP id") {
		t.Errorf("got %q", got)
	}
}

func TestSmuggling(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	for _, tc := range []struct{ name, body string }{
		{"bare LF", "Subject: x\r\n\r\nline\nline\r\n"},
		{"bare CR", "Subject: x\r\n\r\nline\rline\r\n"},
		{"LF dot LF", "Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n"},
		{"CRLF dot LF", "Subject: x\r\n\r\nbody\r\n.\nRSET\r\n"},
		{"LF dot CRLF", "Subject: x\r\n\r\nbody\n.\r\nRSET\r\n"},
		{"CR dot CR", "Subject: x\r\n\r\nbody\r.\rRSET\r\n"},
		{"bare LF in header", "Subject: x\n\r\nbody\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendData("a@example.test", "bob@example.test", tc.body, "550 5.5.2 bare LF or CR in message data; use CRLF line endings")
			if d := ts.backend.deliveries(); len(d) != 0 {
				t.Fatalf("delivered %q", d[0].data)
			}
			// The session goes on and no transaction is left.
			c.cmd("RCPT TO:<bob@example.test>", "503 5.5.1")
		})
	}
	c.t = t
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "250 2.0.0 OK id=")
	// The last case never ended its header section, so no MessageWriter
	// was opened for it.
	if n := ts.backend.abortCount(); n != 6 {
		t.Errorf("%d aborted, want 6", n)
	}
}

func TestSTARTTLSInjection(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	// Plaintext pipelined after STARTTLS must not be executed after TLS
	// (CVE-2011-0411).
	c.send("STARTTLS\r\nEHLO evil.example.test\r\nMAIL FROM:<evil@example.test>\r\n")
	c.expect("220 2.0.0")
	c.startTLS(ts.client)
	// State is back to before EHLO.
	c.cmd("MAIL FROM:<a@example.test>", "503 5.5.1")
	c.cmd("EHLO good.example.test", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "503 5.5.1") // the injected MAIL did not run
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "250 2.0.0 OK id=")
	d := ts.backend.deliveries()
	if len(d) != 1 || d[0].env.Session.Helo != "good.example.test" || d[0].env.Session.TLS == nil {
		t.Fatalf("deliveries %+v", d)
	}
	if !strings.Contains(d[0].env.Received, "with ESMTPS (TLS1.3 ") {
		t.Errorf("Received %q", d[0].env.Received)
	}
}

func TestSTARTTLSHandshakeFailure(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("STARTTLS", "220 2.0.0")
	c.send("this is not a TLS client hello\r\n")
	c.expectClosed()
}

func TestLongLineAndMaxErrors(t *testing.T) {
	ts := startServer(t, Config{MaxErrors: 3})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("NOOP "+strings.Repeat("x", 5000), "500 5.5.2 Line too long")
	c.cmd("NOOP "+strings.Repeat("y", 100000), "500 5.5.2 Line too long")
	c.cmd("NOOP", "250 2.0.0")
	// A line of exactly the limit is fine.
	c.cmd("NOOP "+strings.Repeat("z", maxLine-7), "250 2.0.0")
	c.cmd("BOGUS", "500 5.5.1")
	c.expect("421 4.7.0 Too many errors")
	c.expectClosed()
}

func TestAuthSubmission(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.send("EHLO client.example.test\r\n")
	for _, l := range c.reply() {
		if strings.Contains(l, "AUTH") {
			t.Errorf("AUTH offered before TLS: %q", l)
		}
	}
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "530 5.7.0 Must issue STARTTLS first")
	c.cmd("MAIL FROM:<alice@example.test>", "530 5.7.0 Authentication required")
	c.cmd("STARTTLS", "220 2.0.0")
	c.startTLS(ts.client)
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "503 5.5.1") // EHLO first
	c.send("EHLO client.example.test\r\n")
	if l := c.reply(); !strings.Contains(strings.Join(l, "\n"), "250-AUTH PLAIN LOGIN") {
		t.Errorf("no AUTH after TLS: %q", l)
	}
	c.cmd("MAIL FROM:<alice@example.test>", "530 5.7.0 Authentication required")
	c.cmd("AUTH CRAM-MD5", "504 5.5.4")
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "wrong"), "535 5.7.8")
	c.cmd("AUTH PLAIN "+plainResp("bob@example.test", "alice@example.test", "secret"), "535 5.7.8")
	c.cmd("AUTH PLAIN", "334 ")
	c.cmd("*", "501 5.0.0")
	c.cmd("AUTH PLAIN !!!", "501 5.5.2")
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd("*", "501 5.0.0")
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd(b64("alice@example.test"), "334 UGFzc3dvcmQ6")
	c.cmd(b64("secret"), "235 2.7.0")
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "503 5.5.1")
	// Envelope sender checked against the account.
	c.cmd("MAIL FROM:<mallory@example.test>", "553 5.7.1")
	c.cmd("MAIL FROM:<alice+tag@example.test> AUTH=<>", "250 2.1.0")
	// An authenticated user may relay, so "Relaying denied" would be
	// wrong: the reply says that address literals are what is refused.
	c.cmd("RCPT TO:<bob@[192.0.2.1]>", "553 5.1.2 Address literals are not accepted")
	c.cmd("RCPT TO:<bob@[IPv6:2001:db8::1]>", "553 5.1.2 Address literals are not accepted")
	c.cmd("RCPT TO:<bob%other.test@example.test>", "550 5.7.1") // still a relay hack
	c.cmd("RCPT TO:<bob@example.test>", "250 2.1.5")
	c.cmd("DATA", "354 ")
	c.send(simpleMsg + ".\r\n")
	c.expect("250 2.0.0 OK id=")
	d := ts.backend.deliveries()
	if len(d) != 1 || d[0].env.Session.AuthAccount != "alice@example.test" || !strings.Contains(d[0].env.Received, "ESMTPSA") ||
		!strings.Contains(d[0].env.Received, "(authenticated as") {
		t.Fatalf("deliveries %+v", d[0].env)
	}

	// PLAIN with an empty challenge, authorization identity = user.
	c2 := ts.dialGreeted(t)
	c2.cmd("EHLO client.example.test", "250 ")
	c2.cmd("STARTTLS", "220 2.0.0")
	c2.startTLS(ts.client)
	c2.cmd("EHLO client.example.test", "250 ")
	c2.cmd("AUTH PLAIN", "334 ")
	c2.cmd(plainResp("alice@example.test", "alice@example.test", "secret"), "235 2.7.0")
	c2.cmd("MAIL FROM:<alice@example.test>", "250 2.1.0")
	c2.cmd("AUTH LOGIN", "503 5.5.1")
}

func TestSubmissionFixups(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.login(ts)

	// Message-ID and Date are added when missing (RFC 6409 §8.2, §8.3).
	line := c.sendData("alice@example.test", "bob@example.test", "From: Alice <alice@example.test>\r\nSubject: x\r\n\r\nbody\r\n", "250 2.0.0 OK id=")
	id := strings.TrimPrefix(line, "250 2.0.0 OK id=")
	d := ts.backend.deliveries()
	re := regexp.MustCompile(`^Message-ID: <` + id + `@mx\.example\.test>\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\nFrom: Alice <alice@example.test>\r\nSubject: x\r\n\r\nbody\r\n$`)
	if !re.MatchString(d[0].data) {
		t.Errorf("data %q", d[0].data)
	}
	if d[0].env.MessageID != id+"@mx.example.test" || d[0].env.Size != int64(len(d[0].data)) {
		t.Errorf("envelope %+v", d[0].env)
	}

	// Kept when present.
	orig := "Date: Mon, 3 Mar 2025 10:00:00 +0000\r\nMessage-ID: <x1@example.test>\r\nFrom: alice@example.test\r\n\r\nbody\r\n"
	c.sendData("alice@example.test", "bob@example.test", orig, "250 2.0.0")
	d = ts.backend.deliveries()
	if d[1].data != orig || d[1].env.MessageID != "x1@example.test" {
		t.Errorf("modified: %q %+v", d[1].data, d[1].env)
	}

	// A message without a body and without a blank line.
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nMessage-ID: <x2@e>\r\nDate: Mon, 3 Mar 2025 10:00:00 +0000\r\n", "250 2.0.0")

	c.sendData("alice@example.test", "bob@example.test", "Subject: no from\r\n\r\nbody\r\n", "550 5.6.0")
	c.sendData("alice@example.test", "bob@example.test", "\r\nno header at all\r\n", "550 5.6.0")
	c.sendData("alice@example.test", "bob@example.test", "From: Mallory <mallory@example.test>\r\n\r\nbody\r\n", "553 5.7.1")
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test, mallory@example.test\r\n\r\nbody\r\n", "553 5.7.1")
	c.sendData("alice@example.test", "bob@example.test", "From: <<<\r\n\r\nbody\r\n", "550 5.6.0")
	// Sender: and the Resent- fields name the sender too (RFC 5322
	// §3.6.2, §3.6.6): they must be the user's as well.
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nSender: mallory@example.test\r\n\r\nbody\r\n", "553 5.7.1 Sender: header")
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nResent-From: Mallory <mallory@example.test>\r\n\r\nbody\r\n", "553 5.7.1 Resent-From: header")
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nResent-Sender: mallory@example.test\r\n\r\nbody\r\n", "553 5.7.1 Resent-Sender: header")
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nSender: <<<\r\n\r\nbody\r\n", "550 5.6.0")
	if n := len(ts.backend.deliveries()); n != 3 {
		t.Errorf("%d deliveries, want 3", n)
	}
	// A message resent by its user, with Sender: set to them, passes.
	c.sendData("alice@example.test", "bob@example.test", "From: carol@other.test\r\nResent-From: alice@example.test\r\nSender: alice@example.test\r\nResent-Sender: alice@example.test\r\n\r\nbody\r\n", "553 5.7.1 From: header")
	c.sendData("alice@example.test", "bob@example.test", "From: alice@example.test\r\nResent-From: alice@example.test\r\nSender: alice@example.test\r\nResent-Sender: alice@example.test\r\n\r\nbody\r\n", "250 2.0.0")

	// Inbound does not modify the message.
	in := startServer(t, Config{})
	ci := in.dialGreeted(t)
	ci.cmd("EHLO client.example.test", "250 ")
	ci.sendData("x@example.test", "bob@example.test", "Subject: bare\r\n\r\nbody\r\n", "250 2.0.0")
	if d := in.backend.deliveries(); d[0].data != "Subject: bare\r\n\r\nbody\r\n" {
		t.Errorf("inbound modified %q", d[0].data)
	}
}

func TestLoopAndSizeLimits(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 20000, MaxHeaderSize: 12000, MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	received := func(n int) string {
		return strings.Repeat("Received: from a by b; Mon, 3 Mar 2025 10:00:00 +0000\r\n", n)
	}
	c.sendData("a@example.test", "bob@example.test", received(101)+"Subject: loop\r\n\r\nbody\r\n", "554 5.4.6")
	c.sendData("a@example.test", "bob@example.test", received(100)+"Subject: ok\r\n\r\nbody\r\n", "250 2.0.0")
	// Actual size above the limit, without SIZE=.
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("b", 98)+"\r\n", 250)
	c.sendData("a@example.test", "bob@example.test", big, "552 5.3.4")
	// Header section above MaxHeaderSize.
	c.sendData("a@example.test", "bob@example.test", strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 130)+"\r\nbody\r\n", "552 5.3.4")
	c.cmd("MAIL FROM:<a@example.test> SIZE=20001", "552 5.3.4")
	if n := len(ts.backend.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestBDAT(t *testing.T) {
	ts := startServer(t, Config{MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	// No transaction: the chunk is read and discarded, then 503.
	c.send("BDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
	c.expect("503 5.5.1")
	c.expect("250 2.0.0") // the third NOOP was outside the chunk
	part1 := "From: a@example.test\r\nSubject: chunks\r"
	part2 := "\n\r\n.body line\r\n.\r\n"
	// Fully pipelined.
	c.send("MAIL FROM:<a@example.test>\r\nRCPT TO:<bob@example.test>\r\n" +
		fmt.Sprintf("BDAT %d\r\n%sBDAT %d LAST\r\n%s", len(part1), part1, len(part2), part2) + "NOOP\r\n")
	c.expect("250 2.1.0")
	c.expect("250 2.1.5")
	c.expect(fmt.Sprintf("250 2.0.0 %d octets", len(part1)))
	c.expect("250 2.0.0 OK id=")
	c.expect("250 2.0.0")
	d := ts.backend.deliveries()
	if len(d) != 1 || d[0].data != part1+part2 {
		t.Fatalf("deliveries %+v", d)
	}
	// BDAT 0 LAST and chunk size in a non-LAST chunk.
	c.cmd("MAIL FROM:<a@example.test>", "250 2.1.0")
	c.cmd("RCPT TO:<bob@example.test>", "250 2.1.5")
	c.send("BDAT 6\r\nX: y\r\n")
	c.expect("250 2.0.0 6 octets")
	c.cmd("DATA", "503 5.5.1")
	c.cmd("BDAT 0 LAST", "250 2.0.0 OK id=")
	// Bare LF in a chunk, CR at the end of the last chunk.
	for _, chunk := range []string{"X: y\n\r\nbody\r\n", "X: y\r\n\r\nbody\r"} {
		c.cmd("MAIL FROM:<a@example.test>", "250 2.1.0")
		c.cmd("RCPT TO:<bob@example.test>", "250 2.1.5")
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk), chunk))
		c.expect("550 5.5.2")
	}
	c.cmd("BDAT x", "501 5.5.4")
	if n := len(ts.backend.deliveries()); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}
}

func TestSMTPUTF8(t *testing.T) {
	ts := startServer(t, Config{MaxErrors: 100})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<用户@例子.台灣>", "553 5.6.7")
	c.cmd("MAIL FROM:<a@example.test>", "250 2.1.0")
	c.cmd("RCPT TO:<用户@例子.台灣>", "553 5.6.7")
	c.cmd("RSET", "250")
	c.cmd("MAIL FROM:<用户@例子.台灣> SMTPUTF8", "250 2.1.0")
	c.cmd("RCPT TO:<用户@例子.台灣>", "250 2.1.5")
	c.cmd("DATA", "354")
	c.send("From: 用户 <用户@例子.台灣>\r\nSubject: 你好\r\n\r\n你好\r\n.\r\n")
	c.expect("250 2.0.0")
	d := ts.backend.deliveries()
	if len(d) != 1 || d[0].env.From != "用户@例子.台灣" || !d[0].env.SMTPUTF8 || !strings.Contains(d[0].env.Received, "with UTF8SMTP id") {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestConnLimit(t *testing.T) {
	ts := startServer(t, Config{ConnLimiter: connlimit.New(connlimit.Config{PerAddr: 1})})
	c1 := ts.dialGreeted(t)
	c2 := ts.dial(t)
	c2.expect("421 4.7.0 Too many connections from your address")
	c2.expectClosed()
	c1.cmd("QUIT", "221")
	c1.expectClosed()
	// The slot is released on close; the server may still be closing c1,
	// so wait for a greeting rather than for time.
	for {
		c3 := ts.dial(t)
		if l := c3.reply()[0]; strings.HasPrefix(l, "220 ") {
			break
		}
	}
}

func TestCommandTimeout(t *testing.T) {
	ts := startServer(t, Config{CommandTimeout: 50 * time.Millisecond})
	c := ts.dialGreeted(t)
	c.expect("421 4.4.2")
	c.expectClosed()
}

func TestShutdownLetsDataFinish(t *testing.T) {
	ts := startServer(t, Config{})
	idle := ts.dialGreeted(t)
	idle.cmd("EHLO client.example.test", "250 ")
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test>", "250")
	c.cmd("RCPT TO:<bob@example.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: in flight\r\n\r\nfirst half\r\n")
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	idle.expect("421 4.3.2 " + testHost + " shutting down")
	idle.expectClosed()
	if err := <-ts.serveC; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	ts.serveC <- nil // for Cleanup
	c.send("second half\r\n.\r\n")
	c.expect("250 2.0.0 OK id=")
	c.expect("421 4.3.2")
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := ts.backend.deliveries(); len(d) != 1 || d[0].data != "Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n" {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test>", "250")
	c.cmd("RCPT TO:<bob@example.test>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: stuck\r\n\r\nbody")
	// Wait until the server has opened the MessageWriter: a NOOP in the
	// data is not answered, so use the backend's view instead.
	for {
		if ts.backend.opened() > 0 {
			break
		}
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	c.expectClosed()
	if n := ts.backend.abortCount(); n != 1 {
		t.Errorf("%d aborted", n)
	}
}

func TestBackendErrors(t *testing.T) {
	ts := startServer(t, Config{})
	ts.backend.deliverErr = errors.New("disk on fire")
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "451 4.3.0")
	ts.backend.mu.Lock()
	ts.backend.deliverErr = &Reply{554, "5.6.0", "content refused"}
	ts.backend.mu.Unlock()
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "554 5.6.0 content refused")
	// A full disk (as a wrapped ENOSPC) is 452 4.3.1 (RFC 3463 §3.4).
	ts.backend.mu.Lock()
	ts.backend.deliverErr = fmt.Errorf("store: write blob: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	ts.backend.mu.Unlock()
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "452 4.3.1")
	if n := ts.backend.abortCount(); n != 3 {
		t.Errorf("%d aborted", n)
	}
	ts.backend.mu.Lock()
	ts.backend.deliverErr = nil
	ts.backend.mu.Unlock()
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "250 ")
}

// TestNULRefused: a NUL octet anywhere in the data (header, body, DATA or
// BDAT) gets 554 5.6.0 after the data, and nothing is delivered.
func TestNULRefused(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.sendData("a@example.test", "bob@example.test", "Subject: x\r\n\r\nbody\x00with NUL\r\n", "554 5.6.0")
	c.sendData("a@example.test", "bob@example.test", "Subject: \x00\r\n\r\nbody\r\n", "554 5.6.0")
	c.cmd("MAIL FROM:<a@example.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	body := "Subject: x\r\n\r\nbinary\x00\r\n"
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
	c.expect("554 5.6.0")
	if n := len(ts.backend.deliveries()); n != 0 {
		t.Fatalf("%d deliveries, want none", n)
	}
	c.sendData("a@example.test", "bob@example.test", simpleMsg, "250 ")
}

// TestGoSMTPClient checks interoperability with an independent client.
func TestGoSMTPClient(t *testing.T) {
	in := startServer(t, Config{})
	msg := "From: a@example.test\r\nSubject: go-smtp\r\n\r\n.dot first\r\nline\r\n"
	ci, err := smtp.DialStartTLS(in.addr, in.client)
	if err != nil {
		t.Fatal(err)
	}
	defer ci.Close()
	if err := ci.SendMail("a@example.test", []string{"bob@example.test", "carol@example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if d := in.backend.deliveries(); len(d) != 1 || d[0].data != msg || len(d[0].env.Recipients) != 2 {
		t.Fatalf("deliveries %+v", d)
	}
	err = ci.SendMail("a@example.test", []string{"nobody@example.test"}, strings.NewReader(msg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Fatalf("unknown user: %v", err)
	}

	// Submission: STARTTLS, AUTH PLAIN, SMTPUTF8.
	sub := startServer(t, Config{Mode: ModeSubmission})
	c, err := smtp.DialStartTLS(sub.addr, sub.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "wrong")); !errors.As(err, &se) || se.Code != 535 {
		t.Fatalf("bad password: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("alice@example.test", []string{"用户@例子.台灣"}, strings.NewReader("From: alice@example.test\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("mallory@example.test", nil); !errors.As(err, &se) || se.Code != 553 {
		t.Fatalf("foreign sender: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	d := sub.backend.deliveries()
	if len(d) != 1 || !d[0].env.SMTPUTF8 || !strings.HasPrefix(d[0].data, "Message-ID: <") {
		t.Fatalf("deliveries %+v", d)
	}

	// Submissions: implicit TLS.
	subs := startServer(t, Config{Mode: ModeSubmissions})
	c2, err := smtp.DialTLS(subs.addr, subs.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if ok, _ := c2.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered over implicit TLS")
	}
	if err := c2.Auth(sasl.NewLoginClient("alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := c2.SendMail("alice@example.test", []string{"bob@example.test"}, strings.NewReader(simpleMsg)); err != nil {
		t.Fatal(err)
	}
	if len(subs.backend.deliveries()) != 1 {
		t.Fatal("no delivery over submissions")
	}
}

func TestSubmissionsNeedsTLS(t *testing.T) {
	s := New(Config{Mode: ModeSubmissions, Logger: testLogger()}, newFakeBackend())
	if err := s.Serve(context.Background(), nil); err == nil {
		t.Fatal("Serve without TLSConfig succeeded")
	}
}

// TestDSNParameters: RET, ENVID, NOTIFY and ORCPT (RFC 3461) are accepted,
// xtext-decoded and handed to the backend with the envelope.
func TestDSNParameters(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dialGreeted(t)
	c.cmd("EHLO client.example.test", "250 ")
	c.cmd("MAIL FROM:<a@example.test> RET=HDRS ENVID=QQ+2B1", "250 2.1.0")
	c.cmd("RCPT TO:<bob@example.test> NOTIFY=failure,DELAY ORCPT=rfc822;Bob+2Bx@example.test", "250 2.1.5")
	c.cmd("RCPT TO:<carol@example.test>", "250 2.1.5")
	c.cmd("DATA", "354 ")
	c.send("Subject: dsn\r\n\r\nbody\r\n.\r\n")
	c.expect("250 2.0.0")
	d := ts.backend.deliveries()
	if len(d) != 1 {
		t.Fatalf("%d deliveries", len(d))
	}
	env := d[0].env
	if env.Ret != "HDRS" || env.EnvID != "QQ+1" {
		t.Errorf("RET %q ENVID %q", env.Ret, env.EnvID)
	}
	if got := env.DSN["bob@example.test"]; got != (RcptDSN{Notify: "FAILURE,DELAY", ORcpt: "rfc822;Bob+x@example.test"}) {
		t.Errorf("bob's DSN %+v", got)
	}
	if _, ok := env.DSN["carol@example.test"]; ok {
		t.Error("carol has DSN parameters she did not give")
	}
	// A duplicate RET is refused; the session goes on.
	c.cmd("MAIL FROM:<a@example.test> RET=FULL RET=HDRS", "501 5.5.4")
	c.cmd("MAIL FROM:<a@example.test> ENVID=a=b", "501 5.5.4")
}
