// Package fulltext keeps the store's full-text index (for IMAP SEARCH
// BODY and TEXT) up to date. Messages are queued by the store when they
// are stored and indexed here in the background, off the SMTP path: a
// delivery's 250 never waits for indexing. A search first indexes what is
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
	// letter; attachments-as-text beyond it are not searchable.
	maxText = 1 << 20
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

// Run indexes until ctx ends.
func (ix *Indexer) Run(ctx context.Context) {
	t := time.NewTicker(sweep)
	defer t.Stop()
	for {
		if err := ix.drain(ctx, 0); err != nil && ctx.Err() == nil {
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

// Sync indexes every queued message of one mailbox.
func (ix *Indexer) Sync(ctx context.Context, mailboxID int64) error {
	return ix.drain(ctx, mailboxID)
}

func (ix *Indexer) drain(ctx context.Context, mailboxID int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for {
		msgs, err := ix.st.PendingText(ctx, mailboxID, batch)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
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
		if err := ix.st.SaveText(ctx, entries); err != nil {
			return err
		}
	}
}

func (ix *Indexer) text(ctx context.Context, m *store.Message) (store.TextEntry, error) {
	e := store.TextEntry{MessageID: m.ID}
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
