package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/tlsutil"
)

// sink is a minimal SMTP server that accepts and counts messages. Its
// switches make it misbehave in the ways the load generator must count.
type sink struct {
	t    *testing.T
	addr string

	pipelining   bool // advertise PIPELINING
	chunking     bool // advertise CHUNKING (BDAT, RFC 3030)
	sizeExt      bool // advertise SIZE
	needPipeline bool // answer MAIL only after RCPT and DATA have arrived: proves pipelining
	tlsConf      *tls.Config
	implicitTLS  bool
	user, pass   string         // require AUTH PLAIN with these
	rejectData   func(int) bool // reply 451 after the body of message n (0-based count)
	rejectRcpt   string         // reply 550 to RCPT for this address
	rejectMail   bool           // reply 451 to MAIL

	mu       sync.Mutex
	conns    int
	msgs     int      // bodies received
	chunks   int      // of them sent with BDAT
	accepted int      // bodies acknowledged with 250
	bodies   [][]byte // every received body
	problems []string // protocol violations by the client
}

func (s *sink) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *sink) start() *sink {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	var wg sync.WaitGroup
	s.t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, p := range s.problems {
			s.t.Errorf("sink: %s", p)
		}
	})
	s.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.session(c)
			}()
		}
	}()
	return s
}

func (s *sink) session(c net.Conn) {
	if s.implicitTLS {
		c = tls.Server(c, s.tlsConf)
	}
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	readLine := func() (string, bool) {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		if !strings.HasSuffix(l, "\r\n") {
			s.problem("line without CRLF: %q", l)
		}
		return strings.TrimRight(l, "\r\n"), true
	}
	isTLS := s.implicitTLS
	authed := s.user == ""
	inTx, rcpts := false, 0

	reply("220 sink ESMTP")
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO":
			ext := []string{"250-sink"}
			if s.sizeExt {
				ext = append(ext, "250-SIZE 100000000")
			}
			if s.pipelining {
				ext = append(ext, "250-PIPELINING")
			}
			if s.chunking {
				ext = append(ext, "250-CHUNKING")
			}
			if s.tlsConf != nil && !isTLS {
				ext = append(ext, "250-STARTTLS")
			}
			if s.user != "" && isTLS {
				ext = append(ext, "250-AUTH PLAIN")
			}
			ext = append(ext, "250 8BITMIME")
			reply(ext...)
		case verb == "STARTTLS":
			if r.Buffered() > 0 {
				s.problem("client pipelined after STARTTLS")
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tlsConf)
			c, isTLS = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case verb == "AUTH":
			want := "PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+s.user+"\x00"+s.pass))
			if !isTLS || strings.TrimPrefix(line, "AUTH ") != want {
				reply("535 5.7.8 bad credentials")
				continue
			}
			authed = true
			reply("235 2.7.0 ok")
		case verb == "MAIL":
			if strings.Contains(line, "SIZE=") && !s.sizeExt {
				s.problem("MAIL with SIZE= to a server not offering SIZE")
			}
			switch {
			case !authed:
				reply("530 5.7.0 authentication required")
				continue
			case inTx:
				s.problem("MAIL inside a transaction")
				reply("503 5.5.1 nested MAIL")
				continue
			case s.rejectMail:
				reply("451 4.3.0 try later")
				continue
			}
			if s.needPipeline {
				// Read the rest of the group before answering: a client
				// that waits for this reply would time out.
				var group []string
				for {
					l, ok := readLine()
					if !ok {
						return
					}
					group = append(group, l)
					if strings.EqualFold(l, "DATA") || strings.HasPrefix(strings.ToUpper(l), "BDAT ") {
						break
					}
				}
				last := group[len(group)-1]
				if strings.HasPrefix(strings.ToUpper(last), "BDAT ") && r.Buffered() == 0 {
					s.problem("BDAT chunk not sent with its command")
				}
				reply("250 2.1.0 ok")
				inTx = true
				for range group[:len(group)-1] {
					rcpts++
					reply("250 2.1.5 ok")
				}
				if strings.EqualFold(last, "DATA") {
					if !s.body(r, reply, rcpts) {
						return
					}
				} else if !s.chunk(r, reply, last, rcpts) {
					return
				}
				inTx, rcpts = false, 0
				continue
			}
			inTx = true
			reply("250 2.1.0 ok")
		case verb == "RCPT":
			switch {
			case !inTx:
				reply("503 5.5.1 need MAIL")
			case s.rejectRcpt != "" && strings.Contains(line, "<"+s.rejectRcpt+">"):
				reply("550 5.1.1 no such user")
			default:
				rcpts++
				reply("250 2.1.5 ok")
			}
		case verb == "DATA":
			if !inTx || rcpts == 0 {
				reply("554 5.5.1 no valid recipients")
				continue
			}
			if !s.body(r, reply, rcpts) {
				return
			}
			inTx, rcpts = false, 0
		case verb == "BDAT":
			if !s.chunk(r, reply, line, rcpts) {
				return
			}
		case verb == "RSET":
			inTx, rcpts = false, 0
			reply("250 2.0.0 ok")
		case verb == "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("500 5.5.2 what?")
		}
	}
}

// body answers DATA with 354, reads the message up to the lone dot, and
// answers it; false means the connection failed.
func (s *sink) body(r *bufio.Reader, reply func(...string), rcpts int) bool {
	reply("354 go ahead")
	var b strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if l == ".\r\n" {
			break
		}
		b.WriteString(l)
	}
	s.mu.Lock()
	n := s.msgs
	s.msgs++
	s.bodies = append(s.bodies, []byte(b.String()))
	reject := s.rejectData != nil && s.rejectData(n)
	if !reject {
		s.accepted++
	}
	s.mu.Unlock()
	if reject {
		reply("451 4.3.0 queue full")
	} else {
		reply(fmt.Sprintf("250 2.0.0 queued as %d for %d", n, rcpts))
	}
	return true
}

// chunk reads the bytes of a "BDAT n LAST" command and answers it as the
// whole message (the load generator sends one chunk per message); false
// means the connection failed.
func (s *sink) chunk(r *bufio.Reader, reply func(...string), line string, rcpts int) bool {
	var n int
	if _, err := fmt.Sscanf(line, "BDAT %d LAST", &n); err != nil || !s.chunking {
		s.problem("unexpected %q", line)
		return false
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return false
	}
	if rcpts == 0 {
		reply("503 5.5.1 no valid recipients")
		return true
	}
	s.mu.Lock()
	s.msgs++
	s.chunks++
	s.accepted++
	s.bodies = append(s.bodies, b)
	s.mu.Unlock()
	reply("250 2.0.0 ok")
	return true
}

// snapshot returns the sink's counters, synchronised with its sessions.
type snapshot struct {
	conns, msgs, accepted, chunks int
	bodies                        [][]byte
}

func (s *sink) stats() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot{conns: s.conns, msgs: s.msgs, accepted: s.accepted, chunks: s.chunks, bodies: s.bodies}
}

func newSink(t *testing.T) *sink { return &sink{t: t, pipelining: true, sizeExt: true} }

func runSMTP(t *testing.T, o SMTPOptions) *Result {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second // only against hangs; no assertion on time
	}
	res, err := RunSMTP(context.Background(), o)
	if err != nil {
		t.Fatalf("RunSMTP: %v", err)
	}
	return res
}

func checkCounts(t *testing.T, res *Result, n, ok, errs int) {
	t.Helper()
	if res.N != n || res.OK != ok || res.Errors != errs || len(res.Latencies) != ok {
		t.Errorf("N=%d OK=%d Errors=%d latencies=%d, want N=%d OK=%d Errors=%d",
			res.N, res.OK, res.Errors, len(res.Latencies), n, ok, errs)
	}
	if ok > 0 && !(res.Percentile(50) <= res.Percentile(99) && res.Percentile(99) <= res.Max() && res.Latencies[0] > 0) {
		t.Errorf("percentiles out of order: p50=%v p99=%v max=%v", res.Percentile(50), res.Percentile(99), res.Max())
	}
	if (errs == 0) != (res.Err() == nil) {
		t.Errorf("Err() = %v with %d errors", res.Err(), errs)
	}
}

func TestSMTPPlain(t *testing.T) {
	s := newSink(t)
	s.needPipeline = true
	s.start()
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 4, Count: 100, Size: 2000, Pipelining: true,
		Rcpts: []string{"alice@example.test", "bob@example.test"}})
	checkCounts(t, res, 100, 100, 0)
	if s.stats().msgs != 100 || s.stats().accepted != 100 {
		t.Errorf("sink got %d messages, accepted %d; want 100", s.stats().msgs, s.stats().accepted)
	}
	// Connections are kept for all their messages: at most one per worker
	// (a worker the scheduler starts late may find no work left).
	if c := s.stats().conns; c > 4 || c != res.Dials || res.Conns != 4 {
		t.Errorf("sink saw %d connections, result dials=%d conns=%d; want at most 4", c, res.Dials, res.Conns)
	}
	subjects := map[string]bool{}
	for _, b := range s.stats().bodies {
		if len(b) != 2000 {
			t.Errorf("message of %d bytes, want 2000", len(b))
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("message does not parse: %v", err)
		}
		for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
			if m.Header.Get(h) == "" {
				t.Errorf("message lacks %s", h)
			}
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("Date: %v", err)
		}
		if to, err := m.Header.AddressList("To"); err != nil || len(to) != 2 {
			t.Errorf("To = %v, %v", to, err)
		}
		subjects[m.Header.Get("Subject")] = true
	}
	if len(subjects) != 100 {
		t.Errorf("%d distinct subjects, want 100 (one sequence number each)", len(subjects))
	}
	if !strings.Contains(res.Summary(), "smtp: 100 msgs in ") || !strings.Contains(res.Summary(), "errors=0  conns=4 size=2000") {
		t.Errorf("summary %q", res.Summary())
	}
}

// TestSMTPChunking: with --chunking each message goes out as one BDAT LAST
// chunk in the same write as MAIL and RCPT; a refused recipient fails the
// message without desynchronising the connection.
func TestSMTPChunking(t *testing.T) {
	s := newSink(t)
	s.chunking, s.needPipeline = true, true
	s.start()
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 2, Count: 20, Size: 3000, Pipelining: true, Chunking: true})
	checkCounts(t, res, 20, 20, 0)
	st := s.stats()
	if st.msgs != 20 || st.chunks != 20 {
		t.Errorf("sink got %d messages, %d of them by BDAT; want 20 by BDAT", st.msgs, st.chunks)
	}
	for _, b := range st.bodies {
		if len(b) != 3000 || !strings.HasSuffix(string(b), "\r\n") || strings.HasSuffix(string(b), ".\r\n") {
			t.Errorf("chunk of %d bytes ending %q, want the 3000-byte message with no dot terminator", len(b), b[max(len(b)-5, 0):])
		}
	}

	s2 := newSink(t)
	s2.chunking, s2.rejectRcpt = true, "alice@example.test"
	s2.start()
	res = runSMTP(t, SMTPOptions{Addr: s2.addr, Connections: 1, Count: 3, Pipelining: true, Chunking: true})
	checkCounts(t, res, 3, 0, 3)
	if res.Dials != 1 {
		t.Errorf("%d dials, want 1: a refused recipient must not cost the connection", res.Dials)
	}
}

func TestSMTPWithoutPipelining(t *testing.T) {
	for _, tc := range []struct {
		name        string
		offer, want bool
	}{
		{"server does not offer it", false, true},
		{"client does not want it", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t)
			s.pipelining = tc.offer
			s.sizeExt = tc.offer
			s.start()
			res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 2, Count: 20, Pipelining: tc.want})
			checkCounts(t, res, 20, 20, 0)
		})
	}
}

func TestSMTPPerConnection(t *testing.T) {
	s := newSink(t).start()
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 3, Count: 30, PerConn: 1, Pipelining: true})
	checkCounts(t, res, 30, 30, 0)
	if s.stats().conns != 30 || res.Dials != 30 {
		t.Errorf("per-conn 1: %d connections (dials %d), want 30", s.stats().conns, res.Dials)
	}

	s2 := newSink(t).start()
	res = runSMTP(t, SMTPOptions{Addr: s2.addr, Connections: 1, Count: 10, PerConn: 4, Pipelining: true})
	checkCounts(t, res, 10, 10, 0)
	if s2.stats().conns != 3 {
		t.Errorf("per-conn 4, 10 messages on one worker: %d connections, want 3", s2.stats().conns)
	}
}

func TestSMTPWarmupNotMeasured(t *testing.T) {
	s := newSink(t).start()
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 2, Count: 10, Warmup: 5, Pipelining: true})
	checkCounts(t, res, 10, 10, 0)
	if s.stats().msgs != 15 {
		t.Errorf("sink got %d messages, want 10 + 5 warmup", s.stats().msgs)
	}
}

func TestSMTPTLS(t *testing.T) {
	m, err := tlsutil.New("", "", t.TempDir(), "localhost", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			s := newSink(t)
			s.tlsConf = m.ServerConfig()
			s.implicitTLS = mode == TLSImplicit
			s.user, s.pass = "alice@example.test", "s3cret"
			s.start()
			res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 2, Count: 10, TLS: mode, Insecure: true,
				User: "alice@example.test", Password: "s3cret", Pipelining: true})
			checkCounts(t, res, 10, 10, 0)
			if s.stats().accepted != 10 {
				t.Errorf("sink accepted %d, want 10", s.stats().accepted)
			}

			// Without --insecure the self-signed certificate is not trusted.
			res = runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 1, Count: 2, TLS: mode, Pipelining: true,
				User: "alice@example.test", Password: "s3cret"})
			checkCounts(t, res, 2, 0, 2)
			if !strings.Contains(res.FirstErrors[0].Error(), "certificate") {
				t.Errorf("error %v, want a certificate failure", res.FirstErrors[0])
			}

			// Wrong password: every message fails at connection setup.
			res = runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 1, Count: 3, TLS: mode, Insecure: true,
				User: "alice@example.test", Password: "wrong"})
			checkCounts(t, res, 3, 0, 3)
			if !strings.Contains(res.FirstErrors[0].Error(), "AUTH PLAIN: 535") ||
				strings.Contains(res.FirstErrors[0].Error(), base64.StdEncoding.EncodeToString([]byte("wrong"))) {
				t.Errorf("error %v, want AUTH PLAIN: 535 without the credentials", res.FirstErrors[0])
			}
		})
	}

	s := newSink(t).start() // no STARTTLS offered
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Count: 1, TLS: TLSStartTLS})
	checkCounts(t, res, 1, 0, 1)
}

// The sink refuses the end of DATA for some messages: those, and only
// those, are counted as errors, and the connection carries on.
func TestSMTPErrorsCounted(t *testing.T) {
	for _, pipe := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipe), func(t *testing.T) {
			s := newSink(t)
			s.rejectData = func(n int) bool { return n%4 == 0 }
			s.start()
			res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 3, Count: 40, Pipelining: pipe})
			checkCounts(t, res, 40, 30, 10)
			if c := s.stats().conns; c > 3 {
				t.Errorf("%d connections, want at most 3: a 451 must not drop the connection", c)
			}
			if !strings.Contains(res.FirstErrors[0].Error(), "DATA end: 451 4.3.0 queue full") {
				t.Errorf("first error %v", res.FirstErrors[0])
			}
			if err := res.Err(); err == nil || !strings.Contains(err.Error(), "10 of 40 messages failed") {
				t.Errorf("Err() = %v", err)
			}
			if !strings.Contains(res.KV(), "n=40 ok=30 errors=10 conns=3") {
				t.Errorf("KV %q", res.KV())
			}
		})
	}
}

func TestSMTPAllRejected(t *testing.T) {
	s := newSink(t)
	s.rejectData = func(int) bool { return true }
	s.start()
	res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 2, Count: 10, Pipelining: true})
	checkCounts(t, res, 10, 0, 10)
	if res.Percentile(50) != 0 || res.PerSecond() != 0 {
		t.Errorf("no successes but p50=%v rate=%v", res.Percentile(50), res.PerSecond())
	}
	if len(res.FirstErrors) != 10 {
		t.Errorf("kept %d errors", len(res.FirstErrors))
	}
}

// Refused MAIL or RCPT: the message fails, the transaction is reset with
// RSET (the sink reports a nested MAIL otherwise), the next one proceeds.
func TestSMTPEnvelopeRefused(t *testing.T) {
	for _, pipe := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipe), func(t *testing.T) {
			s := newSink(t)
			s.rejectMail = true
			s.start()
			res := runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 1, Count: 5, Pipelining: pipe})
			checkCounts(t, res, 5, 0, 5)
			if !strings.Contains(res.FirstErrors[0].Error(), "MAIL FROM: 451") {
				t.Errorf("first error %v", res.FirstErrors[0])
			}

			s = newSink(t)
			s.rejectRcpt = "nobody@example.test"
			s.start()
			res = runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 1, Count: 5, Pipelining: pipe,
				Rcpts: []string{"nobody@example.test"}})
			checkCounts(t, res, 5, 0, 5)
			if s.stats().msgs != 0 {
				t.Errorf("sink got %d bodies with no valid recipient", s.stats().msgs)
			}

			// One good and one bad recipient: the mail goes to the good
			// one but the message counts as failed.
			s = newSink(t)
			s.rejectRcpt = "nobody@example.test"
			s.start()
			res = runSMTP(t, SMTPOptions{Addr: s.addr, Connections: 1, Count: 5, Pipelining: pipe,
				Rcpts: []string{"nobody@example.test", "alice@example.test"}})
			checkCounts(t, res, 5, 0, 5)
			if s.stats().accepted != 5 {
				t.Errorf("sink accepted %d, want 5", s.stats().accepted)
			}
			if !strings.Contains(res.FirstErrors[0].Error(), "RCPT TO:<nobody@example.test>: 550") {
				t.Errorf("first error %v", res.FirstErrors[0])
			}
		})
	}
}

func TestSMTPNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	res := runSMTP(t, SMTPOptions{Addr: addr, Connections: 2, Count: 6})
	checkCounts(t, res, 6, 0, 6)
	if len(res.FirstErrors) == 0 || !strings.Contains(res.FirstErrors[0].Error(), "connect") {
		t.Errorf("errors %v", res.FirstErrors)
	}

	if _, err := RunSMTP(context.Background(), SMTPOptions{Addr: addr, Count: 1, Warmup: 1}); err == nil {
		t.Error("failing warmup: no error")
	}
}

func TestSMTPOptionErrors(t *testing.T) {
	for _, o := range []SMTPOptions{
		{Addr: "no-port"},
		{TLS: "ssl"},
		{Count: -1},
		{From: "a@b\r\nRCPT TO:<x@y>"},
		{Rcpts: []string{"a b@c"}},
	} {
		if _, err := RunSMTP(context.Background(), o); err == nil {
			t.Errorf("RunSMTP(%+v): no error", o)
		}
	}
}
