package imapserver

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// defaultNotifyLimit is how many changes to other mailboxes a NOTIFY
// session may have waiting before it gives up with NOTIFICATIONOVERFLOW
// (RFC 5465 §5.8): a client that does not read its notifications must
// not make the server hold its account's every change.
const defaultNotifyLimit = 10000

// supportedEvents are the events NOTIFY takes, in the order BADEVENT
// lists them (RFC 5465 §3.1). Annotations and metadata do not exist here.
var supportedEvents = []string{imapparse.EventMessageNew, imapparse.EventMessageExpunge, imapparse.EventFlagChange,
	imapparse.EventMailboxName, imapparse.EventSubscriptionChange}

// notifyState is what NOTIFY SET asked for (RFC 5465 §3.1). A session
// without one (before NOTIFY, or after NOTIFY NONE) hears of changes only
// while a command runs, as RFC 3501 has it.
type notifyState struct {
	// selected is how the selected mailbox is watched: "" (only as
	// without NOTIFY), FilterSelected (at once, expunges too) or
	// FilterSelectedDelayed (expunges wait for a command that allows
	// them, §6.1.2).
	selected  string
	selEvents map[string]bool       // message events asked for the selected mailbox
	selFetch  []imapparse.FetchItem // MessageNew's fetch attributes (§5.2)
	groups    []notifyGroup         // the other mailboxes
	// pending are changes to other mailboxes and to the mailbox list,
	// not yet reported; overflow says they grew past the limit.
	pending  []store.Change
	overflow bool
	// subscribed caches the subscription list for SUBSCRIBED filters;
	// nil until needed and after a subscription changes (§6.4).
	subscribed map[string]bool
	// ownNew are UIDs this session added to the selected mailbox itself
	// (APPEND, COPY, MOVE): no FETCH of them is pushed (§5.2).
	ownNew map[uint32]bool
}

// notifyGroup is one event group for mailboxes other than the selected one.
type notifyGroup struct {
	filter string
	names  []string
	events map[string]bool
}

// notifyCmd runs NOTIFY (RFC 5465 §3.1).
func (s *session) notifyCmd(ctx context.Context, tag string, a *imapparse.Notify) {
	if a.None {
		s.takeChanges() // what waited until now is reported by no one
		s.notify = nil
		s.ok(tag, "NOTIFY completed, no notifications")
		return
	}
	n := &notifyState{selEvents: map[string]bool{}, ownNew: map[uint32]bool{}}
	for _, g := range a.Groups {
		for _, e := range g.Events {
			if !slices.Contains(supportedEvents, e.Name) {
				// §3.1: NO, not BAD, listing what is supported.
				s.no(tag, "[BADEVENT ("+strings.Join(supportedEvents, " ")+")] Event "+e.Name+" is not supported")
				return
			}
		}
		// RFC 5465 §5 wants BAD when MessageNew comes without
		// MessageExpunge (or the reverse), or FlagChange without both.
		// Dovecot takes them, and imaptest's notify script expects
		// that; each event then simply reports what it covers.
		switch g.Filter {
		case imapparse.FilterSelected, imapparse.FilterSelectedDelayed:
			n.selected = g.Filter
			for _, e := range g.Events {
				n.selEvents[e.Name] = true
				if e.Name == imapparse.EventMessageNew {
					n.selFetch = e.Fetch
				}
			}
		default:
			ng := notifyGroup{filter: g.Filter, names: g.Mailboxes, events: map[string]bool{}}
			for _, e := range g.Events {
				ng.events[e.Name] = true
			}
			n.groups = append(n.groups, ng)
		}
	}
	if n.selected != "" && len(n.selEvents) == 0 {
		n.selected = "" // SELECTED NONE: as if not given (§3.1)
	}
	// Changes from before are in what STATUS says now, or were not
	// asked for.
	s.takeChanges()
	s.notify = n
	// §3.1: NOTIFY SET is an implicit NOOP for the selected mailbox.
	s.update(ctx, true)
	if a.Status {
		if err := s.notifyInitialStatus(ctx); err != nil {
			s.log.Error("notify: status", "err", err)
		}
	}
	s.ok(tag, "NOTIFY completed")
}

// notifyInitialStatus answers NOTIFY SET STATUS: a STATUS response for
// every other mailbox with message events, with the items §3.1 asks per
// event.
func (s *session) notifyInitialStatus(ctx context.Context) error {
	mbs, err := s.srv.st.Mailboxes(ctx, s.account.ID)
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		if s.sel != nil && mb.ID == s.sel.mb.ID {
			continue
		}
		ev := s.notifyEvents(ctx, mb.Name)
		var items []string
		if ev[imapparse.EventMessageNew] || ev[imapparse.EventMessageExpunge] {
			items = append(items, "MESSAGES")
		}
		if ev[imapparse.EventMessageNew] {
			items = append(items, "UIDNEXT", "UIDVALIDITY")
		}
		if ev[imapparse.EventFlagChange] {
			// We support CONDSTORE, so §3.1 asks for these two.
			if !slices.Contains(items, "UIDVALIDITY") {
				items = append(items, "UIDVALIDITY")
			}
			items = append(items, "HIGHESTMODSEQ")
		}
		if len(items) > 0 {
			s.notifyStatus(ctx, mb, items)
		}
	}
	return nil
}

// notifyEvents returns the events the groups ask for a mailbox other
// than the selected one.
func (s *session) notifyEvents(ctx context.Context, name string) map[string]bool {
	out := map[string]bool{}
	for _, g := range s.notify.groups {
		if s.notifyMatch(ctx, g, name) {
			for e := range g.events {
				out[e] = true
			}
		}
	}
	return out
}

// notifyMatch reports whether a group's filter covers the mailbox name
// (RFC 5465 §6.2–§6.6).
func (s *session) notifyMatch(ctx context.Context, g notifyGroup, name string) bool {
	switch g.filter {
	case imapparse.FilterPersonal, imapparse.FilterInboxes:
		// Every mailbox is personal; delivery (and Sieve) may put mail
		// in any, so INBOXES is PERSONAL, as §6.3 allows.
		return true
	case imapparse.FilterSubscribed:
		n := s.notify
		if n.subscribed == nil {
			subs, err := s.srv.st.Subscriptions(ctx, s.account.ID)
			if err != nil {
				s.log.Error("notify: subscriptions", "err", err)
				return false
			}
			n.subscribed = map[string]bool{}
			for _, x := range subs {
				n.subscribed[x] = true
			}
		}
		return n.subscribed[name]
	case imapparse.FilterSubtree:
		return slices.ContainsFunc(g.names, func(m string) bool { return name == m || strings.HasPrefix(name, m+"/") })
	case imapparse.FilterMailboxes:
		return slices.Contains(g.names, name) // no wildcards (§6.6)
	}
	return false
}

// routeNotify keeps, from changes taken off the watcher, those NOTIFY
// reports beyond the selected mailbox's messages: messages of other
// mailboxes and the mailbox list's own events.
func (s *session) routeNotify(changes []store.Change) {
	n := s.notify
	for _, c := range changes {
		switch c.Kind {
		case store.ChangeNew, store.ChangeExpunge, store.ChangeFlags:
			if s.sel != nil && c.MailboxID == s.sel.mb.ID {
				continue
			}
		}
		n.pending = append(n.pending, c)
	}
	if len(n.pending) > s.srv.cfg.NotifyLimit {
		n.pending, n.overflow = nil, true
	}
}

// ownChange drops from what NOTIFY would report the changes this
// session's own command just made (RFC 5465 §5: the server SHOULD NOT
// notify a client of what it did itself). The store publishes a change
// before the command that made it returns, so it is waiting now.
func (s *session) ownChange(own func(store.Change) bool) {
	if s.notify == nil || s.watcher == nil {
		return
	}
	s.takeChanges()
	n := s.notify
	n.pending = slices.DeleteFunc(n.pending, own)
	if s.sel != nil {
		for _, c := range s.sel.pending {
			if c.Kind == store.ChangeNew && own(c) {
				n.ownNew[c.UID] = true
			}
		}
	}
}

// ownMailboxChange drops the mailbox-list events of this session's
// CREATE, DELETE, RENAME or (UN)SUBSCRIBE of the names given as sent.
func (s *session) ownMailboxChange(names ...string) {
	if s.notify == nil {
		return
	}
	var norm []string
	for _, n := range names {
		if c, err := store.CheckMailboxName(n); err == nil {
			norm = append(norm, c)
		}
	}
	s.ownChange(ownMailbox(norm...))
}

// ownMessages is an ownChange predicate: new messages with these UIDs
// in the mailbox with this id.
func ownMessages(mailboxID int64, uids []uint32) func(store.Change) bool {
	return func(c store.Change) bool {
		return c.Kind == store.ChangeNew && c.MailboxID == mailboxID && slices.Contains(uids, c.UID)
	}
}

// ownMailbox is an ownChange predicate for a CREATE, DELETE or RENAME of
// name (with the parents it created) or a (UN)SUBSCRIBE of it.
func ownMailbox(names ...string) func(store.Change) bool {
	return func(c store.Change) bool {
		for _, name := range names {
			switch c.Kind {
			case store.ChangeMailboxCreate:
				if c.Name == name || strings.HasPrefix(name, c.Name+"/") {
					return true
				}
			case store.ChangeMailbox:
				if c.OldName == name {
					return true
				}
			case store.ChangeSubscription:
				if c.Name == name {
					return true
				}
			}
		}
		return false
	}
}

// notifyBetween sends what NOTIFY asks for while no command runs: the
// selected mailbox's changes when SELECTED or SELECTED-DELAYED was given
// (expunges only with SELECTED and MessageExpunge, §6.1), then the other
// mailboxes'.
func (s *session) notifyBetween(ctx context.Context) {
	if s.notify == nil {
		return
	}
	if s.sel != nil && s.notify.selected != "" {
		s.update(ctx, s.notify.selected == imapparse.FilterSelected && s.notify.selEvents[imapparse.EventMessageExpunge])
	}
	s.notifyOthers(ctx)
}

// notifyOthers reports the waiting changes to other mailboxes (STATUS,
// §5.1–§5.3) and to the mailbox list (LIST, §5.4, §5.5).
func (s *session) notifyOthers(ctx context.Context) {
	if s.notify == nil || s.watcher == nil {
		return
	}
	s.takeChanges()
	n := s.notify
	if n.overflow {
		s.notify = nil
		s.log.Info("notify: too many changes waiting; notifications off", "limit", s.srv.cfg.NotifyLimit)
		s.untagged("OK [NOTIFICATIONOVERFLOW] Too many changes to report; notifications are off, use NOTIFY SET again")
		return
	}
	if len(n.pending) == 0 {
		return
	}
	pending := n.pending
	n.pending = nil
	// Message changes come together per mailbox, in one STATUS.
	type seen struct{ added, expunged, flags bool }
	byBox := map[int64]*seen{}
	var order []int64
	var list []store.Change
	for _, c := range pending {
		switch c.Kind {
		case store.ChangeNew, store.ChangeExpunge, store.ChangeFlags:
			b := byBox[c.MailboxID]
			if b == nil {
				b = &seen{}
				byBox[c.MailboxID] = b
				order = append(order, c.MailboxID)
			}
			b.added = b.added || c.Kind == store.ChangeNew
			b.expunged = b.expunged || c.Kind == store.ChangeExpunge
			b.flags = b.flags || c.Kind == store.ChangeFlags
		case store.ChangeMailbox, store.ChangeMailboxCreate, store.ChangeSubscription:
			list = append(list, c)
		}
	}
	for _, id := range order {
		if s.sel != nil && id == s.sel.mb.ID {
			continue // selected since: its changes are the view's
		}
		mb, err := s.srv.st.MailboxByID(ctx, id)
		if err != nil {
			continue // deleted since
		}
		ev := s.notifyEvents(ctx, mb.Name)
		b := byBox[id]
		var items []string
		add := func(it ...string) {
			for _, x := range it {
				if !slices.Contains(items, x) {
					items = append(items, x)
				}
			}
		}
		if b.added && ev[imapparse.EventMessageNew] {
			add("MESSAGES", "UIDNEXT") // §5.2
			if s.condstore {
				add("HIGHESTMODSEQ")
			}
		}
		if b.expunged && ev[imapparse.EventMessageExpunge] {
			add("MESSAGES", "UIDNEXT") // §5.3
			if s.qresync {
				add("HIGHESTMODSEQ")
			}
		}
		if b.flags && ev[imapparse.EventFlagChange] {
			// §5.1: HIGHESTMODSEQ and UIDVALIDITY with CONDSTORE;
			// without it, UNSEEN, which a \Seen change moves.
			if s.condstore {
				add("UIDVALIDITY", "HIGHESTMODSEQ")
			} else {
				add("UNSEEN")
			}
		}
		if len(items) > 0 {
			s.notifyStatus(ctx, mb, canonicalStatusOrder(items))
		}
	}
	if len(list) > 0 {
		s.notifyList(ctx, list)
	}
}

// canonicalStatusOrder puts STATUS items in one order, whatever events
// asked for them.
func canonicalStatusOrder(items []string) []string {
	var out []string
	for _, it := range []string{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"} {
		if slices.Contains(items, it) {
			out = append(out, it)
		}
	}
	return out
}

// notifyStatus writes an unsolicited STATUS response. Unlike the STATUS
// command's, asking for HIGHESTMODSEQ here enables nothing: the client
// did not ask (RFC 7162 §3.1 lists commands, not notifications).
func (s *session) notifyStatus(ctx context.Context, mb store.Mailbox, items []string) {
	var unseen int
	if slices.Contains(items, "UNSEEN") {
		var err error
		if unseen, _, err = s.srv.st.MailboxCounts(ctx, mb.ID); err != nil {
			s.log.Error("notify: status counts", "err", err)
		}
	}
	var out []string
	for _, it := range items {
		var v int64
		switch it {
		case "MESSAGES":
			v = int64(mb.Messages)
		case "UIDNEXT":
			v = int64(mb.UIDNext)
		case "UIDVALIDITY":
			v = int64(mb.UIDValidity)
		case "UNSEEN":
			v = int64(unseen)
		case "HIGHESTMODSEQ":
			v = mb.HighestModSeq
		}
		out = append(out, it+" "+itoa(v))
	}
	s.untagged("STATUS " + s.mailboxName(mb.Name) + " (" + strings.Join(out, " ") + ")")
}

// notifyList reports mailbox-list events as LIST responses (RFC 5465
// §5.4, §5.5) with attributes as they are now: a new mailbox, a deleted
// one (\NonExistent), a renamed one (OLDNAME, RFC 5258 extended data),
// and a name whose subscription changed. A creation or deletion affects
// the parent too, whose \HasChildren may change.
func (s *session) notifyList(ctx context.Context, changes []store.Change) {
	mbs, err := s.srv.st.Mailboxes(ctx, s.account.ID)
	if err != nil {
		s.log.Error("notify: mailboxes", "err", err)
		return
	}
	subs, err := s.srv.st.Subscriptions(ctx, s.account.ID)
	if err != nil {
		s.log.Error("notify: subscriptions", "err", err)
		return
	}
	wants := func(event string, names ...string) bool {
		for _, n := range names {
			if n != "" && s.notifyEvents(ctx, n)[event] {
				return true
			}
		}
		return false
	}
	listLine := func(name, extra string) string {
		var attrs []string
		exists := false
		children := false
		for _, m := range mbs {
			if m.Name == name {
				exists = true
				if m.SpecialUse != "" {
					attrs = append(attrs, m.SpecialUse)
				}
			}
			if strings.HasPrefix(m.Name, name+"/") {
				children = true
			}
		}
		switch {
		case !exists:
			attrs = append([]string{`\NonExistent`}, attrs...)
		case children:
			attrs = append([]string{`\HasChildren`}, attrs...)
		default:
			attrs = append([]string{`\HasNoChildren`}, attrs...)
		}
		if slices.Contains(subs, name) {
			attrs = append(attrs, `\Subscribed`)
		}
		return `LIST (` + strings.Join(attrs, " ") + `) "/" ` + s.mailboxName(name) + extra
	}
	parentLine := func(name string) {
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			parent := name[:i]
			if slices.ContainsFunc(mbs, func(m store.Mailbox) bool { return m.Name == parent }) {
				s.untagged(listLine(parent, ""))
			}
		}
	}
	for _, c := range changes {
		switch c.Kind {
		case store.ChangeMailboxCreate:
			if wants(imapparse.EventMailboxName, c.Name) {
				s.untagged(listLine(c.Name, ""))
				parentLine(c.Name)
			}
		case store.ChangeMailbox:
			switch {
			case c.Name != "" && c.OldName != "" && wants(imapparse.EventMailboxName, c.Name, c.OldName):
				s.untagged(listLine(c.Name, ` ("OLDNAME" (`+s.mailboxName(c.OldName)+`))`))
			case c.Name == "" && c.OldName != "" && wants(imapparse.EventMailboxName, c.OldName):
				s.untagged(listLine(c.OldName, ""))
				parentLine(c.OldName)
			}
		case store.ChangeSubscription:
			s.notify.subscribed = nil // §6.4: the list is evaluated again
			// A SUBSCRIBED filter covers the name on either side of
			// the change.
			if wants(imapparse.EventSubscriptionChange, c.Name) || s.subscribedGroupWants(imapparse.EventSubscriptionChange) {
				s.untagged(listLine(c.Name, ""))
			}
		}
	}
}

// subscribedGroupWants reports whether a SUBSCRIBED group asks for event.
func (s *session) subscribedGroupWants(event string) bool {
	return slices.ContainsFunc(s.notify.groups, func(g notifyGroup) bool {
		return g.filter == imapparse.FilterSubscribed && g.events[event]
	})
}

// notifyNewFetch sends, for messages that arrived in the selected
// mailbox (UIDs above before among touched), the FETCH responses
// NOTIFY's MessageNew asked for (RFC 5465 §5.2), after their EXISTS.
// None for messages this session added itself, and none sets \Seen.
func (s *session) notifyNewFetch(ctx context.Context, touched []uint32, before uint32) {
	n := s.notify
	if n == nil || n.selected == "" || !n.selEvents[imapparse.EventMessageNew] || len(n.selFetch) == 0 {
		return
	}
	var uids []uint32
	for _, u := range touched {
		if u <= before || s.sel.seqOf(u) == 0 {
			continue
		}
		if n.ownNew[u] {
			delete(n.ownNew, u)
			continue
		}
		uids = append(uids, u)
	}
	if len(uids) == 0 {
		return
	}
	slices.Sort(uids)
	plan := planFetch(n.selFetch, false, true)
	plan.setSeen = false
	msgs, err := s.loadMessages(ctx, uids, plan.mime, plan.mime || plan.data)
	if err != nil {
		s.log.Error("notify: new messages", "err", err)
		return
	}
	for i := range msgs {
		if err := s.fetchOne(ctx, &msgs[i], n.selFetch, plan, false); err != nil {
			s.log.Info("notify: fetch of a new message", "uid", msgs[i].UID, "err", err)
		}
	}
}

// waitNotify waits for the client's next command while a NOTIFY is in
// effect, sending notifications as changes come in: with NOTIFY the
// client listens all the time, not only during commands (RFC 5465 §3.1).
// A goroutine waits for the first octet of the command, so the read is
// never cut short (the inflater of a compressed session does not
// survive that); this one writes the notifications meanwhile.
func (s *session) waitNotify(ctx context.Context) {
	if s.br.Buffered() > 0 {
		return
	}
	s.notifyBetween(ctx)
	if s.flush() != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = s.br.Peek(1) // an error is ReadCommand's to report
		close(done)
	}()
	for {
		select {
		case <-done:
			return
		case <-s.watcher.Ready():
			s.notifyBetween(ctx)
			if s.flush() != nil {
				// The client is gone: end the wait, the read reports it.
				_ = s.netConn.SetReadDeadline(time.Now())
			}
		case <-s.wake:
			// Shutdown: end the wait; the loop says BYE.
			_ = s.netConn.SetReadDeadline(time.Now())
		case <-ctx.Done():
			_ = s.netConn.SetReadDeadline(time.Now())
		}
	}
}
