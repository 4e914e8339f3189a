// Command yizhan-load is a load generator for mail servers: it sends mail
// over many concurrent SMTP connections and prints throughput and latency
// percentiles, for benchmarking Yizhan against its peers (DESIGN.md §5).
//
//	yizhan-load smtp --addr 127.0.0.1:2525 -c 32 -n 5000 --size 10240
//
// The work is done by internal/loadgen; this file only parses flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
		Short:         "Load generator for mail servers (SMTP)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.AddCommand(smtpCmd())
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
	f.IntVar(&o.Warmup, "warmup", 0, "messages sent before measuring (not counted)")
	f.StringVar(&o.Helo, "helo", "localhost", "EHLO name")
	f.DurationVar(&o.Timeout, "timeout", 0, "limit for each exchange with the server (default 60s)")
	return cmd
}
