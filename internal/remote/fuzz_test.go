package remote

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scriptConn is a net.Conn whose peer is a script: reads return the
// script's bytes, then EOF; writes are discarded; deadlines do nothing.
type scriptConn struct{ r *bytes.Reader }

func (c scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c scriptConn) Close() error                     { return nil }
func (c scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c scriptConn) SetDeadline(time.Time) error      { return nil }
func (c scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c scriptConn) SetWriteDeadline(time.Time) error { return nil }

// scriptedConn is a client session whose server says script.
func scriptedConn(script []byte) *Conn {
	sc := scriptConn{bytes.NewReader(script)}
	cfg := &ClientConfig{Hostname: "client.test"}
	c := &Conn{cfg: cfg, t: cfg.Timeouts.withDefaults(), serverName: "mx.test", raw: sc}
	c.setTransport(sc)
	return c
}

// checkReply holds for every reply the parser returns: a code from 200
// to 599 that begins every line, an enhanced code of the reply's class,
// and a text on one line (a stray CR may stay: whoever shows the text
// replaces control characters, as dsn does).
func checkReply(t *testing.T, rep Reply) {
	t.Helper()
	if rep.Code < 200 || rep.Code > 599 || len(rep.Lines) == 0 || len(rep.Lines) > maxReplyLines {
		t.Fatalf("reply %+v: bad code or line count", rep)
	}
	code := strconv.Itoa(rep.Code)
	for _, l := range rep.Lines {
		if !strings.HasPrefix(l, code) || len(l) > maxReplyLine || strings.ContainsAny(l, "\n") {
			t.Fatalf("reply %+v: line %q", rep, l)
		}
	}
	if rep.Enhanced != "" && rep.Enhanced[0] != code[0] {
		t.Fatalf("reply %+v: enhanced code of another class", rep)
	}
	if strings.Contains(rep.Text, "\n") {
		t.Fatalf("reply %+v: line feed in text", rep)
	}
}

// FuzzReadReply: whatever a server sends, the reply parser (RFC 5321
// §4.2, RFC 3463 enhanced codes) returns a well-formed Reply or an error.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 OK\r\n",
		"250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
		"550 5.1.1 No such user\r\n",
		"550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n",
		"451 4.3.0\r\n",
		"250\r\n",
		"250-\r\n250 \r\n",
		"250-one\r\n251 two\r\n",
		"2500 x\r\n",
		"550 5.1.1x text\r\n",
		"450 5.1.1 class differs\r\n",
		"250 ok\n354 go\r\n",
		"6xx no\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		c := scriptedConn(script)
		for range 200 {
			rep, err := c.readReply(time.Minute)
			if err != nil {
				return
			}
			checkReply(t, rep)
		}
	})
}

// FuzzSession: a whole client session against a server saying anything
// (greeting, EHLO extensions parsed into the keyword map, MAIL and RCPT
// replies pipelined or not, DATA or BDAT, RSET) never panics, and what it
// returns fits the envelope.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"220 mx.test ESMTP\r\n250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 2.0.0 queued\r\n",
		"220 mx.test\r\n250-mx.test\r\n250-CHUNKING\r\n250 DSN\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 2.0.0 done\r\n",
		"220 mx.test\r\n250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n",
		"220 mx.test\r\n500 no EHLO\r\n250 mx.test\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n",
		"220 mx.test\r\n250 mx.test\r\n250 ok\r\n550 a\r\n550 b\r\n250 reset\r\n",
		"554 go away\r\n",
		"220 mx.test\r\n250-mx.test\r\n250-SIZE 10\r\n250 SMTPUTF8\r\n",
		"220 mx.test\r\n250-mx.test\r\n250-SIZE\r\n250-size 99999999999999999999\r\n250- \r\n250-=\r\n250 STARTTLS\r\n250 ok\r\n250 ok\r\n250 ok\r\n354\r\n250\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, script []byte, utf8 bool) {
		c := scriptedConn(script)
		ctx := context.Background()
		if err := c.open(ctx); err != nil {
			return
		}
		for kw := range c.ext {
			if kw != strings.ToUpper(kw) || kw == "" {
				t.Fatalf("extension keyword %q not upper case", kw)
			}
		}
		env := &Envelope{From: "a@client.test", Size: 40, SMTPUTF8: utf8, EnvID: "x",
			Rcpts: []RcptParams{{Addr: "b@mx.test", Notify: "FAILURE"}, {Addr: "c@mx.test", ORcpt: "rfc822;c@mx.test"}}}
		msg := "Subject: x\r\n\r\n.leading dot\r\nbody\r\n"
		rcpts, data, err := c.Send(ctx, env, bufio.NewReader(strings.NewReader(msg)))
		if err == nil {
			if len(rcpts) != len(env.Rcpts) {
				t.Fatalf("%d replies for %d recipients", len(rcpts), len(env.Rcpts))
			}
			for _, r := range rcpts {
				checkReply(t, r)
			}
			if data.Code != 0 {
				checkReply(t, data)
			}
		}
		_ = c.Close()
	})
}
