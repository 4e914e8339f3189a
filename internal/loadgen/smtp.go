package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// TLS modes for SMTPOptions.TLS.
const (
	TLSNone     = "none"     // plain text
	TLSStartTLS = "starttls" // RFC 3207 upgrade after EHLO
	TLSImplicit = "implicit" // RFC 8314 TLS from the first byte (port 465)
)

// SMTPOptions configures an SMTP run. Zero values take the defaults noted.
type SMTPOptions struct {
	Addr        string        // host:port; default 127.0.0.1:2525
	Connections int           // concurrent connections; default 8
	Count       int           // messages measured; default 1000
	Size        int           // bytes per message, headers included; default 10240
	From        string        // envelope and header sender; default loadgen@example.test
	Rcpts       []string      // recipients of every message; default alice@example.test
	TLS         string        // TLSNone (default), TLSStartTLS or TLSImplicit
	Insecure    bool          // skip certificate verification (self-signed loopback servers)
	ServerName  string        // TLS server name; default the host of Addr
	User        string        // if set, AUTH PLAIN (RFC 4616) with Password after TLS
	Password    string        //
	PerConn     int           // messages per connection; 0 = one connection for all its messages
	Pipelining  bool          // pipeline MAIL/RCPT/DATA when the server offers PIPELINING
	Chunking    bool          // send BDAT LAST (RFC 3030) instead of DATA when the server offers CHUNKING and PIPELINING
	Warmup      int           // messages sent (and not measured) before the run
	Helo        string        // EHLO name; default localhost
	Timeout     time.Duration // limit for each exchange with the server; default 60s
}

func (o *SMTPOptions) setDefaults() error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:2525"
	}
	if o.Connections == 0 {
		o.Connections = 8
	}
	if o.Count == 0 {
		o.Count = 1000
	}
	if o.Size == 0 {
		o.Size = 10240
	}
	if o.From == "" {
		o.From = "loadgen@example.test"
	}
	if len(o.Rcpts) == 0 {
		o.Rcpts = []string{"alice@example.test"}
	}
	if o.TLS == "" {
		o.TLS = TLSNone
	}
	if o.Helo == "" {
		o.Helo = "localhost"
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("smtp: address %q: %w", o.Addr, err)
	}
	if o.ServerName == "" {
		o.ServerName = host
	}
	switch {
	case o.TLS != TLSNone && o.TLS != TLSStartTLS && o.TLS != TLSImplicit:
		return fmt.Errorf("smtp: tls mode %q: want none, starttls or implicit", o.TLS)
	case o.Connections < 0 || o.Count < 0 || o.Size < 0 || o.PerConn < 0 || o.Warmup < 0:
		return errors.New("smtp: connections, count, size, per-conn and warmup must not be negative")
	}
	for _, a := range append([]string{o.From}, o.Rcpts...) {
		// These go into commands verbatim: a CR or LF would inject one.
		if strings.ContainsAny(a, "\r\n<> ") {
			return fmt.Errorf("smtp: address %q: must not contain spaces, angle brackets or line breaks", a)
		}
	}
	return nil
}

// RunSMTP sends o.Count messages to o.Addr over o.Connections concurrent
// connections and measures each message from MAIL FROM to the final reply
// after DATA. Failed messages are counted in the Result, not returned: the
// error is only for options that make a run impossible (and for a warmup
// that fails, since measuring a server that does not accept mail is
// pointless).
func RunSMTP(ctx context.Context, o SMTPOptions) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	mb := newMessageBuilder(o.From, o.Rcpts, o.Size, time.Now())
	s := spec{
		mode:    "smtp",
		conns:   o.Connections,
		perConn: o.PerConn,
		size:    o.Size,
		dial: func(ctx context.Context) (session, error) {
			return dialSMTP(ctx, &o, mb)
		},
	}
	if o.Warmup > 0 {
		s.count = o.Warmup
		if r := run(ctx, s); r.Errors > 0 {
			return nil, fmt.Errorf("warmup: %w", r.Err())
		}
	}
	s.count = o.Count
	return run(ctx, s), nil
}

// smtpSession is one SMTP client connection.
type smtpSession struct {
	o          *SMTPOptions
	mb         *messageBuilder
	conn       net.Conn
	text       *textproto.Conn
	pipelining bool // negotiated: we want it and the server offers it
	chunking   bool // negotiated: BDAT, pipelined with MAIL and RCPT
	sizeParam  bool // the server offers SIZE, so MAIL may declare it (RFC 1870)
	dirty      bool // a transaction may be open after an error: RSET first
}

// dialSMTP connects, reads the greeting, says EHLO, and does STARTTLS and
// AUTH as configured, leaving a session ready for MAIL.
func dialSMTP(ctx context.Context, o *SMTPOptions, mb *messageBuilder) (*smtpSession, error) {
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &smtpSession{o: o, mb: mb, conn: conn, text: textproto.NewConn(conn)}
	ok := false
	defer func() {
		if !ok {
			s.conn.Close()
		}
	}()
	s.deadline()
	if o.TLS == TLSImplicit {
		if err := s.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	// RFC 5321 §4.3.2: the greeting is 220; 554 means no service.
	if _, err := s.expect("greeting", 220); err != nil {
		return nil, err
	}
	ext, err := s.ehlo()
	if err != nil {
		return nil, err
	}
	if o.TLS == TLSStartTLS {
		if _, offered := ext["STARTTLS"]; !offered {
			return nil, errors.New("STARTTLS: not offered by the server")
		}
		if err := s.cmd("STARTTLS", "STARTTLS", 220); err != nil {
			return nil, err
		}
		if err := s.startTLS(ctx); err != nil {
			return nil, err
		}
		// RFC 3207 §4.2: forget what was learnt before TLS; EHLO again.
		if ext, err = s.ehlo(); err != nil {
			return nil, err
		}
	}
	if o.User != "" {
		// RFC 4616: authzid NUL authcid NUL passwd, base64 as the initial
		// response (RFC 4954 §4).
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + o.User + "\x00" + o.Password))
		if err := s.cmd("AUTH PLAIN", "AUTH PLAIN "+resp, 235); err != nil {
			return nil, err
		}
	}
	_, s.sizeParam = ext["SIZE"]
	_, s.pipelining = ext["PIPELINING"]
	s.pipelining = s.pipelining && o.Pipelining
	_, s.chunking = ext["CHUNKING"]
	s.chunking = s.chunking && o.Chunking && s.pipelining
	ok = true
	return s, nil
}

// startTLS runs the TLS handshake over the connection. The new
// textproto.Conn drops anything read ahead in the clear, which an attacker
// could have injected (RFC 3207 §6).
func (s *smtpSession) startTLS(ctx context.Context) error {
	tc := tls.Client(s.conn, &tls.Config{ServerName: s.o.ServerName, InsecureSkipVerify: s.o.Insecure})
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.conn = tc
	s.text = textproto.NewConn(tc)
	return nil
}

// deadline bounds the next exchange, so a stalled server fails the message
// instead of hanging the run.
func (s *smtpSession) deadline() { s.conn.SetDeadline(time.Now().Add(s.o.Timeout)) }

// ehlo sends EHLO and returns the offered extensions, keyword upper-cased
// to parameters (RFC 5321 §4.1.1.1).
func (s *smtpSession) ehlo() (map[string]string, error) {
	if err := s.text.PrintfLine("EHLO %s", s.o.Helo); err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	msg, err := s.expect("EHLO", 250)
	if err != nil {
		return nil, err
	}
	ext := map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] { // the first line is the server's name
		k, v, _ := strings.Cut(l, " ")
		ext[strings.ToUpper(k)] = v
	}
	return ext, nil
}

// cmd sends one command and checks its reply code; what names the command
// in errors (so AUTH never puts the credentials in one).
func (s *smtpSession) cmd(what, line string, want int) error {
	if err := s.text.PrintfLine("%s", line); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err := s.expect(what, want)
	return err
}

// replyError is a reply with an unexpected code.
type replyError struct {
	what string
	code int
	msg  string
}

// closing reports a 421 (RFC 5321 §3.8): the server is about to drop the
// connection, whatever command it answered.
func closing(err error) bool {
	var re *replyError
	return errors.As(err, &re) && re.code == 421
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.what, e.code, strings.ReplaceAll(e.msg, "\n", " / "))
}

// expect reads one reply and checks its code.
func (s *smtpSession) expect(what string, want int) (string, error) {
	code, msg, err := s.text.ReadResponse(0)
	if err != nil {
		return "", fmt.Errorf("%s: read reply: %w", what, err)
	}
	if code != want {
		return msg, &replyError{what: what, code: code, msg: msg}
	}
	return msg, nil
}

// do sends message seq as one mail transaction (RFC 5321 §3.3). With
// pipelining (RFC 2920 §3.1) MAIL, every RCPT and DATA go out in one write
// and their replies are read afterwards; DATA ends the group because its
// reply decides whether the body may follow.
func (s *smtpSession) do(seq int) (broken bool, err error) {
	s.deadline()
	if s.dirty {
		// The last transaction failed midway; RFC 5321 §4.1.1.5 RSET
		// clears it. Without this, MAIL would get 503.
		if err := s.cmd("RSET", "RSET", 250); err != nil {
			return true, err
		}
		s.dirty = false
	}
	msg := s.mb.build(seq, time.Now())
	if s.chunking {
		return s.doBDAT(msg)
	}

	cmds := make([]string, 0, 2+len(s.o.Rcpts))
	mailFrom := fmt.Sprintf("MAIL FROM:<%s>", s.o.From)
	if s.sizeParam {
		mailFrom += fmt.Sprintf(" SIZE=%d", len(msg))
	}
	cmds = append(cmds, mailFrom)
	for _, r := range s.o.Rcpts {
		cmds = append(cmds, fmt.Sprintf("RCPT TO:<%s>", r))
	}
	cmds = append(cmds, "DATA")

	// Each command's reply is checked, but reading continues after a
	// failure so the connection stays in step with the server.
	var first error
	accepted := 0 // recipients the server took
	check := func(i int) (dataOK bool, err error) {
		what, want := cmds[i], 250
		switch i {
		case 0:
			what = "MAIL FROM"
		case len(cmds) - 1:
			want = 354
		}
		_, err = s.expect(what, want)
		var re *replyError
		if err != nil && (!errors.As(err, &re) || closing(err)) {
			return false, err // the connection is gone or going
		}
		if err != nil && first == nil {
			first = err
		}
		if err == nil && i > 0 && i < len(cmds)-1 {
			accepted++
		}
		return err == nil && i == len(cmds)-1, nil
	}

	var dataOK bool
	if s.pipelining {
		w := s.text.Writer.W
		for _, c := range cmds {
			w.WriteString(c)
			w.WriteString("\r\n")
		}
		if err := w.Flush(); err != nil {
			return true, fmt.Errorf("MAIL: %w", err)
		}
		for i := range cmds {
			ok, err := check(i)
			if err != nil {
				return true, err
			}
			dataOK = ok
		}
	} else {
		for i, c := range cmds {
			if err := s.text.PrintfLine("%s", c); err != nil {
				return true, fmt.Errorf("%s: %w", c, err)
			}
			ok, err := check(i)
			if err != nil {
				return true, err
			}
			dataOK = ok
			// Without pipelining, stop at the first refusal: nothing after
			// it can succeed, and MAIL refused means no RCPT is allowed.
			if first != nil && (i == 0 || i == len(cmds)-2 && accepted == 0) {
				s.dirty = true
				return false, first
			}
		}
	}
	if !dataOK {
		s.dirty = true
		return false, first
	}
	// 354: the server wants a body. If some recipient was refused the
	// message is still sent to the others (that is SMTP), but it counts as
	// failed. If none was accepted yet the server said 354 (RFC 2920 §3.1
	// allows it), send an empty body so it can refuse the transaction.
	body := msg
	if accepted == 0 {
		body = nil
	}
	w := s.text.Writer.W
	// No line starts with '.': no dot-stuffing needed. Body and the
	// terminating dot go out in one write.
	w.Write(append(body, ".\r\n"...))
	if err := w.Flush(); err != nil {
		return true, fmt.Errorf("DATA body: %w", err)
	}
	if _, err := s.expect("DATA end", 250); err != nil {
		var re *replyError
		return !errors.As(err, &re) || closing(err), err
	}
	return false, first
}

// doBDAT sends msg as one transaction whose content is a single BDAT
// LAST chunk (RFC 3030 §2): MAIL, every RCPT, BDAT and the bytes go out
// in one write, since BDAT may be pipelined and needs no go-ahead, and the
// replies are read afterwards. A refused recipient fails the message; the
// server still reads the chunk, so the connection stays in step.
func (s *smtpSession) doBDAT(msg []byte) (broken bool, err error) {
	w := s.text.Writer.W
	fmt.Fprintf(w, "MAIL FROM:<%s>", s.o.From)
	if s.sizeParam {
		fmt.Fprintf(w, " SIZE=%d", len(msg))
	}
	w.WriteString("\r\n")
	for _, r := range s.o.Rcpts {
		fmt.Fprintf(w, "RCPT TO:<%s>\r\n", r)
	}
	fmt.Fprintf(w, "BDAT %d LAST\r\n", len(msg))
	w.Write(msg)
	if err := w.Flush(); err != nil {
		return true, fmt.Errorf("BDAT: %w", err)
	}
	var first error
	for i := range 2 + len(s.o.Rcpts) {
		what := "RCPT TO"
		switch i {
		case 0:
			what = "MAIL FROM"
		case 1 + len(s.o.Rcpts):
			what = "BDAT"
		}
		_, err := s.expect(what, 250)
		var re *replyError
		if err != nil && (!errors.As(err, &re) || closing(err)) {
			return true, err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		s.dirty = true
	}
	return false, first
}

// close says QUIT (RFC 5321 §4.1.1.10) and closes the connection; a server
// that already hung up is no error worth reporting.
func (s *smtpSession) close() error {
	s.conn.SetDeadline(time.Now().Add(min(s.o.Timeout, 5*time.Second)))
	err := s.cmd("QUIT", "QUIT", 221)
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
