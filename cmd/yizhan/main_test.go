package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/config"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// cli runs yizhan commands in-process against one config file.
type cli struct {
	t      *testing.T
	config string
	dir    string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	cfgPath := filepath.Join(tmp, "yizhan.toml")
	cfg := "data_dir = " + quote(dir) + "\nhostname = \"mail.example.test\"\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, config: cfgPath, dir: dir}
}

// quote returns a TOML literal string (no escapes inside).
func quote(s string) string { return "'" + s + "'" }

// exec runs one command with stdin and returns stdout, stderr and the error.
func (c *cli) exec(stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(strings.NewReader(stdin), &out, &errb)
	root.SetArgs(append([]string{"--config", c.config}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// appendConfig adds TOML to the config file.
func (c *cli) appendConfig(toml string) {
	c.t.Helper()
	f, err := os.OpenFile(c.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(toml); err != nil {
		c.t.Fatal(err)
	}
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, stderr, err := c.exec(stdin, args...)
	if err != nil {
		c.t.Fatalf("yizhan %s: %v (stderr %q)", strings.Join(args, " "), err, stderr)
	}
	return out
}

// fails runs a command that must fail and returns the error text.
func (c *cli) fails(stdin string, args ...string) string {
	c.t.Helper()
	out, _, err := c.exec(stdin, args...)
	if err == nil {
		c.t.Fatalf("yizhan %s succeeded (stdout %q), want an error", strings.Join(args, " "), out)
	}
	return err.Error()
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestDomainCommands(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("", "domain", "list"); out != "" {
		t.Fatalf("domain list on a fresh store = %q", out)
	}
	if out := c.ok("", "domain", "add", "example.test"); !strings.Contains(out, "example.test") {
		t.Fatalf("domain add printed %q", out)
	}
	c.ok("", "domain", "add", "other.test")
	if msg := c.fails("", "domain", "add", "example.test"); msg != "domain example.test already exists" {
		t.Fatalf("domain add of an existing domain: %q", msg)
	}
	got := lines(c.ok("", "domain", "list"))
	if len(got) != 2 || !strings.HasPrefix(got[0], "example.test\t") || !strings.HasPrefix(got[1], "other.test\t") {
		t.Fatalf("domain list = %q", got)
	}
	if !strings.Contains(got[0], "accounts=0") {
		t.Fatalf("domain list line %q lacks accounts=0", got[0])
	}

	c.ok("password1\n", "user", "add", "alice@example.test", "--password-stdin")
	if got := lines(c.ok("", "domain", "list")); !strings.Contains(got[0], "accounts=1") {
		t.Fatalf("domain list after user add = %q", got)
	}
	c.fails("", "domain", "del", "example.test") // has a user
	if users := lines(c.ok("", "user", "list")); len(users) != 2 {
		t.Fatalf("refused domain del changed users: %q", users)
	}
	if out := c.ok("", "domain", "del", "example.test", "--force"); !strings.Contains(out, "deleted domain example.test") {
		t.Fatalf("domain del --force printed %q", out)
	}
	if users := c.ok("", "user", "list"); !strings.HasPrefix(users, "no users") {
		t.Fatalf("users left after domain del --force: %q", users)
	}
	c.ok("", "domain", "del", "other.test") // empty domain: no --force needed
	if out := c.ok("", "domain", "list"); out != "" {
		t.Fatalf("domain list after deleting all = %q", out)
	}
	if msg := c.fails("", "domain", "del", "nosuch.test"); msg != "domain nosuch.test does not exist" {
		t.Fatalf("domain del of an unknown domain: %q", msg)
	}
	c.fails("", "domain", "add") // missing argument
}

func TestUserCommands(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("", "user", "list"); !strings.HasPrefix(out, "no users") {
		t.Fatalf("user list on a fresh store = %q", out)
	}
	c.ok("", "domain", "add", "example.test")
	if out := c.ok("s3cret-pw\n", "user", "add", "alice@example.test", "--password-stdin"); !strings.Contains(out, "added user alice@example.test") {
		t.Fatalf("user add printed %q", out)
	}
	c.ok("password", "user", "add", "bob@example.test", "--password-stdin") // no newline at EOF
	if msg := c.fails("other-password\n", "user", "add", "alice@example.test", "--password-stdin"); msg != "account alice@example.test already exists" {
		t.Fatalf("user add of an existing user: %q", msg)
	}
	if msg := c.fails("password\n", "user", "add", "carol@unknown.test", "--password-stdin"); msg != "domain unknown.test does not exist" {
		t.Fatalf("user add in an unknown domain: %q", msg)
	}
	for _, bad := range []string{"no-at-sign", "@example.test", "a b@example.test", "carol@"} {
		if msg := c.fails("password\n", "user", "add", bad, "--password-stdin"); strings.HasPrefix(msg, "store:") {
			t.Errorf("user add %q: %q", bad, msg)
		}
	}
	c.fails("", "user", "add", "dave@example.test", "--password-stdin")   // empty stdin
	c.fails("\n", "user", "add", "dave@example.test", "--password-stdin") // empty password
	// Without --password-stdin and without a terminal: refused, not hung.
	c.fails("password\n", "user", "add", "dave@example.test")
	// Shorter than 8 characters (not bytes: 密碼 is 6 bytes, 2 characters).
	for _, short := range []string{"1234567", "密碼密碼密碼密"} {
		if msg := c.fails(short+"\n", "user", "add", "dave@example.test", "--password-stdin"); !strings.Contains(msg, "at least 8 characters") {
			t.Errorf("user add with a %d-character password: %q", len([]rune(short)), msg)
		}
	}
	c.ok("密碼密碼密碼密碼\n", "user", "add", "dave@example.test", "--password-stdin")

	got := lines(c.ok("", "user", "list"))
	if len(got) != 4 || strings.Fields(got[0])[0] != "USER" || strings.Fields(got[1])[0] != "alice@example.test" ||
		strings.Fields(got[2])[0] != "bob@example.test" || strings.Fields(got[3])[0] != "dave@example.test" {
		t.Fatalf("user list = %q", got)
	}

	if out := c.ok("n3w-password\n", "user", "passwd", "alice@example.test", "--password-stdin"); !strings.Contains(out, "password changed") {
		t.Fatalf("user passwd printed %q", out)
	}
	if msg := c.fails("short\n", "user", "passwd", "alice@example.test", "--password-stdin"); !strings.Contains(msg, "at least 8 characters") {
		t.Fatalf("user passwd with a short password: %q", msg)
	}
	if msg := c.fails("x-password\n", "user", "passwd", "nobody@example.test", "--password-stdin"); msg != "account nobody@example.test does not exist" {
		t.Fatalf("user passwd of an unknown user: %q", msg)
	}
	if out := c.ok("", "user", "quota", "alice@example.test", "2MiB"); !strings.Contains(out, "quota of alice@example.test set to 2MiB") {
		t.Fatalf("user quota printed %q", out)
	}
	c.fails("", "user", "quota", "alice@example.test", "lots")
	c.fails("", "user", "quota", "nobody@example.test", "1MiB")
	checkPassword(t, c.dir, "alice@example.test", "n3w-password", true)
	checkPassword(t, c.dir, "alice@example.test", "s3cret-pw", false)
	if l := lines(c.ok("", "user", "list")); !strings.Contains(l[1], "2 MiB") {
		t.Fatalf("user list does not show alice's quota: %q", l)
	}

	// user del: without a terminal to ask on, --yes is required, and the
	// refusal says what would go.
	deliverTo(t, c.dir, "bob@example.test", 3)
	if msg := c.fails("", "user", "del", "bob@example.test"); !strings.Contains(msg, "--yes") || !strings.Contains(msg, "3 messages") {
		t.Fatalf("user del without --yes: %q", msg)
	}
	if out := c.ok("", "user", "del", "bob@example.test", "--yes"); !strings.Contains(out, "deleted user bob@example.test and its 3 messages") {
		t.Fatalf("user del printed %q", out)
	}
	if msg := c.fails("", "user", "del", "bob@example.test", "--yes"); msg != "account bob@example.test does not exist" {
		t.Fatalf("user del of a deleted user: %q", msg)
	}
	if out := c.ok("", "user", "del", "dave@example.test", "--yes"); !strings.Contains(out, "deleted user dave@example.test and its 0 messages") {
		t.Fatalf("user del printed %q", out)
	}
	if got := lines(c.ok("", "user", "list")); len(got) != 2 || strings.Fields(got[1])[0] != "alice@example.test" {
		t.Fatalf("user list after del = %q", got)
	}
}

// The minimum password length is configurable.
func TestMinPasswordLength(t *testing.T) {
	c := newCLI(t)
	c.appendConfig("[limits]\nmin_password_length = 4\n")
	c.ok("", "domain", "add", "example.test")
	c.ok("abcd\n", "user", "add", "alice@example.test", "--password-stdin")
	if msg := c.fails("abc\n", "user", "add", "bob@example.test", "--password-stdin"); !strings.Contains(msg, "at least 4 characters") {
		t.Fatalf("short password: %q", msg)
	}
}

// deliverTo puts n small messages into user's INBOX.
func deliverTo(t *testing.T, dir, user string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, err := st.AccountByAddress(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		b, err := st.NewBlob()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(b, "Subject: hello\r\n\r\nbody\r\n")
		if _, err := st.Deliver(ctx, &store.Delivery{Blob: b, TrackingID: tracking.NewID(), InternalDate: time.Now(),
			Recipients: []store.Recipient{{AccountID: acct.ID, Mailbox: "INBOX"}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func checkPassword(t *testing.T, dir, user, pw string, want bool) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{NoCommitter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = st.Authenticate(ctx, user, pw)
	if (err == nil) != want {
		t.Fatalf("Authenticate(%s, %q) = %v, want success %v", user, pw, err, want)
	}
}

func TestAliasCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("", "domain", "add", "example.test")
	c.ok("password\n", "user", "add", "alice@example.test", "--password-stdin")
	c.ok("password\n", "user", "add", "bob@example.test", "--password-stdin")
	if out := c.ok("", "alias", "list"); !strings.HasPrefix(out, "no aliases") {
		t.Fatalf("alias list with none = %q", out)
	}

	out := c.ok("", "alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
	if !strings.Contains(out, "team@example.test") || !strings.Contains(out, "bob@example.test") {
		t.Fatalf("alias add printed %q", out)
	}
	c.ok("", "alias", "add", "@example.test", "alice@example.test") // catch-all
	c.fails("", "alias", "add", "team@example.test")                // no target
	if msg := c.fails("", "alias", "add", "x@unknown.test", "alice@example.test"); !strings.HasPrefix(msg, "domain unknown.test does not exist") {
		t.Fatalf("alias in an unknown domain: %q", msg)
	}

	got := lines(c.ok("", "alias", "list"))
	if len(got) != 3 || strings.Join(strings.Fields(got[0]), " ") != "ALIAS TARGETS" ||
		strings.Join(strings.Fields(got[1]), " ") != "@example.test alice@example.test" ||
		strings.Join(strings.Fields(got[2]), " ") != "team@example.test alice@example.test, bob@example.test" {
		t.Fatalf("alias list = %q", got)
	}

	c.ok("", "alias", "del", "@example.test")
	if msg := c.fails("", "alias", "del", "@example.test"); msg != "alias @example.test does not exist" {
		t.Fatalf("alias del of an unknown alias: %q", msg)
	}
	c.ok("", "alias", "del", "team@example.test")
	if out := c.ok("", "alias", "list"); !strings.HasPrefix(out, "no aliases") {
		t.Fatalf("alias list after deleting all = %q", out)
	}
}

func TestDomainRecords(t *testing.T) {
	c := newCLI(t)
	c.ok("", "domain", "add", "example.test")
	out, stderr, err := c.exec("", "domain", "records", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Fatalf("unexpected stderr %q", stderr)
	}
	got := lines(out)
	want := []string{
		"example.test. 3600 IN MX 10 mail.example.test.",
		`example.test. 3600 IN TXT "v=spf1 mx -all"`,
		`_dmarc.example.test. 3600 IN TXT "v=DMARC1; `,
	}
	if len(got) != 3 {
		t.Fatalf("records printed %d lines, want 3: %q", len(got), out)
	}
	if got[0] != want[0] || got[1] != want[1] || !strings.HasPrefix(got[2], want[2]) || !strings.HasSuffix(got[2], `"`) {
		t.Fatalf("records =\n%s\nwant lines like\n%s", out, strings.Join(want, "\n"))
	}
	c.fails("", "domain", "records", "unknown.test")
}

func TestDomainRecordsIDN(t *testing.T) {
	c := newCLI(t)
	c.ok("", "domain", "add", "例子.台灣")
	got := lines(c.ok("", "domain", "records", "例子.台灣"))
	if len(got) != 3 {
		t.Fatalf("records = %q, want 3 lines", got)
	}
	if got[0] != "xn--fsqu00a.xn--kpry57d. 3600 IN MX 10 mail.example.test." {
		t.Fatalf("MX line = %q", got[0])
	}
	if !strings.HasPrefix(got[1], "xn--fsqu00a.xn--kpry57d. 3600 IN TXT ") {
		t.Fatalf("SPF line = %q", got[1])
	}
	if !strings.HasPrefix(got[2], "_dmarc.xn--fsqu00a.xn--kpry57d. 3600 IN TXT ") {
		t.Fatalf("DMARC line = %q", got[2])
	}
	for _, l := range got {
		for _, r := range l {
			if r > 0x7f {
				t.Fatalf("non-ASCII in zone line %q", l)
			}
		}
	}
}

func TestUnknownConfigKey(t *testing.T) {
	c := newCLI(t)
	data, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("frobnicate = true\n")...)
	if err := os.WriteFile(c.config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	msg := c.fails("", "domain", "list")
	if !strings.Contains(msg, "frobnicate") {
		t.Fatalf("error %q does not name the unknown key", msg)
	}
	// Sanity: the config package agrees on the key.
	if _, _, err := config.Load(c.config); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("config.Load = %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestOneLine(t *testing.T) {
	if got := oneLine(errString("a\nb\nc")); got != "a b c" {
		t.Fatalf("oneLine = %q", got)
	}
}

// `yizhan version` and `yizhan --version` print the same one line:
// version, commit, Go version; neither needs a config or a data directory.
func TestVersion(t *testing.T) {
	c := newCLI(t)
	out := c.ok("", "version")
	if !strings.HasPrefix(out, "yizhan ") || !strings.Contains(out, " commit ") || !strings.Contains(out, " go1.") || len(lines(out)) != 1 {
		t.Fatalf("version printed %q", out)
	}
	if flag := c.ok("", "--version"); flag != out {
		t.Fatalf("--version printed %q, version %q", flag, out)
	}
	if _, err := os.Stat(c.dir); err == nil {
		t.Fatalf("version created the data directory")
	}
	c.fails("", "version", "extra")
}
