package imapserver_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to a logged-in session with a mailbox
// selected. The server must not panic (that would end the test binary),
// must end the session once the client stops sending, and must go on
// answering other connections.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"a NOOP\r\n",
		"a FETCH 1:* (FLAGS BODY[] BODYSTRUCTURE ENVELOPE BINARY[1] BODY[1.MIME]<0.5>)\r\n",
		"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
		"a STORE 1 +FLAGS (\\Deleted $x)\r\nb EXPUNGE\r\n",
		"a SEARCH OR (FROM x BODY y) NOT (TEXT \"z\" SENTSINCE 1-Jan-2000)\r\n",
		"a SEARCH RETURN (SAVE MIN) ALL\r\nb FETCH $ FLAGS\r\nc MOVE $ Trash\r\n",
		"a SORT (REVERSE SUBJECT) UTF-8 ALL\r\nb THREAD REFERENCES UTF-8 ALL\r\n",
		"a APPEND INBOX {5+}\r\nhello\r\n",
		"a APPEND INBOX {5}\r\nhello\r\n",
		"a SELECT {3}\r\n",
		"a CREATE x/y\r\nb RENAME x z\r\nc DELETE z/y\r\nd LIST \"\" *\r\n",
		"a IDLE\r\nDONE\r\n",
		"a IDLE\r\n",
		"a ENABLE QRESYNC\r\nb SELECT INBOX (QRESYNC (1 1 1:5))\r\n",
		"a COMPRESS DEFLATE\r\n\x00\x01\x02",
		"a AUTHENTICATE PLAIN\r\n",
		"* OK\r\n\r\n((((\r\n",
		"a FETCH 1 BODY[HEADER.FIELDS (\"\r\n",
		"a LIST \"\" \"&Jjo\"\r\n",
		"a GETQUOTAROOT INBOX\r\nb STATUS INBOX (SIZE APPENDLIMIT)\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, nil)
	e.deliver(simpleMsg("Fuzz", "body"), delivery{})
	raw, _ := mixedMessage()
	e.deliver(raw, delivery{prefix: tracePrefix})

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", e.tls, clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "l LOGIN "+alice+" "+pass+"\r\ns SELECT INBOX\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(data); err != nil && !errors.Is(err, net.ErrClosed) {
			// The server may close first (BYE); that is fine.
			t.Logf("write: %v", err)
		}
		// No more input: whatever state the session is in, it must end.
		_ = c.CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("session did not end after the input ended")
			}
		}

		// The server still answers a fresh connection.
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", e.tls, clientTLS())
		if err != nil {
			t.Fatalf("server gone: %v", err)
		}
		n := newClient(t, nc)
		if g := n.line(); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("greeting: %q", g)
		}
		n.ok("LOGIN " + alice + " " + pass)
		r := n.ok("NOOP")
		if !strings.HasPrefix(r.tagged, "t2 OK") {
			t.Fatalf("NOOP: %s", r)
		}
		n.conn.Close()
	})
}
