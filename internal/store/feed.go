package store

import "sync"

// ChangeKind says what happened to a mailbox.
type ChangeKind int

// Kinds of change.
const (
	ChangeNew           ChangeKind = iota + 1 // a message was added
	ChangeFlags                               // a message's flags changed
	ChangeExpunge                             // a message was removed
	ChangeMailbox                             // a mailbox was renamed (Name, OldName) or deleted (OldName)
	ChangeMailboxCreate                       // a mailbox was created (Name)
	ChangeSubscription                        // a name was subscribed or unsubscribed (Name, Subscribed)
)

// Change is one committed change, published after its transaction is
// durable.
type Change struct {
	Kind      ChangeKind
	AccountID int64
	MailboxID int64
	UID       uint32
	ModSeq    int64
	Flags     []string
	MessageID int64 // ChangeNew: the message row's id
	Size      int64 // ChangeNew: the message's size
	Date      int64 // ChangeNew: its internal date, unix seconds
	// Name is the mailbox name a mailbox event is about: the created
	// mailbox, a rename's new name, the name (un)subscribed. IMAP NOTIFY
	// reports these (RFC 5465 §5.4, §5.5).
	Name       string
	OldName    string // ChangeMailbox: the name before a rename, or the deleted name
	Subscribed bool   // ChangeSubscription: subscribed after the change
}

// feed fans changes out to watchers by account.
type feed struct {
	mu       sync.Mutex
	watchers map[int64]map[*Watcher]struct{}
}

func newFeed() *feed { return &feed{watchers: map[int64]map[*Watcher]struct{}{}} }

// Watcher receives the changes of one account. Changes are queued in
// commit order, so a mailbox's come in MODSEQ order. Without a limit
// they are never dropped. With one (SetLimit), a queue that would grow
// past it is dropped whole and replaced by a note of what was lost
// (Lost): a session that does not drain its watcher (its client stopped
// reading, or it is busy in a long command) while another session runs
// STORE 1:* over a big mailbox again and again would otherwise hold every
// change: 40 stalled IMAP sessions and one such STORE loop took a server
// to 1.5 GB. The session reads the mailbox again instead (IMAP announces
// the difference). Ready is
// signalled whenever the queue becomes non-empty or overflows.
type Watcher struct {
	f       *feed
	account int64
	ready   chan struct{}
	mu      sync.Mutex
	pending []Change
	limit   int    // most changes queued; 0: no limit
	lost    *Lost  // what was dropped since the last Take; nil: nothing
	notify  func() // called after changes are queued; see SetNotify
}

// Lost says what a watcher dropped when its queue went past its limit.
type Lost struct {
	// Mailboxes maps each mailbox whose message changes (new, flags,
	// expunge) were dropped to the lowest MODSEQ among them: every
	// change to it from that MODSEQ on may be missing, none before.
	Mailboxes map[int64]int64
	// Other is set when mailbox or subscription events were dropped.
	Other bool
}

func (l *Lost) add(c Change) {
	switch c.Kind {
	case ChangeNew, ChangeFlags, ChangeExpunge:
		if m, ok := l.Mailboxes[c.MailboxID]; !ok || c.ModSeq < m {
			l.Mailboxes[c.MailboxID] = c.ModSeq
		}
	default:
		l.Other = true
	}
}

// Watch subscribes to an account's changes. Call Close when done.
func (s *Store) Watch(accountID int64) *Watcher {
	w := &Watcher{f: s.feed, account: accountID, ready: make(chan struct{}, 1)}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	m := s.feed.watchers[accountID]
	if m == nil {
		m = map[*Watcher]struct{}{}
		s.feed.watchers[accountID] = m
	}
	m[w] = struct{}{}
	return w
}

// Ready is signalled when changes are waiting.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// SetNotify installs fn, called (from the committing goroutine, so it
// must be quick and must not call the store) whenever changes are queued.
// It lets an IDLE session wait in its own read instead of keeping a second
// goroutine per connection to watch Ready.
func (w *Watcher) SetNotify(fn func()) {
	w.mu.Lock()
	w.notify = fn
	w.mu.Unlock()
}

// Pending reports whether changes (or a loss) are waiting.
func (w *Watcher) Pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) > 0 || w.lost != nil
}

// SetLimit bounds how many changes the watcher holds; 0 (the default)
// sets no bound.
func (w *Watcher) SetLimit(n int) {
	w.mu.Lock()
	w.limit = n
	w.mu.Unlock()
}

// FeedStats reports how many watchers are open and the most changes one
// of them holds: what the change feed costs in memory.
func (s *Store) FeedStats() (watchers, maxQueued int) {
	f := s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.watchers {
		for w := range m {
			watchers++
			maxQueued = max(maxQueued, w.Queued())
		}
	}
	return watchers, maxQueued
}

// Queued returns how many changes are waiting.
func (w *Watcher) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Take returns and clears the waiting changes, and what was lost since
// the last Take (nil: nothing). After a loss the changes returned are
// only those queued since it: none, until Take is called.
func (w *Watcher) Take() ([]Change, *Lost) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, lost := w.pending, w.lost
	w.pending, w.lost = nil, nil
	return c, lost
}

// Close unsubscribes.
func (w *Watcher) Close() {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if m := w.f.watchers[w.account]; m != nil {
		delete(m, w)
		if len(m) == 0 {
			delete(w.f.watchers, w.account)
		}
	}
}

func (f *feed) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range changes {
		for w := range f.watchers[c.AccountID] {
			w.mu.Lock()
			w.queue(c)
			notify := w.notify
			w.mu.Unlock()
			select {
			case w.ready <- struct{}{}:
			default:
			}
			if notify != nil {
				notify()
			}
		}
	}
}

// queue adds c to the queue, or to the loss once the queue is past its
// limit. w.mu is held.
func (w *Watcher) queue(c Change) {
	if w.lost != nil {
		w.lost.add(c)
		return
	}
	if w.limit > 0 && len(w.pending) >= w.limit {
		// Dropped whole: the session reads the mailbox again, which
		// covers these as well as the rest.
		w.lost = &Lost{Mailboxes: map[int64]int64{}}
		for _, p := range w.pending {
			w.lost.add(p)
		}
		w.lost.add(c)
		w.pending = nil
		return
	}
	w.pending = append(w.pending, c)
}
