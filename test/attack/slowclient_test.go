package attack

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// slowLimits shrink the phase deadlines so that the attack takes seconds.
const slowLimits = `[limits]
command_timeout = "1s"
data_block_timeout = "1s"
login_timeout = "2s"
`

// slowBound is when a trickling client still connected counts as the
// attack succeeding: many times the deadlines above, far less than the
// hours a per-byte deadline would allow.
const slowBound = 30 * time.Second

// TestSlowClientsAreDisconnected (issue 11 item 1): read deadlines pushed
// forward by every byte let a client sending one byte every 10 s stay
// connected for as long as it liked (723 s and counting) before EHLO,
// mid-command, in DATA, in BDAT, on submission before TLS, and before
// login on IMAP and POP3. Against the built binary, with the deadlines
// of the config shrunk, each phase is trickled one byte every 50 ms and
// the server must hang up (after its goodbye) long before slowBound.
func TestSlowClientsAreDisconnected(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.Submission, imapListener, testenv.POP3},
		Extra:     slowLimits,
	})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)
	long := strings.Repeat("x", 2000)
	cases := []struct {
		name     string
		listener string
		setup    []string // lines sent whole, each answered with one reply line (SMTP replies may be multi-line)
		pre      string   // sent whole before the trickle, unanswered
		trickle  string
		goodbye  string
	}{
		{"smtp before EHLO", testenv.SMTP, nil, "", "EHLO " + long + "\r\n", "421 4.4.2"},
		{"smtp mid-command", testenv.SMTP, []string{"EHLO client.test"}, "", "MAIL FROM:<" + long + "@example.test>\r\n", "421 4.4.2"},
		{"smtp in DATA", testenv.SMTP, []string{"EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<" + alice + ">", "DATA"},
			"", "Subject: slow\r\n\r\n" + long + "\r\n.\r\n", "421 4.4.2"},
		{"smtp in BDAT", testenv.SMTP, []string{"EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<" + alice + ">"},
			"BDAT 3000 LAST\r\n", long, "421 4.4.2"},
		{"submission before TLS", testenv.Submission, []string{"EHLO client.test"}, "", strings.Repeat("NOOP\r\n", 400), "421 4.4.2"},
		{"imap before login", imapListener, nil, "", strings.Repeat("a NOOP\r\n", 300), "* BYE"},
		{"pop3 before login", testenv.POP3, nil, "", strings.Repeat("CAPA\r\n", 400), "-ERR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", srv.Addr(t, tc.listener), ioGuard)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			_ = conn.SetDeadline(time.Now().Add(ioGuard))
			readReply := func() string {
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("setup: %v", err)
					}
					if len(l) < 4 || l[3] != '-' {
						return strings.TrimRight(l, "\r\n")
					}
				}
			}
			readReply() // greeting
			for _, line := range tc.setup {
				if _, err := io.WriteString(conn, line+"\r\n"); err != nil {
					t.Fatal(err)
				}
				if got := readReply(); got[0] != '2' && got[0] != '3' {
					t.Fatalf("%q answered %q", line, got)
				}
			}
			if _, err := io.WriteString(conn, tc.pre); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Time{})
			last := trickle(t, conn, r, tc.trickle)
			if !strings.HasPrefix(last, tc.goodbye) {
				t.Errorf("last line before the close %q, want %q", last, tc.goodbye)
			}
		})
	}
}

// trickle writes s one byte every 50 ms while reading what the server
// says, until it closes the connection; it returns the last line read and
// fails the test if the connection is still open after slowBound.
func trickle(t *testing.T, conn net.Conn, r *bufio.Reader, s string) string {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	_ = conn.SetReadDeadline(time.Now().Add(slowBound))
	last := ""
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still connected after %v of trickling (last line %q)", slowBound, last)
			}
			return last
		}
		last = strings.TrimRight(l, "\r\n")
	}
}
