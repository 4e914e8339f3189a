package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/control"
	"github.com/yizhan-mail/yizhan/internal/daemon"
)

func (a *app) authCmd() *cobra.Command {
	c := &cobra.Command{Use: "auth", Short: "Password-guessing protection of the running server"}
	var clear, all bool
	blocks := &cobra.Command{
		Use:   "blocks [--clear ADDRESS|NETWORK|ACCOUNT | --clear --all]",
		Short: "List, or lift, what the running server holds back after failed logins",
		Long: `List what the running server holds back after failed logins:
  an account from one address (refused: its password was guessed at from there),
  an address (refused, except for accounts it has logged in to before: it
  guessed at many accounts), and an account (slowed down for addresses it
  never logged in from: guessed at from many addresses).

--clear forgets the failures of an address (IPv6: its /64), a network, or an
account, and so lifts their blocks; --clear --all lifts every block.
The blocks live in the memory of "yizhan serve": it must be running.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.loadConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch {
			case !clear && (all || len(args) > 0):
				return errors.New("auth blocks: to lift blocks, use --clear ADDRESS|NETWORK|ACCOUNT or --clear --all")
			case clear && all == (len(args) > 0):
				return errors.New("auth blocks --clear: name one address, network or account, or give --all")
			case clear:
				req := daemon.AuthClearArgs{All: all}
				what := "every address and account"
				if len(args) > 0 {
					req.Target, what = args[0], args[0]
				}
				var res daemon.AuthClearResult
				if err := control.Call(ctx, cfg.DataDir, daemon.CmdAuthClear, req, &res); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "lifted %d %s for %s\n", res.Lifted, plural(res.Lifted, "block", "blocks"), what)
				return nil
			}
			var list []authlimit.Block
			if err := control.Call(ctx, cfg.DataDir, daemon.CmdAuthBlocks, nil, &list); err != nil {
				return err
			}
			printBlocks(a, list)
			return nil
		},
	}
	blocks.Flags().BoolVar(&clear, "clear", false, "lift the blocks of ADDRESS, NETWORK or ACCOUNT (or of all with --all)")
	blocks.Flags().BoolVar(&all, "all", false, "with --clear: lift every block")
	c.AddCommand(blocks)
	return c
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printBlocks shows one block a line under a header, or says there are
// none.
func printBlocks(a *app, list []authlimit.Block) {
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no blocks: no address or account is held back")
		return
	}
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CLIENT\tACCOUNT\tFAILURES\tHELD BACK\tUNTIL")
	for _, b := range list {
		client, account, held := b.Client, b.Account, ""
		switch b.Kind {
		case authlimit.ReasonLogin.String():
			held = "refused"
		case authlimit.ReasonClient.String():
			account, held = "(any)", "refused, except accounts it logged in to"
		case authlimit.ReasonAccount.String():
			client, held = "(any)", "slowed, for addresses it never logged in from"
		default:
			held = b.Kind
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", client, account, b.Failures, held, b.Until.Local().Format("2006-01-02 15:04:05 MST"))
	}
	w.Flush()
}
