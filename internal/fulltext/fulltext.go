// Package fulltext keeps the store's full-text index (for IMAP SEARCH
// BODY and TEXT) up to date. Messages are queued by the store when they
// are stored and indexed here in the background when the server is quiet,
// off the SMTP path: a delivery's 250 never waits for indexing and busy
// intake does not share its CPU with it. A search first indexes what is
// still queued for its mailbox, so results are always complete.
package fulltext

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// Limits of the index.
const (
	// batch is how many messages one index transaction covers.
	batch = 64
	// maxText bounds the text indexed per message: enough for any
	// letter; text beyond it (long logs pasted in, text attachments) is
	// not searchable. FTS5 holds a message's trigrams in memory while it
	// inserts them, about 20 bytes per byte of text, so this also bounds
	// the indexer's memory.
	maxText = 256 << 10
	// sweep is how often queued messages are looked for without a kick
	// (after a restart, or a kick lost while busy).
	sweep = time.Minute
)

// Indexer indexes queued messages.
type Indexer struct {
	st  *store.Store
	log *slog.Logger
	mu  sync.Mutex // one indexing pass at a time: a message is indexed once
}

// New returns an Indexer for st.
func New(st *store.Store, log *slog.Logger) *Indexer {
	return &Indexer{st: st, log: log}
}

// Run indexes until ctx ends. Background indexing waits for a quiet
// moment (no new message for quietFor) and yields between batches as soon
// as mail arrives again: indexing costs more CPU than storing a message,
// and on a busy server it must not compete with intake. A search indexes
// what its mailbox still lacks itself (Sync), so results never depend on
// the background catching up.
func (ix *Indexer) Run(ctx context.Context) {
	t := time.NewTicker(sweep)
	defer t.Stop()
	for {
		if !ix.waitQuiet(ctx) {
			return
		}
		if err := ix.drainQuietly(ctx); err != nil && ctx.Err() == nil {
			ix.log.Error("full-text indexing failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ix.st.IndexKick():
		case <-t.C:
		}
	}
}

// quietFor is how long no message may arrive before background indexing
// starts.
const quietFor = 2 * time.Second

// waitQuiet returns once no kick has come for quietFor, or false when ctx
// ends.
func (ix *Indexer) waitQuiet(ctx context.Context) bool {
	q := time.NewTimer(quietFor)
	defer q.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-ix.st.IndexKick():
			q.Reset(quietFor)
		case <-q.C:
			return true
		}
	}
}

// drainQuietly indexes batch by batch until nothing is queued or mail
// arrives (then it goes back to waiting for quiet).
func (ix *Indexer) drainQuietly(ctx context.Context) error {
	for {
		n, err := ix.step(ctx, 0)
		if err != nil || n == 0 {
			return err
		}
		select {
		case <-ix.st.IndexKick():
			if !ix.waitQuiet(ctx) {
				return nil
			}
		default:
		}
	}
}

// Sync indexes every queued message of one mailbox.
func (ix *Indexer) Sync(ctx context.Context, mailboxID int64) error {
	return ix.drain(ctx, mailboxID)
}

func (ix *Indexer) drain(ctx context.Context, mailboxID int64) error {
	for {
		n, err := ix.step(ctx, mailboxID)
		if err != nil || n == 0 {
			return err
		}
	}
}

// step indexes one batch and says how many messages it took.
func (ix *Indexer) step(ctx context.Context, mailboxID int64) (int, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	msgs, err := ix.st.PendingText(ctx, mailboxID, batch)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	entries := make([]store.TextEntry, 0, len(msgs))
	for i := range msgs {
		e, err := ix.text(ctx, &msgs[i])
		if err != nil {
			// Index it as empty rather than retry forever: a message
			// we cannot read now will not read later either.
			ix.log.Warn("full-text: cannot extract text", "message", msgs[i].ID, "err", err)
		}
		entries = append(entries, e)
	}
	return len(msgs), ix.st.SaveText(ctx, entries)
}

func (ix *Indexer) text(ctx context.Context, m *store.Message) (store.TextEntry, error) {
	e := store.TextEntry{MessageID: m.ID, MailboxID: m.MailboxID, UID: m.UID}
	d, err := ix.st.OpenMessageAt(ctx, *m)
	if err != nil {
		return e, err
	}
	defer d.Close()
	var root *imapmime.Part
	if m.MIME != nil {
		if root, err = imapmime.Unmarshal(m.MIME); err == nil {
			root.Shift(m.PrefixLen)
		}
	}
	if root == nil {
		if root, err = imapmime.Parse(io.NewSectionReader(d, 0, d.Size())); err != nil {
			return e, err
		}
	}
	e.Headers, e.Body, err = imapmime.Text(d, root, maxText)
	return e, err
}
