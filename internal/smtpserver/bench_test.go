package smtpserver

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// benchMessage is a 10 KB message with a typical header.
func benchMessage() string {
	var b strings.Builder
	b.WriteString("Received: from a.example.test by b.example.test; Mon, 3 Mar 2025 10:00:00 +0000\r\n")
	b.WriteString("From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: benchmark\r\n")
	b.WriteString("Date: Mon, 3 Mar 2025 10:00:00 +0000\r\nMessage-ID: <bench@example.test>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := strings.Repeat("0123456789", 7) + "abcdefgh\r\n"
	for b.Len() < 10*1024-len(line) {
		b.WriteString(line)
	}
	b.WriteString("..dot-stuffed last line\r\n")
	return b.String()
}

// BenchmarkSMTPIntake pipelines 10 KB messages over one loopback connection
// into a discarding backend; ns/op and allocs/op are per message and
// include the client side of the loopback.
func BenchmarkSMTPIntake(b *testing.B) {
	for _, mode := range []string{"DATA", "BDAT"} {
		b.Run(mode, func(b *testing.B) {
			ts := startServer(b, Config{})
			ts.backend.discard = true
			msg := benchMessage()
			var txn string
			if mode == "DATA" {
				txn = "MAIL FROM:<a@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n" + msg + ".\r\n"
			} else {
				unstuffed := strings.ReplaceAll(msg, "\r\n..", "\r\n.")
				txn = "MAIL FROM:<a@example.test>\r\nRCPT TO:<bob@example.test>\r\nBDAT " +
					itoa(len(unstuffed)) + " LAST\r\n" + unstuffed
			}
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			readReply := func() string {
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						b.Fatal(err)
					}
					if len(l) < 4 || l[3] != '-' {
						return l
					}
				}
			}
			readReply()
			conn.Write([]byte("EHLO bench.example.test\r\n"))
			readReply()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			errc := make(chan error, 1)
			go func() {
				w := bufio.NewWriterSize(conn, 64<<10)
				for i := 0; i < b.N; i++ {
					if _, err := w.WriteString(txn); err != nil {
						errc <- err
						return
					}
				}
				errc <- w.Flush()
			}()
			per := 3
			if mode == "DATA" {
				per = 4
			}
			for i := 0; i < b.N; i++ {
				for j := 0; j < per-1; j++ {
					readReply()
				}
				if l := readReply(); !strings.HasPrefix(l, "250 2.0.0 OK id=") {
					b.Fatalf("reply %q", l)
				}
			}
			b.StopTimer()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
