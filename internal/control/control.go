// Package control is the admin channel from the yizhan CLI to a running
// `yizhan serve`: a unix socket, data_dir/control.sock, mode 0600, that
// only the server's own user (or root) may use. It is for state that lives
// in the server's memory (the password-guessing blocks today; caches and
// the queue runner later), which a second process cannot reach through the
// store.
//
// The protocol is one request per connection: the client writes a JSON
// object {"command": NAME, "args": ARGS} and a newline, the server answers
// {"result": RESULT} or {"error": TEXT} and a newline, and closes.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/yizhan-mail/yizhan/internal/recovery"
)

// SocketName is the socket's file name in data_dir.
const SocketName = "control.sock"

const (
	// maxRequest bounds what one request may make the server read.
	maxRequest = 1 << 20
	// ioTimeout bounds one exchange, so a stuck client does not hold a
	// goroutine; admin commands answer in milliseconds.
	ioTimeout = 30 * time.Second
	// maxSocketPath is sun_path's size on Linux less its terminating NUL.
	maxSocketPath = 107
)

// ErrNotRunning means no server answers on the data directory's socket.
var ErrNotRunning = errors.New("serve is not running")

// Handler runs one command with its JSON arguments (null when none) and
// returns a value to encode as the result.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

type request struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Path is the socket's path for a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Server answers commands on the socket. Register handlers with Handle
// before Serve.
type Server struct {
	ln       *net.UnixListener
	path     string
	log      *slog.Logger
	handlers map[string]Handler
	wg       sync.WaitGroup
	panics   recovery.Counter // handlers that panicked (see Panics)
}

// Listen creates the socket in dataDir. A socket left by a server that
// died is replaced; one that still answers means another server runs on
// this data directory, which is an error.
func Listen(dataDir string, log *slog.Logger) (*Server, error) {
	path := Path(dataDir)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control: socket path %s is %d bytes, more than unix sockets allow (%d): use a shorter data_dir", path, len(path), maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: another yizhan serve answers on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control: remove stale socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	// The data directory is 0700 already; the mode and the peer check in
	// allowed hold even where it is not.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return &Server{ln: ln, path: path, log: log, handlers: map[string]Handler{}}, nil
}

// Handle registers h for command name.
func (s *Server) Handle(name string, h Handler) { s.handlers[name] = h }

// Serve answers connections until ctx ends, then closes the socket
// (removing its file) and waits for exchanges in progress.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	defer s.wg.Wait()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if err := allowed(c); err != nil {
				s.log.Warn("control connection refused", "err", err)
				return
			}
			s.serveConn(ctx, c)
		}()
	}
}

// Close stops accepting and removes the socket file.
func (s *Server) Close() error { return s.ln.Close() }

// serveConn answers one request on c.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	var resp response
	var req request
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	switch {
	case err != nil:
		resp.Error = "request not read: " + err.Error()
	case json.Unmarshal(line, &req) != nil:
		resp.Error = "request is not a JSON object"
	default:
		resp = s.run(ctx, req)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		out, _ = json.Marshal(response{Error: "result not encodable: " + err.Error()})
	}
	if _, err := c.Write(append(out, '\n')); err != nil {
		s.log.Info("control reply not sent", "command", req.Command, "err", err)
	}
}

func (s *Server) run(ctx context.Context, req request) response {
	h := s.handlers[req.Command]
	if h == nil {
		return response{Error: fmt.Sprintf("unknown command %q", req.Command)}
	}
	res, err := s.call(ctx, h, req)
	if err != nil {
		return response{Error: err.Error()}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return response{Error: "result not encodable: " + err.Error()}
	}
	s.log.Info("control command", "command", req.Command)
	return response{Result: b}
}

// call runs h; a panic in it is logged and counted and becomes the
// request's error, so an admin command with a bug does not take the
// server down.
func (s *Server) call(ctx context.Context, h Handler, req request) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.panics.Log(s.log.With("command", req.Command), p)
			res, err = nil, fmt.Errorf("internal error in %s (logged by the server)", req.Command)
		}
	}()
	return h(ctx, req.Args)
}

// Panics returns how many commands ended in a recovered panic: a count
// until the server has metrics (issue 14); each is also logged with its
// stack.
func (s *Server) Panics() int64 { return s.panics.Load() }

// Call runs command on the server of dataDir with args (encoded as JSON;
// nil for none) and decodes its result into result (nil to discard it).
// It returns an error wrapping ErrNotRunning when no server answers.
func Call(ctx context.Context, dataDir, command string, args, result any) error {
	path := Path(dataDir)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w (nothing answers on %s)", ErrNotRunning, path)
		}
		return fmt.Errorf("control: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(ioTimeout))
	}
	req := request{Command: command}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return fmt.Errorf("control: %s: %w", command, err)
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("control: %s: %w", command, err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control: %s: %w", command, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("control: %s: no answer: %w", command, err)
	}
	var resp response
	if err := json.Unmarshal(bytes.TrimSpace(line), &resp); err != nil {
		return fmt.Errorf("control: %s: bad answer: %w", command, err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	if result != nil && resp.Result != nil {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("control: %s: bad result: %w", command, err)
		}
	}
	return nil
}
