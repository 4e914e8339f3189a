package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

// plainConfig is a client without TLS whose timeouts keep a test that
// goes wrong from hanging: every phase fails within two seconds.
func plainConfig() *ClientConfig {
	const d = 2 * time.Second
	return &ClientConfig{Hostname: "client.test", Timeouts: Timeouts{
		Connect: d, Greeting: d, Command: d, DataInit: d, DataBlock: d, DataDone: d,
	}}
}

// testCert is testenv.Cert for the names this package's servers use.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	return testenv.Cert(t, "mx.test", "127.0.0.1", "::1")
}

// ---- go-smtp as the remote MTA ----

type gotMsg struct {
	from     string
	mail     smtp.MailOptions
	rcpts    []string
	rcptOpts []smtp.RcptOptions
	data     []byte
}

type testBackend struct {
	mu       sync.Mutex
	sessions int
	mails    int
	msgs     []gotMsg
	tlsSeen  bool
	authUser string
}

func (b *testBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions++
	if _, ok := c.TLSConnectionState(); ok {
		b.tlsSeen = true
	}
	return &testSession{be: b}, nil
}

func (b *testBackend) snapshot() (mails int, msgs []gotMsg) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mails, append([]gotMsg(nil), b.msgs...)
}

type testSession struct {
	be  *testBackend
	cur gotMsg
}

func (s *testSession) Reset()        { s.cur = gotMsg{} }
func (s *testSession) Logout() error { return nil }

func (s *testSession) Mail(from string, opts *smtp.MailOptions) error {
	s.be.mu.Lock()
	s.be.mails++
	s.be.mu.Unlock()
	s.cur.from = from
	if opts != nil {
		s.cur.mail = *opts
	}
	return nil
}

func (s *testSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	if opts != nil {
		s.cur.rcptOpts = append(s.cur.rcptOpts, *opts)
	}
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, s.cur)
	s.be.mu.Unlock()
	return nil
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "user" || pass != "secret" {
			return smtp.ErrAuthFailed
		}
		s.be.mu.Lock()
		s.be.authUser = user
		s.be.mu.Unlock()
		return nil
	}), nil
}

// startGoSMTP runs a go-smtp server on loopback; tune adjusts it.
func startGoSMTP(t *testing.T, tune func(*smtp.Server)) (string, *testBackend) {
	t.Helper()
	be := &testBackend{}
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.AllowInsecureAuth = false
	s.EnableBINARYMIME = false
	s.MaxMessageBytes = 8 << 20
	s.ErrorLog = log.New(io.Discard, "", 0)
	if tune != nil {
		tune(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String(), be
}

func withTLS(cert tls.Certificate) func(*smtp.Server) {
	return func(s *smtp.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
}

// ---- a hand-written fake MTA for what go-smtp cannot do ----

type fakeConn struct {
	net.Conn
	r *bufio.Reader
}

func (fc *fakeConn) line() (string, error) {
	s, err := fc.r.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

func (fc *fakeConn) send(lines ...string) error {
	_, err := io.WriteString(fc, strings.Join(lines, "\r\n")+"\r\n")
	return err
}

// startFake listens on address and runs handle for each connection.
func startFake(t *testing.T, address string, handle func(*fakeConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(&fakeConn{Conn: c, r: bufio.NewReader(c)})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// fakeMTA is a scriptable SMTP server that records what it receives.
type fakeMTA struct {
	t    *testing.T
	caps []string // EHLO keywords
	// pipelineGroup, when > 0, makes the server read that many lines
	// after the first MAIL before answering anything: a client that waits
	// for the MAIL reply instead of pipelining stalls and the test fails.
	pipelineGroup int
	// sequential makes the server fail the test if the client sends
	// anything before the MAIL reply.
	sequential bool
	refuseEHLO bool   // answer EHLO with 502
	always354  bool   // answer DATA with 354 even without recipients
	stallOn    string // verb after which the server stops answering

	mu    sync.Mutex
	cmds  []string
	raw   [][]byte // DATA bytes as received (dot-stuffed)
	msgs  [][]byte // messages as delivered
	bdats []string // BDAT command lines
	peer  net.Addr
}

func (m *fakeMTA) start(t *testing.T, address string) string {
	m.t = t
	return startFake(t, address, m.serve)
}

func (m *fakeMTA) record(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

func (m *fakeMTA) commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.cmds...)
}

func (m *fakeMTA) messages() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.msgs...)
}

func (m *fakeMTA) serve(fc *fakeConn) {
	m.record(func() { m.peer = fc.RemoteAddr() })
	w := bufio.NewWriter(fc)
	reply := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
	}
	reply("220 fake.test ESMTP")
	w.Flush()
	var pending []string
	next := func() (string, error) {
		if len(pending) > 0 {
			l := pending[0]
			pending = pending[1:]
			return l, nil
		}
		return fc.line()
	}
	accepted := 0
	checked := false
	var chunks []byte
	for {
		l, err := next()
		if err != nil {
			return
		}
		m.record(func() { m.cmds = append(m.cmds, l) })
		verb, arg, _ := strings.Cut(l, " ")
		verb = strings.ToUpper(verb)
		if m.stallOn == verb && verb != "DATA" {
			io.Copy(io.Discard, fc.r)
			return
		}
		switch verb {
		case "EHLO":
			if m.refuseEHLO {
				reply("502 5.5.1 EHLO not implemented")
				break
			}
			lines := []string{"250-fake.test greets " + arg}
			for i, c := range m.caps {
				sep := "-"
				if i == len(m.caps)-1 {
					sep = " "
				}
				lines = append(lines, "250"+sep+c)
			}
			if len(m.caps) == 0 {
				lines[0] = "250 fake.test"
			}
			reply(lines...)
		case "HELO":
			reply("250 fake.test")
		case "MAIL":
			if m.pipelineGroup > 0 && !checked {
				checked = true
				fc.SetReadDeadline(time.Now().Add(time.Second))
				for range m.pipelineGroup {
					l2, err := fc.line()
					if err != nil {
						m.t.Errorf("client did not pipeline its commands: %v", err)
						return
					}
					pending = append(pending, l2)
				}
				fc.SetReadDeadline(time.Time{})
			}
			if m.sequential {
				fc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := fc.r.Peek(1); err == nil {
					m.t.Errorf("client sent more before the MAIL reply")
				}
				fc.SetReadDeadline(time.Time{})
			}
			accepted = 0
			reply("250 2.1.0 sender ok")
		case "RCPT":
			if strings.Contains(arg, "nobody@") {
				reply("550-5.1.1 The email account that you tried to reach",
					"550-5.1.1 does not exist.",
					"550 5.1.1 Please check the address.")
				break
			}
			accepted++
			reply("250 2.1.5 recipient ok")
		case "DATA":
			if accepted == 0 && !m.always354 {
				reply("554 5.5.1 no valid recipients")
				break
			}
			reply("354 go ahead")
			w.Flush()
			var raw, msg bytes.Buffer
			for {
				s, err := fc.r.ReadString('\n')
				if err != nil {
					return
				}
				raw.WriteString(s)
				if s == ".\r\n" {
					break
				}
				msg.WriteString(strings.TrimPrefix(s, "."))
			}
			m.record(func() {
				m.raw = append(m.raw, raw.Bytes())
				m.msgs = append(m.msgs, msg.Bytes())
			})
			if m.stallOn == "DATA" {
				io.Copy(io.Discard, fc.r)
				return
			}
			reply("250 2.0.0 queued as 1")
		case "BDAT":
			f := strings.Fields(arg)
			n, err := strconv.Atoi(f[0])
			if err != nil {
				m.t.Errorf("bad BDAT %q", l)
				return
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(fc.r, buf); err != nil {
				return
			}
			chunks = append(chunks, buf...)
			m.record(func() { m.bdats = append(m.bdats, l) })
			if len(f) == 2 && strings.EqualFold(f[1], "LAST") {
				msg := chunks
				chunks = nil
				m.record(func() { m.msgs = append(m.msgs, msg) })
				reply("250 2.0.0 queued as 2")
			} else {
				reply("250 2.0.0 chunk received")
			}
		case "RSET":
			accepted = 0
			reply("250 2.0.0 reset")
		case "AUTH":
			reply("535 5.7.8 no")
		case "QUIT":
			reply("221 2.0.0 bye")
			w.Flush()
			return
		default:
			reply("502 5.5.2 unknown command")
		}
		// Replies to a pipelined group leave together, as a real
		// server's would.
		if len(pending) == 0 && fc.r.Buffered() == 0 {
			w.Flush()
		}
	}
}

func dial(t *testing.T, cfg *ClientConfig, addr, name string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), cfg, addr, name)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func codes(rs []Reply) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

// ---- unit tests of the parsers and encoders ----

func readReplyFrom(t *testing.T, in string) (Reply, error) {
	t.Helper()
	p1, p2 := net.Pipe()
	t.Cleanup(func() { p1.Close(); p2.Close() })
	c := &Conn{conn: p1, r: bufio.NewReader(strings.NewReader(in))}
	return c.readReply(time.Second)
}

func TestClientReplyParsing(t *testing.T) {
	rep, err := readReplyFrom(t, "550-5.1.1 The email account\r\n550-5.1.1 does not exist.\r\n550 5.1.1 See help\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Reply{Code: 550, Enhanced: "5.1.1", Text: "The email account does not exist. See help",
		Lines: []string{"550-5.1.1 The email account", "550-5.1.1 does not exist.", "550 5.1.1 See help"}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("got %#v, want %#v", rep, want)
	}
	if s := rep.String(); s != "550 5.1.1 The email account does not exist. See help" {
		t.Errorf("String() = %q", s)
	}
	if !rep.Permanent() || rep.Temporary() {
		t.Errorf("550 should be permanent only")
	}

	for _, tc := range []struct {
		in       string
		code     int
		enhanced string
		text     string
	}{
		{"250\r\n", 250, "", ""},
		{"421 4.4.2 idle too long\n", 421, "4.4.2", "idle too long"},
		{"550 4.1.1 class does not match\r\n", 550, "", "4.1.1 class does not match"},
		{"250 2.0.0\r\n", 250, "2.0.0", ""},
		{"220 mx.test ESMTP\r\n", 220, "", "mx.test ESMTP"},
		{"451 1.2.3.4 not an enhanced code\r\n", 451, "", "1.2.3.4 not an enhanced code"},
	} {
		rep, err := readReplyFrom(t, tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if rep.Code != tc.code || rep.Enhanced != tc.enhanced || rep.Text != tc.text {
			t.Errorf("%q: got %d %q %q", tc.in, rep.Code, rep.Enhanced, rep.Text)
		}
	}
	if r := (Reply{Code: 451}); !r.Temporary() || r.Permanent() || r.String() != "451" {
		t.Errorf("451 misjudged: %v %v %q", r.Temporary(), r.Permanent(), r)
	}

	for name, in := range map[string]string{
		"code change": "250-a\r\n251 b\r\n",
		"bad code":    "25x ok\r\n",
		"1xx":         "199 ok\r\n",
		"bad sep":     "250_ok\r\n",
		"long line":   "250 " + strings.Repeat("x", 600) + "\r\n",
		"endless":     "250 " + strings.Repeat("x", 8000),
		"many lines":  strings.Repeat("250-x\r\n", 150) + "250 x\r\n",
		"eof":         "250-more to come\r\n",
	} {
		if rep, err := readReplyFrom(t, in); err == nil {
			t.Errorf("%s: accepted as %v", name, rep)
		}
	}
}

func TestClientXtext(t *testing.T) {
	if got, want := xtext("id+1=2 é\x01"), "id+2B1+3D2+20+C3+A9+01"; got != want {
		t.Errorf("xtext = %q, want %q", got, want)
	}
	if got, want := utf8AddrXtext(`δ+x=y\@z`), `\x{3B4}\x{2B}x\x{3D}y\x{5C}@z`; got != want {
		t.Errorf("utf8AddrXtext = %q, want %q", got, want)
	}
}

func TestClientDotWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{".", "..\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".a\r\n..b\r\nc.\r\n.\r\n", "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"},
		// A bare LF ends a line for some servers: stuff after it too, so
		// "\n.\r\n" cannot end the data early (SMTP smuggling).
		{"a\n.\r\nb\r\n", "a\n..\r\nb\r\n.\r\n"},
		{"a\n", "a\n\r\n.\r\n"},
	} {
		for _, oneByte := range []bool{false, true} {
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			dw := &dotWriter{w: bw}
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			if _, err := io.Copy(dw, r); err != nil {
				t.Fatal(err)
			}
			if err := dw.finish(); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			if out.String() != tc.want {
				t.Errorf("%q (one byte %v): got %q, want %q", tc.in, oneByte, out.String(), tc.want)
			}
		}
	}
}

// ---- protocol tests over real sockets ----

func TestClientSendPipelinedDATA(t *testing.T) {
	m := &fakeMTA{caps: []string{"PIPELINING", "8BITMIME", "SIZE 100000", "ENHANCEDSTATUSCODES"}, pipelineGroup: 3}
	addr := m.start(t, "127.0.0.1:0")
	c := dial(t, plainConfig(), addr, "")

	msg := "Subject: dots\r\n\r\n.hidden\r\n..two\r\nend without CRLF."
	env := &Envelope{
		From: "a@x.test", Size: int64(len(msg)), Body8Bit: true,
		EnvID: "id1", Ret: "HDRS", // DSN not offered: must not be passed
		Rcpts: []RcptParams{{Addr: "b@y.test", Notify: "FAILURE"}, {Addr: "c@y.test", ORcpt: "rfc822;c@y.test"}},
	}
	rcpts, data, err := c.Send(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := codes(rcpts); !reflect.DeepEqual(got, []int{250, 250}) {
		t.Errorf("rcpt replies %v", got)
	}
	if data.Code != 250 || data.Enhanced != "2.0.0" || data.Text != "queued as 1" {
		t.Errorf("data reply %#v", data)
	}
	wantCmds := []string{
		"EHLO client.test",
		fmt.Sprintf("MAIL FROM:<a@x.test> SIZE=%d BODY=8BITMIME", len(msg)),
		"RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA",
	}
	if got := m.commands(); !reflect.DeepEqual(got, wantCmds) {
		t.Errorf("commands\n got %q\nwant %q", got, wantCmds)
	}
	msgs := m.messages()
	if len(msgs) != 1 || string(msgs[0]) != msg+"\r\n" {
		t.Fatalf("server got %q, want %q", msgs, msg+"\r\n")
	}
	m.mu.Lock()
	raw := string(m.raw[0])
	m.mu.Unlock()
	if !strings.Contains(raw, "\r\n..hidden\r\n...two\r\n") {
		t.Errorf("lines not dot-stuffed on the wire: %q", raw)
	}
	if p, ok := c.Extension("size"); !ok || p != "100000" {
		t.Errorf("Extension(size) = %q, %v", p, ok)
	}
	if _, ok := c.Extension("CHUNKING"); ok {
		t.Errorf("CHUNKING reported but not offered")
	}
	if n := c.RemoteName(); n != "fake.test" {
		t.Errorf("RemoteName = %q", n)
	}
	if v, _ := c.TLS(); v != "" {
		t.Errorf("TLS() = %q on a plain connection", v)
	}
}

func TestClientSendWithoutPipelining(t *testing.T) {
	m := &fakeMTA{caps: []string{"8BITMIME", "ENHANCEDSTATUSCODES"}, sequential: true}
	addr := m.start(t, "127.0.0.1:0")
	c := dial(t, plainConfig(), addr, "")
	env := &Envelope{From: "", Rcpts: []RcptParams{{Addr: "nobody@y.test"}, {Addr: "b@y.test"}}}
	rcpts, data, err := c.Send(context.Background(), env, strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := Reply{Code: 550, Enhanced: "5.1.1",
		Text: "The email account that you tried to reach does not exist. Please check the address.",
		Lines: []string{"550-5.1.1 The email account that you tried to reach",
			"550-5.1.1 does not exist.", "550 5.1.1 Please check the address."}}
	if !reflect.DeepEqual(rcpts[0], want) {
		t.Errorf("multi-line refusal parsed as %#v", rcpts[0])
	}
	if rcpts[1].Code != 250 || data.Code != 250 {
		t.Errorf("replies %v, data %v", codes(rcpts), data)
	}
	wantCmds := []string{"EHLO client.test", "MAIL FROM:<>", "RCPT TO:<nobody@y.test>", "RCPT TO:<b@y.test>", "DATA"}
	if got := m.commands(); !reflect.DeepEqual(got, wantCmds) {
		t.Errorf("commands\n got %q\nwant %q", got, wantCmds)
	}
}

func TestClientSendGoSMTPChunked(t *testing.T) {
	addr, be := startGoSMTP(t, nil)
	c := dial(t, plainConfig(), addr, "")
	if _, ok := c.Extension("CHUNKING"); !ok {
		t.Fatal("go-smtp does not offer CHUNKING any more; this test needs it")
	}
	// Over one chunk, with lines a DATA transfer would stuff.
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for b.Len() < chunkSize+chunkSize/2 {
		b.WriteString(".line with a leading dot and 8-bit é\r\n")
	}
	msg := b.String()
	env := &Envelope{From: "a@x.test", Size: int64(len(msg)), Body8Bit: true, Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	rcpts, data, err := c.Send(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rcpts[0].Code != 250 || data.Code != 250 {
		t.Fatalf("replies %v, data %v", codes(rcpts), data)
	}
	_, msgs := be.snapshot()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	got := msgs[0]
	if !bytes.Equal(got.data, []byte(msg)) {
		t.Errorf("message altered in transit (got %d octets, want %d)", len(got.data), len(msg))
	}
	if got.from != "a@x.test" || got.mail.Size != int64(len(msg)) || got.mail.Body != smtp.Body8BitMIME {
		t.Errorf("MAIL seen as %q %+v", got.from, got.mail)
	}
}

func TestClientSendPerRecipientReplies(t *testing.T) {
	addr, be := startGoSMTP(t, nil)
	c := dial(t, plainConfig(), addr, "")
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}, {Addr: "nobody@y.test"}, {Addr: "c@y.test"}}}
	rcpts, data, err := c.Send(context.Background(), env, strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := codes(rcpts); !reflect.DeepEqual(got, []int{250, 550, 250}) {
		t.Fatalf("rcpt replies %v", got)
	}
	if rcpts[1].Enhanced != "5.1.1" || !strings.Contains(rcpts[1].String(), "550 5.1.1 no such user") {
		t.Errorf("refusal %q", rcpts[1])
	}
	if data.Code != 250 {
		t.Errorf("data reply %v", data)
	}
	_, msgs := be.snapshot()
	if len(msgs) != 1 || !reflect.DeepEqual(msgs[0].rcpts, []string{"b@y.test", "c@y.test"}) {
		t.Errorf("server delivered %+v", msgs)
	}
}

func TestClientSendAllRecipientsRefused(t *testing.T) {
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "nobody@y.test"}, {Addr: "nobody@z.test"}}}
	const msg = "Subject: x\r\n\r\nhi\r\n"
	check := func(t *testing.T, c *Conn) {
		t.Helper()
		rcpts, data, err := c.Send(context.Background(), env, strings.NewReader(msg))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := codes(rcpts); !reflect.DeepEqual(got, []int{550, 550}) || data.Code != 0 {
			t.Fatalf("replies %v, data %v", got, data)
		}
		// The session is left clean for the next message.
		env2 := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
		if _, data, err := c.Send(context.Background(), env2, strings.NewReader(msg)); err != nil || data.Code != 250 {
			t.Fatalf("next Send: %v, %v", data, err)
		}
	}
	t.Run("pipelined", func(t *testing.T) {
		m := &fakeMTA{caps: []string{"PIPELINING"}, pipelineGroup: 3}
		c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
		check(t, c)
		cmds := m.commands()
		want := []string{"MAIL FROM:<a@x.test>", "RCPT TO:<nobody@y.test>", "RCPT TO:<nobody@z.test>", "DATA", "RSET"}
		if !reflect.DeepEqual(cmds[1:6], want) {
			t.Errorf("commands %q", cmds)
		}
		if n := len(m.messages()); n != 1 {
			t.Errorf("%d messages, want only the second", n)
		}
	})
	t.Run("pipelined DATA accepted anyway", func(t *testing.T) {
		m := &fakeMTA{caps: []string{"PIPELINING"}, pipelineGroup: 3, always354: true}
		c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
		check(t, c)
		if msgs := m.messages(); len(msgs) != 2 || len(msgs[0]) != 0 {
			t.Errorf("message data sent without recipients: %q", msgs)
		}
	})
	t.Run("sequential", func(t *testing.T) {
		m := &fakeMTA{}
		c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
		check(t, c)
		cmds := m.commands()
		want := []string{"MAIL FROM:<a@x.test>", "RCPT TO:<nobody@y.test>", "RCPT TO:<nobody@z.test>", "RSET"}
		if !reflect.DeepEqual(cmds[1:5], want) {
			t.Errorf("commands %q", cmds)
		}
	})
	t.Run("go-smtp", func(t *testing.T) {
		addr, be := startGoSMTP(t, nil)
		c := dial(t, plainConfig(), addr, "")
		check(t, c)
		if _, msgs := be.snapshot(); len(msgs) != 1 {
			t.Errorf("%d messages, want only the second", len(msgs))
		}
	})
}

func TestClientSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	addr, be := startGoSMTP(t, withTLS(cert))
	cfg := plainConfig()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	c := dial(t, cfg, addr, "mx.test")
	v, cipher := c.TLS()
	if v != "TLS 1.3" || cipher == "" {
		t.Errorf("TLS() = %q, %q", v, cipher)
	}
	if _, ok := c.Extension("STARTTLS"); ok {
		t.Errorf("extensions not refreshed after STARTTLS")
	}
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	if _, data, err := c.Send(context.Background(), env, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil || data.Code != 250 {
		t.Fatalf("Send: %v %v", data, err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if !be.tlsSeen || len(be.msgs) != 1 {
		t.Errorf("server saw TLS %v, %d messages", be.tlsSeen, len(be.msgs))
	}
}

func TestClientSTARTTLSFailures(t *testing.T) {
	t.Run("required but not offered", func(t *testing.T) {
		addr, _ := startGoSMTP(t, nil)
		cfg := plainConfig()
		cfg.RequireTLS = true
		_, err := Dial(context.Background(), cfg, addr, "mx.test")
		var te *TLSError
		if !errors.As(err, &te) {
			t.Fatalf("Dial: %v, want *TLSError", err)
		}
	})
	t.Run("handshake fails, retry in clear", func(t *testing.T) {
		cert, _ := testCert(t)
		addr, be := startGoSMTP(t, withTLS(cert))
		cfg := plainConfig()
		cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} // trusts nothing
		_, err := Dial(context.Background(), cfg, addr, "mx.test")
		var te *TLSError
		if !errors.As(err, &te) {
			t.Fatalf("Dial: %v, want *TLSError", err)
		}
		cfg.TLSConfig = nil
		c := dial(t, cfg, addr, "mx.test")
		if v, _ := c.TLS(); v != "" {
			t.Errorf("TLS() = %q after retry in clear", v)
		}
		env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
		if _, data, err := c.Send(context.Background(), env, strings.NewReader("x\r\n")); err != nil || data.Code != 250 {
			t.Fatalf("Send: %v %v", data, err)
		}
		if _, msgs := be.snapshot(); len(msgs) != 1 {
			t.Errorf("%d messages", len(msgs))
		}
	})
}

func TestClientImplicitTLS(t *testing.T) {
	cert, pool := testCert(t)
	be := &testBackend{}
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	cfg := plainConfig()
	cfg.ImplicitTLS = true
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	c := dial(t, cfg, ln.Addr().String(), "mx.test")
	if v, _ := c.TLS(); v != "TLS 1.3" {
		t.Errorf("TLS() = %q", v)
	}
}

func TestClientAuth(t *testing.T) {
	cert, pool := testCert(t)
	addr, be := startGoSMTP(t, withTLS(cert))
	cfg := plainConfig()
	cfg.RequireTLS = true
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	cfg.Auth = &ClientAuth{Username: "user", Password: "secret"}
	dial(t, cfg, addr, "mx.test")
	be.mu.Lock()
	user := be.authUser
	be.mu.Unlock()
	if user != "user" {
		t.Errorf("server authenticated %q", user)
	}

	cfg.Auth = &ClientAuth{Username: "user", Password: "wrong"}
	_, err := Dial(context.Background(), cfg, addr, "mx.test")
	var se *SendError
	if !errors.As(err, &se) || se.Stage != "AUTH" || se.Reply.Code != 535 || !se.Permanent() {
		t.Errorf("wrong password: %v", err)
	}
}

func TestClientAuthRefusedInClear(t *testing.T) {
	m := &fakeMTA{caps: []string{"AUTH PLAIN LOGIN"}}
	addr := m.start(t, "127.0.0.1:0")
	cfg := plainConfig()
	cfg.Auth = &ClientAuth{Username: "user", Password: "secret"}
	_, err := Dial(context.Background(), cfg, addr, "")
	if !errors.Is(err, ErrAuthNeedsTLS) {
		t.Fatalf("Dial: %v, want ErrAuthNeedsTLS", err)
	}
	for _, cmd := range m.commands() {
		if strings.HasPrefix(cmd, "AUTH") {
			t.Errorf("credentials sent in clear: %q", cmd)
		}
	}
}

func TestClientSendSizeExceeded(t *testing.T) {
	addr, be := startGoSMTP(t, func(s *smtp.Server) { s.MaxMessageBytes = 1000 })
	c := dial(t, plainConfig(), addr, "")
	env := &Envelope{From: "a@x.test", Size: 5000, Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	_, _, err := c.Send(context.Background(), env, strings.NewReader("x\r\n"))
	var se *SendError
	if !errors.As(err, &se) || se.Reply.String() != "552 5.3.4 message size exceeds fixed limit of the remote server" || !se.Permanent() {
		t.Fatalf("Send: %v", err)
	}
	if mails, _ := be.snapshot(); mails != 0 {
		t.Errorf("MAIL sent %d times", mails)
	}
	env.Size = 10
	if _, data, err := c.Send(context.Background(), env, strings.NewReader("x\r\n")); err != nil || data.Code != 250 {
		t.Errorf("small message after refusal: %v %v", data, err)
	}
}

func TestClientSendSMTPUTF8(t *testing.T) {
	env := &Envelope{From: "a@x.test", SMTPUTF8: true, Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	const msg = "Subject: héllo\r\n\r\nhi\r\n"

	addr, be := startGoSMTP(t, nil)
	c := dial(t, plainConfig(), addr, "")
	_, _, err := c.Send(context.Background(), env, strings.NewReader(msg))
	var se *SendError
	if !errors.As(err, &se) || se.Reply.String() != "553 5.6.7 the remote server does not support SMTPUTF8" || !se.Permanent() {
		t.Fatalf("Send: %v", err)
	}
	if mails, _ := be.snapshot(); mails != 0 {
		t.Errorf("MAIL sent %d times", mails)
	}

	addr, be = startGoSMTP(t, func(s *smtp.Server) { s.EnableSMTPUTF8 = true })
	c = dial(t, plainConfig(), addr, "")
	if _, data, err := c.Send(context.Background(), env, strings.NewReader(msg)); err != nil || data.Code != 250 {
		t.Fatalf("Send: %v %v", data, err)
	}
	if _, msgs := be.snapshot(); len(msgs) != 1 || !msgs[0].mail.UTF8 {
		t.Errorf("SMTPUTF8 not passed: %+v", msgs)
	}
}

func TestClientSendDSN(t *testing.T) {
	env := &Envelope{
		From: "a@x.test", EnvID: "id+1=2", Ret: "hdrs",
		Rcpts: []RcptParams{{Addr: "b@y.test", Notify: "FAILURE,DELAY", ORcpt: "rfc822;b+tag@y.test"}},
	}
	send := func(t *testing.T, c *Conn) {
		t.Helper()
		if _, data, err := c.Send(context.Background(), env, strings.NewReader("x\r\n")); err != nil || data.Code != 250 {
			t.Fatalf("Send: %v %v", data, err)
		}
	}
	t.Run("offered", func(t *testing.T) {
		addr, be := startGoSMTP(t, func(s *smtp.Server) { s.EnableDSN = true })
		send(t, dial(t, plainConfig(), addr, ""))
		_, msgs := be.snapshot()
		if len(msgs) != 1 {
			t.Fatalf("%d messages", len(msgs))
		}
		m := msgs[0]
		if m.mail.EnvelopeID != "id+1=2" || m.mail.Return != smtp.DSNReturnHeaders {
			t.Errorf("MAIL options %+v", m.mail)
		}
		o := m.rcptOpts[0]
		if !reflect.DeepEqual(o.Notify, []smtp.DSNNotify{smtp.DSNNotifyFailure, smtp.DSNNotifyDelayed}) ||
			o.OriginalRecipientType != smtp.DSNAddressTypeRFC822 || o.OriginalRecipient != "b+tag@y.test" {
			t.Errorf("RCPT options %+v", o)
		}
	})
	t.Run("offered, on the wire", func(t *testing.T) {
		m := &fakeMTA{caps: []string{"DSN"}}
		send(t, dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), ""))
		cmds := m.commands()
		want := []string{"MAIL FROM:<a@x.test> RET=HDRS ENVID=id+2B1+3D2",
			"RCPT TO:<b@y.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Btag@y.test"}
		if !reflect.DeepEqual(cmds[1:3], want) {
			t.Errorf("commands\n got %q\nwant %q", cmds[1:3], want)
		}
	})
	t.Run("not offered", func(t *testing.T) {
		// go-smtp answers 504 to DSN parameters it does not offer.
		addr, be := startGoSMTP(t, nil)
		send(t, dial(t, plainConfig(), addr, ""))
		if _, msgs := be.snapshot(); len(msgs) != 1 || msgs[0].mail.EnvelopeID != "" {
			t.Errorf("got %+v", msgs)
		}
	})
}

func TestClientSendBDAT(t *testing.T) {
	t.Run("pipelined chunks", func(t *testing.T) {
		m := &fakeMTA{caps: []string{"PIPELINING", "CHUNKING"}, pipelineGroup: 1}
		c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
		msg := bytes.Repeat([]byte(".dot\r\n"), (2*chunkSize+1024)/6)
		env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
		_, data, err := c.Send(context.Background(), env, bytes.NewReader(msg))
		if err != nil || data.Code != 250 || data.Text != "queued as 2" {
			t.Fatalf("Send: %v %v", data, err)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		want := []string{"BDAT 1048576", "BDAT 1048576", fmt.Sprintf("BDAT %d LAST", len(msg)-2*chunkSize)}
		if !reflect.DeepEqual(m.bdats, want) {
			t.Errorf("chunks %q, want %q", m.bdats, want)
		}
		if len(m.msgs) != 1 || !bytes.Equal(m.msgs[0], msg) {
			t.Errorf("message altered in transit")
		}
		for _, cmd := range m.cmds {
			if cmd == "DATA" {
				t.Errorf("DATA sent although CHUNKING was offered")
			}
		}
	})
	t.Run("one chunk, exact size, not pipelined", func(t *testing.T) {
		m := &fakeMTA{caps: []string{"CHUNKING"}, sequential: true}
		c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
		msg := bytes.Repeat([]byte("a"), chunkSize)
		env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
		if _, data, err := c.Send(context.Background(), env, bytes.NewReader(msg)); err != nil || data.Code != 250 {
			t.Fatalf("Send: %v %v", data, err)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if want := []string{"BDAT 1048576 LAST"}; !reflect.DeepEqual(m.bdats, want) {
			t.Errorf("chunks %q, want %q", m.bdats, want)
		}
	})
}

func TestClientSendReuse(t *testing.T) {
	addr, be := startGoSMTP(t, nil)
	c := dial(t, plainConfig(), addr, "")
	for i := range 2 {
		env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: fmt.Sprintf("r%d@y.test", i)}}}
		if _, data, err := c.Send(context.Background(), env, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\n", i))); err != nil || data.Code != 250 {
			t.Fatalf("Send %d: %v %v", i, data, err)
		}
		if err := c.Reset(context.Background()); err != nil {
			t.Fatalf("Reset: %v", err)
		}
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.sessions != 1 || len(be.msgs) != 2 || be.msgs[1].rcpts[0] != "r1@y.test" {
		t.Errorf("%d sessions, messages %+v", be.sessions, be.msgs)
	}
}

func TestClientSendTimeout(t *testing.T) {
	m := &fakeMTA{caps: []string{"PIPELINING"}, stallOn: "MAIL"}
	addr := m.start(t, "127.0.0.1:0")
	cfg := plainConfig()
	cfg.Timeouts.Command = 300 * time.Millisecond
	c := dial(t, cfg, addr, "")
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	start := time.Now()
	_, _, err := c.Send(context.Background(), env, strings.NewReader("x\r\n"))
	elapsed := time.Since(start)
	var se *SendError
	if !errors.As(err, &se) || !errors.Is(err, os.ErrDeadlineExceeded) || !se.Temporary() {
		t.Fatalf("Send: %v, want a temporary timeout", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 1500*time.Millisecond {
		t.Errorf("timed out after %v, want about 300ms", elapsed)
	}
	if _, _, err := c.Send(context.Background(), env, strings.NewReader("x\r\n")); err == nil {
		t.Errorf("Send on a broken connection succeeded")
	}
}

func TestClientSendContextCancel(t *testing.T) {
	m := &fakeMTA{caps: []string{"PIPELINING"}, stallOn: "DATA"}
	addr := m.start(t, "127.0.0.1:0")
	// The 2s timeouts of plainConfig end the wait too, but later and with
	// another error: only honouring ctx passes.
	c := dial(t, plainConfig(), addr, "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test"}}}
	start := time.Now()
	_, _, err := c.Send(ctx, env, strings.NewReader("x\r\n"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
	if n := len(m.messages()); n != 1 {
		t.Errorf("server got %d messages before the stall", n)
	}
}

func TestClientDialHostileServers(t *testing.T) {
	cases := map[string]struct {
		handle func(*fakeConn)
		check  func(error) bool
	}{
		"endless reply": {
			handle: func(fc *fakeConn) {
				fc.send("220 hostile.test")
				fc.line()
				for fc.send("250-"+strings.Repeat("x", 60)) == nil {
				}
			},
			check: func(err error) bool { return strings.Contains(err.Error(), "lines") },
		},
		"endless line": {
			handle: func(fc *fakeConn) {
				fc.send("220 hostile.test")
				fc.line()
				for {
					if _, err := io.WriteString(fc, strings.Repeat("x", 1000)); err != nil {
						return
					}
				}
			},
			check: func(err error) bool { return strings.Contains(err.Error(), "octets") },
		},
		"421 greeting": {
			handle: func(fc *fakeConn) { fc.send("421 4.3.2 too busy, try later") },
			check: func(err error) bool {
				var se *SendError
				return errors.As(err, &se) && se.Stage == "greeting" && se.Reply.Code == 421 && se.Temporary()
			},
		},
		"closes after greeting": {
			handle: func(fc *fakeConn) {
				fc.send("220 flaky.test")
				fc.line() // then close: a clean FIN, not a reset
			},
			check: func(err error) bool {
				var se *SendError
				return errors.As(err, &se) && se.Temporary() && errors.Is(err, io.ErrUnexpectedEOF)
			},
		},
		"silent": {
			handle: func(fc *fakeConn) { io.Copy(io.Discard, fc) },
			check:  func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr := startFake(t, "127.0.0.1:0", tc.handle)
			cfg := plainConfig()
			cfg.Timeouts.Greeting = 300 * time.Millisecond
			start := time.Now()
			_, err := Dial(context.Background(), cfg, addr, "")
			if err == nil || !tc.check(err) {
				t.Fatalf("Dial: %v", err)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestClientHELOFallback(t *testing.T) {
	m := &fakeMTA{caps: []string{"PIPELINING", "SIZE 10"}, refuseEHLO: true}
	c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
	if _, ok := c.Extension("PIPELINING"); ok {
		t.Errorf("extensions after HELO")
	}
	env := &Envelope{From: "a@x.test", Size: 1000, Body8Bit: true, Rcpts: []RcptParams{{Addr: "b@y.test", Notify: "NEVER"}}}
	if _, data, err := c.Send(context.Background(), env, strings.NewReader("x\r\n")); err != nil || data.Code != 250 {
		t.Fatalf("Send: %v %v", data, err)
	}
	want := []string{"EHLO client.test", "HELO client.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA"}
	if got := m.commands(); !reflect.DeepEqual(got[:5], want) {
		t.Errorf("commands %q", got)
	}
}

func TestClientSendRejectsInjection(t *testing.T) {
	m := &fakeMTA{}
	c := dial(t, plainConfig(), m.start(t, "127.0.0.1:0"), "")
	env := &Envelope{From: "a@x.test", Rcpts: []RcptParams{{Addr: "b@y.test>\r\nRCPT TO:<evil@z.test"}}}
	_, _, err := c.Send(context.Background(), env, strings.NewReader("x\r\n"))
	var se *SendError
	if !errors.As(err, &se) || !se.Permanent() {
		t.Fatalf("Send: %v", err)
	}
	for _, cmd := range m.commands() {
		if strings.Contains(cmd, "evil") || strings.HasPrefix(cmd, "MAIL") {
			t.Errorf("sent %q", cmd)
		}
	}
}

func TestClientDialIPv6AndLocalAddr(t *testing.T) {
	t.Run("IPv6 literal", func(t *testing.T) {
		if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		} else {
			ln.Close()
		}
		m := &fakeMTA{}
		addr := m.start(t, "[::1]:0")
		if !strings.HasPrefix(addr, "[::1]:") {
			t.Fatalf("listening on %q", addr)
		}
		dial(t, plainConfig(), addr, "")
	})
	t.Run("source address", func(t *testing.T) {
		src := netip.MustParseAddr("127.0.0.2")
		if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
			t.Skipf("cannot bind %v: %v", src, err)
		} else {
			ln.Close()
		}
		m := &fakeMTA{}
		addr := m.start(t, "127.0.0.1:0")
		cfg := plainConfig()
		cfg.LocalAddr = src
		dial(t, cfg, addr, "")
		m.mu.Lock()
		defer m.mu.Unlock()
		if got := m.peer.(*net.TCPAddr).AddrPort().Addr(); got != src {
			t.Errorf("server saw the client at %v, want %v", got, src)
		}
	})
}
