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

// Watcher receives the changes of one account. Changes are queued without
// bound and never dropped (IDLE sessions must see every EXPUNGE); Ready is
// signalled whenever the queue becomes non-empty.
type Watcher struct {
	f       *feed
	account int64
	ready   chan struct{}
	mu      sync.Mutex
	pending []Change
	notify  func() // called after changes are queued; see SetNotify
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

// Pending reports whether changes are waiting.
func (w *Watcher) Pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) > 0
}

// Take returns and clears the waiting changes.
func (w *Watcher) Take() []Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.pending
	w.pending = nil
	return c
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
			w.pending = append(w.pending, c)
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
