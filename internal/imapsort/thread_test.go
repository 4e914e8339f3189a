package imapsort

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC)

// minute returns epoch plus n minutes.
func minute(n int) time.Time { return epoch.Add(time.Duration(n) * time.Minute) }

// tm builds a message for the threading tests: id is the Message-ID
// without brackets ("" for none), refs the raw References value, and the
// message was sent (and arrived) at minute min.
func tm(seq uint32, id, refs, subject string, min int) Msg {
	m := Msg{Seq: seq, UID: 100 + seq, Subject: subject, References: refs, Date: minute(min), Arrival: minute(min)}
	if id != "" {
		m.MessageID = "<" + id + ">"
	}
	return m
}

func render(roots []*Node) string { return string(AppendThreads(nil, roots, false)) }

func TestThreadReferences(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	noDate := func(m Msg, arrival int) Msg { m.Date, m.Arrival = time.Time{}, minute(arrival); return m }
	irt := func(m Msg, v string) Msg { m.InReplyTo = v; return m }

	cases := []struct {
		name string
		msgs []Msg
		want string
	}{
		{"chain", []Msg{
			tm(1, "a", "", "hello", 1),
			tm(2, "b", "<a>", "Re: hello", 2),
			tm(3, "c", "<a> <b>", "Re: hello", 3),
		}, "(1 2 3)"},
		{"replies before their parents", []Msg{
			tm(1, "c", "<a> <b>", "Re: x", 3),
			tm(2, "b", "<a>", "Re: x", 2),
			tm(3, "a", "", "x", 1),
		}, "(3 2 1)"},
		{"missing parent becomes a dummy", []Msg{
			tm(1, "r1", "<gone>", "one", 1),
			tm(2, "r2", "<gone>", "two", 2),
			tm(3, "s", "", "three", 3),
		}, "((1)(2))(3)"},
		{"dummy with one child is promoted", []Msg{
			tm(1, "r", "<g1> <g2> <g3>", "alone", 1),
		}, "(1)"},
		{"nested dummies", []Msg{
			tm(1, "x1", "<a> <b>", "p", 1),
			tm(2, "x2", "<a> <c>", "q", 2),
		}, "((1)(2))"},
		{"dummy between real messages is pruned", []Msg{
			tm(1, "p", "", "root", 1),
			tm(2, "k1", "<p> <gone>", "kid1", 2),
			tm(3, "k2", "<p> <gone>", "kid2", 3),
		}, "(1 (2)(3))"},
		{"loops", []Msg{
			tm(1, "a", "<b>", "s1", 1),
			tm(2, "b", "<a>", "s2", 2),
			tm(3, "c", "<c>", "s3", 3),
			tm(4, "d", "<x> <y> <x>", "s4", 4),
		}, "(2 1)(3)(4)"},
		{"truncated references corrected by the message itself", []Msg{
			tm(1, "d", "<a> <c>", "s1", 4),
			tm(2, "c", "<a> <b>", "s2", 3),
			tm(3, "a", "", "s3", 1),
			tm(4, "b", "<a>", "s4", 2),
		}, "(3 4 2 1)"},
		{"message without references loses a guessed parent", []Msg{
			tm(1, "x", "<a> <b>", "s1", 2),
			tm(2, "b", "", "s2", 1),
			tm(3, "a", "", "s3", 3),
		}, "(2 1)(3)"},
		{"subject grouping", []Msg{
			tm(1, "a", "", "foo", 1),
			tm(2, "b", "", "Re: [list] foo", 3),
			tm(3, "c", "<zz>", "Re: foo", 2),
			tm(4, "d", "", "bar", 4),
		}, "(1 (3)(2))(4)"},
		{"subject grouping under the original, sent later", []Msg{
			tm(1, "b", "", "Re: foo", 1),
			tm(2, "a", "", "foo", 2),
		}, "(2 1)"},
		{"subject grouping of two originals", []Msg{
			tm(1, "a", "", "foo", 1),
			tm(2, "b", "", "FOO", 2),
		}, "((1)(2))"},
		{"subject grouping of two replies", []Msg{
			tm(1, "a", "", "Re: foo", 1),
			tm(2, "b", "", "Fwd: foo", 2),
		}, "((1)(2))"},
		// Step 4 puts the threads in date order before step 5 picks
		// the first thread of each subject; taken in sequence order,
		// the reply would go under the second original.
		{"subject grouping takes threads by date", []Msg{
			tm(1, "c", "", "Re: foo", 3),
			tm(2, "b", "", "foo", 2),
			tm(3, "a", "", "foo", 1),
		}, "((3)(2)(1))"},
		{"subject grouping into a dummy", []Msg{
			tm(1, "a", "<gone>", "Re: bar", 1),
			tm(2, "b", "<gone>", "Re: bar", 2),
			tm(3, "c", "", "bar", 3),
		}, "((1)(2)(3))"},
		{"subject grouping: dummy beats an earlier message", []Msg{
			tm(1, "c", "", "bar", 1),
			tm(2, "a", "<gone>", "Re: bar", 2),
			tm(3, "b", "<gone>", "Re: bar", 3),
		}, "((1)(2)(3))"},
		{"subject grouping of two dummies", []Msg{
			tm(1, "a", "<g1>", "Re: baz", 1),
			tm(2, "b", "<g1>", "Re: baz", 2),
			tm(3, "c", "<g2>", "Re: baz", 3),
			tm(4, "d", "<g2>", "Re: baz", 4),
		}, "((1)(2)(3)(4))"},
		{"empty subjects are not grouped", []Msg{
			tm(1, "a", "", "", 1),
			tm(2, "b", "", "Re:", 2),
		}, "(1)(2)"},
		{"encoded subjects group with plain ones", []Msg{
			tm(1, "a", "", "=?Big5?B?pKSk5Q==?=", 1),
			tm(2, "b", "", "Re: =?GB2312?B?1tDOxA==?=", 2),
			tm(3, "c", "", "=?UTF-8?B?"+b64("Fwd: 中文")+"?=", 3),
			tm(4, "d", "", "中文 (fwd)", 4),
		}, "(1 (2)(3)(4))"},
		{"sent date falls back to arrival", []Msg{
			tm(1, "a", "", "x", 5),
			noDate(tm(2, "b", "", "y", 0), 1),
		}, "(2)(1)"},
		{"children by sent date, then sequence", []Msg{
			tm(1, "p", "", "p", 1),
			tm(2, "k2", "<p>", "k", 9),
			tm(3, "k3", "<p>", "k", 5),
			tm(4, "k4", "<p>", "k", 5),
		}, "(1 (3)(4)(2))"},
		{"dummy sorts by its first child", []Msg{
			tm(1, "s", "", "solo", 2),
			tm(2, "r1", "<gone>", "one", 3),
			tm(3, "r2", "<gone>", "two", 1),
		}, "((3)(2))(1)"},
		{"duplicate message-id", []Msg{
			tm(1, "a", "", "one", 1),
			tm(2, "a", "", "two", 2),
			tm(3, "c", "<a>", "three", 3),
		}, "(1 3)(2)"},
		{"duplicate of a dummy's id", []Msg{
			tm(1, "x", "<a>", "k", 2),
			tm(2, "a", "", "p", 1),
			tm(3, "a", "", "q", 3),
		}, "(2 1)(3)"},
		{"missing message-ids", []Msg{
			tm(1, "", "", "one", 1),
			tm(2, "", "", "two", 2),
		}, "(1)(2)"},
		{"in-reply-to", []Msg{
			tm(1, "a", "", "p", 1),
			tm(2, "b", "", "q", 2),
			irt(tm(3, "c", "", "r", 3), "<b> <a>"),
			irt(tm(4, "d", "", "s", 4), "<a> (from Joe <b>)"),
			irt(tm(5, "e", "<a>", "t", 5), "<b>"),
		}, "(1 (4)(5))(2 3)"},
	}
	for _, c := range cases {
		roots := ThreadReferences(c.msgs)
		checkThreads(t, c.msgs, roots)
		got := render(roots)
		if got != c.want {
			t.Errorf("%s: got %s; want %s", c.name, got, c.want)
		}
		// The input order must not matter: messages are taken by
		// sequence number.
		rev := slices.Clone(c.msgs)
		slices.Reverse(rev)
		if got := render(ThreadReferences(rev)); got != c.want {
			t.Errorf("%s, reversed input: got %s; want %s", c.name, got, c.want)
		}
	}
}

func TestThreadEmpty(t *testing.T) {
	if got := ThreadReferences(nil); got != nil {
		t.Errorf("ThreadReferences(nil) = %v", got)
	}
	if got := ThreadOrderedSubject([]Msg{}); got != nil {
		t.Errorf("ThreadOrderedSubject(empty) = %v", got)
	}
	if got := AppendThreads(nil, nil, true); len(got) != 0 {
		t.Errorf("AppendThreads(nil) = %q", got)
	}
}

func TestThreadUIDs(t *testing.T) {
	msgs := []Msg{
		tm(1, "a", "", "hello", 1),
		tm(2, "b", "<a>", "Re: hello", 2),
		tm(3, "c", "<a>", "Re: hello", 3),
	}
	roots := ThreadReferences(msgs)
	if got, want := string(AppendThreads(nil, roots, true)), "(101 (102)(103))"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
	// Node.Msg points into the input.
	if roots[0].Msg != &msgs[0] {
		t.Error("Node.Msg does not point into msgs")
	}
}

// messagesFor makes messages that thread into the shape of THREAD data s:
// each message refers to the chain of its ancestors, the children of a
// dummy share a parent ID that no message has, subjects are all different
// and the sent dates follow the order of the data.
func messagesFor(t *testing.T, s string) []Msg {
	roots, err := parseThreads(s)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Msg
	clock, dummies := 0, 0
	var walk func(n *pnode, refs []string)
	walk = func(n *pnode, refs []string) {
		var id string
		if n.num == 0 {
			dummies++
			id = fmt.Sprintf("<dummy%d@example.test>", dummies)
		} else {
			clock++
			id = fmt.Sprintf("<%d@example.test>", n.num)
			msgs = append(msgs, Msg{
				Seq: n.num, UID: n.num, MessageID: id,
				References: strings.Join(refs, " "),
				Subject:    fmt.Sprintf("subject %d", n.num),
				Date:       minute(clock), Arrival: minute(clock),
			})
		}
		for _, k := range n.kids {
			walk(k, append(slices.Clip(refs), id))
		}
	}
	for _, r := range roots {
		walk(r, nil)
	}
	return msgs
}

// The REFERENCES algorithm reproduces the RFC 5256 §4 examples from
// messages built to have their shape, given in any order.
func TestThreadReferencesRFCExamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range append(rfcThreadExamples, moreThreadShapes...) {
		msgs := messagesFor(t, s)
		for range 3 {
			if got := render(ThreadReferences(msgs)); got != s {
				t.Errorf("got  %s\nwant %s", got, s)
			}
			rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		}
	}
}

// The ORDEREDSUBJECT example of RFC 5256 §4 comes back from messages whose
// subjects group them as the example does.
func TestThreadOrderedSubjectRFCExample(t *testing.T) {
	s := rfcThreadExamples[1]
	roots, err := parseThreads(s)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Msg
	clock := 0
	forms := []string{"topic %d", "Re: topic %d", "[list] Re: TOPIC %d", "Fwd: topic %d (fwd)"}
	for i, r := range roots {
		// The root and its children, which have no children of their
		// own, all with a form of the thread's subject.
		add := func(n *pnode, form string) {
			if len(n.kids) > 0 && n != r {
				t.Fatalf("%s is not an ORDEREDSUBJECT shape", s)
			}
			clock++
			msgs = append(msgs, Msg{Seq: n.num, Subject: fmt.Sprintf(form, i), Date: minute(clock)})
		}
		add(r, forms[0])
		for j, k := range r.kids {
			add(k, forms[(j+1)%len(forms)])
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	if got := render(ThreadOrderedSubject(msgs)); got != s {
		t.Errorf("got  %s\nwant %s", got, s)
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	msgs := []Msg{
		tm(1, "", "", "Re: foo", 3),
		tm(2, "", "", "bar", 1),
		tm(3, "", "", "foo", 2),
		tm(4, "", "", "FOO (fwd)", 5),
		tm(5, "", "", "bar", 4),
		tm(6, "", "", "", 6),
		tm(7, "", "", "Re:", 7),
	}
	// Empty base subjects form a thread of their own, like any other.
	if got, want := render(ThreadOrderedSubject(msgs)), "(2 5)(3 (1)(4))(6 7)"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

// linkSteps runs step 1 alone and returns the loop-check work it did.
func linkSteps(msgs []Msg) int {
	t := threader{ids: make(map[string]*tnode)}
	t.link(msgs)
	return t.steps
}

// The loop check of step 1 stays O(log n) amortized per reference, also
// for reference patterns made to defeat a walk up the tree.
func TestThreadLinkWork(t *testing.T) {
	const n = 1 << 14
	id := func(i int) string { return fmt.Sprintf("<%d@example.test>", i) }
	shapes := map[string]func(i int) (seq int, refs string){
		// A reply chain, each message answering the one before.
		"chain": func(i int) (int, string) {
			if i == 0 {
				return 1, ""
			}
			return i + 1, id(i - 1)
		},
		// The same chain delivered bottom first.
		"reversed chain": func(i int) (int, string) {
			if i == 0 {
				return n, ""
			}
			return n - i, id(i - 1)
		},
		// Everybody answers the first message.
		"star": func(i int) (int, string) {
			if i == 0 {
				return 1, ""
			}
			return i + 1, id(0)
		},
		// Half the mailbox is one chain, delivered bottom first; each
		// message of the other half refers from the bottom of the
		// chain back to its top, so step 1.A asks each time whether
		// the bottom descends from the top.
		"crafted": func(i int) (int, string) {
			switch {
			case i == 0:
				return n / 2, ""
			case i < n/2:
				return n/2 - i, id(i - 1)
			}
			return i + 1, id(n/2-1) + " " + id(0)
		},
	}
	for name, shape := range shapes {
		msgs := make([]Msg, n)
		for i := range msgs {
			seq, refs := shape(i)
			msgs[i] = Msg{Seq: uint32(seq), MessageID: id(i), References: refs}
		}
		// A walk up the tree would cost n*n/4 = 2^26 steps for the
		// crafted shape; the limit is 8 n log2(n), under 2^21.
		if steps, limit := linkSteps(msgs), 8*n*14; steps > limit {
			t.Errorf("%s: %d steps for %d messages, want at most %d", name, steps, n, limit)
		}
		if name == "chain" || name == "reversed chain" {
			if got := len(ThreadReferences(msgs)); got != 1 {
				t.Errorf("%s: %d threads, want 1", name, got)
			}
		}
	}
}
