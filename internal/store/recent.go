package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// \Recent (RFC 3501 §2.3.2) marks a message that no session had been told
// of before: exactly one session sees it recent. Per mailbox the store
// keeps the first UID not yet claimed as recent. A SELECT claims every
// UID below the mailbox's next one, and a session that has the mailbox
// selected claims the messages it announces as they arrive; EXAMINE and
// STATUS only look. UIDs only grow, so "not yet claimed" is one number,
// and claiming is a compare-and-raise under a mutex: nothing is written
// on the delivery path.
//
// The number is kept in memory once a mailbox is used and written to
// mailboxes.recent_uid in the background, with the next group commit (not
// waited for) and at Close. A crash loses at most the claims of the last
// moments: those messages are recent once more, which RFC 3501 allows
// when the server cannot tell.

// recentState is one mailbox's claim.
type recentState struct {
	uidValidity uint32 // tells a mailbox from a later one that reuses its id
	next        uint32 // first UID not yet claimed
	dirty       bool   // not yet written
}

// recentClaims holds the claims of the mailboxes in use.
type recentClaims struct {
	mu      sync.Mutex
	m       map[int64]*recentState
	pending atomic.Bool // a flush is queued with the committer
}

// recentOf returns the claim of mb, loading it first. The caller holds no
// lock; the state's next and dirty are used under s.recent.mu.
func (s *Store) recentOf(ctx context.Context, mb Mailbox) (*recentState, error) {
	s.recent.mu.Lock()
	st := s.recent.m[mb.ID]
	s.recent.mu.Unlock()
	if st != nil && st.uidValidity == mb.UIDValidity {
		return st, nil
	}
	var next uint32
	err := s.queryRow(ctx, `SELECT recent_uid FROM mailboxes WHERE id = ? AND uidvalidity = ?`, mb.ID, mb.UIDValidity).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: mailbox %d", ErrNotFound, mb.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: recent: %w", err)
	}
	s.recent.mu.Lock()
	defer s.recent.mu.Unlock()
	if s.recent.m == nil {
		s.recent.m = map[int64]*recentState{}
	}
	// Another session may have loaded (and claimed) meanwhile.
	if cur := s.recent.m[mb.ID]; cur != nil && cur.uidValidity == mb.UIDValidity {
		return cur, nil
	}
	st = &recentState{uidValidity: mb.UIDValidity, next: next}
	s.recent.m[mb.ID] = st
	return st, nil
}

// ClaimRecent claims for the calling session the messages of mb that no
// session has claimed, up to (not including) UID upTo. It returns the
// first UID claimed: the session's recent messages are those with
// from <= UID < upTo, none if from >= upTo.
func (s *Store) ClaimRecent(ctx context.Context, mb Mailbox, upTo uint32) (from uint32, err error) {
	st, err := s.recentOf(ctx, mb)
	if err != nil {
		return 0, err
	}
	s.recent.mu.Lock()
	from = st.next
	if upTo > st.next {
		st.next, st.dirty = upTo, true
	}
	s.recent.mu.Unlock()
	if upTo > from {
		s.persistRecentSoon()
	}
	return from, nil
}

// RecentFrom returns the first UID of mb that no session has claimed as
// recent, without claiming anything (EXAMINE, STATUS).
func (s *Store) RecentFrom(ctx context.Context, mb Mailbox) (uint32, error) {
	st, err := s.recentOf(ctx, mb)
	if err != nil {
		return 0, err
	}
	s.recent.mu.Lock()
	defer s.recent.mu.Unlock()
	return st.next, nil
}

// RecentCount returns how many messages of mb no session has claimed as
// recent (STATUS RECENT), from the in-memory mailbox index.
func (s *Store) RecentCount(ctx context.Context, mb Mailbox) (int, error) {
	from, err := s.RecentFrom(ctx, mb)
	if err != nil {
		return 0, err
	}
	ix, err := s.index(ctx, mb.ID)
	if err != nil {
		return 0, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	i, _ := ix.find(from)
	return len(ix.msgs) - i, nil
}

// persistRecentSoon queues a write of the claims with the committer,
// without waiting for it: a SELECT must not wait for an fsync. One such
// write is queued at a time; claims made meanwhile go with it.
func (s *Store) persistRecentSoon() {
	if s.writes == nil || !s.recent.pending.CompareAndSwap(false, true) {
		return
	}
	req := &writeReq{ctx: context.Background(), fn: s.writeRecent, done: make(chan error, 1)}
	s.closeOnce.Lock()
	defer s.closeOnce.Unlock()
	if s.closed {
		return // Close writes them
	}
	select {
	case s.writes <- req:
	default:
		// The committer's queue is full: the claims go with the next
		// claim's write, or at Close.
		s.recent.pending.Store(false)
	}
}

// writeRecent writes the claims not yet written.
func (s *Store) writeRecent(ctx context.Context, tx dbtx, _ *batchEffects) error {
	type row struct {
		id          int64
		uidValidity uint32
		next        uint32
	}
	s.recent.pending.Store(false)
	s.recent.mu.Lock()
	var rows []row
	for id, st := range s.recent.m {
		if st.dirty {
			rows = append(rows, row{id, st.uidValidity, st.next})
			st.dirty = false
		}
	}
	s.recent.mu.Unlock()
	for _, r := range rows {
		// The UIDVALIDITY condition leaves alone a mailbox created
		// since under a reused id.
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET recent_uid = ? WHERE id = ? AND uidvalidity = ? AND recent_uid < ?`,
			r.next, r.id, r.uidValidity, r.next); err != nil {
			return fmt.Errorf("store: write recent claims: %w", err)
		}
	}
	return nil
}

// recentDirty reports whether claims wait to be written.
func (s *Store) recentDirty() bool {
	s.recent.mu.Lock()
	defer s.recent.mu.Unlock()
	for _, st := range s.recent.m {
		if st.dirty {
			return true
		}
	}
	return false
}
