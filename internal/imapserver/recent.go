package imapserver

import (
	"context"
	"fmt"
	"math"
)

// \Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2; RFC 9051 removed it,
// so IMAP4rev2 sessions neither see nor take it). The store hands each
// UID to one session (store.ClaimRecent): SELECT claims what no session
// had, and a session with the mailbox selected claims new messages as it
// announces them. EXAMINE only looks: it shows as recent whatever nobody
// has claimed, without taking it.

// recentRun is the UIDs lo <= uid < hi.
type recentRun struct{ lo, hi uint32 }

// initRecent sets up the selected mailbox's recent messages at SELECT or
// EXAMINE.
func (s *session) initRecent(ctx context.Context) {
	sel := s.sel
	sel.recent = nil
	if s.rev2 {
		return
	}
	if sel.readOnly {
		from, err := s.srv.st.RecentFrom(ctx, sel.mb)
		if err != nil {
			s.log.Error("recent", "err", err)
			return
		}
		sel.recent = []recentRun{{from, math.MaxUint32}}
		return
	}
	s.claimRecent(ctx)
}

// claimRecent claims the messages of the view that no session has seen as
// recent yet (a selected, read-write, IMAP4rev1 session only).
func (s *session) claimRecent(ctx context.Context) {
	sel := s.sel
	if s.rev2 || sel.readOnly || sel.uids.Len() == 0 {
		return
	}
	upTo := sel.uids.Last() + 1
	if n := len(sel.recent); n > 0 && sel.recent[n-1].hi >= upTo {
		return // claimed already
	}
	from, err := s.srv.st.ClaimRecent(ctx, sel.mb, upTo)
	if err != nil {
		s.log.Error("recent", "err", err)
		return
	}
	if from >= upTo {
		return
	}
	if n := len(sel.recent); n > 0 && sel.recent[n-1].hi == from {
		sel.recent[n-1].hi = upTo
		return
	}
	sel.recent = append(sel.recent, recentRun{from, upTo})
}

// isRecent reports whether uid is \Recent in this session.
func (s *session) isRecent(uid uint32) bool {
	if s.sel == nil {
		return false
	}
	for _, r := range s.sel.recent {
		if r.lo <= uid && uid < r.hi {
			return true
		}
	}
	return false
}

// recentCount is the number of recent messages in the view.
func (s *session) recentCount() int {
	n := 0
	for _, r := range s.sel.recent {
		n += s.sel.uids.CountBelow(r.hi) - s.sel.uids.CountBelow(r.lo)
	}
	return n
}

// announceExists tells the client the mailbox's size, and an IMAP4rev1
// client how many messages are recent: RECENT goes with every change of
// size (RFC 3501 §7.3.2). New messages are claimed as they are announced.
func (s *session) announceExists(ctx context.Context) {
	s.untagged(fmt.Sprintf("%d EXISTS", s.sel.uids.Len()))
	if s.rev2 {
		return
	}
	s.claimRecent(ctx)
	s.untagged(fmt.Sprintf("%d RECENT", s.recentCount()))
}

// flagsOf renders a message's flags for a FETCH response: \Recent, which
// is no stored flag, first where it applies.
func (s *session) flagsOf(uid uint32, flags []string) string {
	if s.isRecent(uid) {
		if len(flags) == 0 {
			return `\Recent`
		}
		return `\Recent ` + flagList(flags)
	}
	return flagList(flags)
}
