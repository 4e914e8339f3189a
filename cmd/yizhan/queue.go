package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// queueCmd is `yizhan queue`: the outbound queue, one line per waiting
// recipient.
func (a *app) queueCmd() *cobra.Command {
	c := &cobra.Command{Use: "queue", Short: "Inspect and manage the outbound queue"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List waiting recipients: id, sender, recipient, attempts, next attempt, last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				items, err := st.Queue(ctx)
				if err != nil {
					return err
				}
				for _, it := range items {
					fmt.Fprintf(a.stdout, "%d\t<%s>\t<%s>\t%d\t%s\t%s\n", it.ID, it.From, it.Rcpt, it.Attempts,
						it.NextAttempt.UTC().Format(time.RFC3339), flat(it.LastError))
				}
				return nil
			})
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one waiting recipient and its message",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withQueueEntry(cmd, args[0], func(ctx context.Context, st *store.Store, it store.QueueItem) error {
				w := a.stdout
				fmt.Fprintf(w, "id:           %d\n", it.ID)
				fmt.Fprintf(w, "tracking id:  %s\n", it.TrackingID)
				fmt.Fprintf(w, "sender:       <%s>\n", it.From)
				fmt.Fprintf(w, "recipient:    <%s>\n", it.Rcpt)
				fmt.Fprintf(w, "size:         %d\n", it.Size)
				fmt.Fprintf(w, "arrived:      %s\n", it.Arrived.UTC().Format(time.RFC3339))
				fmt.Fprintf(w, "attempts:     %d\n", it.Attempts)
				fmt.Fprintf(w, "next attempt: %s\n", it.NextAttempt.UTC().Format(time.RFC3339))
				fmt.Fprintf(w, "last error:   %s\n", flat(it.LastError))
				if it.Notify != "" || it.EnvID != "" || it.Ret != "" || it.ORcpt != "" {
					fmt.Fprintf(w, "dsn:          notify=%s ret=%s envid=%s orcpt=%s\n", it.Notify, it.Ret, it.EnvID, it.ORcpt)
				}
				return nil
			})
		},
	}
	var all bool
	retry := &cobra.Command{
		Use:   "retry ID|--all",
		Short: "Make a waiting recipient (or all of them) due now",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			switch {
			case all && len(args) == 0:
			case !all && len(args) == 1:
				var err error
				if id, err = queueID(args[0]); err != nil {
					return err
				}
			default:
				return fmt.Errorf("give either an ID or --all")
			}
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				n, err := st.RetryNow(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%d recipient(s) due now\n", n)
				return nil
			})
		},
	}
	retry.Flags().BoolVar(&all, "all", false, "every waiting recipient")
	drop := &cobra.Command{
		Use:   "drop ID",
		Short: "Remove a waiting recipient from the queue without a bounce",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withQueueEntry(cmd, args[0], func(ctx context.Context, st *store.Store, it store.QueueItem) error {
				ev := store.Event{TrackingID: it.TrackingID, At: time.Now(), Kind: tracking.EventDropped,
					Detail: map[string]any{"recipient": it.Rcpt, "by": "queue drop"}}
				if err := st.FinishRecipients(ctx, []int64{it.ID}, []store.Event{ev}); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "dropped %d <%s>\n", it.ID, it.Rcpt)
				return nil
			})
		},
	}
	c.AddCommand(list, show, retry, drop)
	return c
}

// withQueueEntry runs fn on the waiting recipient named by arg.
func (a *app) withQueueEntry(cmd *cobra.Command, arg string, fn func(context.Context, *store.Store, store.QueueItem) error) error {
	id, err := queueID(arg)
	if err != nil {
		return err
	}
	return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
		it, err := st.QueueRecipient(ctx, id)
		if err != nil {
			return err
		}
		return fn(ctx, st, it)
	})
}

func queueID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("bad queue id %q (see 'yizhan queue list')", s)
	}
	return id, nil
}

// flat keeps a remote reply on one output line.
func flat(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// traceCmd is `yizhan trace ID|MESSAGE-ID`: a message's journey.
func (a *app) traceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "trace ID|MESSAGE-ID",
		Short: "Print the timeline of a message by tracking id or Message-ID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				ids := []string{args[0]}
				if !tracking.Valid(args[0]) {
					mid := strings.TrimSuffix(strings.TrimPrefix(args[0], "<"), ">")
					var err error
					if ids, err = st.TrackingIDsByMessageID(ctx, mid); err != nil {
						return err
					}
					if len(ids) == 0 {
						return fmt.Errorf("no message with tracking id or Message-ID %q", args[0])
					}
				}
				found := false
				for _, id := range ids {
					events, err := st.Events(ctx, id)
					if err != nil {
						return err
					}
					if len(events) == 0 {
						continue
					}
					found = true
					fmt.Fprintf(a.stdout, "%s\n", id)
					for _, e := range events {
						fmt.Fprintf(a.stdout, "  %s  %-10s %s\n", e.At.UTC().Format("2006-01-02 15:04:05.000"), e.Kind, formatDetail(e.Detail))
					}
				}
				if !found {
					return fmt.Errorf("no events for %q (events are kept for a limited time)", args[0])
				}
				return nil
			})
		},
	}
}

// formatDetail prints an event's detail as key=value pairs in key order.
func formatDetail(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := d[k]
		var s string
		switch v := v.(type) {
		case string:
			s = v
		default:
			j, _ := json.Marshal(v)
			s = string(j)
		}
		if strings.ContainsAny(s, " \t\"") {
			s = strconv.Quote(s)
		}
		b.WriteString(k + "=" + s)
	}
	return b.String()
}
