package imapserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// store answers STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE
// (RFC 7162 §3.1.3).
func (s *session) store(ctx context.Context, tag string, uidCmd bool, a *imapparse.Store) {
	if s.sel.readOnly {
		s.no(tag, "[READ-ONLY] Mailbox is read-only")
		return
	}
	if a.HasUnchangedSince {
		s.enableCondstore(ctx)
	}
	uids := s.resolve(a.Set, uidCmd)
	op := store.FlagsReplace
	switch a.Mode {
	case imapparse.StoreAdd:
		op = store.FlagsAdd
	case imapparse.StoreRemove:
		op = store.FlagsRemove
	}
	var since int64
	if a.HasUnchangedSince {
		since = int64(a.UnchangedSince)
		if since == 0 {
			// UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3).
			since = -1
		}
	}
	var ups []store.FlagUpdate
	var modified []uint32
	var err error
	if since < 0 {
		modified = uids
	} else if len(uids) > 0 {
		ups, modified, err = s.srv.st.StoreFlags(ctx, s.sel.mb.ID, uids, op, a.Flags, since)
		if err != nil {
			s.mailboxError(tag, err)
			return
		}
	}
	for _, u := range ups {
		if u.Changed {
			s.sel.ownFlags[u.UID] = u.ModSeq
		}
		seq := s.sel.seqOf(u.UID)
		if seq == 0 {
			continue
		}
		// RFC 7162 §3.1.3: with CONDSTORE in use a changed message is
		// reported with its MODSEQ even under .SILENT.
		if a.Silent && !(s.condstore && u.Changed) {
			continue
		}
		var items []string
		if !a.Silent {
			s.announceKeywords(u.Flags)
			items = append(items, "FLAGS ("+s.flagsOf(u.UID, u.Flags)+")")
		}
		if uidCmd || s.condstore {
			items = append(items, fmt.Sprintf("UID %d", u.UID))
		}
		if s.condstore {
			items = append(items, fmt.Sprintf("MODSEQ (%d)", u.ModSeq))
		}
		s.untagged(fmt.Sprintf("%d FETCH (%s)", seq, strings.Join(items, " ")))
	}
	s.update(ctx, uidCmd)
	if len(modified) > 0 {
		nums := modified
		if !uidCmd {
			nums = nil
			for _, u := range modified {
				if seq := s.sel.seqOf(u); seq > 0 {
					nums = append(nums, uint32(seq))
				}
			}
		}
		s.ok(tag, "[MODIFIED "+imapparse.FormatUIDs(nums)+"] Conditional STORE failed for some messages")
		return
	}
	s.ok(tag, "STORE completed")
}

// copyMove answers COPY, MOVE and their UID forms (RFC 9051 §6.4.7,
// RFC 6851, COPYUID from RFC 4315).
func (s *session) copyMove(ctx context.Context, tag string, uidCmd, move bool, a *imapparse.Copy) {
	name := "COPY"
	if move {
		name = "MOVE"
		if s.sel.readOnly {
			s.no(tag, "[READ-ONLY] Mailbox is read-only")
			return
		}
	}
	mbName, err := store.CheckMailboxName(a.Mailbox)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	dst, err := s.srv.st.MailboxByName(ctx, s.account.ID, mbName)
	if err != nil {
		s.no(tag, "[TRYCREATE] No such mailbox")
		return
	}
	uids := s.resolve(a.Set, uidCmd)
	if len(uids) == 0 {
		s.update(ctx, uidCmd)
		s.ok(tag, name+" completed (no messages)")
		return
	}
	var res store.CopyResult
	if move {
		res, err = s.srv.st.Move(ctx, s.sel.mb.ID, uids, dst.ID)
	} else {
		res, err = s.srv.st.Copy(ctx, s.sel.mb.ID, uids, dst.ID)
	}
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ownChange(ownMessages(dst.ID, res.Dst)) // NOTIFY: no STATUS for our own copies
	copyUID := ""
	if len(res.Src) > 0 {
		copyUID = fmt.Sprintf("[COPYUID %d %s %s] ", res.UIDValidity, imapparse.FormatUIDs(res.Src), imapparse.FormatUIDs(res.Dst))
	}
	if move {
		// RFC 6851 §4.3: COPYUID goes in an untagged OK before the
		// expunges.
		if copyUID != "" {
			s.untagged("OK " + copyUID + "Moved")
		}
		s.update(ctx, true)
		s.ok(tag, "MOVE completed")
		return
	}
	s.update(ctx, uidCmd)
	s.ok(tag, copyUID+"COPY completed")
}
