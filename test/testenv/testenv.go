// Package testenv runs the real yizhan binary for end-to-end tests: it
// builds the binary once per test package, starts instances on a fresh
// data directory with every listener on a free loopback port, runs admin
// commands against them, and stops them gracefully (SIGTERM) or kills them
// (SIGKILL) and restarts them on the same data directory.
//
// A test package uses it like this:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := testenv.Start(t, testenv.Options{})
//		srv.AddDomain(t, "example.test")
//		srv.AddUser(t, "alice@example.test", "a-long-secret")
//		addr := srv.Addr(t, "submission")
//		...
//	}
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Listener names as printed by `yizhan serve` ("listening NAME ADDR").
const (
	SMTP        = "smtp"
	Submission  = "submission"
	Submissions = "submissions"
	POP3        = "pop3"
	POP3S       = "pop3s"
)

// AllListeners is every listener the binary implements today.
var AllListeners = []string{SMTP, Submission, Submissions, POP3, POP3S}

// Hostname is the hostname every test instance is configured with.
const Hostname = "mail.example.test"

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// Main runs the package's tests and removes the built binary afterwards.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary returns the path of the yizhan binary, building it on first use
// (`go build -o DIR/yizhan -tags=yizhan_testhooks ./cmd/yizhan` in the
// module root: the tag adds the test hooks of internal/testhook, e.g. a
// command that makes a protocol handler panic). Extra build flags may be
// given in $YIZHAN_TEST_BUILDFLAGS (e.g. "-race": a data race the server
// reports in its log then fails the test that started it); a -tags there
// must name yizhan_testhooks too.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "yizhan-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "yizhan")
		buildErr = build(binPath)
	})
	if buildErr != nil {
		t.Fatalf("building yizhan: %v", buildErr)
	}
	return binPath
}

// ModuleRoot returns the directory holding the module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

func build(out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out, "-tags=" + TestHooksTag}
	args = append(args, strings.Fields(os.Getenv("YIZHAN_TEST_BUILDFLAGS"))...)
	args = append(args, "./cmd/yizhan")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
	}
	return nil
}

// TestHooksTag is the build tag of the binary the tests run (see Binary).
const TestHooksTag = "yizhan_testhooks"

// Options shape a test instance.
type Options struct {
	// Listeners to enable, by name; nil means AllListeners. The others
	// (and imap, imaps, http) are disabled.
	Listeners []string
	// Extra is TOML appended after the [listen] table, e.g.
	// "[limits]\nmax_connections_per_ip = 4\n".
	Extra string
	// Addrs sets the address of an enabled listener by name (default
	// "127.0.0.1:0"), e.g. two instances on 127.0.0.2 and 127.0.0.3
	// sharing one smtp port.
	Addrs map[string]string
	// Hostname replaces the default Hostname.
	Hostname string
	// ExpectLog lists regular expressions for the WARN and ERROR lines
	// this test expects in the server's log (see Server.ExpectLog); any
	// other WARN or ERROR line fails the test.
	ExpectLog []string
}

// Server is one yizhan instance (running or stopped) and its data
// directory, which survives restarts.
type Server struct {
	Dir        string // temp directory holding config, data and log
	DataDir    string
	ConfigPath string
	LogPath    string // stderr of every run, appended

	bin string

	mu       sync.Mutex
	expected []*regexp.Regexp // WARN/ERROR log lines the test expects
	addrs    map[string]string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process has exited
	waitErr  error
	runs     int
}

// Start writes a config for a fresh data directory, starts `yizhan serve`
// and waits until it has printed its listening addresses. The instance is
// killed when the test ends if still running; if the test failed, the tail
// of the server's log is written to the test log.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{
		Dir:        dir,
		DataDir:    filepath.Join(dir, "data"),
		ConfigPath: filepath.Join(dir, "yizhan.toml"),
		LogPath:    filepath.Join(dir, "server.log"),
		bin:        bin,
	}
	s.ExpectLog(t, opts.ExpectLog...)
	if err := os.WriteFile(s.ConfigPath, []byte(s.config(opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.Running() {
			s.kill()
		}
		if data, err := os.ReadFile(s.LogPath); err == nil {
			if bytes.Contains(data, []byte("WARNING: DATA RACE")) {
				t.Errorf("the server (built with %q) reported a data race; see %s", os.Getenv("YIZHAN_TEST_BUILDFLAGS"), s.LogPath)
			}
			if bad := s.unexpectedLogLines(data); len(bad) > 0 {
				t.Errorf("the server logged %d unexpected WARN/ERROR line(s) (declare expected ones with Options.ExpectLog or Server.ExpectLog):\n%s",
					len(bad), strings.Join(bad, "\n"))
			}
		}
		if t.Failed() {
			t.Logf("server log %s (tail):\n%s", s.LogPath, s.LogTail(80))
		}
	})
	s.Restart(t)
	return s
}

func (s *Server) config(opts Options) string {
	enabled := map[string]bool{}
	names := opts.Listeners
	if names == nil {
		names = AllListeners
	}
	for _, n := range names {
		enabled[n] = true
	}
	var b strings.Builder
	host := Hostname
	if opts.Hostname != "" {
		host = opts.Hostname
	}
	fmt.Fprintf(&b, "hostname = %q\ndata_dir = %q\n\n[listen]\n", host, s.DataDir)
	for _, n := range []string{SMTP, Submission, Submissions, "imap", "imaps", POP3, POP3S, "http"} {
		addr := ""
		if enabled[n] {
			addr = "127.0.0.1:0"
			if a, ok := opts.Addrs[n]; ok {
				addr = a
			}
		}
		fmt.Fprintf(&b, "%s = %q\n", n, addr)
	}
	if opts.Extra != "" {
		b.WriteString("\n")
		b.WriteString(opts.Extra)
		b.WriteString("\n")
	}
	return b.String()
}

// startupGuard only keeps a wedged server from hanging the test run until
// the go test timeout; it is not a performance expectation.
const startupGuard = 2 * time.Minute

// Restart starts the server (again) on the same config and data directory
// and waits for its listening addresses. Listeners get new ports on every
// start; use Addr afterwards.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.Running() {
		t.Fatal("testenv: Restart while the server is running")
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.runs++
	fmt.Fprintf(logf, "===== testenv: start #%d =====\n", s.runs)
	cmd := exec.Command(s.bin, "--config", s.ConfigPath, "serve")
	cmd.Stderr = logf
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting yizhan serve: %v", err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd = cmd
	s.done = done
	s.waitErr = nil
	s.addrs = map[string]string{}
	s.mu.Unlock()

	ready := make(chan map[string]string, 1)
	go func() {
		addrs := map[string]string{}
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(logf, "[stdout] %s\n", line)
			if sent {
				continue // keep draining so the server never blocks on stdout
			}
			if f := strings.Fields(line); len(f) == 3 && f[0] == "listening" {
				addrs[f[1]] = f[2]
				continue
			}
			if strings.HasPrefix(line, "Yizhan serving") {
				ready <- addrs
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		fmt.Fprintf(logf, "===== testenv: exited: %v =====\n", err)
		logf.Close()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()

	select {
	case addrs := <-ready:
		s.mu.Lock()
		s.addrs = addrs
		s.mu.Unlock()
	case <-done:
		t.Fatalf("yizhan serve exited before printing its banner (%v); log:\n%s", s.exitErr(), s.LogTail(60))
	case <-time.After(startupGuard):
		s.kill()
		t.Fatalf("yizhan serve printed no banner within %v; log:\n%s", startupGuard, s.LogTail(60))
	}
}

// Addr returns the address listener name is bound to in the current run.
func (s *Server) Addr(t testing.TB, name string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.addrs[name]
	if !ok {
		t.Fatalf("testenv: server printed no \"listening %s\" line (have %v)", name, s.addrs)
	}
	return a
}

// HostPort splits Addr(name) into host and port strings.
func (s *Server) HostPort(t testing.TB, name string) (host, port string) {
	t.Helper()
	a := s.Addr(t, name)
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		t.Fatalf("testenv: bad listener address %q", a)
	}
	return a[:i], a[i+1:]
}

// Pid returns the process id of the running server, 0 if none: for
// tests that watch its memory.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the current process is still running.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// Stop sends SIGTERM and waits for the server to exit; a non-zero exit
// status fails the test.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || !s.Running() {
		t.Fatal("testenv: Stop: server is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	<-done
	if err := s.exitErr(); err != nil {
		t.Fatalf("yizhan serve did not exit cleanly after SIGTERM: %v; log:\n%s", err, s.LogTail(60))
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if !s.Running() {
		t.Fatal("testenv: Kill: server is not running")
	}
	s.kill()
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

// ExpectLog declares WARN or ERROR lines the test expects the server to
// log: each pattern is a regular expression matched against the whole log
// line (e.g. `level=WARN msg="auth failed"`). Every other WARN or ERROR
// line fails the test when it ends, so a warning nobody looked at cannot
// slip through a green run.
func (s *Server) ExpectLog(t testing.TB, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("testenv: ExpectLog pattern %q: %v", p, err)
		}
		s.mu.Lock()
		s.expected = append(s.expected, re)
		s.mu.Unlock()
	}
}

// problemLine matches a WARN or ERROR record of the server's slog output
// in either format ([log] format = "text" or "json").
var problemLine = regexp.MustCompile(`(^|\s)level=(WARN|ERROR)(\s|$)|"level":"(WARN|ERROR)"`)

// unexpectedLogLines returns the WARN and ERROR lines of a server log
// that no ExpectLog pattern matches. Lines the harness itself wrote
// (stdout copies, start and exit markers) are not the server's log.
func (s *Server) unexpectedLogLines(data []byte) []string {
	s.mu.Lock()
	expected := s.expected
	s.mu.Unlock()
	var bad []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[stdout] ") || strings.HasPrefix(line, "===== testenv:") || !problemLine.MatchString(line) {
			continue
		}
		ok := false
		for _, re := range expected {
			if re.MatchString(line) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, line)
		}
	}
	return bad
}

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string {
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Admin runs `yizhan --config CONFIG ARGS...` with stdin and returns its
// stdout and stderr. It works whether or not the server is running.
func (s *Server) Admin(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(s.bin, append([]string{"--config", s.ConfigPath}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout = &o
	cmd.Stderr = &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// MustAdmin is Admin that fails the test on a non-zero exit.
func (s *Server) MustAdmin(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := s.Admin(stdin, args...)
	if err != nil {
		t.Fatalf("yizhan %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// AddDomain runs `yizhan domain add DOMAIN`.
func (s *Server) AddDomain(t testing.TB, domain string) {
	t.Helper()
	s.MustAdmin(t, "", "domain", "add", domain)
}

// AddUser runs `yizhan user add ADDRESS --password-stdin`.
func (s *Server) AddUser(t testing.TB, address, password string) {
	t.Helper()
	s.MustAdmin(t, password+"\n", "user", "add", address, "--password-stdin")
}
