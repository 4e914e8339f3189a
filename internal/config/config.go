// Package config loads Yizhan's TOML configuration. Every key is optional:
// what a file leaves out keeps the embedded default, so a first run needs no
// file at all. Unknown keys are an error naming the key, so a typo never
// silently falls back to a default.
//
// The file is found by Resolve: --config, else $YIZHAN_CONFIG, else
// ./yizhan.toml, else the embedded defaults.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/yizhan-mail/yizhan/internal/dsn"
)

// Config is the whole configuration; field names follow the contract in
// DESIGN.md §3.
type Config struct {
	Hostname string   `toml:"hostname"`
	DataDir  string   `toml:"data_dir"`
	Listen   Listen   `toml:"listen"`
	TLS      TLS      `toml:"tls"`
	DNS      DNS      `toml:"dns"`
	Delivery Delivery `toml:"delivery"`
	Queue    Queue    `toml:"queue"`
	DSN      DSN      `toml:"dsn"`
	Tracking Tracking `toml:"tracking"`
	Limits   Limits   `toml:"limits"`
	Log      Log      `toml:"log"`
}

// Listen holds listener addresses; "" disables a listener.
type Listen struct {
	SMTP        string `toml:"smtp"`
	Submission  string `toml:"submission"`
	Submissions string `toml:"submissions"`
	IMAP        string `toml:"imap"`
	IMAPS       string `toml:"imaps"`
	POP3        string `toml:"pop3"`
	POP3S       string `toml:"pop3s"`
	HTTP        string `toml:"http"`
}

// TLS names the certificate; both empty means a self-signed certificate for
// the hostname, generated once into data_dir.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// DNS chooses the resolver.
type DNS struct {
	Nameserver string `toml:"nameserver"` // "" = system resolver; "host:port" = only this server
}

// Delivery configures outbound delivery.
type Delivery struct {
	RemotePort int    `toml:"remote_port"` // port of MX hosts (tests use another)
	SourceIP   string `toml:"source_ip"`   // local address outbound connections leave from; "" = any
	// Smarthost, "host:port", relays all outbound mail through one server
	// (networks where port 25 is blocked); "" = deliver to MX hosts.
	Smarthost         string `toml:"smarthost"`
	SmarthostUser     string `toml:"smarthost_user"`
	SmarthostPassword string `toml:"smarthost_password"`
	SmarthostTLS      string `toml:"smarthost_tls"`            // "starttls" (required) or "implicit"
	MaxConnections    int    `toml:"max_connections"`          // outbound connections in total
	MaxPerHost        int    `toml:"max_connections_per_host"` // to one destination host
}

// Tracking configures the journey events kept per message.
type Tracking struct {
	Keep Duration `toml:"keep"` // how long events are kept
}

// Queue configures retries of outbound mail.
type Queue struct {
	RetrySchedule     []Duration `toml:"retry_schedule"`
	GiveUpAfter       Duration   `toml:"give_up_after"`
	DelayWarningAfter Duration   `toml:"delay_warning_after"`
}

// DSN configures the delivery status notifications (bounces, delay
// warnings, success reports) sent to senders.
type DSN struct {
	// Language of their human-readable parts: "en", "zh-TW" or "zh-CN";
	// a Chinese notice carries the English text after its own.
	Language string `toml:"language"`
}

// Limits bound what one client or message may use. The defaults never
// hinder a legitimate busy sender (a 32-connection load test from one IP
// runs unthrottled).
type Limits struct {
	MaxMessageSize      Size     `toml:"max_message_size"`
	MaxRecipients       int      `toml:"max_recipients"`
	MaxHeaderSize       Size     `toml:"max_header_size"`        // header section of one message
	MaxReceived         int      `toml:"max_received_headers"`   // more means a loop: 554 5.4.6
	MaxConnections      int      `toml:"max_connections"`        // all protocol listeners together, logged-in sessions included
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"` // not logged in, per client address
	MaxErrors           int      `toml:"max_errors"`             // protocol errors per session before 421
	AuthFailures        int      `toml:"auth_failures"`          // distinct wrong passwords per account per address per auth_window...
	AuthWindow          Duration `toml:"auth_window"`            // (an address may fail 3× as often across accounts)
	AuthPenalty         Duration `toml:"auth_penalty"`           // ...then that login is refused (454 4.7.0) for this long
	AuthExemptLoopback  bool     `toml:"auth_exempt_loopback"`   // never throttle 127.0.0.0/8 and ::1 (a local webmail)
	AuthExempt          []string `toml:"auth_exempt"`            // nor these networks ("10.0.0.0/8") or addresses
	MinPasswordLength   int      `toml:"min_password_length"`    // characters, for passwords set with user add/passwd
	CommandTimeout      Duration `toml:"command_timeout"`        // one SMTP command line (RFC 5321 §4.5.3.2.7: 5 min), one IMAP command once begun
	DataBlockTimeout    Duration `toml:"data_block_timeout"`     // §4.5.3.2.5: 3 min for DATA or a BDAT chunk, more at min_data_rate
	DataEndTimeout      Duration `toml:"data_end_timeout"`       // §4.5.3.2.6: 10 min (for us to answer)
	POP3IdleTimeout     Duration `toml:"pop3_idle_timeout"`      // RFC 1939 §3: at least 10 min
	LoginTimeout        Duration `toml:"login_timeout"`          // from connecting to logging in: submission, IMAP, POP3
	MinDataRate         int      `toml:"min_data_rate"`          // bytes/s that earn message data and IMAP literals more time
	WriteTimeout        Duration `toml:"write_timeout"`          // a client that reads none of our output for this long is disconnected (and one below min_data_rate)

	// Connections not logged in (port 25 sessions never are), per
	// listener and per IPv4 /24 or IPv6 /64.
	MaxConnectionsPerListener int `toml:"max_connections_per_listener"`
	MaxConnectionsPerNetwork  int `toml:"max_connections_per_network"`
}

// Log configures structured logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Default returns the embedded defaults (loopback, high ports: no root needed).
func Default() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return Config{
		Hostname: host,
		DataDir:  "./yizhan-data",
		Listen: Listen{
			SMTP:        "127.0.0.1:2525",
			Submission:  "127.0.0.1:2587",
			Submissions: "127.0.0.1:2465",
			IMAP:        "127.0.0.1:2143",
			IMAPS:       "127.0.0.1:2993",
			POP3:        "127.0.0.1:2110",
			POP3S:       "127.0.0.1:2995",
			HTTP:        "127.0.0.1:8025",
		},
		Delivery: Delivery{RemotePort: 25, SmarthostTLS: "starttls", MaxConnections: 100, MaxPerHost: 10},
		Tracking: Tracking{Keep: Duration(30 * 24 * time.Hour)},
		DSN:      DSN{Language: string(dsn.English)},
		Queue: Queue{
			RetrySchedule: []Duration{
				Duration(5 * time.Minute), Duration(10 * time.Minute), Duration(30 * time.Minute),
				Duration(time.Hour), Duration(2 * time.Hour), Duration(4 * time.Hour), Duration(8 * time.Hour),
			},
			GiveUpAfter:       Duration(120 * time.Hour),
			DelayWarningAfter: Duration(4 * time.Hour),
		},
		Limits: Limits{
			MaxMessageSize:      50 << 20,
			MaxRecipients:       100,
			MaxHeaderSize:       1 << 20,
			MaxReceived:         100,
			MaxConnections:      8192,
			MaxConnectionsPerIP: 32,
			MaxErrors:           20,
			MinPasswordLength:   8,
			AuthFailures:        10,
			AuthWindow:          Duration(time.Hour),
			AuthPenalty:         Duration(15 * time.Minute),
			CommandTimeout:      Duration(5 * time.Minute),
			DataBlockTimeout:    Duration(3 * time.Minute),
			DataEndTimeout:      Duration(10 * time.Minute),
			POP3IdleTimeout:     Duration(10 * time.Minute),
			LoginTimeout:        Duration(3 * time.Minute),
			MinDataRate:         500,
			WriteTimeout:        Duration(2 * time.Minute),

			MaxConnectionsPerListener: 1024,
			MaxConnectionsPerNetwork:  128,
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Source says where a configuration came from.
type Source struct {
	Path     string // file read; "" for the embedded defaults
	Embedded bool
}

// Resolve finds the config file: flagPath, else $YIZHAN_CONFIG, else
// ./yizhan.toml if it exists, else none (embedded defaults).
func Resolve(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	if p := os.Getenv("YIZHAN_CONFIG"); p != "" {
		return p
	}
	if fi, err := os.Stat("yizhan.toml"); err == nil && !fi.IsDir() {
		return "yizhan.toml"
	}
	return ""
}

// Load reads the file Resolve(flagPath) names, over the defaults.
func Load(flagPath string) (Config, Source, error) {
	path := Resolve(flagPath)
	if path == "" {
		return Default(), Source{Embedded: true}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, Source{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, Source{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.resolvePaths(path); err != nil {
		return Config{}, Source{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, Source{Path: path}, nil
}

// resolvePaths makes the file names in a config read from path relative
// to path's directory, not to whichever directory serve or an admin
// command happens to start in (under systemd that is /): data_dir (also
// the default, when the file sets none), tls.cert_file and tls.key_file.
// The embedded defaults, with no file, keep data_dir relative to the
// working directory.
func (c *Config) resolvePaths(path string) error {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return err
	}
	for _, p := range []*string{&c.DataDir, &c.TLS.CertFile, &c.TLS.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return nil
}

// Parse decodes TOML over the defaults, rejecting unknown keys, and
// validates the result.
func Parse(data []byte) (Config, error) {
	// A first, generic pass finds syntax errors and checks the keys whose Go
	// type is Size or Duration: both are int64 underneath, so the TOML
	// decoder would store an integer in a Duration as nanoseconds
	// (give_up_after = 120 would bounce everything at once) and report a
	// float in a Size without naming the key.
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return Config{}, decodeError(err)
	}
	if err := checkUnitKeys(raw, reflect.TypeOf(Config{}), ""); err != nil {
		return Config{}, err
	}

	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeError(err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeError rewrites a go-toml error so it names the key (and the line)
// an operator has to fix.
func decodeError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		keys := make([]string, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			keys = append(keys, strings.Join(e.Key(), "."))
		}
		if len(keys) == 1 {
			return fmt.Errorf("unknown key %s", keys[0])
		}
		return fmt.Errorf("unknown keys %s", strings.Join(keys, ", "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("%s: %s (line %d column %d)", strings.Join(k, "."), msg, row, col)
		}
		return fmt.Errorf("line %d column %d: %s", row, col, msg)
	}
	return err
}

var (
	sizeType     = reflect.TypeOf(Size(0))
	durationType = reflect.TypeOf(Duration(0))
)

// checkUnitKeys walks the struct type t alongside the generic decoding of
// the same table, and rejects values of Size and Duration keys that are
// not written in a form those types accept: sizes are strings or integers,
// durations only strings (a bare number has no unit). Keys absent from t
// are left to the strict decoder, which names them.
func checkUnitKeys(table map[string]any, t reflect.Type, prefix string) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		v, ok := table[name]
		if !ok {
			continue
		}
		key := prefix + name
		switch {
		case f.Type == sizeType:
			switch v.(type) {
			case string, int64:
			default:
				return fmt.Errorf("%s: want a size such as \"50MiB\" or an integer number of bytes, got %s", key, tomlKind(v))
			}
		case f.Type == durationType:
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%s: want a duration string such as \"5m\" or \"120h\", got %s", key, tomlKind(v))
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem() == durationType:
			arr, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s: want an array of duration strings such as [\"5m\", \"1h\"], got %s", key, tomlKind(v))
			}
			for j, e := range arr {
				if _, ok := e.(string); !ok {
					return fmt.Errorf("%s[%d]: want a duration string such as \"5m\", got %s", key, j, tomlKind(e))
				}
			}
		case f.Type.Kind() == reflect.Struct:
			sub, ok := v.(map[string]any)
			if !ok {
				continue // the strict decoder reports the type mismatch
			}
			if err := checkUnitKeys(sub, f.Type, key+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// tomlKind names the TOML type of a generically decoded value for errors.
func tomlKind(v any) string {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case string:
		return fmt.Sprintf("string %q", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Validate checks values a TOML type cannot.
func (c Config) Validate() error {
	switch {
	case c.Hostname == "":
		return errors.New("hostname must not be empty")
	case c.DataDir == "":
		return errors.New("data_dir must not be empty")
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		return errors.New("tls: cert_file and key_file must be set together")
	case c.Delivery.RemotePort <= 0 || c.Delivery.RemotePort > 65535:
		return fmt.Errorf("delivery.remote_port %d out of range", c.Delivery.RemotePort)
	case c.Delivery.SmarthostTLS != "starttls" && c.Delivery.SmarthostTLS != "implicit" && c.Delivery.SmarthostTLS != "none":
		return fmt.Errorf("delivery.smarthost_tls %q: want \"starttls\", \"implicit\" or \"none\"", c.Delivery.SmarthostTLS)
	case c.Delivery.SmarthostTLS == "none" && c.Delivery.SmarthostUser != "":
		return errors.New("delivery.smarthost_user needs smarthost_tls \"starttls\" or \"implicit\": no password in clear")
	case c.Delivery.MaxConnections <= 0 || c.Delivery.MaxPerHost <= 0:
		return errors.New("delivery.max_connections and delivery.max_connections_per_host must be positive")
	case c.Delivery.SourceIP != "" && !validIP(c.Delivery.SourceIP):
		return fmt.Errorf("delivery.source_ip %q is not an IP address", c.Delivery.SourceIP)
	case c.Tracking.Keep <= 0:
		return errors.New("tracking.keep must be positive")
	case len(c.Queue.RetrySchedule) == 0:
		return errors.New("queue.retry_schedule must not be empty")
	case c.Limits.MaxMessageSize <= 0:
		return errors.New("limits.max_message_size must be positive")
	case c.Limits.MaxRecipients <= 0:
		return errors.New("limits.max_recipients must be positive")
	case c.Limits.MaxHeaderSize <= 0:
		return errors.New("limits.max_header_size must be positive")
	case c.Limits.LoginTimeout <= 0:
		return errors.New("limits.login_timeout must be positive")
	case c.Limits.MinDataRate <= 0:
		return errors.New("limits.min_data_rate must be positive (bytes per second)")
	case c.Limits.WriteTimeout <= 0:
		return errors.New("limits.write_timeout must be positive")
	case c.Limits.MinPasswordLength <= 0:
		return errors.New("limits.min_password_length must be positive")
	case c.Limits.AuthFailures <= 0:
		return errors.New("limits.auth_failures must be positive")
	case c.Limits.AuthWindow <= 0:
		return errors.New("limits.auth_window must be positive")
	case c.Limits.AuthPenalty <= 0:
		return errors.New("limits.auth_penalty must be positive")
	case c.Limits.MaxReceived < 0, c.Limits.MaxConnections < 0, c.Limits.MaxConnectionsPerIP < 0, c.Limits.MaxErrors < 0,
		c.Limits.MaxConnectionsPerListener < 0, c.Limits.MaxConnectionsPerNetwork < 0:
		// 0 disables these bounds; a negative number is a typo.
		return errors.New("limits: max_received_headers, max_connections, max_connections_per_listener, max_connections_per_ip, max_connections_per_network and max_errors must not be negative")
	case c.Queue.GiveUpAfter <= 0:
		return errors.New("queue.give_up_after must be positive")
	}
	for i, n := range c.Limits.AuthExempt {
		if _, err := parseNetwork(n); err != nil {
			return fmt.Errorf("limits.auth_exempt[%d]: %w", i, err)
		}
	}
	for i, d := range c.Queue.RetrySchedule {
		// A zero wait would retry a failing destination in a tight loop.
		if d <= 0 {
			return fmt.Errorf("queue.retry_schedule[%d] must be positive", i)
		}
	}
	if _, err := dsn.ParseLanguage(c.DSN.Language); err != nil || c.DSN.Language == "" {
		var names []string
		for _, l := range dsn.Languages() {
			names = append(names, fmt.Sprintf("%q", l))
		}
		return fmt.Errorf("dsn.language %q: want %s or %s", c.DSN.Language,
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	return nil
}

// AuthExemptNetworks returns the networks whose logins are never
// throttled: loopback if auth_exempt_loopback, then auth_exempt (checked
// by Validate).
func (l Limits) AuthExemptNetworks() []netip.Prefix {
	var out []netip.Prefix
	if l.AuthExemptLoopback {
		out = append(out, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}
	for _, n := range l.AuthExempt {
		if p, err := parseNetwork(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseNetwork reads "10.0.0.0/8" or a single address.
func parseNetwork(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network (\"10.0.0.0/8\") or an IP address", s)
	}
	return p.Masked(), nil
}

// Duration is a time.Duration written as "5m", "120h".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Size is a byte count written as "50MiB", "10MB", "512KiB" or a plain number.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize parses a size with an optional unit.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return Size(n * mult), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(s), 10)), nil }

// FullyQualified reports whether host looks like a fully qualified domain
// name, the form RFC 5321 §4.1.1.1 asks for in EHLO and other servers
// check: at least two labels, none empty, not an IP address, and not
// under a name that is local by definition (RFC 6761 §6.3 localhost,
// RFC 6762 .local, the "localdomain" of many distributions' /etc/hosts).
func FullyQualified(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if validIP(h) || !strings.Contains(h, ".") {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" {
			return false
		}
	}
	switch labels[len(labels)-1] {
	case "localhost", "local", "localdomain":
		return false
	}
	return true
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
