package deadline

import (
	"io"
	"time"
)

// Conn is what a Writer writes to: a net.Conn, or a TLS connection over
// one.
type Conn interface {
	io.Writer
	SetWriteDeadline(t time.Time) error
}

// Writer bounds how long a client may leave the server's output unread.
//
// Without a write deadline a client that sends a command with a large
// answer (IMAP FETCH 1:* BODY[], POP3 RETR) and never reads holds its
// session, the goroutine and whatever the answer had loaded, forever:
// the server's write blocks once the socket buffers are full. A deadline
// pushed forward before every write is no bound either, as a client
// reading a few bytes now and then keeps each write just in time.
//
// A Writer gives each stretch of output a data phase (Timer.DataPhase):
// it starts with the first byte written after the last Done and must end
// within timeout, plus 1/rate seconds per byte the client took meanwhile,
// never more than timeout ahead of now. So a response of any size keeps
// going while the client reads at rate bytes per second, and a client
// that stops reading for timeout loses the connection: the write fails
// with a timeout (os.ErrDeadlineExceeded) and the session ends.
//
// Done marks the points where all output so far has been handed to the
// kernel (a flush before waiting for the client): output written later
// starts a new phase, so a session that writes a little now and then (an
// IDLE session's notices) is never charged for the time in between.
// A Writer is used by one goroutine.
type Writer struct {
	conn    Conn
	timeout time.Duration // 0: no deadline
	rate    int64
	timer   Timer
	err     error // the first write error
}

// NewWriter returns a Writer over c. A timeout of 0 sets no deadline;
// rate ≤ 0 makes every phase end within timeout, however much the client
// reads.
func NewWriter(c Conn, timeout time.Duration, rate int64) *Writer {
	return &Writer{conn: c, timeout: timeout, rate: rate}
}

// Write writes p under the current phase's deadline, starting a phase if
// none runs.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.timeout > 0 {
		if !w.timer.Active() {
			w.timer.DataPhase(w.timeout, w.rate)
		}
		if err := w.conn.SetWriteDeadline(w.timer.Deadline()); err != nil {
			w.err = err
			return 0, err
		}
	}
	n, err := w.conn.Write(p)
	w.timer.Read(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Done ends the phase: everything written so far was taken by the
// connection.
func (w *Writer) Done() { w.timer.Stop() }

// Err returns the first error a write returned: once one failed (a
// timeout), the connection's output is lost and the session should end.
func (w *Writer) Err() error { return w.err }
