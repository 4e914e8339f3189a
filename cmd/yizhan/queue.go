package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
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
				if len(items) == 0 {
					fmt.Fprintln(a.stdout, "queue is empty")
					return nil
				}
				w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tSENDER\tRECIPIENT\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
				for _, it := range items {
					fmt.Fprintf(w, "%d\t<%s>\t<%s>\t%d\t%s\t%s\n", it.ID, it.From, it.Rcpt, it.Attempts,
						it.NextAttempt.UTC().Format(time.RFC3339), flat(it.LastError))
				}
				return w.Flush()
			})
		},
	}
	show := &cobra.Command{
		Use:   "show ID|TRACKING-ID",
		Short: "Show a waiting recipient (or every waiting recipient of a message, by tracking id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				items, err := queueEntries(ctx, st, args[0])
				if err != nil {
					return err
				}
				for i, it := range items {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					a.printQueueItem(it)
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

// printQueueItem shows one waiting recipient.
func (a *app) printQueueItem(it store.QueueItem) {
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
}

// queueEntries returns the waiting recipient with queue id arg, or every
// waiting recipient of the message with tracking id arg (the id= of the
// 250 reply, which is what a sender quotes).
func queueEntries(ctx context.Context, st *store.Store, arg string) ([]store.QueueItem, error) {
	if _, err := strconv.ParseInt(arg, 10, 64); err == nil || !tracking.Valid(arg) {
		id, err := queueID(arg)
		if err != nil {
			return nil, err
		}
		it, err := st.QueueRecipient(ctx, id)
		if err != nil {
			return nil, err
		}
		return []store.QueueItem{it}, nil
	}
	all, err := st.Queue(ctx)
	if err != nil {
		return nil, err
	}
	var items []store.QueueItem
	for _, it := range all {
		if it.TrackingID == arg {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("nothing waits in the queue for tracking id %s (its journey: yizhan trace %s)", arg, arg)
	}
	return items, nil
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
		return 0, fmt.Errorf("bad queue id %q: give a number from 'yizhan queue list' or a tracking id", s)
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

// formatDetail prints an event's detail as key=value pairs in key order,
// for people: lists as comma-separated text, numbers as written, values
// with spaces quoted.
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
		s := detailText(d[k])
		if s == "" || strings.ContainsAny(s, " \t\"") {
			s = strconv.Quote(s)
		}
		b.WriteString(k + "=" + s)
	}
	return b.String()
}

// detailText is one detail value as text (details come back from the
// store's JSON: strings, float64 numbers, lists, booleans).
func detailText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return ""
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = detailText(e)
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(v, ",")
	default:
		j, _ := json.Marshal(v)
		return string(j)
	}
}
