package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/config"
	"github.com/yizhan-mail/yizhan/internal/store"
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
	c.fails("", "domain", "add", "example.test") // duplicate
	got := lines(c.ok("", "domain", "list"))
	if len(got) != 2 || !strings.HasPrefix(got[0], "example.test\t") || !strings.HasPrefix(got[1], "other.test\t") {
		t.Fatalf("domain list = %q", got)
	}
	if !strings.Contains(got[0], "accounts=0") {
		t.Fatalf("domain list line %q lacks accounts=0", got[0])
	}

	c.ok("pw1\n", "user", "add", "alice@example.test", "--password-stdin")
	if got := lines(c.ok("", "domain", "list")); !strings.Contains(got[0], "accounts=1") {
		t.Fatalf("domain list after user add = %q", got)
	}
	c.fails("", "domain", "del", "example.test") // has a user
	if users := lines(c.ok("", "user", "list")); len(users) != 1 {
		t.Fatalf("refused domain del changed users: %q", users)
	}
	if out := c.ok("", "domain", "del", "example.test", "--force"); !strings.Contains(out, "deleted domain example.test") {
		t.Fatalf("domain del --force printed %q", out)
	}
	if users := lines(c.ok("", "user", "list")); len(users) != 0 {
		t.Fatalf("users left after domain del --force: %q", users)
	}
	c.ok("", "domain", "del", "other.test") // empty domain: no --force needed
	if out := c.ok("", "domain", "list"); out != "" {
		t.Fatalf("domain list after deleting all = %q", out)
	}
	c.fails("", "domain", "del", "nosuch.test")
	c.fails("", "domain", "add") // missing argument
}

func TestUserCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("", "domain", "add", "example.test")
	if out := c.ok("s3cret\n", "user", "add", "alice@example.test", "--password-stdin"); !strings.Contains(out, "added user alice@example.test") {
		t.Fatalf("user add printed %q", out)
	}
	c.ok("pw", "user", "add", "bob@example.test", "--password-stdin") // no newline at EOF
	c.fails("other\n", "user", "add", "alice@example.test", "--password-stdin")
	c.fails("pw\n", "user", "add", "carol@unknown.test", "--password-stdin")
	for _, bad := range []string{"no-at-sign", "@example.test", "a b@example.test", "carol@"} {
		c.fails("pw\n", "user", "add", bad, "--password-stdin")
	}
	c.fails("", "user", "add", "dave@example.test", "--password-stdin")   // empty stdin
	c.fails("\n", "user", "add", "dave@example.test", "--password-stdin") // empty password
	// Without --password-stdin and without a terminal: refused, not hung.
	c.fails("pw\n", "user", "add", "dave@example.test")

	got := lines(c.ok("", "user", "list"))
	if len(got) != 2 || got[0] != "alice@example.test" || got[1] != "bob@example.test" {
		t.Fatalf("user list = %q", got)
	}

	if out := c.ok("n3w\n", "user", "passwd", "alice@example.test", "--password-stdin"); !strings.Contains(out, "password changed") {
		t.Fatalf("user passwd printed %q", out)
	}
	c.fails("x\n", "user", "passwd", "nobody@example.test", "--password-stdin")
	if out := c.ok("", "user", "quota", "alice@example.test", "2MiB"); !strings.Contains(out, "quota of alice@example.test set to 2MiB") {
		t.Fatalf("user quota printed %q", out)
	}
	c.fails("", "user", "quota", "alice@example.test", "lots")
	c.fails("", "user", "quota", "nobody@example.test", "1MiB")
	checkPassword(t, c.dir, "alice@example.test", "n3w", true)
	checkPassword(t, c.dir, "alice@example.test", "s3cret", false)

	if out := c.ok("", "user", "del", "bob@example.test"); !strings.Contains(out, "deleted user bob@example.test") {
		t.Fatalf("user del printed %q", out)
	}
	c.fails("", "user", "del", "bob@example.test")
	if got := lines(c.ok("", "user", "list")); len(got) != 1 || got[0] != "alice@example.test" {
		t.Fatalf("user list after del = %q", got)
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
	c.ok("pw\n", "user", "add", "alice@example.test", "--password-stdin")
	c.ok("pw\n", "user", "add", "bob@example.test", "--password-stdin")

	out := c.ok("", "alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
	if !strings.Contains(out, "team@example.test") || !strings.Contains(out, "bob@example.test") {
		t.Fatalf("alias add printed %q", out)
	}
	c.ok("", "alias", "add", "@example.test", "alice@example.test") // catch-all
	c.fails("", "alias", "add", "team@example.test")                // no target
	c.fails("", "alias", "add", "x@unknown.test", "alice@example.test")

	got := c.ok("", "alias", "list")
	for _, want := range []string{"@example.test\talice@example.test", "team@example.test\t"} {
		if !strings.Contains(got, want) {
			t.Fatalf("alias list = %q, missing %q", got, want)
		}
	}
	teamLine := ""
	for _, l := range lines(got) {
		if strings.HasPrefix(l, "team@example.test\t") {
			teamLine = l
		}
	}
	if !strings.Contains(teamLine, "alice@example.test") || !strings.Contains(teamLine, "bob@example.test") {
		t.Fatalf("team alias line = %q", teamLine)
	}

	c.ok("", "alias", "del", "@example.test")
	c.fails("", "alias", "del", "@example.test")
	c.ok("", "alias", "del", "team@example.test")
	if out := c.ok("", "alias", "list"); out != "" {
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
