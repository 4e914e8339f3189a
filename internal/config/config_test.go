package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// contractTOML is the example file of DESIGN.md §3, with every key set to
// its documented default.
const contractTOML = `
hostname = "mail.example.com"
data_dir = "./yizhan-data"

[listen]
smtp        = "127.0.0.1:2525"
submission  = "127.0.0.1:2587"
submissions = "127.0.0.1:2465"
imap        = "127.0.0.1:2143"
imaps       = "127.0.0.1:2993"
pop3        = "127.0.0.1:2110"
pop3s       = "127.0.0.1:2995"
http        = "127.0.0.1:8025"

[tls]
cert_file = ""
key_file  = ""

[dns]
nameserver = ""

[delivery]
remote_port = 25

[queue]
retry_schedule = ["5m", "10m", "30m", "1h", "2h", "4h", "8h"]
give_up_after = "120h"
delay_warning_after = "4h"

[limits]
max_message_size = "50MiB"
max_recipients = 100
`

func mustParse(t *testing.T, doc string) Config {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%q): %v", doc, err)
	}
	return c
}

func wantErr(t *testing.T, doc string, substrs ...string) {
	t.Helper()
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatalf("Parse(%q): no error, want one containing %q", doc, substrs)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Parse(%q) error %q does not contain %q", doc, err, s)
		}
	}
}

func TestDefaultsMatchContract(t *testing.T) {
	c := Default()
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if c.Hostname != host {
		t.Errorf("Hostname = %q, want OS hostname %q", c.Hostname, host)
	}
	if c.DataDir != "./yizhan-data" {
		t.Errorf("DataDir = %q", c.DataDir)
	}
	wantListen := Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:2143", IMAPS: "127.0.0.1:2993", POP3: "127.0.0.1:2110",
		POP3S: "127.0.0.1:2995", HTTP: "127.0.0.1:8025",
	}
	if c.Listen != wantListen {
		t.Errorf("Listen = %+v, want %+v", c.Listen, wantListen)
	}
	if c.TLS != (TLS{}) {
		t.Errorf("TLS = %+v, want both empty (self-signed)", c.TLS)
	}
	if c.DNS.Nameserver != "" {
		t.Errorf("DNS.Nameserver = %q, want system resolver", c.DNS.Nameserver)
	}
	if c.Delivery.RemotePort != 25 {
		t.Errorf("Delivery.RemotePort = %d", c.Delivery.RemotePort)
	}
	wantSched := []time.Duration{5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}
	if got := durations(c.Queue.RetrySchedule); !reflect.DeepEqual(got, wantSched) {
		t.Errorf("RetrySchedule = %v, want %v", got, wantSched)
	}
	if c.Queue.GiveUpAfter.D() != 120*time.Hour {
		t.Errorf("GiveUpAfter = %v", c.Queue.GiveUpAfter.D())
	}
	if c.Queue.DelayWarningAfter.D() != 4*time.Hour {
		t.Errorf("DelayWarningAfter = %v", c.Queue.DelayWarningAfter.D())
	}
	if c.Limits.MaxMessageSize != 50*1024*1024 {
		t.Errorf("MaxMessageSize = %d", c.Limits.MaxMessageSize)
	}
	if c.Limits.MaxRecipients != 100 {
		t.Errorf("MaxRecipients = %d", c.Limits.MaxRecipients)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func durations(ds []Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.D()
	}
	return out
}

// The contract's own example, parsed, must equal the embedded defaults
// (apart from the hostname, which the example spells out).
func TestContractExampleEqualsDefaults(t *testing.T) {
	got := mustParse(t, contractTOML)
	want := Default()
	want.Hostname = "mail.example.com"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed contract example\n got %+v\nwant %+v", got, want)
	}
}

func TestEmptyDocumentKeepsDefaults(t *testing.T) {
	if got := mustParse(t, ""); !reflect.DeepEqual(got, Default()) {
		t.Errorf("empty document: got %+v, want defaults", got)
	}
}

func TestEveryContractKeyParses(t *testing.T) {
	doc := `
hostname = "mx.example.org"
data_dir = "/var/lib/yizhan"

[listen]
smtp        = ":25"
submission  = ":587"
submissions = ":465"
imap        = ":143"
imaps       = ":993"
pop3        = ""
pop3s       = ":995"
http        = "[::1]:8080"

[tls]
cert_file = "/etc/yizhan/cert.pem"
key_file  = "/etc/yizhan/key.pem"

[dns]
nameserver = "127.0.0.1:5353"

[delivery]
remote_port = 2526

[queue]
retry_schedule = ["1m", "90s"]
give_up_after = "48h"
delay_warning_after = "30m"

[limits]
max_message_size = "10MB"
max_recipients = 7
`
	c := mustParse(t, doc)
	checks := []struct {
		name      string
		got, want any
	}{
		{"hostname", c.Hostname, "mx.example.org"},
		{"data_dir", c.DataDir, "/var/lib/yizhan"},
		{"listen", c.Listen, Listen{SMTP: ":25", Submission: ":587", Submissions: ":465", IMAP: ":143",
			IMAPS: ":993", POP3: "", POP3S: ":995", HTTP: "[::1]:8080"}},
		{"tls", c.TLS, TLS{CertFile: "/etc/yizhan/cert.pem", KeyFile: "/etc/yizhan/key.pem"}},
		{"dns.nameserver", c.DNS.Nameserver, "127.0.0.1:5353"},
		{"delivery.remote_port", c.Delivery.RemotePort, 2526},
		{"queue.retry_schedule", durations(c.Queue.RetrySchedule), []time.Duration{time.Minute, 90 * time.Second}},
		{"queue.give_up_after", c.Queue.GiveUpAfter.D(), 48 * time.Hour},
		{"queue.delay_warning_after", c.Queue.DelayWarningAfter.D(), 30 * time.Minute},
		{"limits.max_message_size", c.Limits.MaxMessageSize, Size(10_000_000)},
		{"limits.max_recipients", c.Limits.MaxRecipients, 7},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	// Keys the document leaves out keep their defaults.
	if c.Limits.MaxHeaderSize != Default().Limits.MaxHeaderSize {
		t.Errorf("limits.max_header_size = %d, want default", c.Limits.MaxHeaderSize)
	}
}

func TestUnknownKeysAreNamed(t *testing.T) {
	cases := []struct{ doc, key string }{
		{"bogus = 1", "unknown key bogus"},
		{"hostnam = \"x\"", "unknown key hostnam"},
		{"[listen]\nsmtps = \":465\"", "unknown key listen.smtps"},
		{"[limits]\nbogus = 1", "unknown key limits.bogus"},
		{"[limits]\nmax_message_sise = \"1MiB\"", "unknown key limits.max_message_sise"},
		{"[queue]\nretries = 3", "unknown key queue.retries"},
		{"[nosuch]\na = 1", "unknown key nosuch"},
		{"limits.bogus = 1", "unknown key limits.bogus"},
	}
	for _, tc := range cases {
		wantErr(t, tc.doc, tc.key)
	}
	// Several at once are all named.
	wantErr(t, "bogus = 1\n[listen]\nfoo = \"x\"\n[limits]\nbar = 2", "bogus", "listen.foo", "limits.bar")
}

func TestSizes(t *testing.T) {
	cases := []struct {
		value string // TOML value
		want  Size
	}{
		{`"50MiB"`, 50 << 20},
		{`"10MB"`, 10_000_000},
		{`"512KiB"`, 512 << 10},
		{`"1GiB"`, 1 << 30},
		{`"2GB"`, 2_000_000_000},
		{`"1KB"`, 1000},
		{`"1024"`, 1024},
		{`"1024B"`, 1024},
		{`" 3 MiB "`, 3 << 20},
		{`1048576`, 1048576}, // a TOML integer is a byte count
		{`1_000_000`, 1_000_000},
	}
	for _, tc := range cases {
		c := mustParse(t, "[limits]\nmax_message_size = "+tc.value)
		if c.Limits.MaxMessageSize != tc.want {
			t.Errorf("max_message_size = %s: got %d, want %d", tc.value, c.Limits.MaxMessageSize, tc.want)
		}
	}
	c := mustParse(t, "[limits]\nmax_header_size = 65536")
	if c.Limits.MaxHeaderSize != 65536 {
		t.Errorf("max_header_size = 65536: got %d", c.Limits.MaxHeaderSize)
	}
}

func TestBadSizes(t *testing.T) {
	for _, v := range []string{`"10XB"`, `"MiB"`, `"-1MiB"`, `"1.5MiB"`, `""`, `"9999999999GiB"`} {
		wantErr(t, "[limits]\nmax_message_size = "+v, "limits.max_message_size", "size")
	}
	wantErr(t, "[limits]\nmax_message_size = 1.5", "limits.max_message_size", "float")
	wantErr(t, "[limits]\nmax_message_size = true", "limits.max_message_size", "boolean")
	wantErr(t, "[limits]\nmax_message_size = 0", "limits.max_message_size must be positive")
	wantErr(t, "[limits]\nmax_message_size = -5", "limits.max_message_size must be positive")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "7": 7, "1KiB": 1024, "1MB": 1e6} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("ten"); err == nil {
		t.Error(`ParseSize("ten"): no error`)
	}
	b, err := Size(1 << 20).MarshalText()
	if err != nil || string(b) != "1048576" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestDurations(t *testing.T) {
	c := mustParse(t, "[queue]\ngive_up_after = \"120h\"\ndelay_warning_after = \"5m\"\n[limits]\nauth_window = \"1m30s\"")
	if c.Queue.GiveUpAfter.D() != 120*time.Hour || c.Queue.DelayWarningAfter.D() != 5*time.Minute ||
		c.Limits.AuthWindow.D() != 90*time.Second {
		t.Errorf("got give_up_after=%v delay_warning_after=%v auth_window=%v",
			c.Queue.GiveUpAfter.D(), c.Queue.DelayWarningAfter.D(), c.Limits.AuthWindow.D())
	}
	b, err := Duration(5 * time.Minute).MarshalText()
	if err != nil || string(b) != "5m0s" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestBadDurations(t *testing.T) {
	wantErr(t, "[queue]\ngive_up_after = \"soon\"", "queue.give_up_after", `"soon"`)
	wantErr(t, "[queue]\ngive_up_after = \"-1h\"", "queue.give_up_after", "negative")
	wantErr(t, "[queue]\ngive_up_after = \"0s\"", "queue.give_up_after must be positive")
	// A bare number has no unit: it must not become nanoseconds.
	wantErr(t, "[queue]\ngive_up_after = 120", "queue.give_up_after", "integer 120")
	wantErr(t, "[limits]\nauth_window = 60", "limits.auth_window", "duration")
}

func TestRetrySchedule(t *testing.T) {
	c := mustParse(t, "[queue]\nretry_schedule = [\"30s\"]")
	if got := durations(c.Queue.RetrySchedule); !reflect.DeepEqual(got, []time.Duration{30 * time.Second}) {
		t.Errorf("retry_schedule = %v", got)
	}
	c = mustParse(t, "[queue]\nretry_schedule = [\n  \"1m\",\n  \"2h\", # comment\n]")
	if got := durations(c.Queue.RetrySchedule); !reflect.DeepEqual(got, []time.Duration{time.Minute, 2 * time.Hour}) {
		t.Errorf("multi-line retry_schedule = %v", got)
	}

	wantErr(t, "[queue]\nretry_schedule = []", "queue.retry_schedule must not be empty")
	wantErr(t, "[queue]\nretry_schedule = [\"5m\", \"x\"]", "queue.retry_schedule", `"x"`)
	wantErr(t, "[queue]\nretry_schedule = [\"5m\", 10]", "queue.retry_schedule[1]", "integer 10")
	wantErr(t, "[queue]\nretry_schedule = \"5m\"", "queue.retry_schedule", "array")
	wantErr(t, "[queue]\nretry_schedule = [\"5m\", \"0s\"]", "queue.retry_schedule[1] must be positive")
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
	}{
		{`hostname = ""`, []string{"hostname must not be empty"}},
		{`hostname = 5`, []string{"hostname", "integer"}},
		{`data_dir = ""`, []string{"data_dir must not be empty"}},
		{"[listen]\nsmtp = 25", []string{"listen.smtp", "integer"}},
		{"[tls]\ncert_file = \"a.pem\"", []string{"cert_file and key_file must be set together"}},
		{"[delivery]\nremote_port = 70000", []string{"delivery.remote_port 70000"}},
		{"[delivery]\nremote_port = \"25\"", []string{"delivery.remote_port", "string"}},
		{"[limits]\nmax_recipients = 0", []string{"limits.max_recipients must be positive"}},
		{"[limits]\nmax_connections = -1", []string{"max_connections", "negative"}},
		{"[log]\nlevel = \"loud\"", []string{`log.level "loud"`}},
		{"[log]\nformat = \"xml\"", []string{`log.format "xml"`}},
		{"hostname = ", []string{"line 1"}}, // syntax error: where it is
		{"listen = \"x\"", []string{"listen"}},
	}
	for _, tc := range cases {
		wantErr(t, tc.doc, tc.want...)
	}
}

// TestDSNLanguage: [dsn] language picks the language of delivery status
// notifications: English by default, a known tag in any case, and an
// unknown one is an error that names the key and the choices.
func TestDSNLanguage(t *testing.T) {
	if got := Default().DSN.Language; got != "en" {
		t.Errorf("default dsn.language = %q, want \"en\"", got)
	}
	for _, v := range []string{"en", "zh-TW", "zh-CN", "zh-tw"} {
		if c := mustParse(t, "[dsn]\nlanguage = \""+v+"\""); c.DSN.Language != v {
			t.Errorf("dsn.language = %q, want %q", c.DSN.Language, v)
		}
	}
	for _, v := range []string{"fr", "zh", "zh_TW", ""} {
		wantErr(t, "[dsn]\nlanguage = \""+v+"\"", `dsn.language "`+v+`"`, `"en", "zh-TW" or "zh-CN"`)
	}
	wantErr(t, "[dsn]\nlanguage = 1", "dsn.language", "integer")
	wantErr(t, "[dsn]\nlang = \"en\"", "unknown key dsn.lang")
}

func TestResolveOrder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("YIZHAN_CONFIG", "")

	if got := Resolve(""); got != "" {
		t.Errorf("nothing configured: Resolve = %q, want embedded", got)
	}
	// A directory of that name is not a config file.
	if err := os.Mkdir("yizhan.toml", 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Resolve(""); got != "" {
		t.Errorf("yizhan.toml is a directory: Resolve = %q, want embedded", got)
	}
	if err := os.Remove("yizhan.toml"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("yizhan.toml", []byte(`hostname = "cwd.example"`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Resolve(""); got != "yizhan.toml" {
		t.Errorf("with ./yizhan.toml: Resolve = %q", got)
	}
	t.Setenv("YIZHAN_CONFIG", "/env/yizhan.toml")
	if got := Resolve(""); got != "/env/yizhan.toml" {
		t.Errorf("with $YIZHAN_CONFIG: Resolve = %q", got)
	}
	if got := Resolve("/flag/yizhan.toml"); got != "/flag/yizhan.toml" {
		t.Errorf("with --config: Resolve = %q", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("YIZHAN_CONFIG", "")

	c, src, err := Load("")
	if err != nil || !src.Embedded || src.Path != "" || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("no file: Load = %+v, %+v, %v; want embedded defaults", c, src, err)
	}

	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("yizhan.toml", `hostname = "cwd.example"`)
	envPath := write("env.toml", `hostname = "env.example"`)
	flagPath := write("flag.toml", `hostname = "flag.example"`)

	load := func(flag, want string) {
		t.Helper()
		c, src, err := Load(flag)
		if err != nil {
			t.Fatalf("Load(%q): %v", flag, err)
		}
		if c.Hostname != want || src.Embedded {
			t.Errorf("Load(%q): hostname %q (source %+v), want %q", flag, c.Hostname, src, want)
		}
	}
	load("", "cwd.example")
	t.Setenv("YIZHAN_CONFIG", envPath)
	load("", "env.example")
	load(flagPath, "flag.example")

	// A named file that is missing or bad is an error naming the file,
	// never a silent fall back to the defaults.
	if _, _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: err = %v", err)
	}
	bad := write("bad.toml", "[limits]\nbogus = 1")
	if _, _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.toml") ||
		!strings.Contains(err.Error(), "unknown key limits.bogus") {
		t.Errorf("bad file: err = %v", err)
	}
}

func TestFullyQualified(t *testing.T) {
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"mail.example.com.":     true,
		"mx.例子.台灣":              true,
		"vm":                    false,
		"localhost":             false,
		"localhost.localdomain": false,
		"printer.local":         false,
		"a..b":                  false,
		"192.0.2.1":             false,
		"::1":                   false,
		"":                      false,
	} {
		if got := FullyQualified(host); got != want {
			t.Errorf("FullyQualified(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestAuthLimits(t *testing.T) {
	c := mustParse(t, "")
	if c.Limits.AuthFailures != 10 || c.Limits.AuthWindow.D() != time.Hour || c.Limits.AuthPenalty.D() != 15*time.Minute ||
		c.Limits.AuthExemptLoopback || len(c.Limits.AuthExempt) != 0 {
		t.Errorf("defaults: %+v", c.Limits)
	}
	if p := c.Limits.AuthExemptNetworks(); len(p) != 0 {
		t.Errorf("exempt by default: %v", p)
	}
	c = mustParse(t, "[limits]\nauth_exempt_loopback = true\nauth_exempt = [\"10.1.0.0/16\", \"2001:db8::5\"]")
	got := fmt.Sprint(c.Limits.AuthExemptNetworks())
	if want := "[127.0.0.0/8 ::1/128 10.1.0.0/16 2001:db8::5/128]"; got != want {
		t.Errorf("exempt networks %s, want %s", got, want)
	}
	wantErr(t, "[limits]\nauth_exempt = [\"10.1.0.0/33\"]", "limits.auth_exempt", "10.1.0.0/33")
	wantErr(t, "[limits]\nauth_exempt = [\"localhost\"]", "limits.auth_exempt", "localhost")
	wantErr(t, "[limits]\nauth_window = \"0s\"", "limits.auth_window must be positive")
	wantErr(t, "[limits]\nauth_penalty = \"0s\"", "limits.auth_penalty must be positive")
}

// With a config file, a relative data_dir (also the default one when the
// file sets none) is relative to the file's directory, whatever the
// working directory; with no file, it stays relative to the working
// directory. TLS file names follow the same rule.
func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	etc := t.TempDir()
	t.Chdir(t.TempDir()) // somewhere else
	t.Setenv("YIZHAN_CONFIG", "")
	write := func(name, doc string) string {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		doc, want string
	}{
		{`data_dir = "data"`, filepath.Join(etc, "data")},
		{`data_dir = "./spool/yizhan"`, filepath.Join(etc, "spool", "yizhan")},
		{`data_dir = "../shared"`, filepath.Join(filepath.Dir(etc), "shared")},
		{`data_dir = "/var/lib/yizhan"`, "/var/lib/yizhan"},
		{`hostname = "mail.example.com"`, filepath.Join(etc, "yizhan-data")},
	} {
		cfg, _, err := Load(write("y.toml", c.doc))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DataDir != c.want {
			t.Errorf("%s: data_dir %q, want %q", c.doc, cfg.DataDir, c.want)
		}
	}
	cfg, _, err := Load(write("tls.toml", "[tls]\ncert_file = \"tls/cert.pem\"\nkey_file = \"/etc/ssl/key.pem\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CertFile != filepath.Join(etc, "tls", "cert.pem") || cfg.TLS.KeyFile != "/etc/ssl/key.pem" {
		t.Errorf("tls files %q, %q", cfg.TLS.CertFile, cfg.TLS.KeyFile)
	}

	// A config file named relative to the working directory.
	t.Chdir(filepath.Dir(etc))
	cfg, _, err = Load(filepath.Join(filepath.Base(etc), "y.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(etc, "yizhan-data") {
		t.Errorf("relative config path: data_dir %q", cfg.DataDir)
	}

	// No config file: the embedded default, relative to the working
	// directory as before.
	cfg, src, err := Load("")
	if err != nil || !src.Embedded || cfg.DataDir != "./yizhan-data" {
		t.Errorf("embedded: data_dir %q (%+v, %v)", cfg.DataDir, src, err)
	}
}

func TestMinPasswordLength(t *testing.T) {
	if c := mustParse(t, ""); c.Limits.MinPasswordLength != 8 {
		t.Errorf("default min_password_length %d, want 8", c.Limits.MinPasswordLength)
	}
	if c := mustParse(t, "[limits]\nmin_password_length = 12"); c.Limits.MinPasswordLength != 12 {
		t.Errorf("min_password_length %d, want 12", c.Limits.MinPasswordLength)
	}
	wantErr(t, "[limits]\nmin_password_length = 0", "limits.min_password_length must be positive")
}

func TestSlowClientLimits(t *testing.T) {
	c := mustParse(t, "")
	if c.Limits.LoginTimeout.D() != 3*time.Minute || c.Limits.MinDataRate != 500 {
		t.Errorf("defaults: login_timeout %v, min_data_rate %d", c.Limits.LoginTimeout.D(), c.Limits.MinDataRate)
	}
	c = mustParse(t, "[limits]\nlogin_timeout = \"30s\"\nmin_data_rate = 2000")
	if c.Limits.LoginTimeout.D() != 30*time.Second || c.Limits.MinDataRate != 2000 {
		t.Errorf("parsed: login_timeout %v, min_data_rate %d", c.Limits.LoginTimeout.D(), c.Limits.MinDataRate)
	}
	wantErr(t, "[limits]\nlogin_timeout = \"0s\"", "limits.login_timeout must be positive")
	wantErr(t, "[limits]\nmin_data_rate = 0", "limits.min_data_rate must be positive")
	if c := mustParse(t, ""); c.Limits.WriteTimeout.D() != 2*time.Minute {
		t.Errorf("default write_timeout %v, want 2m", c.Limits.WriteTimeout.D())
	}
	if c := mustParse(t, "[limits]\nwrite_timeout = \"30s\""); c.Limits.WriteTimeout.D() != 30*time.Second {
		t.Errorf("write_timeout %v, want 30s", c.Limits.WriteTimeout.D())
	}
	wantErr(t, "[limits]\nwrite_timeout = \"0s\"", "limits.write_timeout must be positive")
}

func TestConnectionLimits(t *testing.T) {
	c := mustParse(t, "")
	l := c.Limits
	if l.MaxConnections != 8192 || l.MaxConnectionsPerListener != 1024 || l.MaxConnectionsPerIP != 32 || l.MaxConnectionsPerNetwork != 128 {
		t.Errorf("defaults: %d total, %d per listener, %d per address, %d per network", l.MaxConnections, l.MaxConnectionsPerListener, l.MaxConnectionsPerIP, l.MaxConnectionsPerNetwork)
	}
	c = mustParse(t, "[limits]\nmax_connections_per_listener = 0\nmax_connections_per_network = 16")
	if c.Limits.MaxConnectionsPerListener != 0 || c.Limits.MaxConnectionsPerNetwork != 16 {
		t.Errorf("parsed: %d per listener, %d per network", c.Limits.MaxConnectionsPerListener, c.Limits.MaxConnectionsPerNetwork)
	}
	wantErr(t, "[limits]\nmax_connections_per_network = -1", "must not be negative")
	wantErr(t, "[limits]\nmax_connections_per_listener = -1", "must not be negative")
}
