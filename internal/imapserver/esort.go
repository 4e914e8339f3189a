package imapserver

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/imapsort"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// esort answers SORT RETURN (...) (ESORT, RFC 5267 §3; CONTEXT=SORT,
// §4) with an ESEARCH response whose data follow the sort order: MIN and
// MAX are the first and last message in that order, ALL lists them all
// in order (ranges only where numbers ascend, §3.2), PARTIAL a window of
// them (§4.4), COUNT their number. msgs are the matches in UID order,
// sorted the same messages in sort order.
func (s *session) esort(ctx context.Context, tag string, uidCmd bool, a *imapparse.Sort, crit []imapsort.Criterion, msgs []store.Message, sorted []imapsort.Msg) {
	nums := make([]uint32, len(sorted))
	uids := make([]uint32, len(sorted))
	for i, m := range sorted {
		uids[i] = m.UID
		nums[i] = m.Seq
		if uidCmd {
			nums[i] = m.UID
		}
	}
	ret := a.Return
	if len(ret) == 0 {
		ret = []string{"ALL"} // RFC 5267 §3.3: an empty list means ALL
	}
	minMaxOnly := (slices.Contains(ret, "MIN") || slices.Contains(ret, "MAX")) &&
		!slices.Contains(ret, "ALL") && !slices.Contains(ret, "COUNT") && !slices.Contains(ret, "PARTIAL")
	var returned []uint32 // UIDs of the messages MIN and MAX name
	if len(uids) > 0 {
		if slices.Contains(ret, "MIN") {
			returned = append(returned, uids[0])
		}
		if u := uids[len(uids)-1]; slices.Contains(ret, "MAX") && !slices.Contains(returned, u) {
			returned = append(returned, u)
		}
	}
	if slices.Contains(ret, "SAVE") {
		// RFC 5182 §2.4, as for SEARCH: with MIN and/or MAX alone, "$"
		// holds only the messages they return.
		if minMaxOnly {
			s.sel.saved = slices.Clone(returned)
		} else {
			s.sel.saved = slices.Clone(uids)
		}
		slices.Sort(s.sel.saved)
	}
	if !(len(ret) == 1 && ret[0] == "SAVE") {
		l := `ESEARCH (TAG "` + tag + `")`
		if uidCmd {
			l += " UID"
		}
		for _, r := range ret {
			switch r {
			case "MIN":
				if len(nums) > 0 {
					l += " MIN " + strconv.FormatUint(uint64(nums[0]), 10)
				}
			case "MAX":
				if len(nums) > 0 {
					l += " MAX " + strconv.FormatUint(uint64(nums[len(nums)-1]), 10)
				}
			case "COUNT":
				l += " COUNT " + strconv.Itoa(len(nums))
			case "ALL":
				if len(nums) > 0 {
					l += " ALL " + formatOrdered(nums)
				}
			case "PARTIAL":
				l += " PARTIAL " + partialData(a.Partial, nums, true)
			}
		}
		if keyUses(a.Key, "MODSEQ") && len(msgs) > 0 {
			// RFC 7162 §3.1.5 with RFC 4731 §3.2: the highest MODSEQ of
			// the messages returned.
			var mod int64
			for _, m := range msgs {
				if !minMaxOnly || slices.Contains(returned, m.UID) {
					mod = max(mod, m.ModSeq)
				}
			}
			l += fmt.Sprintf(" MODSEQ %d", mod)
		}
		s.untagged(l)
	}
	if slices.Contains(ret, "UPDATE") {
		s.addContext(tag, uidCmd, a.Key, crit, uids, sorted)
	}
	s.update(ctx, uidCmd)
	s.ok(tag, "SORT completed")
}
