// Package interop drives the built yizhan binary with real third-party
// software: Python's smtplib, poplib and imaplib, swaks, curl, mbsync, and
// a private Postfix instance as the next and the previous hop. A missing tool
// skips its test, unless YIZHAN_INTEROP=1 (set by ./test.sh and CI), which
// makes it a failure.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	domain   = "example.test"
	alice    = "alice@example.test"
	alicePW  = "correct horse battery staple"
	seedBody = "Hello, this is a test email."
)

// toolGuard only stops a wedged client from hanging the run until the go
// test timeout; it is not a performance expectation.
const toolGuard = 3 * time.Minute

// newServer starts an instance with example.test and alice.
func newServer(t *testing.T) *testenv.Server {
	t.Helper()
	srv := testenv.Start(t, testenv.Options{})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)
	return srv
}

// run runs an external program and returns its combined output and error.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	t.Logf("$ %s %s\n%s", name, strings.Join(args, " "), indent(out.String()))
	return out.String(), err
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "  (no output)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// python returns the python3 to use, after checking that it has the
// modules the scripts need (a python built without ssl has no smtplib TLS).
func python(t *testing.T) string {
	t.Helper()
	py := testenv.RequireTool(t, "python3")
	if out, err := exec.Command(py, "-c", "import ssl, smtplib, poplib, email.policy, json").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "%s lacks a module the tests need: %v\n%s", py, err, out)
	}
	return py
}

// script runs testdata/NAME with python3 and returns its stdout+stderr.
func script(t *testing.T, name string, args ...string) string {
	t.Helper()
	return mustRun(t, "", python(t), append([]string{filepath.Join("testdata", name)}, args...)...)
}

// pop3Fetch reads the whole maildrop with the test suite's own POP3 client
// (over POP3S), leaving it unchanged.
func pop3Fetch(t *testing.T, srv *testenv.Server, user, pass string) [][]byte {
	t.Helper()
	c, err := testenv.DialPOP3S(srv.Addr(t, testenv.POP3S))
	if err != nil {
		t.Fatalf("pop3s dial: %v", err)
	}
	defer c.Quit()
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("pop3 login %s: %v", user, err)
	}
	n, _, err := c.Stat()
	if err != nil {
		t.Fatalf("STAT: %v", err)
	}
	var msgs [][]byte
	for i := 1; i <= n; i++ {
		m, err := c.Retr(i)
		if err != nil {
			t.Fatalf("RETR %d: %v", i, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// checkTrace asserts the fields added on delivery are there.
func checkTrace(t *testing.T, msg []byte, returnPath, deliveredTo string) {
	t.Helper()
	if _, ok := testenv.Header(msg, "Received"); !ok {
		t.Errorf("no Received field in:\n%s", msg)
	}
	if rp, ok := testenv.Header(msg, "Return-Path"); !ok {
		t.Errorf("no Return-Path field in:\n%s", msg)
	} else if returnPath != "" && !strings.EqualFold(rp, "<"+returnPath+">") {
		t.Errorf("Return-Path: %s, want <%s>", rp, returnPath)
	}
	if dt, ok := testenv.Header(msg, "Delivered-To"); !ok {
		t.Errorf("no Delivered-To field in:\n%s", msg)
	} else if deliveredTo != "" && !strings.EqualFold(strings.Trim(dt, "<>"), deliveredTo) {
		t.Errorf("Delivered-To: %s, want %s", dt, deliveredTo)
	}
}

// sendInbound delivers one message to rcpt over the smtp listener with the
// test suite's own SMTP client and returns the 250 reply.
func sendInbound(t *testing.T, srv *testenv.Server, from, rcpt, subject string) string {
	t.Helper()
	c, err := testenv.DialSMTP(srv.Addr(t, testenv.SMTP))
	if err != nil {
		t.Fatalf("smtp dial: %v", err)
	}
	defer c.Quit()
	if err := c.Hello("client.remote.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	msg := "From: <" + from + ">\r\nTo: <" + rcpt + ">\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@remote.test>\r\n\r\nbody of " + subject + "\r\n.leading dot line\r\n"
	reply, err := c.Send(from, []string{rcpt}, []byte(msg))
	if err != nil {
		t.Fatalf("sending %q: %v", subject, err)
	}
	if _, ok := testenv.TrackingID(reply); !ok {
		t.Errorf("250 reply to DATA has no id=: %q", reply)
	}
	return reply
}

func TestPythonSmtplibSeedSnippet(t *testing.T) {
	t.Parallel()
	python(t)
	srv := newServer(t)
	subHost, subPort := srv.HostPort(t, testenv.Submission)
	ssHost, ssPort := srv.HostPort(t, testenv.Submissions)

	steps := []struct {
		mode, host, port string
	}{
		{"starttls", subHost, subPort},         // the README snippet
		{"starttls-default", subHost, subPort}, // starttls() without a context
		{"ssl", ssHost, ssPort},                // SMTP_SSL on submissions
	}
	for i, st := range steps {
		script(t, "smtp_seed.py", st.host, st.port, alice, alicePW, st.mode)
		msgs := pop3Fetch(t, srv, alice, alicePW)
		if len(msgs) != i+1 {
			t.Fatalf("after smtplib %s: %d messages in INBOX, want %d", st.mode, len(msgs), i+1)
		}
		m := msgs[i]
		if s, _ := testenv.Header(m, "Subject"); s != "Test Mail" {
			t.Errorf("%s: Subject %q, want %q", st.mode, s, "Test Mail")
		}
		if f, _ := testenv.Header(m, "From"); f != alice {
			t.Errorf("%s: From %q, want %q", st.mode, f, alice)
		}
		if !bytes.Contains(m, []byte(seedBody)) {
			t.Errorf("%s: body lost:\n%s", st.mode, m)
		}
		checkTrace(t, m, alice, alice)
	}
}

// popResult is what testdata/pop3_session.py prints.
type popResult struct {
	Refused  string   `json:"refused"`
	Count    int      `json:"count"`
	Size     int      `json:"size"`
	List     []string `json:"list"`
	UIDL     []string `json:"uidl"`
	Messages []struct {
		Number  int    `json:"number"`
		Raw     string `json:"raw"`
		Subject string `json:"subject"`
	} `json:"messages"`
}

func poplib(t *testing.T, srv *testenv.Server, mode, user, pass string, dele ...string) popResult {
	t.Helper()
	listener := testenv.POP3
	if mode == "ssl" {
		listener = testenv.POP3S
	}
	host, port := srv.HostPort(t, listener)
	out := script(t, "pop3_session.py", append([]string{host, port, mode, user, pass}, dele...)...)
	var r popResult
	if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
		t.Fatalf("pop3_session.py output: %v\n%s", err, out)
	}
	return r
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestPythonSmtplibUTF8(t *testing.T) {
	t.Parallel()
	python(t)
	srv := newServer(t)
	const (
		idnDomain = "例子.台灣"
		rcpt      = "用户@例子.台灣"
		rcptPW    = "密码 password"
		subject   = "测试邮件 SMTPUTF8"
	)
	srv.AddDomain(t, idnDomain)
	srv.AddUser(t, rcpt, rcptPW)
	host, port := srv.HostPort(t, testenv.Submission)
	script(t, "smtp_utf8.py", host, port, alice, alicePW, rcpt, subject)

	r := poplib(t, srv, "ssl", rcpt, rcptPW)
	if r.Count != 1 || len(r.Messages) != 1 {
		t.Fatalf("%s has %d messages, want 1: %+v", rcpt, r.Count, r)
	}
	m := r.Messages[0]
	if m.Subject != subject {
		t.Errorf("Subject %q, want %q", m.Subject, subject)
	}
	if !strings.Contains(m.Raw, "你好，这是一封测试邮件。") {
		t.Errorf("UTF-8 body lost:\n%s", m.Raw)
	}
	checkTrace(t, []byte(m.Raw), alice, "")
	if dt, _ := testenv.Header([]byte(m.Raw), "Delivered-To"); !strings.Contains(dt, "用户@") && !strings.Contains(strings.ToLower(dt), "xn--") {
		t.Errorf("Delivered-To %q does not name %s", dt, rcpt)
	}
}

func TestPythonPoplib(t *testing.T) {
	t.Parallel()
	python(t)
	srv := newServer(t)
	sendInbound(t, srv, "bob@remote.test", alice, "poplib one")
	sendInbound(t, srv, "bob@remote.test", alice, "poplib two")

	// USER/PASS without TLS is refused.
	if r := poplib(t, srv, "plain", alice, alicePW); r.Refused == "" {
		t.Errorf("login without STLS: want a refusal, got %+v", r)
	}

	check := func(r popResult, how string) {
		t.Helper()
		if r.Count != 2 || len(r.Messages) != 2 || len(r.List) != 2 || len(r.UIDL) != 2 {
			t.Fatalf("%s: count %d, %d messages, LIST %v, UIDL %v; want 2 of each", how, r.Count, len(r.Messages), r.List, r.UIDL)
		}
		for i, want := range []string{"poplib one", "poplib two"} {
			m := r.Messages[i]
			if m.Subject != want {
				t.Errorf("%s: message %d Subject %q, want %q", how, i+1, m.Subject, want)
			}
			if !strings.Contains(m.Raw, "\r\n.leading dot line\r\n") {
				t.Errorf("%s: message %d: dot-stuffed line not restored:\n%s", how, i+1, m.Raw)
			}
			checkTrace(t, []byte(m.Raw), "bob@remote.test", alice)
		}
	}
	viaSSL := poplib(t, srv, "ssl", alice, alicePW)
	check(viaSSL, "POP3_SSL")
	viaSTLS := poplib(t, srv, "stls", alice, alicePW)
	check(viaSTLS, "POP3+stls")
	if strings.Join(viaSSL.UIDL, ",") != strings.Join(viaSTLS.UIDL, ",") {
		t.Errorf("UIDL differs between sessions: %v vs %v", viaSSL.UIDL, viaSTLS.UIDL)
	}

	// UIDL survives a graceful restart and a kill -9.
	srv.Stop(t)
	srv.Restart(t)
	afterStop := poplib(t, srv, "ssl", alice, alicePW)
	check(afterStop, "after SIGTERM restart")
	if strings.Join(viaSSL.UIDL, ",") != strings.Join(afterStop.UIDL, ",") {
		t.Errorf("UIDL changed across a restart: %v, then %v", viaSSL.UIDL, afterStop.UIDL)
	}
	srv.Kill(t)
	srv.Restart(t)
	afterKill := poplib(t, srv, "stls", alice, alicePW)
	check(afterKill, "after kill -9 restart")
	if strings.Join(viaSSL.UIDL, ",") != strings.Join(afterKill.UIDL, ",") {
		t.Errorf("UIDL changed across kill -9: %v, then %v", viaSSL.UIDL, afterKill.UIDL)
	}

	// DELE 1 + QUIT removes it for good; message 2 keeps its UIDL.
	poplib(t, srv, "ssl", alice, alicePW, "1")
	after := poplib(t, srv, "ssl", alice, alicePW)
	if after.Count != 1 || len(after.Messages) != 1 {
		t.Fatalf("after DELE 1 + QUIT: %d messages, want 1", after.Count)
	}
	if after.Messages[0].Subject != "poplib two" {
		t.Errorf("after DELE 1: remaining message is %q, want %q", after.Messages[0].Subject, "poplib two")
	}
	uid2 := strings.Fields(viaSSL.UIDL[1])[1]
	if got := strings.Fields(after.UIDL[0]); len(got) != 2 || got[0] != "1" || got[1] != uid2 {
		t.Errorf("after DELE 1: UIDL %v, want [1 %s]", after.UIDL, uid2)
	}
}

// swaks returns the swaks binary after checking it can do TLS.
func swaks(t *testing.T) string {
	t.Helper()
	sw := testenv.RequireTool(t, "swaks")
	out, _ := exec.Command(sw, "--support").CombinedOutput()
	if !strings.Contains(string(out), "TLS supported") {
		testenv.Unavailable(t, "swaks cannot do TLS (install libnet-ssleay-perl): %s", out)
	}
	return sw
}

func TestSwaks(t *testing.T) {
	t.Parallel()
	sw := swaks(t)
	srv := newServer(t)
	smtpH, smtpP := srv.HostPort(t, testenv.SMTP)
	subH, subP := srv.HostPort(t, testenv.Submission)
	ssH, ssP := srv.HostPort(t, testenv.Submissions)

	delivered := 0
	expectOK := func(name string, args ...string) {
		t.Helper()
		out, err := run(t, "", sw, args...)
		if err != nil {
			t.Errorf("%s: swaks failed: %v\n%s", name, err, out)
			return
		}
		if !dataOK.MatchString(out) {
			t.Errorf("%s: no \"250 2.0.0 ... id=\" reply to DATA in:\n%s", name, out)
		}
		delivered++
	}
	// expectFail wants a non-zero exit and one of the |-separated
	// alternatives in want in the output.
	expectFail := func(name, want string, args ...string) {
		t.Helper()
		out, err := run(t, "", sw, args...)
		if err == nil {
			t.Errorf("%s: swaks exited 0, want failure with %s:\n%s", name, want, out)
			return
		}
		for _, alt := range strings.Split(want, "|") {
			if strings.Contains(out, alt) {
				return
			}
		}
		t.Errorf("%s: output lacks %q:\n%s", name, want, out)
	}
	inbound := []string{"--server", smtpH, "--port", smtpP, "--from", "x@remote.test", "--helo", "client.remote.test"}
	expectOK("inbound", append(inbound, "--to", alice)...)
	expectOK("inbound with STARTTLS", append(inbound, "--to", alice, "--tls")...)
	expectFail("unknown user", "550 5.1.1", append(inbound, "--to", "nobody@example.test")...)
	expectFail("relay", "554 5.7.1", append(inbound, "--to", "someone@elsewhere.test")...)
	expectFail("AUTH on port 25", "did not advertise authentication", append(inbound, "--to", alice, "--tls", "--auth", "PLAIN",
		"--auth-user", alice, "--auth-password", alicePW)...)

	sub := []string{"--server", subH, "--port", subP, "--from", alice, "--to", alice, "--helo", "client.example.test"}
	expectOK("submission AUTH PLAIN", append(sub, "--tls", "--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW)...)
	expectOK("submission AUTH LOGIN", append(sub, "--tls", "--auth", "LOGIN", "--auth-user", alice, "--auth-password", alicePW)...)
	expectFail("submission AUTH without TLS", "did not advertise authentication|530 5.7.0|538 5.7.11", append(sub, "--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW)...)
	// The wrong password is logged for the operator (and the throttle).
	srv.ExpectLog(t, `level=WARN msg="authentication failed" .*user=alice@example\.test`)
	expectFail("submission bad password", "535", append(sub, "--tls", "--auth", "PLAIN", "--auth-user", alice, "--auth-password", "wrong")...)
	expectFail("submission foreign sender", "553 5.7.1", "--server", subH, "--port", subP, "--from", "mallory@example.test",
		"--to", alice, "--tls", "--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW)

	ss := []string{"--server", ssH, "--port", ssP, "--from", alice, "--to", alice, "--helo", "client.example.test", "--tls-on-connect"}
	expectOK("submissions AUTH PLAIN", append(ss, "--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW)...)

	msgs := pop3Fetch(t, srv, alice, alicePW)
	if len(msgs) != delivered {
		t.Fatalf("INBOX has %d messages, want the %d swaks got 250 for", len(msgs), delivered)
	}
	for i, m := range msgs {
		if s, _ := testenv.Header(m, "X-Mailer"); !strings.Contains(s, "swaks") {
			t.Errorf("message %d: X-Mailer %q, want swaks", i+1, s)
		}
		rp := alice
		if i < 2 {
			rp = "x@remote.test"
		}
		checkTrace(t, m, rp, alice)
	}
}

// dataOK matches swaks' transcript of the 250 reply to DATA ("<-" in
// clear text, "<~" under TLS).
var dataOK = regexp.MustCompile(`(?m)^ *<[-~] +250 2\.0\.0 .*id=`)

// curl returns the curl binary after checking it speaks the protocols.
func curl(t *testing.T) string {
	t.Helper()
	c := testenv.RequireTool(t, "curl")
	out, _ := exec.Command(c, "--version").CombinedOutput()
	for _, p := range []string{"pop3s", "smtps", "SSL"} {
		if !strings.Contains(string(out), p) {
			testenv.Unavailable(t, "curl lacks %s: %s", p, out)
		}
	}
	return c
}

func TestCurl(t *testing.T) {
	t.Parallel()
	cu := curl(t)
	srv := newServer(t)
	sendInbound(t, srv, "bob@remote.test", alice, "curl one")
	pop3s := srv.Addr(t, testenv.POP3S)
	pop3 := srv.Addr(t, testenv.POP3)
	userpw := alice + ":" + alicePW

	out := mustRun(t, "", cu, "-sS", "-k", "--ssl-reqd", "pop3s://"+pop3s+"/1", "-u", userpw)
	if !strings.Contains(out, "Subject: curl one") || !strings.Contains(out, "body of curl one") {
		t.Errorf("curl pop3s RETR 1: message not in output:\n%s", out)
	}
	checkTrace(t, []byte(out), "bob@remote.test", alice)

	out = mustRun(t, "", cu, "-sS", "-k", "pop3s://"+pop3s+"/", "-u", userpw)
	if f := strings.Fields(out); len(f) != 2 || f[0] != "1" {
		t.Errorf("curl pop3s LIST: got %q, want one line \"1 SIZE\"", out)
	}

	out = mustRun(t, "", cu, "-sS", "-k", "--ssl-reqd", "pop3://"+pop3+"/1", "-u", userpw)
	if !strings.Contains(out, "Subject: curl one") {
		t.Errorf("curl pop3 STLS RETR 1: message not in output:\n%s", out)
	}

	// Without --ssl-reqd curl may log in in clear text; the server must
	// refuse that, so the transfer fails.
	if out, err := run(t, "", cu, "-sS", "pop3://"+pop3+"/1", "-u", userpw); err == nil {
		t.Errorf("curl pop3 without TLS logged in:\n%s", out)
	}

	file := filepath.Join(t.TempDir(), "mail.eml")
	send := func(url, subject string) {
		t.Helper()
		msg := "From: Alice <" + alice + ">\r\nTo: <" + alice + ">\r\nSubject: " + subject +
			"\r\n\r\nsent by curl\r\n.a line starting with a dot\r\n"
		if err := os.WriteFile(file, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "", cu, "-sS", "-k", "--ssl-reqd", url, "--mail-from", alice, "--mail-rcpt", alice, "-u", userpw, "-T", file)
	}
	send("smtp://"+srv.Addr(t, testenv.Submission), "curl submission")
	send("smtps://"+srv.Addr(t, testenv.Submissions), "curl submissions")

	msgs := pop3Fetch(t, srv, alice, alicePW)
	if len(msgs) != 3 {
		t.Fatalf("INBOX has %d messages, want 3", len(msgs))
	}
	for i, want := range []string{"curl submission", "curl submissions"} {
		m := msgs[i+1]
		if s, _ := testenv.Header(m, "Subject"); s != want {
			t.Errorf("message %d: Subject %q, want %q", i+2, s, want)
		}
		if !bytes.Contains(m, []byte("\n.a line starting with a dot\n")) {
			t.Errorf("message %d: dot line mangled:\n%s", i+2, m)
		}
		checkTrace(t, m, alice, alice)
	}
}
