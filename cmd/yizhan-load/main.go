// Command yizhan-load is a load generator for mail servers: it sends mail
// over many concurrent SMTP connections, or drives IMAP clients, and prints
// throughput and latency percentiles, for benchmarking Yizhan against its
// peers (DESIGN.md §5).
//
//	yizhan-load smtp --addr 127.0.0.1:2525 -c 32 -n 5000 --size 10240
//	yizhan-load imap --addr 127.0.0.1:993 --user alice@example.test --password-file pw -c 8 -d 20s
//	yizhan-load imap-idle --addr 127.0.0.1:993 --user alice@example.test -c 10000 --hold 1m
//	yizhan-load imap-probe --addr 127.0.0.1:993 --user alice@example.test --fill 100000 -r 10
//	yizhan-load imap-stall --addr 127.0.0.1:993 --user alice@example.test --stalled 40 --hold 3m --server-pid 1234
//	yizhan-load slowloris --flood 127.0.0.1:2525 --flood 127.0.0.1:2143 -c 2048 --smtp-addr 127.0.0.1:2525 --imap-addr 127.0.0.1:2993 --user alice@example.test
//
// The work is done by internal/loadgen; this file only parses flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/yizhan-mail/yizhan/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "yizhan-load:", err)
		os.Exit(1)
	}
}

func newRoot(out io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "yizhan-load",
		Short:         "Load generator for mail servers (SMTP, IMAP)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.AddCommand(smtpCmd(), imapCmd(), imapIdleCmd(), imapProbeCmd(), imapStallCmd(), slowlorisCmd())
	return root
}

// maxErrorsShown is how many failures are printed; the rest are counted.
const maxErrorsShown = 5

func smtpCmd() *cobra.Command {
	var o loadgen.SMTPOptions
	cmd := &cobra.Command{
		Use:   "smtp",
		Short: "Send messages over SMTP and report msgs/s and latency",
		Long: `Send --count messages over --connections concurrent SMTP connections.
Latency is measured per message from MAIL FROM to the final reply after DATA.
Prints a summary line and a key=value line; exits non-zero if any message failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := loadgen.RunSMTP(cmd.Context(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, res.Summary())
			fmt.Fprintln(out, res.KV())
			for i, e := range res.FirstErrors {
				if i == maxErrorsShown {
					break
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "error:", e)
			}
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("interrupted after %d messages", res.N)
			}
			return res.Err()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:2525", "server host:port")
	f.IntVarP(&o.Connections, "connections", "c", 8, "concurrent connections")
	f.IntVarP(&o.Count, "count", "n", 1000, "messages to send in total")
	f.IntVar(&o.Size, "size", 10240, "bytes per message, headers included")
	f.StringVar(&o.From, "from", "loadgen@example.test", "envelope and header sender")
	f.StringSliceVar(&o.Rcpts, "rcpt", []string{"alice@example.test"}, "recipient (repeatable or comma-separated)")
	f.StringVar(&o.TLS, "tls", loadgen.TLSNone, "TLS mode: none, starttls or implicit")
	f.BoolVar(&o.Insecure, "insecure", true, "skip certificate verification (for self-signed loopback servers)")
	f.StringVar(&o.ServerName, "server-name", "", "TLS server name to verify (default: host of --addr)")
	f.StringVar(&o.User, "user", "", "AUTH PLAIN user name (after TLS)")
	f.StringVar(&o.Password, "password", "", "AUTH PLAIN password")
	f.IntVar(&o.PerConn, "per-conn", 0, "messages per connection (0 = reuse each connection for all its messages, 1 = new connection per message)")
	f.BoolVar(&o.Pipelining, "pipelining", true, "pipeline MAIL/RCPT/DATA when the server offers PIPELINING")
	f.BoolVar(&o.Chunking, "chunking", false, "send each message as one BDAT LAST chunk pipelined with MAIL and RCPT, when the server offers CHUNKING and PIPELINING (RFC 3030)")
	f.IntVar(&o.Warmup, "warmup", 0, "messages sent before measuring (not counted)")
	f.StringVar(&o.Helo, "helo", "localhost", "EHLO name")
	f.DurationVar(&o.Timeout, "timeout", 0, "limit for each exchange with the server (default 60s)")
	return cmd
}

// passwordEnv is read for the IMAP password when no flag gives it, so it
// need not appear in ps output.
const passwordEnv = "YIZHAN_LOAD_PASSWORD"

// imapServerFlags adds the flags every IMAP mode shares to cmd. The
// returned function completes s after parsing: TLS mode and password.
func imapServerFlags(cmd *cobra.Command, s *loadgen.IMAPServer, mailbox *string) func() error {
	var (
		implicit, starttls bool
		password, pwFile   string
	)
	f := cmd.Flags()
	f.StringVar(&s.Addr, "addr", "127.0.0.1:2993", "server host:port")
	f.BoolVar(&implicit, "tls", true, "implicit TLS from the first byte (IMAPS); --tls=false for plain text")
	f.BoolVar(&starttls, "starttls", false, "connect in plain text and upgrade with STARTTLS (overrides --tls)")
	f.BoolVar(&s.Insecure, "insecure", true, "skip certificate verification (for self-signed loopback servers)")
	f.StringVar(&s.ServerName, "server-name", "", "TLS server name to verify (default: host of --addr)")
	f.StringVar(&s.User, "user", "", "LOGIN user name (required)")
	f.StringVar(&password, "password", "", "LOGIN password (visible in ps: prefer --password-file or $"+passwordEnv+")")
	f.StringVar(&pwFile, "password-file", "", "file holding the LOGIN password (one trailing newline is ignored)")
	f.StringSliceVar(&s.SourceIPs, "source-ips", nil, "local addresses to connect from, in turn (e.g. 127.0.0.1,127.0.0.2: spreads a per-IP connection limit)")
	f.DurationVar(&s.Timeout, "timeout", 0, "limit for each exchange with the server (default 60s)")
	f.StringVar(mailbox, "mailbox", "INBOX", "mailbox to select")
	return func() error {
		switch {
		case starttls:
			s.TLS = loadgen.TLSStartTLS
		case implicit:
			s.TLS = loadgen.TLSImplicit
		default:
			s.TLS = loadgen.TLSNone
		}
		switch {
		case password != "" && pwFile != "":
			return errors.New("give --password or --password-file, not both")
		case password != "":
			s.Password = password
		case pwFile != "":
			b, err := os.ReadFile(pwFile)
			if err != nil {
				return err
			}
			s.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		default:
			s.Password = os.Getenv(passwordEnv)
		}
		return nil
	}
}

// printErrors shows the first failures on stderr; the rest are counted.
func printErrors(cmd *cobra.Command, errs []error) {
	for i, e := range errs {
		if i == maxErrorsShown {
			break
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "error:", e)
	}
}

func imapCmd() *cobra.Command {
	var o loadgen.IMAPOptions
	cmd := &cobra.Command{
		Use:   "imap",
		Short: "Run a mix of IMAP commands over many clients and report ops/s and latency per command",
		Long: `Each of --connections clients logs in, selects --mailbox, learns its UIDs with
UID FETCH 1:* (FLAGS), then repeats commands drawn from --mix until --duration
has passed or --count commands are done:
  fetch           UID FETCH n BODY.PEEK[] of a known message
  store           UID STORE n +FLAGS or -FLAGS (\Seen)
  search_unseen   UID SEARCH UNSEEN
  search_subject  UID SEARCH SUBJECT --word
  search_text     UID SEARCH TEXT --word
  append          APPEND of a --size message (the client learns its UID from APPENDUID)
  noop            NOOP
  idle            IDLE, the server's continuation, DONE, the tagged OK
Latency is from writing a command to reading its tagged completion; a NO or BAD
counts as an error. Prints a table per command and one key=value line; exits
non-zero if any command failed.`,
		Args: cobra.NoArgs,
	}
	complete := imapServerFlags(cmd, &o.IMAPServer, &o.Mailbox)
	f := cmd.Flags()
	f.IntVarP(&o.Connections, "connections", "c", 8, "concurrent clients")
	f.DurationVarP(&o.Duration, "duration", "d", 0, "length of the mix (default 10s unless --count is given)")
	f.IntVarP(&o.Count, "count", "n", 0, "commands in total (0 = until --duration)")
	f.StringVar(&o.Mix, "mix", loadgen.DefaultIMAPMix, "weights of the commands; those not named are not run")
	f.StringVar(&o.Word, "word", "invoice", "word for SEARCH SUBJECT/TEXT, planted in some appended messages")
	f.IntVar(&o.Size, "size", 10240, "bytes per appended message")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the clients' random choices")
	f.DurationVar(&o.IdleTime, "idle-time", 0, "how long each IDLE lasts after the server's continuation")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := complete(); err != nil {
			return err
		}
		res, err := loadgen.RunIMAP(cmd.Context(), o)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		fmt.Fprintln(out, res.Summary())
		fmt.Fprintln(out, res.KV())
		printErrors(cmd, res.Total.FirstErrors)
		if err := cmd.Context().Err(); err != nil {
			return fmt.Errorf("interrupted after %d operations", res.Total.N)
		}
		return res.Err()
	}
	return cmd
}

func imapIdleCmd() *cobra.Command {
	var o loadgen.IMAPIdleOptions
	cmd := &cobra.Command{
		Use:   "imap-idle",
		Short: "Hold many IMAP connections logged in and idling",
		Long: `Open --connections connections, --parallel at a time, each logged in with
--mailbox selected and in IDLE; report how many got there, hold them for --hold
(or until SIGINT/SIGTERM), then end each with DONE and LOGOUT. The open file
limit is raised to the hard limit first. Prints a line when all are set up
("... idling ...") and a key=value line at the end; exits non-zero if any
connection failed or was dropped.`,
		Args: cobra.NoArgs,
	}
	complete := imapServerFlags(cmd, &o.IMAPServer, &o.Mailbox)
	f := cmd.Flags()
	f.IntVarP(&o.Connections, "connections", "c", 1000, "connections to hold")
	f.IntVar(&o.Parallel, "parallel", 200, "connections being set up at once")
	f.DurationVar(&o.Hold, "hold", 0, "how long to hold once all are set up (0 = until SIGINT/SIGTERM)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := complete(); err != nil {
			return err
		}
		o.Progress = cmd.OutOrStdout()
		res, err := loadgen.RunIMAPIdle(cmd.Context(), o)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), res.KV())
		printErrors(cmd, res.FirstErrors)
		return res.Err()
	}
	return cmd
}

func imapStallCmd() *cobra.Command {
	var o loadgen.IMAPStallOptions
	cmd := &cobra.Command{
		Use:   "imap-stall",
		Short: "Stalled IMAP readers and a STORE storm: does the server's memory stay bounded?",
		Long: `--stalled connections log in, select --mailbox, send --command (default
FETCH 1:* BODY[]) and never read the answer; then --storms connections run
STORE 1:* +FLAGS.SILENT / -FLAGS.SILENT (\Flagged) in turn for --hold. With
--server-pid the server's resident memory is sampled every 100 ms (Linux
/proc). At the end each stalled connection is read to tell whether the server
had closed it. Prints a summary and a key=value line; exits non-zero if a
stalled connection could not be set up or a STORE failed.`,
		Args: cobra.NoArgs,
	}
	complete := imapServerFlags(cmd, &o.IMAPServer, &o.Mailbox)
	f := cmd.Flags()
	f.IntVar(&o.Stalled, "stalled", 40, "connections that send the command and stop reading")
	f.IntVar(&o.Storms, "storms", 1, "connections running STORE 1:* meanwhile")
	f.StringVar(&o.Command, "command", "FETCH 1:* BODY[]", "what each stalled connection sends")
	f.DurationVar(&o.Hold, "hold", 60*time.Second, "how long the attack lasts once the stalled connections are set up")
	f.IntVar(&o.ServerPID, "server-pid", 0, "server process whose RSS is sampled (0: none)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := complete(); err != nil {
			return err
		}
		o.Progress = cmd.OutOrStdout()
		res, err := loadgen.RunIMAPStall(cmd.Context(), o)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
		fmt.Fprintln(cmd.OutOrStdout(), res.KV())
		printErrors(cmd, res.FirstErrors)
		if res.Established < res.Stalled || res.StoreErrors > 0 {
			return fmt.Errorf("imap-stall: %d of %d stalled connections set up, %d STORE failures", res.Established, res.Stalled, res.StoreErrors)
		}
		return nil
	}
	return cmd
}

func imapProbeCmd() *cobra.Command {
	var o loadgen.IMAPProbeOptions
	cmd := &cobra.Command{
		Use:   "imap-probe",
		Short: "Time single IMAP commands against a big mailbox, optionally filling it first",
		Long: `With --fill N (or --fill-to N), first APPEND messages over --fill-conns
connections: varied subjects and bodies, some with --word, some in Chinese or
Japanese, non-synchronising literals where the server allows them. Then, on one
connection, time LOGIN and --reps repetitions of SELECT, UID FETCH 1:* (FLAGS)
and UID SEARCH TEXT --word, each until its tagged completion, and print one
key=value line with the median (*_ms) and minimum (*_min_ms) of each.`,
		Args: cobra.NoArgs,
	}
	complete := imapServerFlags(cmd, &o.IMAPServer, &o.Mailbox)
	f := cmd.Flags()
	f.IntVarP(&o.Reps, "reps", "r", 10, "repetitions of each probe (0 = fill only)")
	f.StringVar(&o.Word, "word", "invoice", "word for UID SEARCH TEXT, planted in some filled messages")
	f.IntVar(&o.Fill, "fill", 0, "messages to APPEND before probing")
	f.IntVar(&o.FillTo, "fill-to", 0, "APPEND until the mailbox holds this many messages (instead of --fill)")
	f.IntVar(&o.FillConns, "fill-conns", 4, "connections appending in parallel")
	f.IntVar(&o.Size, "size", 4096, "average bytes per filled message")
	f.Int64Var(&o.Seed, "seed", 1, "varies the filled messages")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := complete(); err != nil {
			return err
		}
		o.Progress = cmd.ErrOrStderr()
		res, err := loadgen.RunIMAPProbe(cmd.Context(), o)
		if err != nil {
			if res != nil && res.Filled > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "appended %d messages before the failure\n", res.Filled)
			}
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), res.KV())
		return nil
	}
	return cmd
}

func slowlorisCmd() *cobra.Command {
	var o loadgen.SlowlorisOptions
	cmd := &cobra.Command{
		Use:   "slowloris",
		Short: "Flood listeners with slow connections and time normal clients meanwhile",
		Long: `Open --connections connections to each --flood listener (plain text), from
--sources in turn, and hold each by sending one byte every --interval, a
command line that never ends; a connection the server closes is opened again,
a refused one retried after an interval. After --settle, for --hold, time
normal clients on fresh connections from the default address: an SMTP
transaction (--smtp-addr; connect to the reply to QUIT) and an IMAP login
(--imap-addr; connect to the tagged OK of LOGIN). Prints the connections held
per flooded listener (fewest and most while timing), refused and cut, and the
normal clients' latency percentiles as key=value pairs; exits non-zero if a
normal client failed. Loopback sources need Linux (all of 127/8 answers).`,
		Args: cobra.NoArgs,
	}
	complete := imapServerFlags(cmd, &o.IMAP, new(string))
	f := cmd.Flags()
	// --imap-addr replaces the IMAP modes' --addr; no mailbox is selected.
	_ = f.MarkHidden("addr")
	_ = f.MarkHidden("mailbox")
	f.StringSliceVar(&o.Targets, "flood", nil, "listener to flood, host:port (repeatable)")
	f.IntVarP(&o.Conns, "connections", "c", 2048, "connections each flood tries to hold")
	f.StringSliceVar(&o.SourceIPs, "sources", nil, "addresses the flood comes from (default 127.0.1.1 … 127.0.18.1)")
	f.DurationVar(&o.Interval, "interval", 10*time.Second, "time between two bytes on a held connection")
	f.IntVar(&o.Parallel, "parallel", 256, "flood connections being opened at once")
	f.DurationVar(&o.Settle, "settle", 20*time.Second, "time the flood has to open its connections before timing starts")
	f.DurationVar(&o.Hold, "hold", time.Minute, "how long normal clients are timed")
	f.DurationVar(&o.Probe, "probe", 100*time.Millisecond, "pause between two timed clients of each kind")
	var imapAddr string
	f.StringVar(&imapAddr, "imap-addr", "", "IMAP server to time logins on (implicit TLS unless --tls=false); \"\" = none")
	f.StringVar(&o.SMTP.Addr, "smtp-addr", "", "SMTP server to time transactions on; \"\" = none")
	f.StringVar(&o.SMTP.TLS, "smtp-tls", loadgen.TLSNone, "TLS mode of the timed SMTP client: none, starttls or implicit")
	f.StringVar(&o.SMTP.User, "smtp-user", "", "AUTH PLAIN user of the timed SMTP client (submission)")
	f.StringVar(&o.SMTP.Password, "smtp-password", "", "its password")
	f.StringSliceVar(&o.SMTP.Rcpts, "rcpt", []string{"alice@example.test"}, "recipient of the timed SMTP messages")
	f.StringVar(&o.SMTP.From, "from", "loadgen@example.test", "sender of the timed SMTP messages")
	f.IntVar(&o.SMTP.Size, "size", 10240, "bytes per timed SMTP message")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.IMAP.Addr = imapAddr
		if imapAddr != "" {
			if err := complete(); err != nil {
				return err
			}
		}
		o.SMTP.Insecure = true
		o.Progress = cmd.ErrOrStderr()
		res, err := loadgen.RunSlowloris(cmd.Context(), o)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), res.KV())
		for _, r := range []*loadgen.Result{res.SMTP, res.IMAP} {
			if r != nil {
				printErrors(cmd, r.FirstErrors)
			}
		}
		return res.Err()
	}
	return cmd
}
