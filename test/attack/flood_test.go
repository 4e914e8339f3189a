package attack

import (
	"bufio"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// floodLimits are small so that a few loopback addresses can meet every
// bound; the defaults are in README.md.
const floodLimits = `[limits]
max_connections = 100
max_connections_per_listener = 20
max_connections_per_ip = 8
max_connections_per_network = 12
`

// floodAttackers are the addresses the flood comes from: two /24s of
// loopback (Linux answers all of 127/8), none in the normal clients'
// 127.0.0.0/24.
var floodAttackers = []string{"127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.2.1", "127.0.2.2", "127.0.2.3"}

// TestListenerFloodLeavesOthersServed (issue 11 item 2): 4,096 idle
// connections from 18 addresses on one listener used to fill the one
// connection cap that every listener shared (256 allowed per address), so
// that every normal SMTP and IMAP client was refused. Here a few
// addresses open and hold all the port-25 connections they can; the
// flood must be held to the per-address, per-/24 and per-listener bounds,
// and meanwhile a user logged in before the flood keeps being served, a
// new IMAP login works, and a submission client sends a message.
func TestListenerFloodLeavesOthersServed(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.Submissions, imapsListener},
		Extra:     floodLimits,
		ExpectLog: []string{`connection refused`},
	})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)

	before := dialTLS(t, srv.Addr(t, imapsListener))
	before.readLine()
	before.send(`a LOGIN "%s" "%s"`, alice, alicePW)
	if r := before.readTagged("a"); !strings.HasPrefix(r, "a OK") {
		t.Fatalf("LOGIN before the flood: %q", r)
	}

	held, refusals := floodSMTP(t, srv.Addr(t, testenv.SMTP))
	t.Logf("flood: %d connections held; refusals: %v", held, refusals)
	if held != 20 {
		t.Errorf("the flood holds %d connections on the smtp listener, want its budget of 20", held)
	}
	for _, why := range []string{"from your address", "from your network", "try again later"} {
		if refusals[why] == 0 {
			t.Errorf("no refusal %q seen (%v)", why, refusals)
		}
	}

	// The user logged in before the flood is still served.
	before.send("b NOOP")
	if r := before.readTagged("b"); !strings.HasPrefix(r, "b OK") {
		t.Errorf("NOOP of a session logged in before the flood: %q", r)
	}
	// A new IMAP login on another listener.
	c := dialTLS(t, srv.Addr(t, imapsListener))
	if g := c.readLine(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("IMAP greeting during the flood: %q", g)
	}
	c.send(`a LOGIN "%s" "%s"`, alice, alicePW)
	if r := c.readTagged("a"); !strings.HasPrefix(r, "a OK") {
		t.Errorf("IMAP LOGIN during the flood: %q", r)
	}
	// A message submitted on another listener.
	s := dialTLS(t, srv.Addr(t, testenv.Submissions))
	steps := []struct{ cmd, want string }{
		{"", "220 "},
		{"EHLO client.test", "250 "},
		{"AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+alice+"\x00"+alicePW)), "235 "},
		{"MAIL FROM:<" + alice + ">", "250 "},
		{"RCPT TO:<" + alice + ">", "250 "},
		{"DATA", "354 "},
		{"From: " + alice + "\r\nSubject: during the flood\r\n\r\nhello\r\n.", "250 "},
	}
	for _, st := range steps {
		if st.cmd != "" {
			s.send("%s", st.cmd)
		}
		if r := s.readSMTP(); !strings.HasPrefix(r, st.want) {
			t.Fatalf("submission during the flood: %q answered %q, want %q", st.cmd, r, st.want)
		}
	}
}

// floodSMTP opens connections to addr from each attacker address until
// one is refused, keeping the accepted ones open until the test ends. It
// returns how many are held and the refusals seen, by the end of their
// text.
func floodSMTP(t *testing.T, addr string) (held int, refusals map[string]int) {
	t.Helper()
	refusals = map[string]int{}
	for _, from := range floodAttackers {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: ioGuard}
		for range 50 { // more than any bound lets through
			conn, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial from %s: %v", from, err)
			}
			_ = conn.SetDeadline(time.Now().Add(ioGuard))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("flood connection from %s: %v", from, err)
			}
			if strings.HasPrefix(line, "220 ") {
				held++
				t.Cleanup(func() { conn.Close() })
				continue
			}
			conn.Close()
			if !strings.HasPrefix(line, "421 4.7.0 Too many connections") {
				t.Fatalf("flood connection from %s refused with %q, want 421 4.7.0", from, line)
			}
			switch {
			case strings.Contains(line, "from your address"):
				refusals["from your address"]++
			case strings.Contains(line, "from your network"):
				refusals["from your network"]++
			default:
				refusals["try again later"]++
			}
			break
		}
	}
	return held, refusals
}
