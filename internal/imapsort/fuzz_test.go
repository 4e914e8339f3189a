package imapsort

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{
		"", "Re: foo", "[list] Re: [fwd: Re: foo (fwd)]", "=?utf-8?q?Re=3A_foo?=",
		"=?Big5?B?pKSk5Q==?=", "Re [x]: [y] Fwd: z", "[fwd:]", "[a][b]", "\xff\xfe Re: x",
		"  a \t\r\n b  ", "ǅ", "[fwd: [fwd: x]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, _ := baseSubject(in)
		if strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") {
			t.Fatalf("BaseSubject(%q) = %q has white space at an end", in, out)
		}
		if strings.Contains(out, "  ") || strings.ContainsAny(out, "\t\r\n") {
			t.Fatalf("BaseSubject(%q) = %q has uncollapsed white space", in, out)
		}
		if hasSuffixFold(out, "(fwd)") {
			t.Fatalf("BaseSubject(%q) = %q keeps a (fwd) trailer", in, out)
		}
		if _, ok := matchRefwd(out, 0); ok {
			t.Fatalf("BaseSubject(%q) = %q keeps a reply prefix", in, out)
		}
		// Extraction is a fixed point, unless decoding the result would
		// find encoded words that decoding the input produced.
		if !strings.Contains(out, "=?") {
			if again, reply := baseSubject(out); again != out || reply {
				t.Fatalf("BaseSubject(%q) = %q, but BaseSubject of that = %q (reply %v)", in, out, again, reply)
			}
		}
		// Without encoded words the result is a piece of the input with
		// white space collapsed.
		if !strings.Contains(in, "=?") && !strings.Contains(collapseSpace(in), out) {
			t.Fatalf("BaseSubject(%q) = %q is not part of the input", in, out)
		}
		if utf8.ValidString(in) && !strings.Contains(in, "=?") && !utf8.ValidString(out) {
			t.Fatalf("BaseSubject(%q) = %q is not UTF-8", in, out)
		}
		key := CompareKey(out)
		if isASCII(out) && (CompareKey(strings.ToLower(out)) != key || CompareKey(strings.ToUpper(out)) != key) {
			t.Fatalf("CompareKey(%q) depends on case", out)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fuzzMessages turns fuzz input into a small mailbox with a crowded space
// of message IDs, so that duplicates, self-references, loops and missing
// parents are common. Each message takes up to 8 bytes.
func fuzzMessages(data []byte) []Msg {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	subjects := []string{
		"", "foo", "Re: foo", "FOO", "[l] foo", "Fwd: foo", "foo (fwd)",
		"bar", "Re: bar", "[fwd: bar]", "=?utf-8?q?bar?=", "Re:",
	}
	var msgs []Msg
	for seq := uint32(1); len(data) > 0 && seq <= 64; seq++ {
		m := Msg{Seq: seq, UID: 1000 + seq}
		if b := next(); b%8 != 0 {
			m.MessageID = fmt.Sprintf("<id%d@x>", b%11)
		}
		ctl := next()
		refs := make([]string, int(ctl%5))
		for i := range refs {
			refs[i] = fmt.Sprintf("<id%d@x>", next()%14) // 11 to 13 never exist
		}
		if ctl&0x80 != 0 {
			m.References = strings.Join(refs, " ")
		} else {
			m.InReplyTo = strings.Join(refs, " ")
		}
		m.Subject = subjects[int(next())%len(subjects)]
		if d := next() % 6; d > 0 {
			m.Date = minute(int(d))
		}
		m.Arrival = minute(int(next() % 6))
		msgs = append(msgs, m)
	}
	// Shuffle a little: the input order must not matter.
	if len(msgs) > 1 {
		k := int(next()) % len(msgs)
		slices.Reverse(msgs[:k])
	}
	return msgs
}

// nodeKey is the sort key of a thread node (RFC 5256 §3 steps 4 and 6).
func nodeKey(n *Node) *Msg {
	for n.Msg == nil {
		n = n.Children[0]
	}
	return n.Msg
}

func compareSent(a, b *Msg) int {
	if c := a.SentDate().Compare(b.SentDate()); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// checkThreads checks what must hold of any ThreadReferences result: each
// message exactly once, dummies only at the top level with two or more
// real children, siblings in sent-date order, and a THREAD response that
// parses and writes back the same.
func checkThreads(t *testing.T, msgs []Msg, roots []*Node) {
	t.Helper()
	seen := make(map[*Msg]int)
	var walk func(list []*Node, depth int)
	walk = func(list []*Node, depth int) {
		for i, n := range list {
			if n.Msg == nil {
				if depth > 0 {
					t.Fatalf("dummy below the top level")
				}
				if len(n.Children) < 2 {
					t.Fatalf("dummy with %d children", len(n.Children))
				}
				for _, k := range n.Children {
					if k.Msg == nil {
						t.Fatalf("dummy child of a dummy")
					}
				}
			} else {
				seen[n.Msg]++
			}
			if i > 0 && compareSent(nodeKey(list[i-1]), nodeKey(n)) >= 0 {
				t.Fatalf("siblings out of order: %d before %d", nodeKey(list[i-1]).Seq, nodeKey(n).Seq)
			}
			walk(n.Children, depth+1)
		}
	}
	walk(roots, 0)
	if len(seen) != len(msgs) {
		t.Fatalf("%d of %d messages in the threads", len(seen), len(msgs))
	}
	for i := range msgs {
		if seen[&msgs[i]] != 1 {
			t.Fatalf("message %d appears %d times", msgs[i].Seq, seen[&msgs[i]])
		}
	}
	s := render(roots)
	parsed, err := parseThreads(s)
	if err != nil {
		t.Fatal(err)
	}
	if again := render(toNodes(parsed)); again != s {
		t.Fatalf("THREAD data %q writes back as %q", s, again)
	}
}

// checkOrderedSubject checks an ORDEREDSUBJECT result: two levels, one
// thread per base subject, children and threads in sent-date order.
func checkOrderedSubject(t *testing.T, msgs []Msg, roots []*Node) {
	t.Helper()
	subjects := make(map[string]bool)
	count := 0
	for i, r := range roots {
		key := CompareKey(BaseSubject(r.Msg.Subject))
		if subjects[key] {
			t.Fatalf("two threads for subject %q", key)
		}
		subjects[key] = true
		if i > 0 && compareSent(roots[i-1].Msg, r.Msg) >= 0 {
			t.Fatalf("threads out of order")
		}
		prev := r.Msg
		count++
		for _, k := range r.Children {
			count++
			if len(k.Children) > 0 {
				t.Fatalf("ORDEREDSUBJECT thread deeper than two levels")
			}
			if CompareKey(BaseSubject(k.Msg.Subject)) != key {
				t.Fatalf("subject %q in thread %q", k.Msg.Subject, key)
			}
			if compareSent(prev, k.Msg) >= 0 {
				t.Fatalf("children out of order")
			}
			prev = k.Msg
		}
	}
	if count != len(msgs) {
		t.Fatalf("%d of %d messages in the threads", count, len(msgs))
	}
}

// naiveParents is step 1 of REFERENCES written as plainly as possible,
// with the loop check walking up the tree. It returns the parent of each
// message ("m" and its sequence number) and dummy ("#" and its ID).
func naiveParents(msgs []Msg) map[string]string {
	type node struct {
		name   string
		parent *node
	}
	order := slices.Clone(msgs)
	slices.SortStableFunc(order, func(a, b Msg) int { return cmp.Compare(a.Seq, b.Seq) })
	ids := make(map[string]*node)
	var all []*node
	get := func(id string) *node {
		if ids[id] == nil {
			ids[id] = &node{name: "#" + id}
			all = append(all, ids[id])
		}
		return ids[id]
	}
	loop := func(a, b *node) bool {
		for x := a; x != nil; x = x.parent {
			if x == b {
				return true
			}
		}
		return false
	}
	for _, m := range order {
		n := &node{name: fmt.Sprint("m", m.Seq)}
		if id := firstMsgID(m.MessageID); id != "" {
			if d := ids[id]; d == nil {
				ids[id] = n
				all = append(all, n)
			} else if strings.HasPrefix(d.name, "#") {
				d.name = n.name
				n = d
			} else {
				all = append(all, n)
			}
		} else {
			all = append(all, n)
		}
		refs := appendMsgIDs(nil, m.References)
		if len(refs) == 0 {
			refs = appendMsgIDs(nil, m.InReplyTo)
			refs = refs[:min(len(refs), 1)]
		}
		for j := 0; j+1 < len(refs); j++ {
			a, b := get(refs[j]), get(refs[j+1])
			if b.parent == nil && !loop(a, b) {
				b.parent = a
			}
		}
		var p *node
		if len(refs) > 0 {
			p = get(refs[len(refs)-1])
		}
		if n.parent != p {
			n.parent = nil
			if p != nil && !loop(p, n) {
				n.parent = p
			}
		}
	}
	out := make(map[string]string)
	for _, n := range all {
		if n.parent != nil {
			out[n.name] = n.parent.name
		}
	}
	return out
}

// linkParents runs the package's step 1 and describes it as naiveParents
// does.
func linkParents(msgs []Msg) map[string]string {
	t := threader{ids: make(map[string]*tnode)}
	t.link(msgs)
	names := make(map[*tnode]string)
	for id, n := range t.ids {
		names[n] = "#" + id
	}
	name := func(n *tnode) string {
		if n.msg != nil {
			return fmt.Sprint("m", n.msg.Seq)
		}
		return names[n]
	}
	out := make(map[string]string)
	for _, n := range t.all {
		if n.parent != nil {
			out[name(n)] = name(n.parent)
		}
	}
	return out
}

func FuzzThread(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 1, 1, 2, 0x81, 1, 1, 2, 2, 3, 0x82, 2, 1, 3, 3})
	f.Add([]byte("some messages referring to each other in loops and chains"))
	f.Add([]byte{1, 0x82, 2, 1, 0, 0, 0, 2, 0x82, 1, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := fuzzMessages(data)

		if want, got := naiveParents(msgs), linkParents(msgs); !maps.Equal(want, got) {
			t.Fatalf("step 1 links differ from the plain algorithm:\nwant %v\ngot  %v", want, got)
		}

		roots := ThreadReferences(msgs)
		checkThreads(t, msgs, roots)
		rev := slices.Clone(msgs)
		slices.Reverse(rev)
		if a, b := render(roots), render(ThreadReferences(rev)); a != b {
			t.Fatalf("input order changes the threads: %s vs %s", a, b)
		}

		checkOrderedSubject(t, msgs, ThreadOrderedSubject(msgs))

		sorted := Sort(msgs, []Criterion{{Key: "SUBJECT"}, {Key: "DATE", Reverse: true}})
		for i := 1; i < len(sorted); i++ {
			a, b := &sorted[i-1], &sorted[i]
			ka, kb := CompareKey(BaseSubject(a.Subject)), CompareKey(BaseSubject(b.Subject))
			if ka > kb || ka == kb && (a.SentDate().Before(b.SentDate()) || a.SentDate().Equal(b.SentDate()) && a.Seq > b.Seq) {
				t.Fatalf("Sort: %d before %d", a.Seq, b.Seq)
			}
		}
	})
}

// Step 1 with the link-cut tree must link exactly as the plain algorithm
// does, on many random mailboxes (FuzzThread explores further).
func TestLinkMatchesPlainAlgorithm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 8*64+1)
	for i := range 1500 {
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		msgs := fuzzMessages(data[:rng.IntN(len(data))])
		if want, got := naiveParents(msgs), linkParents(msgs); !maps.Equal(want, got) {
			t.Fatalf("mailbox %d: step 1 links differ from the plain algorithm:\nwant %v\ngot  %v", i, want, got)
		}
		checkThreads(t, msgs, ThreadReferences(msgs))
	}
}
