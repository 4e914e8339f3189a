package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MsgMeta is what IMAP asks of most messages most of the time: enough to
// number them, answer FETCH FLAGS/UID/MODSEQ/RFC822.SIZE/INTERNALDATE and
// evaluate SEARCH on flags, sizes and dates without touching the
// database.
type MsgMeta struct {
	ID     int64 // message row id (the full-text index's rowid)
	UID    uint32
	ModSeq int64
	Flags  []string // never modified in place: replaced on change
	Size   int64
	Date   int64 // internal date, unix seconds
}

// InternalDate returns the meta's internal date as a time.
func (m *MsgMeta) InternalDate() time.Time { return time.Unix(m.Date, 0) }

// mbIndex is the in-memory list of one mailbox's messages in UID order.
// It is loaded on first use and kept current by the committer, which
// applies every committed change before publishing it, so a session that
// hears of a change finds it here.
type mbIndex struct {
	mu       sync.RWMutex // held for writing while loading
	msgs     []MsgMeta
	byID     map[int64]uint32 // message id -> UID, built on first text search
	loaded   bool
	lastUsed atomic.Int64 // unix seconds
}

// indexIdle is how long an unused mailbox index stays in memory.
const indexIdle = 15 * time.Minute

// indexes maps mailbox ids to their loaded index.
type indexes struct {
	mu        sync.Mutex
	m         map[int64]*mbIndex
	lastSweep time.Time
}

// index returns the loaded index of a mailbox, loading it if needed.
// The caller holds neither lock.
func (s *Store) index(ctx context.Context, mailboxID int64) (*mbIndex, error) {
	s.idx.mu.Lock()
	ix := s.idx.m[mailboxID]
	if ix == nil {
		ix = &mbIndex{}
		s.idx.m[mailboxID] = ix
		// Held until loaded: the committer and other readers wait
		// for the load instead of seeing an empty list.
		ix.mu.Lock()
		s.idx.mu.Unlock()
		err := s.loadIndex(ctx, mailboxID, ix)
		ix.mu.Unlock()
		if err != nil {
			s.idx.mu.Lock()
			if s.idx.m[mailboxID] == ix {
				delete(s.idx.m, mailboxID)
			}
			s.idx.mu.Unlock()
			return nil, err
		}
	} else {
		s.idx.mu.Unlock()
	}
	ix.lastUsed.Store(time.Now().Unix())
	return ix, nil
}

func (s *Store) loadIndex(ctx context.Context, mailboxID int64, ix *mbIndex) error {
	rows, err := s.query(ctx, `SELECT id, uid, modseq, flags, size, internal_date FROM messages WHERE mailbox_id = ? ORDER BY uid`, mailboxID)
	if err != nil {
		return fmt.Errorf("store: load mailbox index: %w", err)
	}
	defer rows.Close()
	// Flag strings repeat a lot (most messages are "\Seen" or ""): share
	// one slice per distinct value.
	shared := map[string][]string{}
	msgs := make([]MsgMeta, 0, 256)
	for rows.Next() {
		var m MsgMeta
		var flags string
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &flags, &m.Size, &m.Date); err != nil {
			return fmt.Errorf("store: load mailbox index: %w", err)
		}
		if flags != "" {
			f, ok := shared[flags]
			if !ok {
				f = strings.Fields(flags)
				shared[flags] = f
			}
			m.Flags = f
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: load mailbox index: %w", err)
	}
	ix.msgs = msgs
	ix.loaded = true
	return nil
}

// applyToIndexes folds committed changes into the loaded indexes. It runs
// after commit and before the changes are published.
func (s *Store) applyToIndexes(changes []Change) {
	if len(changes) == 0 {
		return
	}
	s.idx.mu.Lock()
	byBox := map[*mbIndex][]Change{}
	for _, c := range changes {
		if c.Kind == ChangeMailbox {
			delete(s.idx.m, c.MailboxID)
			continue
		}
		if ix := s.idx.m[c.MailboxID]; ix != nil {
			byBox[ix] = append(byBox[ix], c)
		}
	}
	now := time.Now()
	if now.Sub(s.idx.lastSweep) > time.Minute {
		s.idx.lastSweep = now
		for id, ix := range s.idx.m {
			if now.Unix()-ix.lastUsed.Load() > int64(indexIdle/time.Second) && ix.mu.TryLock() {
				delete(s.idx.m, id)
				ix.mu.Unlock()
			}
		}
	}
	s.idx.mu.Unlock()
	for ix, cs := range byBox {
		ix.apply(cs)
	}
}

func (ix *mbIndex) apply(cs []Change) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.loaded {
		return
	}
	var gone map[uint32]bool
	for _, c := range cs {
		switch c.Kind {
		case ChangeNew:
			if n := len(ix.msgs); n > 0 && c.UID <= ix.msgs[n-1].UID {
				continue // the load already saw it
			}
			ix.msgs = append(ix.msgs, MsgMeta{ID: c.MessageID, UID: c.UID, ModSeq: c.ModSeq, Flags: c.Flags, Size: c.Size, Date: c.Date})
		case ChangeFlags:
			// A load that ran after the commit may already hold this
			// state or a newer one.
			if i, ok := ix.find(c.UID); ok && c.ModSeq > ix.msgs[i].ModSeq {
				ix.msgs[i].Flags, ix.msgs[i].ModSeq = c.Flags, c.ModSeq
			}
		case ChangeExpunge:
			if gone == nil {
				gone = map[uint32]bool{}
			}
			gone[c.UID] = true
		}
	}
	if gone != nil {
		ix.msgs = slices.DeleteFunc(ix.msgs, func(m MsgMeta) bool { return gone[m.UID] })
	}
	ix.byID = nil // rebuilt when next needed
}

// buildByID fills byID if it is not; ix.mu is held.
func (ix *mbIndex) buildByID() {
	if ix.byID == nil {
		ix.byID = make(map[int64]uint32, len(ix.msgs))
		for _, m := range ix.msgs {
			ix.byID[m.ID] = m.UID
		}
	}
}

// uidsOfIDs maps message ids to the UIDs of those in this mailbox.
func (ix *mbIndex) uidsOfIDs(ids []int64) map[uint32]bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.buildByID()
	out := make(map[uint32]bool, len(ids))
	for _, id := range ids {
		if u, ok := ix.byID[id]; ok {
			out[u] = true
		}
	}
	return out
}

// ofIDs returns the metadata of the messages of this mailbox among ids,
// in the order of ids.
func (ix *mbIndex) ofIDs(ids []int64) []MsgMeta {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.buildByID()
	var out []MsgMeta
	for _, id := range ids {
		if u, ok := ix.byID[id]; ok {
			if i, ok := ix.find(u); ok {
				out = append(out, ix.msgs[i])
			}
		}
	}
	return out
}

func (ix *mbIndex) find(uid uint32) (int, bool) {
	return slices.BinarySearchFunc(ix.msgs, uid, func(m MsgMeta, u uint32) int {
		switch {
		case m.UID < u:
			return -1
		case m.UID > u:
			return 1
		}
		return 0
	})
}

// Meta returns the metadata of the messages with the given UIDs
// (ascending), skipping UIDs no longer present, from memory.
func (s *Store) Meta(ctx context.Context, mailboxID int64, uids []uint32) ([]MsgMeta, error) {
	ix, err := s.index(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.loaded {
		return nil, fmt.Errorf("store: mailbox index of %d failed to load", mailboxID)
	}
	out := make([]MsgMeta, 0, len(uids))
	i := 0
	for _, u := range uids {
		// Both lists ascend: walk forward, jumping by binary search
		// when far apart.
		if i < len(ix.msgs) && ix.msgs[i].UID < u {
			j, _ := ix.find(u)
			i = j
		}
		if i < len(ix.msgs) && ix.msgs[i].UID == u {
			out = append(out, ix.msgs[i])
			i++
		}
	}
	return out, nil
}

// EachMeta calls fn with the metadata of each message of a mailbox in UID
// order, without copying the list, until fn returns false. fn runs under
// the mailbox index's read lock: it must not call the store.
func (s *Store) EachMeta(ctx context.Context, mailboxID int64, fn func(*MsgMeta) bool) error {
	ix, err := s.index(ctx, mailboxID)
	if err != nil {
		return err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.loaded {
		return fmt.Errorf("store: mailbox index of %d failed to load", mailboxID)
	}
	for i := range ix.msgs {
		if !fn(&ix.msgs[i]) {
			break
		}
	}
	return nil
}
