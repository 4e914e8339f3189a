package imapserver

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/imapsort"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// maxContexts bounds the updating contexts of one session (RFC 5267
// §4.3.1 asks for at least one): each is re-evaluated on every change to
// the mailbox, and a client asking for more gets NOUPDATE.
const maxContexts = 16

// searchContext is a SEARCH or SORT run with RETURN (UPDATE) (RFC 5267
// §4.3): the server keeps its result and reports how it changes, as
// ADDTO and REMOVEFROM, until CANCELUPDATE or the mailbox is closed.
type searchContext struct {
	tag string
	uid bool                 // UID SEARCH / UID SORT: results are UIDs, else sequence numbers
	key *imapparse.SearchKey // the search program, with sequence numbers fixed (freezeKey)
	// crit is the SORT order; nil for SEARCH, whose results are kept in
	// mailbox order.
	crit []imapsort.Criterion
	uids []uint32       // the current result, as UIDs, in the requested order
	msgs []imapsort.Msg // SORT: the sort keys of uids, in the same order
}

// checkUpdateTag refuses an UPDATE whose tag already names a context
// (RFC 5267 §4.3: BAD); it reports whether the command may go on.
func (s *session) checkUpdateTag(tag string, ret []string) bool {
	if !slices.Contains(ret, "UPDATE") {
		return true
	}
	for _, c := range s.sel.contexts {
		if c.tag == tag {
			s.bad(tag, "Tag already names an updating search")
			return false
		}
	}
	return true
}

// addContext keeps the result of a searching command that asked for
// UPDATE, or says NOUPDATE when the session has too many already
// (RFC 5267 §4.3.1). msgs are the matches in the requested order; sorted
// says whether they carry sort keys (SORT).
func (s *session) addContext(tag string, uid bool, key *imapparse.SearchKey, crit []imapsort.Criterion, uids []uint32, msgs []imapsort.Msg) {
	if len(s.sel.contexts) >= maxContexts {
		s.untagged(`NO [NOUPDATE "` + tag + `"] Too many updating searches; cancel one first`)
		return
	}
	s.sel.contexts = append(s.sel.contexts, &searchContext{
		tag: tag, uid: uid, key: s.freezeKey(key), crit: crit,
		uids: slices.Clone(uids), msgs: slices.Clone(msgs),
	})
}

// cancelUpdate ends the contexts of the given tags (RFC 5267 §4.3.5).
func (s *session) cancelUpdate(tag string, a *imapparse.CancelUpdate) {
	for _, t := range a.Tags {
		if !slices.ContainsFunc(s.sel.contexts, func(c *searchContext) bool { return c.tag == t }) {
			s.bad(tag, "No updating search with tag "+strconv.Quote(t))
			return
		}
	}
	s.sel.contexts = slices.DeleteFunc(s.sel.contexts, func(c *searchContext) bool {
		return slices.Contains(a.Tags, c.tag)
	})
	s.ok(tag, "CANCELUPDATE completed, no further updates")
}

// freezeKey returns a copy of key in which message sequence numbers (and
// "$") are replaced by the UIDs they stand for now: RFC 5267 §4.3 has
// them evaluated once, when the command is received, so a context does
// not follow the numbers as they shift.
func (s *session) freezeKey(k *imapparse.SearchKey) *imapparse.SearchKey {
	c := *k
	c.Children = nil
	for _, ch := range k.Children {
		c.Children = append(c.Children, s.freezeKey(ch))
	}
	var uids []uint32
	switch {
	case (k.Op == "SEQSET" || k.Op == "UID") && k.Set.Dollar:
		uids = slices.Clone(s.sel.saved)
		slices.Sort(uids)
	case k.Op == "SEQSET":
		uids = s.resolve(*k.Set, false)
	default:
		return &c
	}
	if len(uids) == 0 {
		// A set that names no message now matches none later either.
		return &imapparse.SearchKey{Op: "NOT", Children: []*imapparse.SearchKey{{Op: "ALL"}}}
	}
	set, err := imapparse.ParseSeqSet(imapparse.FormatUIDs(uids))
	if err != nil {
		s.log.Error("freezing a search key", "err", err)
		return &c
	}
	return &imapparse.SearchKey{Op: "UID", Set: &set}
}

// contextExpunge is called by update before it announces the expunge of
// uid, while its sequence number seq is still valid: a context holding
// it reports REMOVEFROM first, as RFC 5267 §4.3.4 requires. before runs
// ahead of the first response (update flushes its VANISHED with it, so
// the client's numbering is the one seq belongs to).
func (s *session) contextExpunge(uid uint32, seq int, before func()) {
	for _, c := range s.sel.contexts {
		i := c.index(uid)
		if i < 0 {
			continue
		}
		if before != nil {
			before()
			before = nil
		}
		pos := 0 // SEARCH: mailbox order, position optional (§4.3.4)
		if c.crit != nil {
			pos = i + 1
			c.msgs = slices.Delete(c.msgs, i, i+1)
		}
		c.uids = slices.Delete(c.uids, i, i+1)
		n := uint32(seq)
		if c.uid {
			n = uid
		}
		s.untagged(c.esearch() + " REMOVEFROM (" + strconv.Itoa(pos) + " " + strconv.FormatUint(uint64(n), 10) + ")")
	}
}

// contextsChanged is called by update once it has announced what changed
// (EXISTS included, so new sequence numbers are valid, RFC 5267 §4.3.3):
// the messages with the given UIDs arrived or had their flags changed,
// and each context reports the ones that now enter or leave its result.
func (s *session) contextsChanged(ctx context.Context, touched []uint32) {
	if len(s.sel.contexts) == 0 || len(touched) == 0 {
		return
	}
	var cand []uint32
	for _, u := range touched {
		if s.sel.seqOf(u) > 0 {
			cand = append(cand, u)
		}
	}
	slices.Sort(cand)
	cand = slices.Compact(cand)
	if len(cand) == 0 {
		return
	}
	for _, c := range slices.Clone(s.sel.contexts) {
		msgs, err := s.searchIn(ctx, c.key, cand)
		if err != nil {
			s.log.Error("updating a search context", "tag", c.tag, "err", err)
			continue
		}
		match := make(map[uint32]bool, len(msgs))
		for _, m := range msgs {
			match[m.UID] = true
		}
		in := c.members(cand)
		var gone []uint32
		var added []store.Message
		for _, u := range cand {
			if in[u] && !match[u] {
				gone = append(gone, u)
			}
		}
		for _, m := range msgs {
			if !in[m.UID] {
				added = append(added, m)
			}
		}
		if len(gone) == 0 && len(added) == 0 {
			continue
		}
		if c.crit == nil {
			s.updateSearchContext(c, gone, added)
		} else {
			s.updateSortContext(ctx, c, gone, added)
		}
	}
}

// updateSearchContext reports a SEARCH context's changes with context
// position 0 and sets in mailbox order, the representation RFC 5267
// §4.3.3 and §4.3.4 recommend.
func (s *session) updateSearchContext(c *searchContext, gone []uint32, added []store.Message) {
	l := c.esearch()
	if len(gone) > 0 {
		out := map[uint32]bool{}
		for _, u := range gone {
			out[u] = true
		}
		c.uids = slices.DeleteFunc(c.uids, func(u uint32) bool { return out[u] })
		l += " REMOVEFROM (0 " + imapparse.FormatUIDs(s.numbers(c.uid, gone)) + ")"
	}
	if len(added) > 0 {
		uids := make([]uint32, len(added))
		for i, m := range added {
			uids[i] = m.UID
		}
		c.uids = append(c.uids, uids...)
		slices.Sort(c.uids)
		l += " ADDTO (0 " + imapparse.FormatUIDs(s.numbers(c.uid, uids)) + ")"
	}
	s.untagged(l)
}

// index returns the position of uid in the result, or -1.
func (c *searchContext) index(uid uint32) int {
	if c.crit == nil {
		// SEARCH results are kept in UID order.
		if i, ok := slices.BinarySearch(c.uids, uid); ok {
			return i
		}
		return -1
	}
	return slices.Index(c.uids, uid)
}

// members reports which of cand are in the result.
func (c *searchContext) members(cand []uint32) map[uint32]bool {
	in := make(map[uint32]bool, len(cand))
	if c.crit == nil {
		for _, u := range cand {
			if _, ok := slices.BinarySearch(c.uids, u); ok {
				in[u] = true
			}
		}
		return in
	}
	want := make(map[uint32]bool, len(cand))
	for _, u := range cand {
		want[u] = true
	}
	for _, u := range c.uids {
		if want[u] {
			in[u] = true
		}
	}
	return in
}

// updateSortContext reports a SORT context's changes with positions in
// the sort order (RFC 5267 §4.3.2): removals one by one at their current
// position, then the new matches at the positions the sort gives them,
// lowest first, so that each position is right when it is applied.
func (s *session) updateSortContext(ctx context.Context, c *searchContext, gone []uint32, added []store.Message) {
	l := c.esearch()
	for _, u := range gone {
		i := c.index(u)
		l += " REMOVEFROM (" + strconv.Itoa(i+1) + " " + s.number(c.uid, u) + ")"
		c.uids = slices.Delete(c.uids, i, i+1)
		c.msgs = slices.Delete(c.msgs, i, i+1)
	}
	if len(added) > 0 {
		// Sequence numbers break ties (RFC 5256 §3) and shift with
		// expunges, so the kept ones are brought up to date first.
		for i := range c.msgs {
			c.msgs[i].Seq = uint32(s.sel.seqOf(c.msgs[i].UID))
		}
		isNew := map[uint32]bool{}
		for _, m := range added {
			isNew[m.UID] = true
		}
		all := imapsort.Sort(append(slices.Clone(c.msgs), s.sortMsgs(ctx, added, false)...), c.crit)
		c.msgs = all
		c.uids = c.uids[:0]
		for i, m := range all {
			c.uids = append(c.uids, m.UID)
			if isNew[m.UID] {
				l += " ADDTO (" + strconv.Itoa(i+1) + " " + s.number(c.uid, m.UID) + ")"
			}
		}
	}
	s.untagged(l)
}

// esearch starts the ESEARCH response of a context's updates.
func (c *searchContext) esearch() string {
	l := `ESEARCH (TAG "` + c.tag + `")`
	if c.uid {
		l += " UID"
	}
	return l
}

// number renders uid as a context reports it: the UID, or its sequence
// number.
func (s *session) number(uid bool, u uint32) string {
	if uid {
		return strconv.FormatUint(uint64(u), 10)
	}
	return strconv.Itoa(s.sel.seqOf(u))
}

// numbers maps UIDs (ascending) to what a context reports: themselves,
// or their sequence numbers (also ascending).
func (s *session) numbers(uid bool, uids []uint32) []uint32 {
	if uid {
		return uids
	}
	out := make([]uint32, len(uids))
	for i, u := range uids {
		out[i] = uint32(s.sel.seqOf(u))
	}
	return out
}

// formatOrdered renders numbers in the order given as a sequence-set,
// joining only ascending runs into ranges: an ESEARCH response to SORT
// lists results in sort order, and RFC 5267 §3.2 has every range read in
// increasing order ("5,3:4,2", never "5:2").
func formatOrdered(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(nums[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(nums[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// partialData renders the PARTIAL return data (RFC 5267 §4.4): the range
// asked for and the results at those positions of nums (in the requested
// order), or NIL when there are none.
func partialData(p *imapparse.PartialRange, nums []uint32, sorted bool) string {
	r := strconv.FormatUint(uint64(p.First), 10) + ":" + strconv.FormatUint(uint64(p.Last), 10)
	if int(p.First) > len(nums) {
		return "(" + r + " NIL)"
	}
	part := nums[p.First-1 : min(int(p.Last), len(nums))]
	if sorted {
		return "(" + r + " " + formatOrdered(part) + ")"
	}
	return "(" + r + " " + imapparse.FormatUIDs(part) + ")"
}

// searchMetaOf is searchMeta over the messages with the given UIDs
// (ascending) only.
func (s *session) searchMetaOf(ctx context.Context, e *evalCtx, key *imapparse.SearchKey, only []uint32) ([]store.Message, error) {
	meta, err := s.srv.st.Meta(ctx, s.sel.mb.ID, only)
	if err != nil {
		return nil, err
	}
	var out []store.Message
	for i := range meta {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		mm := &meta[i]
		seq := s.sel.uids.Seq(mm.UID)
		if seq == 0 {
			continue
		}
		m := store.Message{MailboxID: s.sel.mb.ID, UID: mm.UID, ModSeq: mm.ModSeq, Size: mm.Size, Flags: mm.Flags, InternalDate: mm.InternalDate()}
		e.m, e.seq = &m, uint32(seq)
		if e.match(key) {
			out = append(out, m)
		}
	}
	return out, nil
}
