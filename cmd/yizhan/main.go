// Command yizhan is the Yizhan mail server and its admin CLI: serve, and
// manage domains, users and aliases in the same data directory (also while
// serve runs).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // for serve --pprof
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/buildinfo"
	"github.com/yizhan-mail/yizhan/internal/config"
	"github.com/yizhan-mail/yizhan/internal/daemon"
	"github.com/yizhan-mail/yizhan/internal/logging"
	"github.com/yizhan-mail/yizhan/internal/store"
)

func main() {
	if err := newRoot(os.Stdin, os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "yizhan: %v\n", oneLine(err))
		os.Exit(1)
	}
}

// oneLine keeps error output to one line, as the contract asks.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

type app struct {
	configPath string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "yizhan",
		Short:         "Yizhan (驛站): a complete mail system in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version and `yizhan version` print the same line.
	root.Version = buildinfo.Read().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (default $YIZHAN_CONFIG, else ./yizhan.toml, else embedded defaults)")
	root.AddCommand(a.versionCmd(), a.serveCmd(), a.domainCmd(), a.userCmd(), a.aliasCmd(), a.queueCmd(), a.traceCmd(), a.authCmd())
	return root
}

func (a *app) loadConfig() (config.Config, config.Source, error) {
	return config.Load(a.configPath)
}

// withStore runs fn on the data directory, opened for a short admin
// command (no group-commit goroutine; SQLite's locking serialises it with
// a running server).
func (a *app) withStore(cmd *cobra.Command, fn func(ctx context.Context, st *store.Store) error) error {
	cfg, _, err := a.loadConfig()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{NoCommitter: true})
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return logging.New(cfg.Log.Level, cfg.Log.Format, w)
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, buildinfo.Read())
			return nil
		},
	}
}

func (a *app) serveCmd() *cobra.Command {
	var pprofAddr string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run every configured listener",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, src, err := a.loadConfig()
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				go func() {
					// Profiling for benchmarks only; bind it to loopback.
					err := http.ListenAndServe(pprofAddr, nil) //nolint:gosec // operator-chosen debug address
					fmt.Fprintf(a.stderr, "pprof: %v\n", err)
				}()
			}
			return daemon.Run(cmd.Context(), cfg, src, a.stdout, newLogger(cfg, a.stderr))
		},
	}
	c.Flags().StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this address (debugging, e.g. 127.0.0.1:6060)")
	_ = c.Flags().MarkHidden("pprof")
	return c
}

func (a *app) domainCmd() *cobra.Command {
	c := &cobra.Command{Use: "domain", Short: "Manage local mail domains"}
	var postmaster string
	add := &cobra.Command{
		Use:   "add DOMAIN",
		Short: "Add a local domain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				d, err := st.AddDomain(ctx, args[0], postmaster)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added domain %s\n", d.Name)
				return nil
			})
		},
	}
	add.Flags().StringVar(&postmaster, "postmaster", "", "account receiving postmaster@DOMAIN (default: the domain's first user)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List local domains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				ds, err := st.Domains(ctx)
				if err != nil {
					return err
				}
				for _, d := range ds {
					pm := d.Postmaster
					if pm == "" {
						pm = "(first user)"
					}
					fmt.Fprintf(a.stdout, "%s\taccounts=%d\tpostmaster=%s\n", d.Name, d.Accounts, pm)
				}
				return nil
			})
		},
	}
	var force bool
	del := &cobra.Command{
		Use:   "del DOMAIN",
		Short: "Delete a local domain (refused while it has users, unless --force)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.DeleteDomain(ctx, args[0], force); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted domain %s\n", args[0])
				return nil
			})
		},
	}
	del.Flags().BoolVar(&force, "force", false, "also delete the domain's users and their mail")
	records := &cobra.Command{
		Use:   "records DOMAIN",
		Short: "Print the DNS records to publish, in zone-file syntax",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				d, err := st.DomainByName(ctx, args[0])
				if err != nil {
					return err
				}
				if !config.FullyQualified(cfg.Hostname) {
					fmt.Fprintf(a.stderr, "warning: hostname %q is not a fully qualified name; set hostname in the config\n", cfg.Hostname)
				}
				for _, r := range dnsRecords(d.Name, cfg.Hostname) {
					fmt.Fprintln(a.stdout, r)
				}
				return nil
			})
		},
	}
	c.AddCommand(add, list, del, records)
	return c
}

// dnsRecords returns the zone-file lines for a domain (names in A-label
// form, as zone files need).
func dnsRecords(domain, hostname string) []string {
	d := address.ASCIIDomain(domain) + "."
	host := strings.TrimSuffix(address.ASCIIDomain(hostname), ".") + "."
	pm := "postmaster@" + address.ASCIIDomain(domain)
	return []string{
		fmt.Sprintf("%s 3600 IN MX 10 %s", d, host),
		fmt.Sprintf(`%s 3600 IN TXT "v=spf1 mx -all"`, d),
		fmt.Sprintf(`_dmarc.%s 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:%s"`, d, pm),
	}
}

func (a *app) userCmd() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage user accounts"}
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add ADDRESS",
		Short: "Add a user (with INBOX, Sent, Drafts, Trash, Junk, Archive)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword(fromStdin)
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := a.checkPassword(pw); err != nil {
					return err
				}
				acct, err := st.AddAccount(ctx, args[0], pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added user %s\n", acct.Display)
				return nil
			})
		},
	}
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password as one line from standard input")
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				accts, err := st.Accounts(ctx)
				if err != nil {
					return err
				}
				if len(accts) == 0 {
					fmt.Fprintf(a.stdout, "no users; add one with: %s user add ADDRESS\n", buildinfo.Command())
					return nil
				}
				w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "USER\tMESSAGES\tSIZE\tQUOTA")
				for _, ac := range accts {
					n, size, err := st.AccountUsage(ctx, ac.ID)
					if err != nil {
						return err
					}
					quota := "none"
					if ac.Quota > 0 {
						quota = formatSize(ac.Quota)
					}
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", ac.Display, n, formatSize(size), quota)
				}
				return w.Flush()
			})
		},
	}
	var pwStdin bool
	passwd := &cobra.Command{
		Use:   "passwd ADDRESS",
		Short: "Set a user's password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword(pwStdin)
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := a.checkPassword(pw); err != nil {
					return err
				}
				if err := st.SetPassword(ctx, args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "password changed for %s\n", args[0])
				return nil
			})
		},
	}
	passwd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password as one line from standard input")
	var yes bool
	del := &cobra.Command{
		Use:   "del ADDRESS",
		Short: "Delete a user and all their mail (asks first, unless --yes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				acct, err := st.AccountByAddress(ctx, args[0])
				if err != nil {
					return err
				}
				n, size, err := st.AccountUsage(ctx, acct.ID)
				if err != nil {
					return err
				}
				what := fmt.Sprintf("%d %s (%s)", n, plural(int(n), "message", "messages"), formatSize(size))
				if !yes {
					ok, err := a.confirm(fmt.Sprintf("delete user %s and its %s? [y/N] ", acct.Display, what))
					if errors.Is(err, errNoTerminal) {
						return fmt.Errorf("deleting user %s would delete its %s: run again with --yes", acct.Display, what)
					}
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("user %s not deleted", acct.Display)
					}
				}
				if err := st.DeleteAccount(ctx, acct.Address); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted user %s and its %s\n", acct.Display, what)
				return nil
			})
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask before deleting the user and their mail")
	quota := &cobra.Command{
		Use:   "quota ADDRESS SIZE",
		Short: `Set a user's storage limit ("2GiB", "500MiB"; "0" for none)`,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			size, err := config.ParseSize(args[1])
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.SetQuota(ctx, args[0], int64(size)); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "quota of %s set to %s\n", args[0], args[1])
				return nil
			})
		},
	}
	c.AddCommand(add, list, passwd, quota, del)
	return c
}

// checkPassword applies the configured minimum length, counted in
// characters, not bytes (密碼 is two).
func (a *app) checkPassword(pw string) error {
	cfg, _, err := a.loadConfig()
	if err != nil {
		return err
	}
	if min := cfg.Limits.MinPasswordLength; utf8.RuneCountInString(pw) < min {
		return fmt.Errorf("password too short: use at least %d characters (limits.min_password_length)", min)
	}
	return nil
}

// errNoTerminal is confirm's answer when nobody can be asked.
var errNoTerminal = errors.New("no terminal to ask on")

// confirm asks a yes/no question on the terminal; anything but y or yes
// is no.
func (a *app) confirm(question string) (bool, error) {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, errNoTerminal
	}
	fmt.Fprint(a.stderr, question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// formatSize writes a byte count for people: "812 B", "1.2 KiB", "2 MiB".
func formatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v, unit = v/1024, u
		if v < 1024 {
			break
		}
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " " + unit
}

// readPassword reads one line from stdin with --password-stdin, else asks
// twice on the terminal without echo.
func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("reading password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password")
		}
		return pw, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal to ask for a password: use --password-stdin")
	}
	fmt.Fprint(a.stderr, "Password: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(a.stderr, "Again: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("passwords do not match")
	}
	if len(p1) == 0 {
		return "", errors.New("empty password")
	}
	return string(p1), nil
}

func (a *app) aliasCmd() *cobra.Command {
	c := &cobra.Command{Use: "alias", Short: "Manage aliases (ALIAS may be @domain for a catch-all)"}
	add := &cobra.Command{
		Use:   "add ALIAS TARGET...",
		Short: "Add an alias delivering to one or more targets",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				al, err := st.AddAlias(ctx, args[0], args[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added alias %s -> %s\n", al.Address, strings.Join(al.Targets, ", "))
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List aliases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				als, err := st.Aliases(ctx)
				if err != nil {
					return err
				}
				if len(als) == 0 {
					fmt.Fprintln(a.stdout, "no aliases")
					return nil
				}
				w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ALIAS\tTARGETS")
				for _, al := range als {
					fmt.Fprintf(w, "%s\t%s\n", al.Address, strings.Join(al.Targets, ", "))
				}
				return w.Flush()
			})
		},
	}
	del := &cobra.Command{
		Use:   "del ALIAS",
		Short: "Delete an alias",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.DeleteAlias(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted alias %s\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, del)
	return c
}
