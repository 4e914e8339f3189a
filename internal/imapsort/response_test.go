package imapsort

import (
	"fmt"
	"strconv"
	"testing"
)

// pnode is a thread tree parsed back from THREAD response data.
type pnode struct {
	num  uint32 // 0 for a dummy
	kids []*pnode
}

// parseThreads parses THREAD response data strictly by the grammar of RFC
// 5256 §4:
//
//	thread-list    = "(" (thread-members / thread-nested) ")"
//	thread-members = nz-number *(SP nz-number) [SP thread-nested]
//	thread-nested  = 2*thread-list
//
// A thread-list made of nested lists only is returned as a dummy.
func parseThreads(s string) ([]*pnode, error) {
	p := &threadParser{s: s}
	var roots []*pnode
	for p.i < len(s) {
		n, err := p.list()
		if err != nil {
			return nil, err
		}
		roots = append(roots, n)
	}
	return roots, nil
}

type threadParser struct {
	s string
	i int
}

func (p *threadParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at %d of %q: %s", p.i, p.s, fmt.Sprintf(format, args...))
}

func (p *threadParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *threadParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf("want %q", c)
	}
	p.i++
	return nil
}

func (p *threadParser) list() (*pnode, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	var top *pnode
	if p.peek() == '(' {
		kids, err := p.nested()
		if err != nil {
			return nil, err
		}
		top = &pnode{kids: kids}
	} else {
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		top = &pnode{num: n}
		last := top
		for p.peek() == ' ' {
			p.i++
			if p.peek() == '(' {
				kids, err := p.nested()
				if err != nil {
					return nil, err
				}
				last.kids = kids
				break
			}
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			kid := &pnode{num: n}
			last.kids = []*pnode{kid}
			last = kid
		}
	}
	return top, p.expect(')')
}

func (p *threadParser) nested() ([]*pnode, error) {
	var kids []*pnode
	for p.peek() == '(' {
		k, err := p.list()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) < 2 {
		return nil, p.errorf("thread-nested needs two thread-lists, has %d", len(kids))
	}
	return kids, nil
}

func (p *threadParser) number() (uint32, error) {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	if start == p.i || p.s[start] == '0' {
		return 0, p.errorf("want nz-number")
	}
	n, err := strconv.ParseUint(p.s[start:p.i], 10, 32)
	return uint32(n), err
}

// toNodes turns a parsed tree into Nodes whose messages have sequence
// number num and UID num+1000.
func toNodes(ps []*pnode) []*Node {
	var out []*Node
	for _, p := range ps {
		n := &Node{Children: toNodes(p.kids)}
		if p.num != 0 {
			n.Msg = &Msg{Seq: p.num, UID: p.num + 1000}
		}
		out = append(out, n)
	}
	return out
}

// Examples of THREAD response data from RFC 5256 §4 (the last two are
// the ORDEREDSUBJECT and REFERENCES responses of its example session), and
// a few more shapes.
var rfcThreadExamples = []string{
	"(2)(3 6 (4 23)(44 7 96))",
	"(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)",
	"(166)(167)(168)(169)(172)((170)(179))(171)(173)((174)(175)(176)(178)(181)(180))((177)(183)(182)(188 (184)(189))(185 186)(187))(190)(191)(192)(193)((194)(195 196))(197 198)(199)(200 202)(201)(203)(204)(205 206 207)(208)",
}

var moreThreadShapes = []string{
	"",
	"(1)",
	"((1)(2))",
	"((1 2)(3 (4)(5)))(6)",
	"(1 2 3 4 5 6 7 8 9 10)",
	"(1 (2 (3 (4)(5))(6))(7))",
}

// AppendThreads must write back exactly the shape it is given.
func TestAppendThreadsRoundTrip(t *testing.T) {
	for _, s := range append(rfcThreadExamples, moreThreadShapes...) {
		ps, err := parseThreads(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendThreads(nil, toNodes(ps), false)); got != s {
			t.Errorf("AppendThreads(%q) = %q", s, got)
		}
	}
}

func TestAppendThreadsRFCExample(t *testing.T) {
	// RFC 5256 §4: message 3 with child 6, which has the children 4 (with
	// child 23) and 44 (with child 7, with child 96).
	m := func(n uint32, kids ...*Node) *Node {
		return &Node{Msg: &Msg{Seq: n, UID: 10 * n}, Children: kids}
	}
	roots := []*Node{
		m(2),
		m(3, m(6, m(4, m(23)), m(44, m(7, m(96))))),
	}
	if got, want := string(AppendThreads(nil, roots, false)), "(2)(3 6 (4 23)(44 7 96))"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if got, want := string(AppendThreads([]byte("* THREAD "), roots, true)), "* THREAD (20)(30 60 (40 230)(440 70 960))"; got != want {
		t.Errorf("UIDs: got %q; want %q", got, want)
	}
}

// Hand-built trees may hold dummies anywhere; the output must still be
// valid and lose no message.
func TestAppendThreadsDummies(t *testing.T) {
	m := func(n uint32, kids ...*Node) *Node { return &Node{Msg: &Msg{Seq: n}, Children: kids} }
	d := func(kids ...*Node) *Node { return &Node{Children: kids} }
	cases := []struct {
		roots []*Node
		want  string
	}{
		{nil, ""},
		{[]*Node{d()}, ""},
		{[]*Node{d(d(), d())}, ""},
		{[]*Node{d(m(1))}, "(1)"},
		{[]*Node{d(d(m(1)))}, "(1)"},
		{[]*Node{d(m(3), m(5))}, "((3)(5))"},
		{[]*Node{d(d(m(3), m(5)))}, "((3)(5))"},
		{[]*Node{d(m(3), d(m(5)))}, "((3)(5))"},
		{[]*Node{m(1, d(m(2), m(3)))}, "(1 (2)(3))"},
		{[]*Node{m(1, d(m(2)), m(3))}, "(1 (2)(3))"},
		{[]*Node{m(1, d(), m(2))}, "(1 2)"},
		{[]*Node{m(1, d(m(2), m(3)), m(4))}, "(1 ((2)(3))(4))"},
		{[]*Node{m(1), nil, m(2)}, "(1)(2)"},
	}
	for i, c := range cases {
		got := string(AppendThreads(nil, c.roots, false))
		if got != c.want {
			t.Errorf("case %d: got %q; want %q", i, got, c.want)
		}
		if _, err := parseThreads(got); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestParseThreadsRejects(t *testing.T) {
	// The parser is the judge of the other tests; it must say no.
	for _, s := range []string{"(", "()", "(1", "(0)", "((1))", "(1 (2))", "(1  2)", "(1)x", "(1 2 )"} {
		if _, err := parseThreads(s); err == nil {
			t.Errorf("parseThreads(%q) accepted", s)
		}
	}
}
