package imapserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// selected is a session's view of its selected mailbox. Sequence number n
// is uids.At(n-1); the view changes only when the session announces the
// change (EXISTS, EXPUNGE/VANISHED), so numbers never shift under a
// client between announcements (RFC 9051 §7.5.1).
type selected struct {
	mb       store.Mailbox
	readOnly bool
	uids     uidList
	// ownFlags are flag changes this session made and already answered
	// itself: the feed's echo of them is not repeated (uid -> modseq).
	ownFlags map[uint32]int64
	// keywords are the keywords the client was told of in FLAGS, in
	// the order announced; known holds them lower-cased (keywords are
	// case-insensitive, RFC 9051 §2.3.2).
	keywords []string
	known    map[string]bool
	// shown is the MODSEQ a message's flags were last shown with while
	// a notice of a change to it was waiting, so the notice does not
	// repeat them.
	shown map[uint32]int64
	// pending holds feed changes not yet announced (expunges wait for a
	// point where the client allows them).
	pending []store.Change
	// resync is set when changes to the mailbox were dropped (the
	// session's queue overflowed): the view is brought up to date from
	// the mailbox index instead, announcing every change from MODSEQ
	// resyncFrom on (see resync).
	resync     bool
	resyncFrom int64
	// saved is the SEARCHRES result ($, RFC 5182), as UIDs.
	saved []uint32
	// contexts are the searches whose results are kept up to date
	// (RFC 5267 §4.3, context.go).
	contexts []*searchContext
	// recent are the UIDs that are \Recent in this session (recent.go).
	recent []recentRun
}

// seqOf returns the sequence number of uid, or 0.
func (m *selected) seqOf(uid uint32) int {
	return m.uids.Seq(uid)
}

func (s *session) mailboxError(tag string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.no(tag, "[NONEXISTENT] No such mailbox")
	case errors.Is(err, store.ErrExists):
		s.no(tag, "[ALREADYEXISTS] Mailbox already exists")
	case errors.Is(err, store.ErrInvalidName):
		s.no(tag, "[CANNOT] Invalid mailbox name")
	case errors.Is(err, store.ErrHasChildren):
		s.no(tag, "[HASCHILDREN] Mailbox has children; delete them first")
	case errors.Is(err, store.ErrInbox):
		s.no(tag, "[CANNOT] INBOX cannot be deleted")
	case errors.Is(err, store.ErrOverQuota):
		s.no(tag, "[OVERQUOTA] Storage quota exceeded")
	case errors.Is(err, syscall.ENOSPC):
		// The server's disk, not the user's quota (RFC 5530 §3).
		s.log.Error("store error: out of disk space", "err", err)
		s.no(tag, "[UNAVAILABLE] Server storage is full; try again later")
	default:
		s.log.Error("store error", "err", err)
		s.no(tag, "[SERVERBUG] Internal error")
	}
}

// selectCmd opens a mailbox (RFC 9051 §6.3.2), with CONDSTORE and QRESYNC
// parameters (RFC 7162 §3.1.8, §3.2.5).
func (s *session) selectCmd(ctx context.Context, tag string, readOnly bool, a *imapparse.Select) {
	if s.sel != nil {
		// RFC 7162 §3.2.11, RFC 9051 §6.3.2: the old mailbox is closed
		// first, and a client that can expect it is told so.
		s.unselect()
		if s.qresync || s.rev2 {
			s.untagged("OK [CLOSED] Previous mailbox closed")
		}
	}
	if a.QResync != nil && !s.qresync {
		s.bad(tag, "QRESYNC parameter without ENABLE QRESYNC")
		return
	}
	name, err := store.CheckMailboxName(a.Mailbox)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	mb, err := s.srv.st.MailboxByName(ctx, s.account.ID, name)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	// What waits in the feed (or was lost from it) is in what is read
	// next; only changes from here on are the view's to announce.
	if s.watcher != nil {
		s.takeChanges()
	}
	// The view is built straight from the mailbox index: a copy of
	// its UIDs, then of its metadata for the first unseen message, were
	// most of the garbage ten thousand sessions selecting made.
	var uids uidList
	err = s.srv.st.EachMeta(ctx, mb.ID, func(m *store.MsgMeta) bool {
		uids.Append(m.UID)
		return true
	})
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	// Changes committed while we read are in the watcher and will be
	// applied with the next update; drop the ones already in uids.
	if a.CondStore {
		s.condstore = true
	}
	sel := &selected{mb: mb, readOnly: readOnly, uids: uids, ownFlags: map[uint32]int64{}, known: map[string]bool{}}
	for _, k := range mb.Keywords {
		sel.learnKeyword(k)
	}
	s.sel = sel
	s.state = stateSelected
	s.discardStale()

	s.untagged("FLAGS (" + systemFlags + prefixAll(sel.keywords) + ")")
	s.untagged(fmt.Sprintf("%d EXISTS", uids.Len()))
	if !s.rev2 {
		s.initRecent(ctx)
		s.untagged(fmt.Sprintf("%d RECENT", s.recentCount()))
		if unseenSeq := s.firstUnseen(ctx); unseenSeq > 0 {
			s.untagged(fmt.Sprintf("OK [UNSEEN %d] First unseen", unseenSeq))
		}
	}
	s.untagged(fmt.Sprintf("OK [UIDVALIDITY %d] UIDs valid", mb.UIDValidity))
	s.untagged(fmt.Sprintf("OK [UIDNEXT %d] Predicted next UID", mb.UIDNext))
	if readOnly {
		s.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox")
	} else {
		s.untagged("OK [PERMANENTFLAGS (" + systemFlags + prefixAll(sel.keywords) + ` \*)] Flags permitted`)
	}
	s.untagged(fmt.Sprintf("OK [HIGHESTMODSEQ %d] Highest", mb.HighestModSeq))
	if s.rev2 {
		// RFC 9051 §6.3.2: the mailbox's name as stored, for rev2 clients
		// only; rev1 clients (Python's imaplib) would take it as part of
		// their next LIST's answer.
		s.untagged(`LIST () "/" ` + s.mailboxName(mb.Name))
	}
	if q := a.QResync; q != nil && q.UIDValidity == mb.UIDValidity {
		s.qresyncSelect(ctx, q)
	}
	if readOnly {
		s.ok(tag, "[READ-ONLY] EXAMINE completed")
	} else {
		s.ok(tag, "[READ-WRITE] SELECT completed")
	}
}

// discardStale drops feed changes for the selected mailbox that the
// freshly loaded view already reflects.
func (s *session) discardStale() {
	if s.watcher == nil {
		return
	}
	for _, c := range s.takeFeed() {
		if s.sel == nil || c.MailboxID != s.sel.mb.ID || s.sel.resync {
			continue
		}
		s.sel.pending = append(s.sel.pending, c)
	}
	// Keep only changes newer than what we read: new UIDs beyond the
	// view, expunges of UIDs still in it, flags of any (harmless).
	last := uint32(0)
	last = s.sel.uids.Last()
	s.sel.pending = slices.DeleteFunc(s.sel.pending, func(c store.Change) bool {
		switch c.Kind {
		case store.ChangeNew:
			return c.UID <= last
		case store.ChangeExpunge:
			return s.sel.seqOf(c.UID) == 0
		}
		return false
	})
}

// qresyncSelect answers SELECT (QRESYNC ...) (RFC 7162 §3.2.5.1):
// VANISHED (EARLIER) for UIDs expunged since the client's MODSEQ, then
// FETCH for messages changed since it.
func (s *session) qresyncSelect(ctx context.Context, q *imapparse.QResync) {
	mbID := s.sel.mb.ID
	vanished, err := s.srv.st.VanishedSince(ctx, mbID, int64(q.ModSeq))
	if err != nil {
		s.log.Error("vanished", "err", err)
		return
	}
	if q.KnownUIDs != nil {
		max := uint32(0)
		max = s.sel.uids.Last()
		vanished = slices.DeleteFunc(vanished, func(u uint32) bool { return !q.KnownUIDs.Contains(u, max) })
	}
	if len(vanished) > 0 {
		s.untagged("VANISHED (EARLIER) " + imapparse.FormatUIDs(vanished))
	}
	// The changed messages come from the mailbox index, not the
	// database: every flag state a session reports is read there, so a
	// later notice can never show an older state (see update).
	var changed []store.MsgMeta
	err = s.srv.st.EachMeta(ctx, mbID, func(m *store.MsgMeta) bool {
		if m.ModSeq > int64(q.ModSeq) {
			changed = append(changed, *m)
		}
		return true
	})
	if err != nil {
		s.log.Error("changed since", "err", err)
		return
	}
	for _, m := range changed {
		if seq := s.sel.seqOf(m.UID); seq > 0 {
			s.announceKeywords(m.Flags)
			s.untagged(fmt.Sprintf("%d FETCH (UID %d FLAGS (%s) MODSEQ (%d))", seq, m.UID, s.flagsOf(m.UID, m.Flags), m.ModSeq))
		}
	}
}

func (s *session) firstUnseen(ctx context.Context) int {
	first := 0
	_ = s.srv.st.EachMeta(ctx, s.sel.mb.ID, func(m *store.MsgMeta) bool {
		if hasFlag(m.Flags, `\Seen`) {
			return true
		}
		first = s.sel.uids.Seq(m.UID)
		return first == 0 // not in the view yet: look further
	})
	return first
}

func (s *session) unselect() {
	s.sel = nil
	if s.state == stateSelected {
		s.state = stateAuth
	}
}

// closeCmd expunges silently and unselects (RFC 9051 §6.4.1).
func (s *session) closeCmd(ctx context.Context, tag string) {
	if !s.sel.readOnly {
		if _, err := s.srv.st.ExpungeDeleted(ctx, s.sel.mb.ID, nil); err != nil {
			s.mailboxError(tag, err)
			return
		}
	}
	s.unselect()
	s.ok(tag, "CLOSE completed")
}

// expunge runs EXPUNGE and UID EXPUNGE (RFC 4315 §2.1).
func (s *session) expunge(ctx context.Context, tag string, cmd *imapparse.Command) {
	if s.sel.readOnly {
		s.no(tag, "[READ-ONLY] Mailbox is read-only")
		return
	}
	var only []uint32
	if cmd.UID {
		a, ok := cmd.Args.(*imapparse.Expunge)
		if !ok || a.Set == nil {
			s.bad(tag, "UID EXPUNGE needs a UID set")
			return
		}
		only = s.resolve(*a.Set, true)
		if only == nil {
			only = []uint32{}
		}
	}
	if _, err := s.srv.st.ExpungeDeleted(ctx, s.sel.mb.ID, only); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.update(ctx, true)
	mb, err := s.srv.st.MailboxByID(ctx, s.sel.mb.ID)
	if err == nil && s.condstore {
		s.ok(tag, fmt.Sprintf("[HIGHESTMODSEQ %d] EXPUNGE completed", mb.HighestModSeq))
		return
	}
	s.ok(tag, "EXPUNGE completed")
}

// update announces the changes other sessions (or this one) committed to
// the selected mailbox. allowExpunge is false while a FETCH, STORE or
// SEARCH by sequence number completes (RFC 9051 §7.5.1): expunges then
// wait, and so do new messages behind them, so numbering stays right.
//
// A flag change is announced with the message's current state from the
// mailbox index, not with the state the change carried. The index only
// moves forward and every FETCH reads flags from it too, so a client never
// sees a message's MODSEQ go down: a FETCH may already have shown the
// state of a later change whose notice is still queued behind older ones
// (imaptest counted hundreds of such regressions per round).
func (s *session) update(ctx context.Context, allowExpunge bool) {
	if s.watcher == nil {
		return
	}
	s.takeChanges()
	if s.sel != nil && s.sel.resync {
		s.resync(ctx, allowExpunge)
		return
	}
	if s.sel == nil || len(s.sel.pending) == 0 {
		return
	}
	sel := s.sel
	current := s.currentFlags(ctx)
	exists := sel.uids.Len()
	before := sel.uids.Last()
	// touched are the messages that arrived or changed flags: search
	// contexts look at them once everything is announced.
	var touched []uint32
	var vanished []uint32
	// VANISHED is gathered into one line but must go out before any
	// EXISTS or FETCH, whose numbers already count without the UIDs in it.
	flushVanished := func() {
		if len(vanished) > 0 {
			s.untagged("VANISHED " + imapparse.FormatUIDs(vanished))
			vanished = vanished[:0]
		}
	}
	rest := sel.pending[:0]
	blocked := false
	for _, c := range sel.pending {
		if blocked {
			rest = append(rest, c)
			continue
		}
		switch c.Kind {
		case store.ChangeNew:
			if c.UID <= sel.uids.Last() {
				continue // already in the view
			}
			sel.uids.Append(c.UID)
			touched = append(touched, c.UID)
			// A keyword it brings is announced with it, before any
			// FETCH can show it (RFC 9051 §7.3.5).
			s.announceKeywords(c.Flags)
		case store.ChangeExpunge:
			delete(sel.ownFlags, c.UID)
			seq := sel.seqOf(c.UID)
			if seq == 0 {
				continue
			}
			if seq > exists {
				// It arrived and went before the client heard of it:
				// it leaves the view unannounced.
				sel.uids.DeleteAt(seq - 1)
				continue
			}
			if !allowExpunge {
				blocked = true
				rest = append(rest, c)
				continue
			}
			// Arrivals not announced yet sit after every number the
			// client knows, so the expunge goes first and one EXISTS
			// with the final count follows (Dovecot's order, which
			// imaptest's move script expects).
			s.contextExpunge(c.UID, seq, flushVanished)
			sel.uids.DeleteAt(seq - 1)
			exists--
			if s.qresync {
				vanished = append(vanished, c.UID)
			} else {
				s.untagged(fmt.Sprintf("%d EXPUNGE", seq))
			}
		case store.ChangeFlags:
			cur, found := current[c.UID]
			if !found {
				continue // expunged since; its expunge follows
			}
			touched = append(touched, c.UID)
			if ms, ok := sel.ownFlags[c.UID]; ok {
				if c.ModSeq >= ms {
					delete(sel.ownFlags, c.UID) // the echo of our own change
				}
				if ms >= cur.ModSeq {
					continue // answered already, and nothing newer
				}
			}
			if sel.shown[c.UID] >= cur.ModSeq {
				continue
			}
			seq := sel.seqOf(c.UID)
			if seq == 0 {
				continue
			}
			if seq > exists {
				// A message not announced yet: EXISTS first, as a FETCH
				// may only name a number the client knows (RFC 9051
				// §7.4.1, §7.5.2).
				flushVanished()
				s.announceExists(ctx)
				exists = sel.uids.Len()
			}
			flushVanished()
			s.announceKeywords(cur.Flags)
			l := fmt.Sprintf("%d FETCH (FLAGS (%s)", seq, s.flagsOf(c.UID, cur.Flags))
			if s.condstore || s.qresync {
				l += fmt.Sprintf(" UID %d MODSEQ (%d)", c.UID, cur.ModSeq)
			} else if s.notify != nil && s.notify.selected != "" {
				l += fmt.Sprintf(" UID %d", c.UID) // RFC 5465 §5.1
			}
			s.untagged(l + ")")
			sel.markShown(c.UID, cur.ModSeq)
		case store.ChangeMailbox:
			// Renamed or deleted under us: the view stays; the next
			// command on it reports what the store says.
		}
	}
	flushVanished()
	if exists != sel.uids.Len() {
		s.announceExists(ctx)
	}
	s.notifyNewFetch(ctx, touched, before) // NOTIFY's FETCH for new messages (RFC 5465 §5.2)
	s.contextsChanged(ctx, touched)
	sel.pending = rest
	if len(rest) == 0 {
		sel.shown = nil
	}
}

// takeChanges moves the changes waiting in the watcher for the selected
// mailbox to its pending list. Past ChangeLimit (changes wait there while
// expunges may not be announced) the list collapses into a resync, as the
// watcher's own queue does.
func (s *session) takeChanges() {
	changes := s.takeFeed()
	if s.notify != nil {
		s.routeNotify(changes) // NOTIFY reports other mailboxes too (notify.go)
	}
	if s.sel == nil {
		return
	}
	for _, c := range changes {
		if c.MailboxID == s.sel.mb.ID && !s.sel.resync {
			s.sel.pending = append(s.sel.pending, c)
		}
	}
	if len(s.sel.pending) > s.srv.cfg.ChangeLimit {
		s.log.Info("too many changes waiting; reading the mailbox again", "limit", s.srv.cfg.ChangeLimit)
		s.sel.needResync(math.MaxInt64)
	}
}

// takeFeed takes what waits in the watcher. Changes it dropped (its queue
// overflowed, store.Lost) put the selected mailbox's view in need of a
// resync and, if changes to other mailboxes were lost, overflow NOTIFY
// (RFC 5465 §5.8): the session cannot report them one by one any more.
func (s *session) takeFeed() []store.Change {
	changes, lost := s.watcher.Take()
	if lost == nil {
		return changes
	}
	others, resync := lost.Other, false
	for id, from := range lost.Mailboxes {
		if s.sel != nil && id == s.sel.mb.ID {
			s.sel.needResync(from)
			resync = true
		} else {
			others = true
		}
	}
	notify := s.notify != nil && others
	if notify {
		s.notify.pending, s.notify.overflow = nil, true
	}
	if resync || notify {
		s.log.Info("change queue overflowed", "limit", s.srv.cfg.ChangeLimit, "resync", resync, "notify_overflow", notify)
	}
	return changes
}

// needResync drops the changes waiting to be announced: the view is to
// be brought up to date from the mailbox index for every change from
// MODSEQ from on, and those waiting.
func (m *selected) needResync(from int64) {
	for _, c := range m.pending {
		if c.ModSeq > 0 && c.ModSeq < from {
			from = c.ModSeq
		}
	}
	if m.resync && m.resyncFrom < from {
		from = m.resyncFrom
	}
	m.pending = nil
	m.resync, m.resyncFrom = true, from
}

// resync brings the view up to date from the mailbox index after changes
// to it were dropped (needResync): the UIDs gone from the index are
// expunged (EXPUNGE, or VANISHED with QRESYNC), messages whose MODSEQ is
// resyncFrom or above get a FETCH of their flags, and new UIDs an EXISTS.
// That is what the lost changes would have announced, without the states
// in between, which no client can tell from changes it missed while not
// listening. The index is current up to every change published, so
// changes queued after the loss find their effect already announced.
//
// While expunges may not be announced (RFC 9051 §7.5.1) and a message of
// the view is gone, nothing is: arrivals and flag changes wait behind the
// expunge, as in update.
func (s *session) resync(ctx context.Context, allowExpunge bool) {
	sel := s.sel
	last := sel.uids.Last()
	var (
		index   uidList // the UIDs in the mailbox now
		changed []store.MsgMeta
		arrived []store.MsgMeta
	)
	err := s.srv.st.EachMeta(ctx, sel.mb.ID, func(m *store.MsgMeta) bool {
		index.Append(m.UID)
		switch {
		case m.UID > last:
			arrived = append(arrived, *m)
		case m.ModSeq >= sel.resyncFrom:
			changed = append(changed, *m)
		}
		return true
	})
	if err != nil {
		s.log.Error("reading the mailbox again", "err", err)
		return // resync stays set: tried again at the next update
	}
	var gone []uint32
	for _, u := range sel.uids.All() {
		if index.Seq(u) == 0 {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 && !allowExpunge {
		return
	}
	exists := sel.uids.Len()
	var vanished []uint32
	flushVanished := func() {
		if len(vanished) > 0 {
			s.untagged("VANISHED " + imapparse.FormatUIDs(vanished))
			vanished = vanished[:0]
		}
	}
	for _, u := range gone {
		delete(sel.ownFlags, u)
		seq := sel.seqOf(u)
		s.contextExpunge(u, seq, flushVanished)
		sel.uids.DeleteAt(seq - 1)
		exists--
		if s.qresync {
			vanished = append(vanished, u)
		} else {
			s.untagged(fmt.Sprintf("%d EXPUNGE", seq))
		}
	}
	flushVanished()
	var touched []uint32
	for _, m := range changed {
		if ms, ok := sel.ownFlags[m.UID]; ok {
			if ms >= m.ModSeq {
				continue // this session's own change, answered already
			}
			delete(sel.ownFlags, m.UID)
		}
		if sel.shown[m.UID] >= m.ModSeq {
			continue
		}
		seq := sel.seqOf(m.UID)
		if seq == 0 {
			continue
		}
		touched = append(touched, m.UID)
		s.announceKeywords(m.Flags)
		l := fmt.Sprintf("%d FETCH (FLAGS (%s)", seq, s.flagsOf(m.UID, m.Flags))
		if s.condstore || s.qresync {
			l += fmt.Sprintf(" UID %d MODSEQ (%d)", m.UID, m.ModSeq)
		} else if s.notify != nil && s.notify.selected != "" {
			l += fmt.Sprintf(" UID %d", m.UID) // RFC 5465 §5.1
		}
		s.untagged(l + ")")
	}
	for _, m := range arrived {
		sel.uids.Append(m.UID)
		touched = append(touched, m.UID)
		s.announceKeywords(m.Flags)
	}
	if exists != sel.uids.Len() {
		s.announceExists(ctx)
	}
	sel.resync, sel.resyncFrom, sel.shown = false, 0, nil
	s.notifyNewFetch(ctx, touched, last)
	s.contextsChanged(ctx, touched)
}

// pendingFlagUIDs returns the messages with a flag change waiting to be
// announced, or nil.
func (s *session) pendingFlagUIDs() map[uint32]bool {
	if s.watcher == nil || s.sel == nil {
		return nil
	}
	s.takeChanges()
	var out map[uint32]bool
	for _, c := range s.sel.pending {
		if c.Kind == store.ChangeFlags {
			if out == nil {
				out = map[uint32]bool{}
			}
			out[c.UID] = true
		}
	}
	return out
}

func (m *selected) markShown(uid uint32, modseq int64) {
	if m.shown == nil {
		m.shown = map[uint32]int64{}
	}
	m.shown[uid] = modseq
}

// currentFlags reads from the mailbox index the current flags of the
// messages that pending flag changes name.
func (s *session) currentFlags(ctx context.Context) map[uint32]store.MsgMeta {
	var uids []uint32
	for _, c := range s.sel.pending {
		if c.Kind == store.ChangeFlags {
			uids = append(uids, c.UID)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	meta, err := s.srv.st.Meta(ctx, s.sel.mb.ID, uids)
	if err != nil {
		s.log.Error("reading flags for change notices", "err", err)
		return nil
	}
	out := make(map[uint32]store.MsgMeta, len(meta))
	for _, m := range meta {
		out[m.UID] = m
	}
	return out
}

// learnKeyword adds k to the keywords the client knows, reporting whether
// it was new.
func (m *selected) learnKeyword(k string) bool {
	lk := strings.ToLower(k)
	if m.known[lk] {
		return false
	}
	m.known[lk] = true
	m.keywords = append(m.keywords, k)
	return true
}

// announceKeywords sends FLAGS and PERMANENTFLAGS when flags hold a
// keyword the client has not been told of, so no FETCH shows a keyword
// missing from the mailbox's FLAGS (RFC 9051 §7.3.5, §7.1 PERMANENTFLAGS).
// A STORE, COPY, APPEND or delivery anywhere may have created it.
func (s *session) announceKeywords(flags []string) {
	sel := s.sel
	fresh := false
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) && sel.learnKeyword(f) {
			fresh = true
		}
	}
	if !fresh {
		return
	}
	s.untagged("FLAGS (" + systemFlags + prefixAll(sel.keywords) + ")")
	if !sel.readOnly {
		s.untagged("OK [PERMANENTFLAGS (" + systemFlags + prefixAll(sel.keywords) + ` \*)] Flags permitted`)
	}
}

// resolve turns a sequence or UID set into the UIDs of messages in the
// view, ascending. `$` is the saved search result.
func (s *session) resolve(set imapparse.SeqSet, uid bool) []uint32 {
	sel := s.sel
	var out []uint32
	if set.Dollar {
		for _, u := range sel.saved {
			if sel.seqOf(u) > 0 {
				out = append(out, u)
			}
		}
		return out
	}
	n := sel.uids.Len()
	if n == 0 {
		return nil
	}
	if uid {
		max := sel.uids.Last()
		for _, u := range sel.uids.All() {
			if set.Contains(u, max) {
				out = append(out, u)
			}
		}
		return out
	}
	for i, u := range sel.uids.All() {
		if set.Contains(uint32(i+1), uint32(n)) {
			out = append(out, u)
		}
	}
	return out
}

// systemFlags are the RFC 9051 §2.3.2 flags a client may set.
const systemFlags = `\Answered \Flagged \Deleted \Seen \Draft`

// flagList joins flags for a parenthesised list.
func flagList(flags []string) string { return strings.Join(flags, " ") }

func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
