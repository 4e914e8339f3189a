package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Default timeouts. RFC 5321 §4.5.3.2 gives the reply timeouts; it names
// none for connecting, and 30 seconds is long enough for any reachable
// host while letting the next MX be tried soon when one is down.
const (
	defaultConnect   = 30 * time.Second
	defaultGreeting  = 5 * time.Minute  // §4.5.3.2.1 initial 220 message
	defaultCommand   = 5 * time.Minute  // §4.5.3.2.2 MAIL, §4.5.3.2.3 RCPT; used for EHLO, STARTTLS, AUTH, RSET too
	defaultDataInit  = 2 * time.Minute  // §4.5.3.2.4 DATA initiation
	defaultDataBlock = 3 * time.Minute  // §4.5.3.2.5 each send of a data block
	defaultDataDone  = 10 * time.Minute // §4.5.3.2.6 reply to the end of data
)

const (
	// quitTimeout bounds QUIT in Close: the reply carries no information
	// we need, so a slow server must not hold the caller.
	quitTimeout = 5 * time.Second

	// maxReplyLine is the longest reply line accepted, CRLF included
	// (RFC 5321 §4.5.3.1.5).
	maxReplyLine = 512

	// maxReplyLines caps a multi-line reply so a hostile server cannot
	// keep us reading "250-" lines until the timeout. Real EHLO replies
	// have a few dozen lines at most.
	maxReplyLines = 100

	// chunkSize is the largest BDAT chunk (RFC 3030). One MiB keeps the
	// number of pipelined replies small for big messages while bounding
	// the buffer a Conn holds.
	chunkSize = 1 << 20

	// maxWrite bounds a single write to the socket, so that the
	// data-block timeout applies to a piece that a slow link can carry
	// in time, in the spirit of the per-"TCP SEND" timeout of §4.5.3.2.5.
	maxWrite = 64 << 10
)

// ErrAuthNeedsTLS is wrapped in the *SendError that Dial returns when
// ClientConfig.Auth is set but the session is not encrypted: credentials
// are never sent in clear.
var ErrAuthNeedsTLS = errors.New("refusing to send credentials without TLS")

// ClientConfig says how to talk to remote MTAs.
type ClientConfig struct {
	// Hostname is our name, sent in EHLO/HELO.
	Hostname string
	// LocalAddr is the source address of outbound connections; the
	// zero value lets the system choose ([delivery] source_ip).
	LocalAddr netip.Addr
	// TLSConfig is used for STARTTLS and implicit TLS; its ServerName,
	// when empty, is taken from Dial's serverName. A nil TLSConfig turns
	// opportunistic STARTTLS off (a caller retries in clear this way after
	// a *TLSError); with RequireTLS, ImplicitTLS or Auth, nil means a
	// default, certificate-verifying configuration.
	TLSConfig *tls.Config
	// RequireTLS makes Dial fail with a *TLSError when STARTTLS is not
	// offered, refused or fails (smarthost in starttls mode).
	RequireTLS bool
	// ImplicitTLS starts TLS at the first byte (smarthost port 465,
	// RFC 8314 §3.3).
	ImplicitTLS bool
	// Auth, when set, authenticates with AUTH PLAIN once TLS is up
	// (smarthosts); nil for MX delivery.
	Auth *ClientAuth
	// Timeouts bounds each phase; zero fields take the defaults above.
	Timeouts Timeouts
}

// ClientAuth holds smarthost credentials.
type ClientAuth struct {
	Username string // authentication identity (RFC 4616 authcid)
	Password string // its password
}

// Timeouts bounds each phase of a session (RFC 5321 §4.5.3.2). A zero
// field takes the RFC's value (30s for Connect).
type Timeouts struct {
	Connect   time.Duration // TCP connect
	Greeting  time.Duration // waiting for the 220 greeting
	Command   time.Duration // each command reply: EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET
	DataInit  time.Duration // the 354 reply to DATA
	DataBlock time.Duration // each write of message data, and non-final BDAT replies
	DataDone  time.Duration // the reply after the final dot or BDAT LAST
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, defaultConnect)
	def(&t.Greeting, defaultGreeting)
	def(&t.Command, defaultCommand)
	def(&t.DataInit, defaultDataInit)
	def(&t.DataBlock, defaultDataBlock)
	def(&t.DataDone, defaultDataDone)
	return t
}

// Envelope is one SMTP transaction.
type Envelope struct {
	From     string       // reverse path, "" for <> (bounces)
	Rcpts    []RcptParams // forward paths, in order
	Size     int64        // message size in octets (for SIZE=), 0 if unknown
	Body8Bit bool         // the body needs 8BITMIME
	SMTPUTF8 bool         // needs SMTPUTF8 (non-ASCII addresses or headers)
	EnvID    string       // DSN ENVID, passed on only when the server offers DSN
	Ret      string       // DSN RET (FULL|HDRS), same
}

// RcptParams is one recipient of an Envelope.
type RcptParams struct {
	Addr   string // forward path, without angle brackets
	Notify string // DSN NOTIFY value (e.g. "FAILURE,DELAY"), "" if none
	ORcpt  string // DSN ORCPT value, unencoded ("rfc822;addr"), "" if none
}

// Reply is a server reply.
type Reply struct {
	Code     int      // three-digit reply code
	Enhanced string   // "5.1.1" if the server sent one, else ""
	Text     string   // the text lines joined with " ", without codes
	Lines    []string // raw lines, without CRLF
}

// String formats the reply as "550 5.1.1 text", the form used in a DSN's
// Diagnostic-Code.
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// Temporary reports a 4xx reply: the same transaction may succeed later.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5xx reply: retrying will not help.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

func (r Reply) positive() bool { return r.Code >= 200 && r.Code < 300 }

// synthetic builds a reply the server did not send but that describes a
// failure we detect locally, so callers handle both the same way.
func synthetic(code int, enhanced, text string) Reply {
	r := Reply{Code: code, Enhanced: enhanced, Text: text}
	r.Lines = []string{r.String()}
	return r
}

// SendError is a failure of a session or transaction step that concerns
// every recipient at once: a refused greeting, EHLO, AUTH or MAIL, a lost
// connection, a timeout, or a check made before sending.
type SendError struct {
	Stage string // the step that failed: "connect", "greeting", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "RSET"
	Reply Reply  // the server's (or a synthetic) reply; zero when none was received
	Err   error  // the local or network error; nil when Reply tells it all
}

func (e *SendError) Error() string {
	switch {
	case e.Reply.Code != 0 && e.Err != nil:
		return fmt.Sprintf("remote: %s: %s: %v", e.Stage, e.Reply, e.Err)
	case e.Reply.Code != 0:
		return fmt.Sprintf("remote: %s: %s", e.Stage, e.Reply)
	default:
		return fmt.Sprintf("remote: %s: %v", e.Stage, e.Err)
	}
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether a later attempt may succeed: any failure but
// a 5xx reply, because a dropped connection or a timeout says nothing
// about the message (RFC 5321 §4.5.4.1 has the client retry).
func (e *SendError) Temporary() bool { return !e.Reply.Permanent() }

// Permanent reports a 5xx reply.
func (e *SendError) Permanent() bool { return e.Reply.Permanent() }

// dialError is a failed connection attempt. It prints only the cause
// ("connection refused", "i/o timeout"): the caller names the host and
// address it dialled, and net.OpError would repeat the address ("dial tcp
// 192.0.2.1:25: connect: connection refused"). Unwrap keeps the whole
// error for errors.Is and errors.As.
type dialError struct{ err error }

func (e *dialError) Error() string {
	var oe *net.OpError
	if !errors.As(e.err, &oe) || oe.Err == nil {
		return e.err.Error()
	}
	var se *os.SyscallError
	if errors.As(oe.Err, &se) {
		return se.Err.Error()
	}
	return oe.Err.Error()
}

func (e *dialError) Unwrap() error { return e.err }

// TLSError is a failure to establish TLS: STARTTLS missing or refused
// while required, or a failed handshake. After an opportunistic attempt
// the caller may dial again with a nil TLSConfig to deliver in clear.
type TLSError struct {
	Reply Reply // the reply to a refused STARTTLS; zero otherwise
	Err   error // what went wrong
}

func (e *TLSError) Error() string {
	if e.Reply.Code != 0 {
		return fmt.Sprintf("remote: STARTTLS: %s: %v", e.Reply, e.Err)
	}
	return fmt.Sprintf("remote: TLS: %v", e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// Temporary is always true: a TLS failure is retried later (or at once
// in clear, when TLS was only opportunistic), never bounced.
func (e *TLSError) Temporary() bool { return true }

// Conn is an open session with one remote MTA, reusable for several
// messages. It is not safe for concurrent use.
type Conn struct {
	cfg        *ClientConfig
	t          Timeouts
	serverName string // for TLS SNI and verification

	raw  net.Conn // the TCP connection; closing it aborts any blocked I/O
	conn net.Conn // raw, or TLS over raw
	r    *bufio.Reader
	w    *bufio.Writer
	// wtimeout is the deadline each socket write gets; see timedWriter.
	wtimeout time.Duration

	tls        *tls.ConnectionState
	greetName  string
	ehloName   string
	ext        map[string]string // EHLO keyword (upper case) → parameters
	broken     error             // set once the session can no longer be used
	closed     bool
	chunk      []byte // BDAT buffer, allocated on first use
	dataBuffer []byte // DATA copy buffer, allocated on first use
}

// timedWriter gives each write to the socket a fresh deadline, so that a
// long message is bounded per block rather than as a whole.
type timedWriter struct{ c *Conn }

func (tw timedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		piece := p[:min(len(p), maxWrite)]
		if err := tw.c.conn.SetWriteDeadline(time.Now().Add(tw.c.wtimeout)); err != nil {
			return written, err
		}
		n, err := tw.c.conn.Write(piece)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Dial connects to addr ("ip:port", IPv6 as "[::1]:25"), reads the
// greeting, says EHLO (HELO when EHLO gets a 5xx), does STARTTLS when
// offered and AUTH when configured. serverName is used for TLS SNI and
// verification; when empty, the host part of addr is used.
//
// A failed TLS handshake, or TLS required but unavailable, returns a
// *TLSError; every other failure a *SendError.
func Dial(ctx context.Context, cfg *ClientConfig, addr, serverName string) (*Conn, error) {
	if cfg.Hostname == "" || strings.ContainsAny(cfg.Hostname, " \t\r\n") {
		return nil, fmt.Errorf("remote: invalid client hostname %q", cfg.Hostname)
	}
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("remote: address %q: %w", addr, err)
		}
		serverName = host
	}
	t := cfg.Timeouts.withDefaults()
	d := net.Dialer{Timeout: t.Connect}
	if cfg.LocalAddr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: cfg.LocalAddr.AsSlice(), Zone: cfg.LocalAddr.Zone()}
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &SendError{Stage: "connect", Err: &dialError{err: err}}
	}
	c := &Conn{cfg: cfg, t: t, serverName: serverName, raw: raw}
	c.setTransport(raw)

	stop := context.AfterFunc(ctx, c.abort)
	err = c.open(ctx)
	if !stop() && err == nil {
		// ctx ended just as the session opened; the socket is gone.
		err = c.ioFail(ctx, "EHLO", net.ErrClosed)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// abort closes the socket, unblocking any read or write; it runs when the
// caller's context ends.
func (c *Conn) abort() { c.raw.Close() }

func (c *Conn) setTransport(nc net.Conn) {
	c.conn = nc
	c.r = bufio.NewReader(nc)
	c.w = bufio.NewWriterSize(timedWriter{c}, 32<<10)
}

func (c *Conn) open(ctx context.Context) error {
	if c.cfg.ImplicitTLS {
		if err := c.handshake(ctx); err != nil {
			return err
		}
	}
	greet, err := c.readReply(c.t.Greeting)
	if err != nil {
		return c.ioFail(ctx, "greeting", err)
	}
	// RFC 5321 §3.1: a 554 (or 421) greeting refuses the session.
	if greet.Code != 220 {
		return &SendError{Stage: "greeting", Reply: greet}
	}
	c.greetName = firstWord(greet.Lines[0])
	if err := c.hello(ctx); err != nil {
		return err
	}

	wantTLS := c.cfg.TLSConfig != nil || c.cfg.RequireTLS || c.cfg.Auth != nil
	if c.tls == nil && wantTLS && c.has("STARTTLS") {
		rep, err := c.command(ctx, "STARTTLS", "STARTTLS", c.t.Command)
		if err != nil {
			return err
		}
		if rep.Code == 220 {
			// Bytes already buffered after the 220 were sent in clear,
			// maybe by a man in the middle; read after the handshake
			// they would pass for protected replies (STARTTLS response
			// injection).
			if c.r.Buffered() > 0 {
				c.broken = errors.New("data after the STARTTLS reply")
				c.abort()
				return &TLSError{Reply: rep, Err: c.broken}
			}
			if err := c.handshake(ctx); err != nil {
				return err
			}
			// RFC 3207 §4.2: forget what was learnt in clear and ask again.
			if err := c.hello(ctx); err != nil {
				return err
			}
		} else if c.cfg.RequireTLS {
			return &TLSError{Reply: rep, Err: errors.New("STARTTLS refused")}
		}
		// RFC 3207 §4: after a refusal the session goes on in clear.
	}
	if c.tls == nil && c.cfg.RequireTLS {
		return &TLSError{Err: errors.New("server does not offer STARTTLS")}
	}
	if c.cfg.Auth != nil {
		return c.auth(ctx)
	}
	return nil
}

func (c *Conn) handshake(ctx context.Context) error {
	var conf *tls.Config
	if c.cfg.TLSConfig != nil {
		conf = c.cfg.TLSConfig.Clone()
	} else {
		conf = &tls.Config{}
	}
	if conf.ServerName == "" {
		conf.ServerName = c.serverName
	}
	tc := tls.Client(c.raw, conf)
	if err := c.raw.SetDeadline(time.Now().Add(c.t.Command)); err != nil {
		c.broken = err
		return &TLSError{Err: err}
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		// The server is mid-handshake: the session cannot go on in clear.
		c.broken = err
		c.abort()
		return &TLSError{Err: fmt.Errorf("handshake with %s: %w", c.serverName, err)}
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.setTransport(tc)
	return nil
}

// hello sends EHLO, or HELO when the server refuses EHLO (RFC 5321 §3.2),
// and records the extensions offered.
func (c *Conn) hello(ctx context.Context) error {
	rep, err := c.command(ctx, "EHLO", "EHLO "+c.cfg.Hostname, c.t.Command)
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if rep.positive() {
		c.ehloName = firstWord(rep.Lines[0])
		for _, l := range rep.Lines[1:] {
			kw, param, _ := strings.Cut(lineText(l), " ")
			if kw != "" {
				c.ext[strings.ToUpper(kw)] = strings.TrimSpace(param)
			}
		}
		return nil
	}
	if !rep.Permanent() {
		return &SendError{Stage: "EHLO", Reply: rep}
	}
	rep, err = c.command(ctx, "HELO", "HELO "+c.cfg.Hostname, c.t.Command)
	if err != nil {
		return err
	}
	if !rep.positive() {
		return &SendError{Stage: "HELO", Reply: rep}
	}
	c.ehloName = firstWord(rep.Lines[0])
	return nil
}

// auth authenticates with AUTH PLAIN and an initial response (RFC 4954
// §4, RFC 4616 §2).
func (c *Conn) auth(ctx context.Context) error {
	if c.tls == nil {
		return &SendError{Stage: "AUTH", Err: ErrAuthNeedsTLS}
	}
	mechs, _ := c.Extension("AUTH")
	plain := false
	for _, m := range strings.Fields(mechs) {
		plain = plain || strings.EqualFold(m, "PLAIN")
	}
	if !plain {
		return &SendError{Stage: "AUTH", Err: errors.New("server does not offer AUTH PLAIN")}
	}
	a := c.cfg.Auth
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + a.Username + "\x00" + a.Password))
	rep, err := c.command(ctx, "AUTH", "AUTH PLAIN "+ir, c.t.Command)
	if err != nil {
		return err
	}
	if rep.Code == 334 {
		// The server wants another round although PLAIN has none; cancel
		// (RFC 4954 §4) so the session stays in step.
		if _, err := c.command(ctx, "AUTH", "*", c.t.Command); err != nil {
			return err
		}
	}
	if rep.Code != 235 {
		return &SendError{Stage: "AUTH", Reply: rep}
	}
	return nil
}

// TLS reports the negotiated TLS version and cipher suite names ("" when
// plain), for tracking.
func (c *Conn) TLS() (version, cipher string) {
	if c.tls == nil {
		return "", ""
	}
	return tls.VersionName(c.tls.Version), tls.CipherSuiteName(c.tls.CipherSuite)
}

// Extension reports whether the server offered the EHLO keyword name
// (case-insensitive) and with which parameters.
func (c *Conn) Extension(name string) (param string, ok bool) {
	param, ok = c.ext[strings.ToUpper(name)]
	return param, ok
}

func (c *Conn) has(name string) bool {
	_, ok := c.ext[name]
	return ok
}

// RemoteName is the name the server gave in its greeting, or in its
// EHLO reply if the greeting had none (for Remote-MTA). The greeting
// comes first because some servers open the EHLO reply with a salutation
// ("250-Hello client") where RFC 5321 §4.1.1.1 puts their domain.
func (c *Conn) RemoteName() string {
	if c.greetName != "" {
		return c.greetName
	}
	return c.ehloName
}

// Send runs one transaction: MAIL FROM, RCPT TO for each recipient, then
// the message with BDAT when CHUNKING is offered and DATA otherwise. msg
// must be CRLF-normalised.
//
// Whenever the server answered every command, err is nil and the outcome
// is in the replies: rcpts[i] answers env.Rcpts[i], and data is the reply
// that decided the message for the accepted recipients (the final reply,
// or the refusal of DATA or of a BDAT chunk); data is zero when no
// recipient was accepted. err is a *SendError when the whole transaction
// failed: MAIL refused, a check before sending, a lost connection or a
// timeout. A *SendError with a Reply leaves the Conn usable; one without
// (the connection was lost or timed out) leaves it closed.
func (c *Conn) Send(ctx context.Context, env *Envelope, msg io.Reader) (rcpts []Reply, data Reply, err error) {
	if c.broken != nil {
		return nil, Reply{}, &SendError{Stage: "MAIL", Err: fmt.Errorf("connection unusable: %w", c.broken)}
	}
	if len(env.Rcpts) == 0 {
		return nil, Reply{}, &SendError{Stage: "RCPT", Reply: synthetic(554, "5.5.1", "no recipients")}
	}
	mail, rcptCmds, err := c.commands(env)
	if err != nil {
		return nil, Reply{}, err
	}

	stop := context.AfterFunc(ctx, c.abort)
	defer func() {
		if !stop() && c.broken == nil {
			c.broken = context.Cause(ctx)
		}
	}()

	pipelining := c.has("PIPELINING")
	chunking := c.has("CHUNKING")
	rcpts = make([]Reply, len(env.Rcpts))
	var mailRep, dataRep Reply
	dataSent := false
	if pipelining {
		// RFC 2920 §3.1: MAIL, the RCPTs and DATA go as one group, DATA
		// last. With CHUNKING the BDATs wait for the RCPT replies, so
		// that no chunk travels when nobody will take it. Replies are
		// small: the kernel buffers hold them while we write.
		c.writeLine(mail)
		for _, rc := range rcptCmds {
			c.writeLine(rc)
		}
		if !chunking {
			c.writeLine("DATA")
			dataSent = true
		}
		if err := c.flush(c.t.Command); err != nil {
			return nil, Reply{}, c.ioFail(ctx, "MAIL", err)
		}
		// RFC 2920 §3.1: every reply of the group is read, in order.
		if mailRep, err = c.readReply(c.t.Command); err != nil {
			return nil, Reply{}, c.ioFail(ctx, "MAIL", err)
		}
		for i := range rcpts {
			if rcpts[i], err = c.readReply(c.t.Command); err != nil {
				return nil, Reply{}, c.ioFail(ctx, "RCPT", err)
			}
		}
		if dataSent {
			if dataRep, err = c.readReply(c.t.DataInit); err != nil {
				return rcpts, Reply{}, c.ioFail(ctx, "DATA", err)
			}
		}
	} else {
		if mailRep, err = c.command(ctx, "MAIL", mail, c.t.Command); err != nil {
			return nil, Reply{}, err
		}
		if mailRep.positive() {
			for i, rc := range rcptCmds {
				if rcpts[i], err = c.command(ctx, "RCPT", rc, c.t.Command); err != nil {
					return rcpts[:i], Reply{}, err
				}
			}
		}
	}

	accepted := 0
	for _, r := range rcpts {
		if r.positive() {
			accepted++
		}
	}
	if dataSent && dataRep.Code == 354 && (!mailRep.positive() || accepted == 0) {
		// The server took DATA with nothing to deliver to; RFC 5321 §3.3
		// forbids sending the message, so end the empty one at once.
		c.writeLine(".")
		if err := c.flush(c.t.DataBlock); err != nil {
			return nil, Reply{}, c.ioFail(ctx, "DATA", err)
		}
		if _, err := c.readReply(c.t.DataDone); err != nil {
			return nil, Reply{}, c.ioFail(ctx, "DATA", err)
		}
	}
	if !mailRep.positive() {
		return nil, Reply{}, &SendError{Stage: "MAIL", Reply: mailRep}
	}
	if accepted == 0 {
		// No message data without a valid recipient (RFC 5321 §3.3); RSET
		// ends the transaction the accepted MAIL opened. Every recipient's
		// fate is known, so a failing RSET only marks the Conn broken.
		_, _ = c.command(ctx, "RSET", "RSET", c.t.Command)
		return rcpts, Reply{}, nil
	}

	// Without 8BITMIME an 8-bit body should be downgraded or bounced (RFC
	// 6152 §3). We send it as is: servers not offering 8BITMIME nearly all
	// pass 8-bit bytes through, and that beats bouncing the message.
	if chunking {
		data, err = c.sendChunks(ctx, msg, pipelining)
		return rcpts, data, err
	}
	if !dataSent {
		if dataRep, err = c.command(ctx, "DATA", "DATA", c.t.DataInit); err != nil {
			return rcpts, Reply{}, err
		}
	}
	if dataRep.Code != 354 {
		if dataRep.Temporary() || dataRep.Permanent() {
			return rcpts, dataRep, nil
		}
		return rcpts, Reply{}, c.ioFail(ctx, "DATA", fmt.Errorf("unexpected reply to DATA: %s", dataRep))
	}
	data, err = c.sendData(ctx, msg)
	return rcpts, data, err
}

// commands builds the MAIL and RCPT command lines for env, or fails
// before anything is sent when the server cannot take the message.
func (c *Conn) commands(env *Envelope) (mail string, rcpts []string, err error) {
	// RFC 1870 §4: a message larger than the declared fixed limit is
	// bound to fail with 552; §3: "SIZE" with no number or 0 sets none.
	if p, ok := c.Extension("SIZE"); ok {
		if limit, perr := strconv.ParseInt(p, 10, 64); perr == nil && limit > 0 && env.Size > limit {
			return "", nil, &SendError{Stage: "MAIL",
				Reply: synthetic(552, "5.3.4", "message size exceeds fixed limit of the remote server")}
		}
	}
	// RFC 6531 §3.4: such a message cannot be sent to a server without
	// SMTPUTF8.
	if env.SMTPUTF8 && !c.has("SMTPUTF8") {
		return "", nil, &SendError{Stage: "MAIL",
			Reply: synthetic(553, "5.6.7", "the remote server does not support SMTPUTF8")}
	}
	// A control character (above all CR or LF) in an address or a
	// parameter would let it smuggle commands into the session.
	invalid := func(what string) error {
		return &SendError{Stage: "MAIL", Reply: synthetic(501, "5.5.4", "invalid "+what+" in envelope")}
	}
	if hasCtl(env.From) {
		return "", nil, invalid("sender")
	}
	dsn := c.has("DSN")

	var b strings.Builder
	b.WriteString("MAIL FROM:<" + env.From + ">")
	if c.has("SIZE") && env.Size > 0 {
		b.WriteString(" SIZE=" + strconv.FormatInt(env.Size, 10))
	}
	if env.Body8Bit && c.has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME") // RFC 6152 §2
	}
	if env.SMTPUTF8 {
		b.WriteString(" SMTPUTF8") // RFC 6531 §3.4
	}
	if dsn { // RFC 3461 §4.3, §4.4
		if env.Ret != "" {
			if !isParam(env.Ret) {
				return "", nil, invalid("RET")
			}
			b.WriteString(" RET=" + strings.ToUpper(env.Ret))
		}
		if env.EnvID != "" {
			b.WriteString(" ENVID=" + xtext(env.EnvID))
		}
	}
	mail = b.String()

	rcpts = make([]string, len(env.Rcpts))
	for i, r := range env.Rcpts {
		if r.Addr == "" || hasCtl(r.Addr) {
			return "", nil, invalid("recipient")
		}
		b.Reset()
		b.WriteString("RCPT TO:<" + r.Addr + ">")
		if dsn { // RFC 3461 §4.1, §4.2
			if r.Notify != "" {
				if !isParam(r.Notify) {
					return "", nil, invalid("NOTIFY")
				}
				b.WriteString(" NOTIFY=" + strings.ToUpper(r.Notify))
			}
			if r.ORcpt != "" {
				typ, addr, ok := strings.Cut(r.ORcpt, ";")
				if !ok || !isParam(typ) || addr == "" {
					return "", nil, invalid("ORCPT")
				}
				if strings.EqualFold(typ, "utf-8") {
					addr = utf8AddrXtext(addr)
				} else {
					addr = xtext(addr)
				}
				b.WriteString(" ORCPT=" + typ + ";" + addr)
			}
		}
		rcpts[i] = b.String()
	}
	return mail, rcpts, nil
}

// sendData sends the message after a 354, with the transparency rule of
// RFC 5321 §4.5.2, and reads the final reply.
func (c *Conn) sendData(ctx context.Context, msg io.Reader) (Reply, error) {
	if c.dataBuffer == nil {
		c.dataBuffer = make([]byte, 32<<10)
	}
	dw := &dotWriter{w: c.w}
	c.wtimeout = c.t.DataBlock
	for {
		n, rerr := msg.Read(c.dataBuffer)
		if n > 0 {
			if _, err := dw.Write(c.dataBuffer[:n]); err != nil {
				return Reply{}, c.ioFail(ctx, "DATA", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Ending with the dot would deliver a truncated message:
			// drop the connection instead, so the server discards it.
			return Reply{}, c.ioFail(ctx, "DATA", fmt.Errorf("reading message: %w", rerr))
		}
	}
	if err := dw.finish(); err != nil {
		return Reply{}, c.ioFail(ctx, "DATA", err)
	}
	if err := c.flush(c.t.DataBlock); err != nil {
		return Reply{}, c.ioFail(ctx, "DATA", err)
	}
	// A timeout here leaves the message's fate unknown; the caller
	// retries, accepting the risk of a duplicate (RFC 5321 §6.1).
	rep, err := c.readReply(c.t.DataDone)
	if err != nil {
		return Reply{}, c.ioFail(ctx, "DATA", err)
	}
	if rep.Code < 200 || rep.Code >= 600 || rep.Code/100 == 3 {
		return Reply{}, c.ioFail(ctx, "DATA", fmt.Errorf("unexpected reply to end of data: %s", rep))
	}
	return rep, nil
}

// sendChunks sends the message as BDAT chunks (RFC 3030 §2), pipelined
// when the server offers PIPELINING (RFC 3030 §4.2), and returns the
// reply that decided the message: the first refusal, or the reply to the
// last chunk.
func (c *Conn) sendChunks(ctx context.Context, msg io.Reader, pipelined bool) (Reply, error) {
	if c.chunk == nil {
		c.chunk = make([]byte, chunkSize)
	}
	br := bufio.NewReader(msg)
	sent := 0
	for {
		n, rerr := io.ReadFull(br, c.chunk)
		last := false
		switch {
		case rerr == io.EOF || errors.Is(rerr, io.ErrUnexpectedEOF):
			last = true
		case rerr != nil:
			return Reply{}, c.ioFail(ctx, "BDAT", fmt.Errorf("reading message: %w", rerr))
		default:
			// A full chunk: look one byte ahead to know whether it is the
			// last, so the message ends with "BDAT n LAST", not "BDAT 0 LAST".
			if _, perr := br.Peek(1); perr == io.EOF {
				last = true
			} else if perr != nil {
				return Reply{}, c.ioFail(ctx, "BDAT", fmt.Errorf("reading message: %w", perr))
			}
		}
		cmd := "BDAT " + strconv.Itoa(n)
		if last {
			cmd += " LAST"
		}
		c.wtimeout = c.t.DataBlock
		c.writeLine(cmd)
		if _, err := c.w.Write(c.chunk[:n]); err != nil {
			return Reply{}, c.ioFail(ctx, "BDAT", err)
		}
		sent++
		if !pipelined {
			if err := c.flush(c.t.DataBlock); err != nil {
				return Reply{}, c.ioFail(ctx, "BDAT", err)
			}
			rep, err := c.readChunkReply(last)
			if err != nil {
				return Reply{}, c.ioFail(ctx, "BDAT", err)
			}
			if last || !rep.positive() {
				return rep, nil
			}
		}
		if last {
			break
		}
	}
	if err := c.flush(c.t.DataBlock); err != nil {
		return Reply{}, c.ioFail(ctx, "BDAT", err)
	}
	var outcome Reply
	for i := range sent {
		rep, err := c.readChunkReply(i == sent-1)
		if err != nil {
			return Reply{}, c.ioFail(ctx, "BDAT", err)
		}
		if outcome.Code == 0 && (!rep.positive() || i == sent-1) {
			outcome = rep
		}
	}
	return outcome, nil
}

func (c *Conn) readChunkReply(last bool) (Reply, error) {
	timeout := c.t.DataBlock
	if last {
		timeout = c.t.DataDone
	}
	rep, err := c.readReply(timeout)
	if err != nil {
		return Reply{}, err
	}
	if rep.Code < 200 || rep.Code >= 600 || rep.Code/100 == 3 {
		return Reply{}, fmt.Errorf("unexpected reply to BDAT: %s", rep)
	}
	return rep, nil
}

// Reset sends RSET, ending any transaction before the connection carries
// another message.
func (c *Conn) Reset(ctx context.Context) error {
	if c.broken != nil {
		return &SendError{Stage: "RSET", Err: fmt.Errorf("connection unusable: %w", c.broken)}
	}
	stop := context.AfterFunc(ctx, c.abort)
	defer func() {
		if !stop() && c.broken == nil {
			c.broken = context.Cause(ctx)
		}
	}()
	rep, err := c.command(ctx, "RSET", "RSET", c.t.Command)
	if err != nil {
		return err
	}
	if !rep.positive() {
		return &SendError{Stage: "RSET", Reply: rep}
	}
	return nil
}

// Close sends QUIT (best effort, under a short timeout) and closes the
// connection.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.broken == nil {
		// The reply to QUIT changes nothing for us (RFC 5321 §4.1.1.10).
		q := min(quitTimeout, c.t.Command)
		c.writeLine("QUIT")
		if c.flush(q) == nil {
			_, _ = c.readReply(q)
		}
	}
	if c.tls != nil {
		// close_notify is a courtesy: a peer gone after QUIT makes it
		// fail, which says nothing about the session; bound its wait.
		_ = c.raw.SetDeadline(time.Now().Add(time.Second))
		_ = c.conn.Close()
	}
	if err := c.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("remote: close: %w", err)
	}
	return nil
}

// command sends one line and reads its reply.
func (c *Conn) command(ctx context.Context, stage, line string, timeout time.Duration) (Reply, error) {
	c.writeLine(line)
	if err := c.flush(c.t.Command); err != nil {
		return Reply{}, c.ioFail(ctx, stage, err)
	}
	rep, err := c.readReply(timeout)
	if err != nil {
		return Reply{}, c.ioFail(ctx, stage, err)
	}
	return rep, nil
}

// writeLine buffers a command; the error surfaces at flush.
func (c *Conn) writeLine(line string) {
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
}

func (c *Conn) flush(timeout time.Duration) error {
	c.wtimeout = timeout
	return c.w.Flush()
}

// ioFail records that the session is lost: after a network error or a
// timeout the two sides may disagree on where they are. A cancelled ctx
// is named as the cause, since closing the socket is what it did.
func (c *Conn) ioFail(ctx context.Context, stage string, err error) *SendError {
	c.broken = err
	c.abort()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return &SendError{Stage: stage, Err: err}
}

// readReply reads one possibly multi-line reply (RFC 5321 §4.2), the
// whole of it under one deadline.
func (c *Conn) readReply(timeout time.Duration) (Reply, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return Reply{}, err
	}
	var rep Reply
	var texts []string
	for {
		if len(rep.Lines) == maxReplyLines {
			return Reply{}, fmt.Errorf("reply longer than %d lines", maxReplyLines)
		}
		raw, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxReplyLine {
			return Reply{}, fmt.Errorf("reply line longer than %d octets", maxReplyLine)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, fmt.Errorf("reading reply: %w", err)
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
		code, more, err := parseReplyLine(line)
		if err != nil {
			return Reply{}, err
		}
		if rep.Lines == nil {
			rep.Code = code
		} else if code != rep.Code {
			return Reply{}, fmt.Errorf("malformed reply: code %d in a %d reply", code, rep.Code)
		}
		rep.Lines = append(rep.Lines, line)
		texts = append(texts, lineText(line))
		if !more {
			break
		}
	}
	// RFC 3463 codes are read whether or not ENHANCEDSTATUSCODES was
	// offered (some servers send them regardless); RFC 2034 §4 has every
	// line start with the same code, which is not repeated in Text.
	if enh, _, ok := cutEnhanced(texts[0], rep.Code/100); ok {
		rep.Enhanced = enh
		for i, t := range texts {
			if e, rest, ok := cutEnhanced(t, rep.Code/100); ok && e == enh {
				texts[i] = rest
			}
		}
	}
	parts := texts[:0]
	for _, t := range texts {
		if t != "" {
			parts = append(parts, t)
		}
	}
	rep.Text = strings.Join(parts, " ")
	return rep, nil
}

// parseReplyLine checks "ddd", "ddd text" or "ddd-text" (RFC 5321 §4.2).
func parseReplyLine(line string) (code int, more bool, err error) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' ||
		line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return 0, false, fmt.Errorf("malformed reply line %q", truncate(line))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, false, nil
	}
	switch line[3] {
	case ' ':
		return code, false, nil
	case '-':
		return code, true, nil
	}
	return 0, false, fmt.Errorf("malformed reply line %q", truncate(line))
}

// lineText is a reply line without its code and separator.
func lineText(line string) string {
	if len(line) <= 4 {
		return ""
	}
	return strings.TrimSpace(line[4:])
}

func firstWord(line string) string {
	w, _, _ := strings.Cut(lineText(line), " ")
	return w
}

// cutEnhanced splits an RFC 3463 status code (class "." subject "."
// detail, one to three digits each) off the front of text. The class
// must agree with the reply code's first digit.
func cutEnhanced(text string, class int) (code, rest string, ok bool) {
	end := strings.IndexByte(text, ' ')
	if end < 0 {
		end = len(text)
	}
	code = text[:end]
	parts := strings.Split(code, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(class) {
		return "", text, false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return "", text, false
		}
		for i := range len(p) {
			if p[i] < '0' || p[i] > '9' {
				return "", text, false
			}
		}
	}
	return code, strings.TrimSpace(text[end:]), true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func hasCtl(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// isParam accepts an ESMTP parameter value that needs no encoding:
// printable ASCII without space or "=" (RFC 5321 §4.1.2 esmtp-value).
func isParam(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '=' {
			return false
		}
	}
	return true
}

// xtext encodes s as RFC 3461 §4 xtext: printable ASCII but "+" and "="
// as is, every other octet as "+XX".
func xtext(s string) string {
	var b strings.Builder
	for i := range len(s) {
		ch := s[i]
		if ch >= '!' && ch <= '~' && ch != '+' && ch != '=' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "+%02X", ch)
		}
	}
	return b.String()
}

// utf8AddrXtext encodes an address as RFC 6533 §3 utf-8-addr-xtext, the
// form ORCPT takes for the "utf-8" address type: printable ASCII but
// "+", "=" and "\" as is, every other character as \x{HEX}. Invalid
// UTF-8 comes out as \x{FFFD}, the replacement character.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%02X}`, r)
		}
	}
	return b.String()
}

// dotWriter applies the transparency rule of RFC 5321 §4.5.2: a line
// starting with "." gets another one. Lines are taken to start after any
// LF, bare or not, so that a stray "\n.\r\n" in a message cannot end the
// data early at a server that accepts bare LF (SMTP smuggling).
type dotWriter struct {
	w     *bufio.Writer
	n     int64
	tail  [2]byte // the last two octets written, to see the final CRLF
	atBOL bool    // the next octet starts a line (set after LF)
}

func (d *dotWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if (d.atBOL || d.n == 0) && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return written, err
			}
		}
		seg := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			seg = p[:i+1]
		}
		n, err := d.w.Write(seg)
		written += n
		if err != nil {
			return written, err
		}
		d.n += int64(n)
		if n >= 2 {
			d.tail = [2]byte{seg[n-2], seg[n-1]}
		} else {
			d.tail = [2]byte{d.tail[1], seg[0]}
		}
		d.atBOL = seg[n-1] == '\n'
		p = p[n:]
	}
	return written, nil
}

// finish ends the message with CRLF if it does not already, then writes
// the terminating ".CRLF".
func (d *dotWriter) finish() error {
	if d.n > 0 && d.tail != [2]byte{'\r', '\n'} {
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
