package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IMAPProbeOptions configures an imap-probe run: single commands timed on
// one connection against a (big) mailbox, after an optional fill. Zero
// values take the defaults noted.
type IMAPProbeOptions struct {
	IMAPServer
	Mailbox   string    // mailbox probed (and filled; created if missing and not INBOX); default INBOX
	Reps      int       // repetitions of each probe; 0 runs none (fill only)
	Word      string    // word for UID SEARCH TEXT, planted in some filled messages; default invoice
	Fill      int       // messages to APPEND before probing
	FillTo    int       // instead of Fill: APPEND until the mailbox holds this many
	FillConns int       // connections appending in parallel; default 4
	Size      int       // average bytes per filled message (they range from half to one and a half times it); default 4096
	Seed      int64     // varies the filled messages
	Progress  io.Writer // gets fill progress; may be nil
}

func (o *IMAPProbeOptions) setDefaults() error {
	if err := o.IMAPServer.setDefaults(); err != nil {
		return err
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.Word == "" {
		o.Word = "invoice"
	}
	if o.FillConns == 0 {
		o.FillConns = 4
	}
	if o.Size == 0 {
		o.Size = 4096
	}
	switch {
	case o.Reps < 0 || o.Fill < 0 || o.FillTo < 0 || o.FillConns < 0 || o.Size < 0:
		return errors.New("imap-probe: reps, fill, fill-to, fill connections and size must not be negative")
	case o.Fill > 0 && o.FillTo > 0:
		return errors.New("imap-probe: give fill or fill-to, not both")
	case strings.ContainsAny(o.Word, "\r\n\x00"):
		return errors.New("imap-probe: the search word must not contain line breaks")
	}
	return checkMailbox(o.Mailbox)
}

// IMAPProbeResult holds the timings of an imap-probe run.
type IMAPProbeResult struct {
	Messages    int             // size of the mailbox: EXISTS at the last SELECT, or after the fill
	Filled      int             // messages appended by the fill
	FillTime    time.Duration   // wall time of the fill
	Login       time.Duration   // LOGIN of the probing connection
	Select      []time.Duration // SELECT until its tagged OK, one per repetition
	FetchFlags  []time.Duration // UID FETCH 1:* (FLAGS), every response read
	SearchText  []time.Duration // UID SEARCH TEXT word
	FlagsLines  int             // FETCH responses to the last UID FETCH 1:* (FLAGS)
	SearchHits  int             // UIDs found by the last SEARCH
	Reps        int             // repetitions done
	FillLiteral string          // how the fill sent literals: "nonsync", "sync" or "mixed"
}

// KV is the result as key=value pairs for scripts: medians under the plain
// names, minimums as *_min_ms.
func (r *IMAPProbeResult) KV() string {
	pairs := []string{
		"mode=imap-probe",
		fmt.Sprintf("messages=%d", r.Messages),
		fmt.Sprintf("reps=%d", r.Reps),
		fmt.Sprintf("login_ms=%.2f", msf(r.Login)),
	}
	for _, p := range []struct {
		name string
		d    []time.Duration
	}{{"select", r.Select}, {"fetch_flags", r.FetchFlags}, {"search_text", r.SearchText}} {
		pairs = append(pairs,
			fmt.Sprintf("%s_ms=%.2f", p.name, msf(median(p.d))),
			fmt.Sprintf("%s_min_ms=%.2f", p.name, msf(minDuration(p.d))))
	}
	pairs = append(pairs,
		fmt.Sprintf("flags_lines=%d", r.FlagsLines),
		fmt.Sprintf("search_hits=%d", r.SearchHits),
		fmt.Sprintf("filled=%d", r.Filled),
		fmt.Sprintf("fill_s=%.3f", r.FillTime.Seconds()))
	if r.Filled > 0 {
		pairs = append(pairs,
			fmt.Sprintf("fill_msgs_per_s=%.1f", float64(r.Filled)/r.FillTime.Seconds()),
			"fill_literal="+r.FillLiteral)
	}
	return strings.Join(pairs, " ")
}

// median is the middle value (the mean of the two middle ones for an even
// count); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

// RunIMAPProbe fills the mailbox if asked, then on one new connection
// times LOGIN, and o.Reps times each of SELECT, UID FETCH 1:* (FLAGS) and
// UID SEARCH TEXT word, each from writing the command to reading its
// tagged completion. Unlike the mix, any failure ends the run with an
// error: a probe that failed measured nothing.
func RunIMAPProbe(ctx context.Context, o IMAPProbeOptions) (*IMAPProbeResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	res := &IMAPProbeResult{}
	if o.Fill > 0 || o.FillTo > 0 {
		if err := fillMailbox(ctx, &o, res); err != nil {
			return res, err
		}
	}
	if o.Reps == 0 {
		return res, nil
	}

	c, err := dialIMAP(ctx, &o.IMAPServer, 0)
	if err != nil {
		return res, fmt.Errorf("imap-probe: %w", err)
	}
	defer c.logout()
	t0 := time.Now()
	if err := c.login(); err != nil {
		return res, fmt.Errorf("imap-probe: %w", err)
	}
	res.Login = time.Since(t0)
	search := searchCommand(" TEXT ", o.Word)
	for range o.Reps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := time.Now()
		if err := c.selectMailbox(o.Mailbox); err != nil {
			return res, fmt.Errorf("imap-probe: %w", err)
		}
		res.Select = append(res.Select, time.Since(t0))
		res.Messages = c.exists

		t0 = time.Now()
		if err := c.simple("UID FETCH 1:* (FLAGS)"); err != nil {
			return res, fmt.Errorf("imap-probe: %w", err)
		}
		res.FetchFlags = append(res.FetchFlags, time.Since(t0))
		res.FlagsLines = c.fetches

		t0 = time.Now()
		if err := c.simple(search...); err != nil {
			return res, fmt.Errorf("imap-probe: %w", err)
		}
		res.SearchText = append(res.SearchText, time.Since(t0))
		res.SearchHits = c.searchHits
		res.Reps++
	}
	return res, nil
}

// fillMailbox appends o.Fill messages, or enough to bring the mailbox to
// o.FillTo, over o.FillConns connections. Literals go non-synchronising
// where the server allows (LITERAL+, or LITERAL-/IMAP4rev2 up to 4 KB):
// otherwise every APPEND waits a round trip for the go-ahead.
func fillMailbox(ctx context.Context, o *IMAPProbeOptions, res *IMAPProbeResult) error {
	first, err := dialIMAP(ctx, &o.IMAPServer, 0)
	if err != nil {
		return fmt.Errorf("imap-probe fill: %w", err)
	}
	if err := first.login(); err != nil {
		first.conn.Close()
		return fmt.Errorf("imap-probe fill: %w", err)
	}
	if !strings.EqualFold(o.Mailbox, "INBOX") {
		// RFC 9051 §6.3.4: NO if it exists already, which is fine.
		if _, err := first.exec("CREATE ", astring(o.Mailbox)); err != nil {
			first.conn.Close()
			return fmt.Errorf("imap-probe fill: CREATE: %w", err)
		}
	}
	if err := first.selectMailbox(o.Mailbox); err != nil {
		first.conn.Close()
		return fmt.Errorf("imap-probe fill: %w", err)
	}
	base := first.exists
	n := o.Fill
	if o.FillTo > 0 {
		n = max(o.FillTo-base, 0)
	}
	res.Messages = base
	if n == 0 {
		first.logout()
		return nil
	}

	gen := newMailGen(o.Seed, o.Word, o.Size, o.User, time.Now())
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next, done     atomic.Int64
		syncs, nonSync atomic.Int64
		wg             sync.WaitGroup
	)
	step := max(n/10, 1000)
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	t0 := time.Now()
	worker := func(c *imapConn) {
		defer c.logout()
		for ctx.Err() == nil {
			k := int(next.Add(1) - 1)
			if k >= n {
				return
			}
			seq := base + k
			size := o.Size/2 + (seq*7919)%max(o.Size, 1) // 0.5x to 1.5x, spread over the range
			msg := gen.buildSized(seq, size, time.Now())
			if c.nonSyncLiteral(len(msg)) {
				nonSync.Add(1)
			} else {
				syncs.Add(1)
			}
			if err := c.simple("APPEND ", astring(o.Mailbox), " ", literal(msg)); err != nil {
				cancel(fmt.Errorf("imap-probe fill: message %d: %w", k, err))
				return
			}
			if d := done.Add(1); d%int64(step) == 0 {
				fmt.Fprintf(progress, "imap-probe: filled %d of %d in %.1fs\n", d, n, time.Since(t0).Seconds())
			}
		}
	}
	wg.Go(func() { worker(first) })
	for i := 1; i < min(o.FillConns, n); i++ {
		wg.Go(func() {
			c, err := dialIMAP(ctx, &o.IMAPServer, i)
			if err == nil {
				if err = c.login(); err != nil {
					c.conn.Close()
				}
			}
			if err != nil {
				cancel(fmt.Errorf("imap-probe fill: connection %d: %w", i, err))
				return
			}
			worker(c)
		})
	}
	wg.Wait()
	res.FillTime = time.Since(t0)
	res.Filled = int(done.Load())
	res.Messages = base + res.Filled
	switch {
	case syncs.Load() == 0:
		res.FillLiteral = "nonsync"
	case nonSync.Load() == 0:
		res.FillLiteral = "sync"
	default:
		res.FillLiteral = "mixed"
	}
	return context.Cause(ctx)
}
