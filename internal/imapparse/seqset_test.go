package imapparse

import (
	"reflect"
	"testing"
)

func TestParseSeqSet(t *testing.T) {
	cases := []struct {
		in   string
		want SeqSet
	}{
		{"1", SeqSet{Ranges: []Range{{1, 1}}}},
		{"*", SeqSet{Ranges: []Range{{0, 0}}}},
		{"1:*", SeqSet{Ranges: []Range{{1, 0}}}},
		{"*:4", SeqSet{Ranges: []Range{{0, 4}}}},
		{"5:2", SeqSet{Ranges: []Range{{5, 2}}}},
		{"2,4:7,9,12:*", SeqSet{Ranges: []Range{{2, 2}, {4, 7}, {9, 9}, {12, 0}}}},
		{"$", SeqSet{Dollar: true}},
		{"1:3,$", SeqSet{Ranges: []Range{{1, 3}}, Dollar: true}},
		{"4294967295", SeqSet{Ranges: []Range{{4294967295, 4294967295}}}},
	}
	for _, c := range cases {
		got, err := ParseSeqSet(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSeqSet(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "0:5", "1:", ":1", "1::2", "1:2:3", ",1", "1,", "1,,2", "01", "4294967296",
		"99999999999", "a", "1-3", " 1", "**", "$$", "+1", "1:$"} {
		if got, err := ParseSeqSet(bad); err == nil {
			t.Errorf("ParseSeqSet(%q) = %+v, want error", bad, got)
		}
	}
}

func TestSeqSetContains(t *testing.T) {
	cases := []struct {
		set      string
		max      uint32
		in, out  []uint32
		dynamic  bool
		rendered string
	}{
		{"1:3,7", 10, []uint32{1, 2, 3, 7}, []uint32{0, 4, 6, 8, 10}, false, "1:3,7"},
		{"5:2", 10, []uint32{2, 3, 5}, []uint32{1, 6}, false, "2:5"},
		{"*", 10, []uint32{10}, []uint32{1, 9, 11}, true, "*"},
		{"8:*", 10, []uint32{8, 9, 10}, []uint32{7, 11}, true, "8:*"},
		{"*:8", 10, []uint32{8, 9, 10}, []uint32{7, 11}, true, "8:*"},
		// RFC 9051 §6.4.9: "559:*" includes the last UID even below 559.
		{"559:*", 500, []uint32{500, 501, 559}, []uint32{499, 560}, true, "559:*"},
		{"*", 0, nil, []uint32{1}, true, "*"},
		{"7,1:3,2:5,9:10,11", 100, []uint32{1, 5, 7, 9, 10, 11}, []uint32{6, 8, 12}, false, "1:5,7,9:11"},
		{"4294967295:4294967294,1", 0, []uint32{1, 4294967295}, []uint32{2}, false, "1,4294967294:4294967295"},
		{"$", 10, nil, []uint32{1, 10}, false, "$"},
		{"3,*,$,2:*,*:2", 10, []uint32{2, 3, 10}, []uint32{1}, true, "3,*,2:*,$"},
	}
	for _, c := range cases {
		s := set(c.set)
		for _, n := range c.in {
			if !s.Contains(n, c.max) {
				t.Errorf("%q (max %d) should contain %d", c.set, c.max, n)
			}
		}
		for _, n := range c.out {
			if s.Contains(n, c.max) {
				t.Errorf("%q (max %d) should not contain %d", c.set, c.max, n)
			}
		}
		if s.Dynamic() != c.dynamic {
			t.Errorf("%q: Dynamic() = %v", c.set, s.Dynamic())
		}
		if got := s.String(); got != c.rendered {
			t.Errorf("%q: String() = %q, want %q", c.set, got, c.rendered)
		}
	}
}

func TestFormatUIDs(t *testing.T) {
	cases := []struct {
		in   []uint32
		want string
	}{
		{nil, ""},
		{[]uint32{5}, "5"},
		{[]uint32{1, 2, 3, 7, 9, 10}, "1:3,7,9:10"},
		{[]uint32{10, 9, 7, 3, 2, 1, 2, 3}, "1:3,7,9:10"},
		{[]uint32{0, 1, 2}, "1:2"},
		{[]uint32{0}, ""},
		{[]uint32{4294967295, 4294967294, 1}, "1,4294967294:4294967295"},
	}
	for _, c := range cases {
		orig := append([]uint32(nil), c.in...)
		if got := FormatUIDs(c.in); got != c.want {
			t.Errorf("FormatUIDs(%v) = %q, want %q", c.in, got, c.want)
		}
		if !reflect.DeepEqual(orig, c.in) {
			t.Errorf("FormatUIDs changed its input: %v", c.in)
		}
	}
}
