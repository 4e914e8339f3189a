package imapsort

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// day returns a time on the given day of January 2026, UTC.
func day(d int) time.Time {
	return time.Date(2026, time.January, d, 12, 0, 0, 0, time.UTC)
}

// seqs returns the sequence numbers of msgs in order.
func seqs(msgs []Msg) []uint32 {
	out := make([]uint32, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].Seq
	}
	return out
}

func TestSortEmpty(t *testing.T) {
	if got := Sort(nil, []Criterion{{Key: "DATE"}}); len(got) != 0 {
		t.Errorf("Sort(nil) = %v", got)
	}
	if got := Sort([]Msg{}, nil); len(got) != 0 {
		t.Errorf("Sort(empty) = %v", got)
	}
}

func TestSortKeys(t *testing.T) {
	msgs := []Msg{
		{Seq: 1, Arrival: day(5), Date: day(3), Size: 300, Subject: "Re: banana", From: "Carol <carol@example.test>", To: "zed@example.test", Cc: "Mike <mike@example.test>"},
		{Seq: 2, Arrival: day(2), Date: day(9), Size: 100, Subject: "apple", From: "ALICE@example.test", To: "Yolanda <yolanda@example.test>"},
		{Seq: 3, Arrival: day(7), Date: day(1), Size: 200, Subject: "[list] Cherry", From: "Bob <bob@example.test>", To: "Xavier <x@example.test>", Cc: "kim@example.test"},
		{Seq: 4, Arrival: day(1), Size: 50, Subject: "Fwd: Apple", From: "alice@other.test", Cc: "Lee <LEE@example.test>"},
	}
	orig := slices.Clone(msgs)
	cases := []struct {
		crit []Criterion
		want []uint32
	}{
		{nil, []uint32{1, 2, 3, 4}},
		{[]Criterion{{Key: "ARRIVAL"}}, []uint32{4, 2, 1, 3}},
		// Message 4 has no Date: its sent date is its arrival, day 1,
		// tied with message 3's Date and after it by sequence number.
		{[]Criterion{{Key: "DATE"}}, []uint32{3, 4, 1, 2}},
		{[]Criterion{{Key: "SIZE"}}, []uint32{4, 2, 3, 1}},
		{[]Criterion{{Key: "size", Reverse: true}}, []uint32{1, 3, 2, 4}},
		// apple, Apple tie (case-insensitive) and keep sequence order.
		{[]Criterion{{Key: "SUBJECT"}}, []uint32{2, 4, 1, 3}},
		{[]Criterion{{Key: "SUBJECT", Reverse: true}}, []uint32{3, 1, 2, 4}},
		// ALICE and alice tie; REVERSE does not turn the tie-break round.
		{[]Criterion{{Key: "FROM"}}, []uint32{2, 4, 3, 1}},
		{[]Criterion{{Key: "FROM", Reverse: true}}, []uint32{1, 3, 2, 4}},
		// Message 4 has no To and sorts first.
		{[]Criterion{{Key: "TO"}}, []uint32{4, 3, 2, 1}},
		{[]Criterion{{Key: "CC"}}, []uint32{2, 3, 4, 1}},
		{[]Criterion{{Key: "DISPLAYFROM"}}, []uint32{2, 4, 3, 1}},
		// Display names Xavier, Yolanda, and zed@example.test (no name).
		{[]Criterion{{Key: "DISPLAYTO"}}, []uint32{4, 3, 2, 1}},
		// Multiple keys: the apples by sent date, either way round.
		{[]Criterion{{Key: "SUBJECT"}, {Key: "DATE"}}, []uint32{4, 2, 1, 3}},
		{[]Criterion{{Key: "SUBJECT"}, {Key: "DATE", Reverse: true}}, []uint32{2, 4, 1, 3}},
		{[]Criterion{{Key: "FROM"}, {Key: "ARRIVAL", Reverse: true}}, []uint32{2, 4, 3, 1}},
		{[]Criterion{{Key: "FROM"}, {Key: "ARRIVAL"}}, []uint32{4, 2, 3, 1}},
		{[]Criterion{{Key: "FROM", Reverse: true}, {Key: "SIZE"}}, []uint32{1, 3, 4, 2}},
		// Unknown keys are skipped.
		{[]Criterion{{Key: "BOGUS"}, {Key: "SIZE"}}, []uint32{4, 2, 3, 1}},
	}
	for _, c := range cases {
		got := Sort(msgs, c.crit)
		if !slices.Equal(seqs(got), c.want) {
			t.Errorf("Sort(%v) = %v; want %v", c.crit, seqs(got), c.want)
		}
	}
	if !reflect.DeepEqual(msgs, orig) {
		t.Error("Sort modified its input")
	}
}

func TestSortTieBreakBySequence(t *testing.T) {
	// Same size everywhere, given out of sequence order.
	msgs := []Msg{{Seq: 9, Size: 1}, {Seq: 3, Size: 1}, {Seq: 7, Size: 1}, {Seq: 1, Size: 1}}
	for _, rev := range []bool{false, true} {
		got := Sort(msgs, []Criterion{{Key: "SIZE", Reverse: rev}})
		if want := []uint32{1, 3, 7, 9}; !slices.Equal(seqs(got), want) {
			t.Errorf("reverse=%v: %v; want %v", rev, seqs(got), want)
		}
	}
}

func TestSortDateTimeZones(t *testing.T) {
	// 10:00 in UTC+8 is 02:00 UTC, before 03:00 UTC.
	cst := time.FixedZone("CST", 8*3600)
	msgs := []Msg{
		{Seq: 1, Date: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)},
		{Seq: 2, Date: time.Date(2026, 1, 1, 10, 0, 0, 0, cst)},
	}
	if got := seqs(Sort(msgs, []Criterion{{Key: "DATE"}})); !slices.Equal(got, []uint32{2, 1}) {
		t.Errorf("got %v; want [2 1]", got)
	}
}

func TestKnownKey(t *testing.T) {
	for _, k := range []string{"ARRIVAL", "cc", "Date", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "displayto"} {
		if !KnownKey(k) {
			t.Errorf("KnownKey(%q) = false", k)
		}
	}
	for _, k := range []string{"", "REVERSE", "MODSEQ", "FROMX"} {
		if KnownKey(k) {
			t.Errorf("KnownKey(%q) = true", k)
		}
	}
}
