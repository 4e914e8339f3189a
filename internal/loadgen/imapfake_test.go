package loadgen

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBody is the BODY[] every message of the fake has. Read by lines it
// would end the command early ("a1 OK"), fake an EXISTS and a continuation,
// and announce literals that are not there: a client that reads literals
// by length sees none of that.
const fakeBody = "Subject: trap\r\n\r\na1 OK fake completion\r\n* 999 EXISTS\r\n+ fake continuation\r\n" +
	"a line ending in a brace {12}\r\nand the data ends in one too {3}"

// fakeHeader is a second literal in the same FETCH response.
const fakeHeader = "Subject: trap\r\n\r\n"

// fakeLiteralBytes is what one BODY[] fetch from the fake brings.
const fakeLiteralBytes = len(fakeBody) + len(fakeHeader)

// fakeIMAP is a scripted IMAP server: one mailbox for every name, canned
// responses, switches for the failures the client must count. It checks
// the client's side of the protocol and reports violations as test errors.
type fakeIMAP struct {
	t    *testing.T
	addr string

	user, pass  string
	caps        string      // capabilities after LOGIN
	preCaps     string      // capabilities in the greeting
	tlsConf     *tls.Config // offer STARTTLS (or serve implicit TLS) with this
	implicitTLS bool
	appendUID   bool // answer APPEND with APPENDUID (RFC 4315)
	rejectStore bool // answer UID STORE with NO
	maxOpen     int  // greet connections beyond this many open at once with BYE; 0 = no limit
	dropIdle    bool // after "+ idling", say BYE and hang up
	hangUpEvery int  // hang up without a reply on every n-th NOOP received; 0 = never
	// fetchStream makes FETCH (by number) answer without end, until the
	// client goes; without it FETCH sends a few lines and hangs up (a
	// server disconnecting a client that does not read).
	fetchStream bool

	mu        sync.Mutex
	uids      []uint32 // the mailbox, ascending
	nextUID   uint32
	open      int            // connections open now
	inSetup   int            // connections between accept and IDLE
	maxSetup  int            // most connections seen in setup at once
	cmds      map[string]int // commands received, by name
	appended  [][]byte       // APPENDed messages
	syncLits  int            // synchronising literals received
	plusLits  int            // non-synchronising literals received
	searches  []string       // UID SEARCH arguments
	problems  []string       // protocol violations by the client
	afterIdle int            // connections that sent a command after IDLE other than DONE
}

func newFake(t *testing.T, messages int) *fakeIMAP {
	f := &fakeIMAP{t: t, user: "alice@example.test", pass: "secret", appendUID: true, cmds: map[string]int{},
		caps:    "IMAP4rev1 IDLE UIDPLUS LITERAL+",
		preCaps: "IMAP4rev1 LITERAL+ AUTH=PLAIN",
		nextUID: 1}
	for range messages {
		f.uids = append(f.uids, f.nextUID)
		f.nextUID += 3 // UIDs are not sequence numbers
	}
	return f
}

func (f *fakeIMAP) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeIMAP) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cmds[name]
}

func (f *fakeIMAP) server() IMAPServer {
	mode := TLSNone
	switch {
	case f.implicitTLS:
		mode = TLSImplicit
	case f.tlsConf != nil:
		mode = TLSStartTLS
	}
	return IMAPServer{Addr: f.addr, TLS: mode, Insecure: true, User: f.user, Password: f.pass, Timeout: 20 * time.Second}
}

func (f *fakeIMAP) start() *fakeIMAP {
	f.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	var wg sync.WaitGroup
	f.t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, p := range f.problems {
			f.t.Errorf("fake IMAP server: %s", p)
		}
	})
	f.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				f.session(c)
			})
		}
	}()
	return f
}

// fakeConn is one session's reader and writer.
type fakeConn struct {
	f       *fakeIMAP
	r       *bufio.Reader
	w       *bufio.Writer
	caps    string
	isTLS   bool
	inSetup bool
}

func (fc *fakeConn) send(lines ...string) {
	for _, l := range lines {
		fc.w.WriteString(l + "\r\n")
	}
	fc.w.Flush()
}

func (fc *fakeConn) endSetup() {
	if fc.inSetup {
		fc.inSetup = false
		fc.f.mu.Lock()
		fc.f.inSetup--
		fc.f.mu.Unlock()
	}
}

// readCommand reads one command: its text, literal announcements kept,
// and the literals' data. A synchronising literal gets "+ go ahead" first.
func (fc *fakeConn) readCommand() (string, [][]byte, bool) {
	var b strings.Builder
	var lits [][]byte
	for {
		l, err := fc.r.ReadString('\n')
		if err != nil {
			return "", nil, false
		}
		if !strings.HasSuffix(l, "\r\n") {
			fc.f.problem("line without CRLF: %q", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		b.WriteString(l)
		n, plus, ok := fakeLiteral(l)
		if !ok {
			return b.String(), lits, true
		}
		caps := " " + fc.caps + " "
		fc.f.mu.Lock()
		if plus {
			fc.f.plusLits++
			if !strings.Contains(caps, " LITERAL+ ") && !(strings.Contains(caps, " IMAP4rev2 ") && n <= 4096) {
				fc.f.problems = append(fc.f.problems, fmt.Sprintf("non-synchronising literal of %d bytes not allowed by %q", n, fc.caps))
			}
		} else {
			fc.f.syncLits++
		}
		fc.f.mu.Unlock()
		if !plus {
			if fc.r.Buffered() > 0 {
				fc.f.problem("literal data sent before the go-ahead")
			}
			fc.send("+ go ahead")
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(fc.r, data); err != nil {
			return "", nil, false
		}
		lits = append(lits, data)
	}
}

func fakeLiteral(l string) (n int, plus, ok bool) {
	if !strings.HasSuffix(l, "}") {
		return 0, false, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false, false
	}
	num := l[i+1 : len(l)-1]
	plus = strings.HasSuffix(num, "+")
	n, err := strconv.Atoi(strings.TrimSuffix(num, "+"))
	return n, plus, err == nil
}

// fakeFields splits arguments into atoms, quoted strings (unquoted),
// parenthesised lists (kept whole) and literals (their data, in order).
func fakeFields(s string, lits [][]byte) []string {
	var out []string
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ':
			i++
		case '"':
			var b strings.Builder
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
				b.WriteByte(s[i])
			}
			out = append(out, b.String())
			i++
		case '{':
			i = strings.IndexByte(s[i:], '}') + i + 1
			out = append(out, string(lits[0]))
			lits = lits[1:]
		case '(':
			j := strings.IndexByte(s[i:], ')') + i + 1
			out = append(out, s[i:j])
			i = j
		default:
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			out = append(out, s[i:i+j])
			i += j
		}
	}
	return out
}

func (f *fakeIMAP) session(c net.Conn) {
	if f.implicitTLS {
		c = tls.Server(c, f.tlsConf)
	}
	fc := &fakeConn{f: f, r: bufio.NewReader(c), w: bufio.NewWriter(c), caps: f.preCaps, isTLS: f.implicitTLS, inSetup: true}
	f.mu.Lock()
	f.open++
	f.inSetup++
	f.maxSetup = max(f.maxSetup, f.inSetup)
	full := f.maxOpen > 0 && f.open > f.maxOpen
	f.mu.Unlock()
	defer func() {
		fc.endSetup()
		f.mu.Lock()
		f.open--
		f.mu.Unlock()
	}()
	if full {
		fc.send("* BYE too many connections")
		return
	}
	greetCaps := fc.caps
	if f.tlsConf != nil && !fc.isTLS {
		greetCaps += " STARTTLS"
	}
	fc.send("* OK [CAPABILITY " + greetCaps + "] fake ready")
	authed := false
	for {
		line, lits, ok := fc.readCommand()
		if !ok {
			return
		}
		tag, rest, _ := strings.Cut(line, " ")
		verb, args, _ := strings.Cut(rest, " ")
		verb = strings.ToUpper(verb)
		if verb == "UID" {
			sub, a, _ := strings.Cut(args, " ")
			verb, args = "UID "+strings.ToUpper(sub), a
		}
		fields := fakeFields(args, lits)
		name := verb
		if verb == "UID FETCH" {
			switch {
			case strings.Contains(args, "BODY.PEEK[]"):
				name = "UID FETCH BODY"
			case strings.Contains(args, "FLAGS"):
				name = "UID FETCH FLAGS"
			default:
				name = "UID FETCH UID"
			}
		}
		f.mu.Lock()
		f.cmds[name]++
		f.mu.Unlock()
		if !authed && verb != "LOGIN" && verb != "CAPABILITY" && verb != "STARTTLS" && verb != "LOGOUT" {
			fc.send(tag + " BAD log in first")
			continue
		}
		switch verb {
		case "CAPABILITY":
			fc.send("* CAPABILITY "+fc.caps, tag+" OK done")
		case "STARTTLS":
			if fc.r.Buffered() > 0 {
				f.problem("client pipelined after STARTTLS")
			}
			fc.send(tag + " OK begin TLS")
			tc := tls.Server(c, f.tlsConf)
			c, fc.isTLS = tc, true
			fc.r, fc.w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "LOGIN":
			if len(fields) != 2 || fields[0] != f.user || fields[1] != f.pass {
				fc.send(tag + " NO [AUTHENTICATIONFAILED] bad credentials")
				continue
			}
			if f.tlsConf != nil && !fc.isTLS {
				f.problem("LOGIN before TLS")
			}
			authed = true
			fc.caps = f.caps
			// RFC 9051 §6.2.3: new capabilities in the OK.
			fc.send(tag + " OK [CAPABILITY " + f.caps + "] logged in")
		case "SELECT":
			f.mu.Lock()
			n := len(f.uids)
			f.mu.Unlock()
			fc.send(`* FLAGS (\Seen \Flagged)`, fmt.Sprintf("* %d EXISTS", n), "* OK [UIDVALIDITY 7] ok",
				fmt.Sprintf("* OK [UIDNEXT %d] next", f.nextUID), tag+" OK [READ-WRITE] selected")
		case "CREATE":
			fc.send(tag + " OK created")
		case "UID FETCH":
			f.uidFetch(fc, tag, fields)
		case "UID STORE":
			f.mu.Lock()
			u, _ := strconv.Atoi(fields[0])
			seq := slices.Index(f.uids, uint32(u)) + 1
			f.mu.Unlock()
			if seq == 0 {
				f.problem("UID STORE of unknown UID %d", u)
			}
			if f.rejectStore {
				fc.send(tag + " NO [CANNOT] store refused")
				continue
			}
			fc.send(fmt.Sprintf(`* %d FETCH (UID %d FLAGS (\Seen))`, seq, u), tag+" OK stored")
		case "UID SEARCH":
			f.mu.Lock()
			f.searches = append(f.searches, strings.Join(fields, " "))
			hits := f.uids[:min(3, len(f.uids))]
			f.mu.Unlock()
			resp := "* SEARCH"
			for _, u := range hits {
				resp += fmt.Sprintf(" %d", u)
			}
			// A status response ending in what looks like a literal: text.
			fc.send(resp, "* OK [ALERT] not a literal {5}", tag+" OK searched")
		case "APPEND":
			if len(lits) != 1 {
				f.problem("APPEND with %d literals", len(lits))
				fc.send(tag + " BAD one message please")
				continue
			}
			f.mu.Lock()
			uid := f.nextUID
			f.nextUID += 2
			f.uids = append(f.uids, uid)
			f.appended = append(f.appended, lits[0])
			n := len(f.uids)
			f.mu.Unlock()
			if f.appendUID {
				fc.send(fmt.Sprintf("%s OK [APPENDUID 7 %d] appended", tag, uid))
			} else {
				fc.send(fmt.Sprintf("* %d EXISTS", n), tag+" OK appended")
			}
		case "STORE":
			fc.send(tag + " OK stored")
		case "FETCH":
			line := fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n%s)", len(fakeBody), fakeBody)
			if !f.fetchStream {
				fc.send(line)
				return
			}
			for {
				if _, err := fc.w.WriteString(line + "\r\n"); err != nil {
					return
				}
			}
		case "NOOP":
			f.mu.Lock()
			n := len(f.uids)
			hangUp := f.hangUpEvery > 0 && f.cmds["NOOP"]%f.hangUpEvery == 0
			f.mu.Unlock()
			if hangUp {
				return
			}
			fc.send(fmt.Sprintf("* %d EXISTS", n), tag+" OK noop")
		case "IDLE":
			if fc.r.Buffered() > 0 {
				f.problem("client sent data before the IDLE continuation")
			}
			fc.endSetup()
			fc.send("+ idling")
			if f.dropIdle {
				fc.send("* BYE going away")
				return
			}
			fc.send("* OK still here")
			l, err := fc.r.ReadString('\n')
			if err != nil {
				return
			}
			f.mu.Lock()
			if l == "DONE\r\n" {
				f.cmds["DONE"]++
			} else {
				f.afterIdle++
			}
			f.mu.Unlock()
			fc.send(tag + " OK idle done")
		case "LOGOUT":
			fc.send("* BYE bye", tag+" OK logged out")
			return
		default:
			fc.send(tag + " BAD unknown command")
		}
	}
}

// uidFetch answers UID FETCH set items, for sets "n", "n:*" and "1:*".
func (f *fakeIMAP) uidFetch(fc *fakeConn, tag string, fields []string) {
	if len(fields) != 2 {
		fc.send(tag + " BAD syntax")
		return
	}
	f.mu.Lock()
	uids := slices.Clone(f.uids)
	f.mu.Unlock()
	lo, hi, isRange := strings.Cut(fields[0], ":")
	from, err := strconv.Atoi(lo)
	if err != nil || (isRange && hi != "*") {
		fc.send(tag + " BAD set")
		return
	}
	var lines []string
	for i, u := range uids {
		match := int(u) == from || isRange && int(u) >= from
		// RFC 9051 §6.4.9: n:* with n above every UID still means the last.
		if isRange && i == len(uids)-1 && int(u) < from {
			match = true
		}
		if !match {
			continue
		}
		if strings.Contains(fields[1], "BODY.PEEK[]") {
			lines = append(lines, fmt.Sprintf("* %d FETCH (UID %d BODY[] {%d}\r\n%s BODY[HEADER] {%d}\r\n%s)",
				i+1, u, len(fakeBody), fakeBody, len(fakeHeader), fakeHeader))
		} else {
			lines = append(lines, fmt.Sprintf(`* %d FETCH (UID %d FLAGS (\Seen))`, i+1, u))
		}
	}
	if strings.Contains(fields[1], "BODY.PEEK[]") && len(lines) == 0 {
		f.problem("UID FETCH of unknown UID %d", from)
	}
	fc.send(append(lines, tag+" OK fetched")...)
}
