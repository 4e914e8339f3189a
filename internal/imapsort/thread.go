package imapsort

import (
	"cmp"
	"slices"
	"time"
)

// Node is one message of a thread tree built by ThreadReferences or
// ThreadOrderedSubject.
type Node struct {
	Msg      *Msg    // the message, pointing into the slice given to the thread function; nil for a dummy
	Children []*Node // the replies, oldest sent date first; nil for a leaf
}

// ThreadReferences threads msgs with the REFERENCES algorithm of RFC 5256
// §3 and returns the threads in sent-date order. Node.Msg points into
// msgs, which is not modified.
//
// Message IDs are the "<...>" tokens of the headers, compared
// case-sensitively. A message without a Message-ID, or whose Message-ID an
// earlier (lower sequence number) message already has, gets a unique
// synthetic ID that nothing can refer to.
//
// The result has dummies only at the top level, each with at least two
// children, none of them a dummy: a dummy stands for a common parent that
// is not among msgs (step 3) or groups threads with the same base subject
// (step 5).
//
// The work is O((n + r) log n) for n messages with r references in all,
// however the references are crafted: linking is linear but for the loop
// check, which uses a link-cut tree; pruning and subject grouping are
// linear; sorting is O(n log n).
func ThreadReferences(msgs []Msg) []*Node {
	if len(msgs) == 0 {
		return nil
	}
	t := threader{ids: make(map[string]*tnode, len(msgs))}
	roots := t.link(msgs)
	roots = pruneDummies(roots)
	sortTopLevel(roots)
	roots = groupBySubject(roots)
	order := sortAll(roots)
	return export(roots, order)
}

// tnode is a message or a dummy while THREAD=REFERENCES runs.
type tnode struct {
	msg *Msg // nil for a dummy

	// Step 1 keeps children in a doubly linked list, so that moving a
	// message to its correct parent (step 1.B) costs O(1).
	parent, first, last, prev, next *tnode

	// Step 1's loop check: splay-tree links of the link-cut tree that
	// mirrors parent (see findRoot).
	sl, sr, sp *tnode

	// Steps 3 to 6 work on plain slices.
	kids []*tnode

	// The sort key of steps 4 and 6: the sent date (RFC 5256 §2.2), then
	// the sequence number, then the position in the input, so that the
	// order is total. A dummy takes the key of its first child.
	date time.Time
	seq  uint32
	pos  int

	// Step 5: CompareKey of the base subject, and whether the message is
	// a reply or forward; loaded on first use.
	subjLoaded bool
	subj       string
	reply      bool

	replaced *tnode // step 5.C: the new dummy that took this thread's place
	out      int    // index in the exported []Node
}

// threader holds the state of step 1.
type threader struct {
	ids   map[string]*tnode // message ID to message or dummy
	all   []*tnode          // every node, in creation order
	steps int               // loop-check work done, for the complexity tests
}

// link runs steps 1 and 2 of RFC 5256 §3 REFERENCES: it links messages to
// their parents and returns the nodes without a parent (the children of
// the root), with each node's children moved to its kids slice.
func (t *threader) link(msgs []Msg) []*tnode {
	// Messages are taken in sequence order: "the first (lowest sequence
	// number) message" keeps a duplicated Message-ID.
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(msgs[a].Seq, msgs[b].Seq); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	nodes := make([]tnode, len(msgs))
	var refs []string
	for _, i := range order {
		m := &msgs[i]
		n := &nodes[i]
		if id := firstMsgID(m.MessageID); id != "" {
			switch d, ok := t.ids[id]; {
			case !ok:
				t.ids[id] = n
				t.all = append(t.all, n)
			case d.msg == nil:
				// A dummy made for an earlier message's reference: this
				// message takes its place in the tree.
				n = d
			default:
				// Duplicate: n gets a synthetic ID, which here means it
				// is in no table, so no reference can reach it.
				t.all = append(t.all, n)
			}
		} else {
			t.all = append(t.all, n)
		}
		n.msg, n.date, n.seq, n.pos = m, m.SentDate(), m.Seq, i

		// The references are the References IDs or, if there are none,
		// the first In-Reply-To ID.
		refs = appendMsgIDs(refs[:0], m.References)
		if len(refs) == 0 {
			refs = appendMsgIDs(refs, m.InReplyTo)
			refs = refs[:min(len(refs), 1)]
		}

		// (1.A) Link each reference to the next as parent and child,
		// making dummies for IDs not seen yet, keeping links that exist
		// (the References header may be truncated) and never making a
		// loop.
		for j := 0; j+1 < len(refs); j++ {
			a, b := t.get(refs[j]), t.get(refs[j+1])
			if b.parent == nil && !t.within(a, b) {
				t.attach(a, b)
			}
		}

		// (1.B) The last reference is the message's parent, replacing a
		// parent guessed from another message's truncated References;
		// with no references the message has no parent. Again no loops.
		var p *tnode
		if len(refs) > 0 {
			p = t.get(refs[len(refs)-1])
		}
		if n.parent != p {
			if n.parent != nil {
				t.detach(n)
			}
			if p != nil && !t.within(p, n) {
				t.attach(p, n)
			}
		}
	}

	// (2) The nodes without a parent become the children of the root.
	// Move every child list to a slice, all carved out of one array.
	var roots []*tnode
	back := make([]*tnode, 0, len(t.all))
	for _, n := range t.all {
		if n.parent == nil {
			roots = append(roots, n)
		}
		start := len(back)
		for c := n.first; c != nil; c = c.next {
			back = append(back, c)
		}
		if len(back) > start {
			n.kids = back[start:len(back):len(back)]
		}
	}
	return roots
}

// get returns the node with the message ID id, making a dummy if no
// message or dummy has it yet.
func (t *threader) get(id string) *tnode {
	if n := t.ids[id]; n != nil {
		return n
	}
	n := &tnode{}
	t.ids[id] = n
	t.all = append(t.all, n)
	return n
}

// within reports whether a is b or one of b's descendants, that is,
// whether making a the parent of b would make a loop. b must be a root,
// which it is in both places step 1 asks (1.A only links a child that has
// no parent, 1.B detaches the message first).
//
// A message without replies has no descendants, which settles the usual
// case at once. Otherwise a is b's descendant exactly when b is the root of
// a's tree, which the link-cut tree finds in O(log n) amortized time. A
// plain walk up from a would do too, but a crafted mailbox (a long chain
// and many messages referring from its bottom back to its top) would make
// every check walk the whole chain.
func (t *threader) within(a, b *tnode) bool {
	if a == b {
		return true
	}
	if b.first == nil {
		return false
	}
	return t.findRoot(a) == b
}

// attach makes p the parent of c, which has none, as p's last child.
func (t *threader) attach(p, c *tnode) {
	c.parent, c.prev, c.next = p, p.last, nil
	if p.last != nil {
		p.last.next = c
	} else {
		p.first = c
	}
	p.last = c

	// Link-cut tree: c is the root of its tree, so after access it is
	// alone in its splay tree, and p becomes its path-parent.
	t.access(c)
	c.sp = p
}

// detach breaks the link between c and its parent.
func (t *threader) detach(c *tnode) {
	p := c.parent
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		p.first = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		p.last = c.prev
	}
	c.parent, c.prev, c.next = nil, nil, nil

	// Link-cut tree: after access, c's left splay subtree is the path of
	// its ancestors; cut it off.
	t.access(c)
	c.sl.sp = nil
	c.sl = nil
}

// The link-cut tree (Sleator and Tarjan) mirrors the parent links of step
// 1 so that findRoot costs O(log n) amortized however deep the threads
// are. The forest is split into "preferred paths"; each path is a splay
// tree (sl, sr, sp) ordered by depth, and the splay root's sp points to the
// tree node above the path (its "path-parent").

// isSplayRoot reports whether x is the root of its splay tree.
func isSplayRoot(x *tnode) bool {
	return x.sp == nil || (x.sp.sl != x && x.sp.sr != x)
}

// rotate moves x above its splay parent.
func (t *threader) rotate(x *tnode) {
	t.steps++
	p := x.sp
	g := p.sp
	if !isSplayRoot(p) {
		if g.sl == p {
			g.sl = x
		} else {
			g.sr = x
		}
	}
	x.sp = g
	if p.sl == x {
		p.sl = x.sr
		if x.sr != nil {
			x.sr.sp = p
		}
		x.sr = p
	} else {
		p.sr = x.sl
		if x.sl != nil {
			x.sl.sp = p
		}
		x.sl = p
	}
	p.sp = x
}

// splay makes x the root of its splay tree.
func (t *threader) splay(x *tnode) {
	for !isSplayRoot(x) {
		p := x.sp
		if !isSplayRoot(p) {
			if (p.sp.sl == p) == (p.sl == x) {
				t.rotate(p) // zig-zig
			} else {
				t.rotate(x) // zig-zag
			}
		}
		t.rotate(x)
	}
}

// access makes the path from x's tree root to x preferred, with x at the
// root of its splay tree and nothing below x on it.
func (t *threader) access(x *tnode) {
	var last *tnode
	for y := x; y != nil; y = y.sp {
		t.steps++
		t.splay(y)
		y.sr = last
		last = y
	}
	t.splay(x)
}

// findRoot returns the root of the tree x is in.
func (t *threader) findRoot(x *tnode) *tnode {
	t.access(x)
	r := x
	for r.sl != nil {
		t.steps++
		r = r.sl
	}
	t.splay(r) // keeps the next search short (amortization)
	return r
}

// pruneDummies is step 3 of RFC 5256 §3 REFERENCES: dummies without
// children go; a dummy's children are promoted to the dummy's level, except
// that a dummy at the top level stays when it has more than one child.
// Nodes are handled children first, so every remaining dummy is at the top
// level and has only real messages as children.
func pruneDummies(roots []*tnode) []*tnode {
	order := preorder(roots, nil)
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		n.kids = spliceDummies(n.kids, false)
	}
	return spliceDummies(roots, true)
}

// spliceDummies returns list with its dummies replaced by their children
// (none, for a childless dummy); at the top level a dummy with two or more
// children is kept. list is not modified.
func spliceDummies(list []*tnode, top bool) []*tnode {
	var out []*tnode
	changed := false
	for i, n := range list {
		if n.msg != nil || (top && len(n.kids) > 1) {
			if changed {
				out = append(out, n)
			}
			continue
		}
		if !changed {
			out = make([]*tnode, i, len(list)+len(n.kids))
			copy(out, list[:i])
			changed = true
		}
		out = append(out, n.kids...)
	}
	if !changed {
		return list
	}
	return out
}

// sortTopLevel is step 4 of RFC 5256 §3 REFERENCES: the children of the
// root are sorted by sent date, a dummy by the date of its first child
// once its children are sorted.
func sortTopLevel(roots []*tnode) {
	for _, r := range roots {
		if r.msg == nil {
			sortNodes(r.kids)
			r.takeFirstKey()
		}
	}
	sortNodes(roots)
}

// groupBySubject is step 5 of RFC 5256 §3 REFERENCES: threads whose first
// messages have the same base subject are gathered under one thread.
func groupBySubject(roots []*tnode) []*tnode {
	// (5.A, 5.B) One thread per base subject: the first one, except that a
	// dummy beats a message, and a message that is not a reply or forward
	// beats one that is.
	table := make(map[string]*tnode)
	for _, r := range roots {
		subj, _ := r.subject()
		if subj == "" {
			continue
		}
		cur, ok := table[subj]
		switch {
		case !ok:
			table[subj] = r
		case cur.msg != nil && r.msg == nil:
			table[subj] = r
		case cur.msg != nil && cur.reply && !r.reply:
			table[subj] = r
		}
	}

	// (5.C) Merge every other thread with that subject into the table's.
	out := roots[:0] // filtering in place: out never overtakes the loop
	for _, r := range roots {
		subj, reply := r.subject()
		tab := table[subj]
		if subj == "" || tab == r || r.replaced != nil {
			out = append(out, r)
			continue
		}
		switch {
		case tab.msg == nil && r.msg == nil:
			// Both dummies: the children of both become siblings.
			tab.kids = append(tab.kids, r.kids...)
		case tab.msg == nil:
			tab.kids = append(tab.kids, r)
		case r.msg != nil && reply && !tab.reply:
			tab.kids = append(tab.kids, r)
		default:
			// A new dummy takes the table thread's place and holds
			// both.
			d := &tnode{kids: []*tnode{tab}}
			if r.msg == nil {
				d.kids = append(d.kids, r.kids...)
			} else {
				d.kids = append(d.kids, r)
			}
			tab.replaced = d
			table[subj] = d
		}
	}
	for i, r := range out {
		if r.replaced != nil {
			out[i] = r.replaced
		}
	}
	return out
}

// subject returns the CompareKey of the base subject that step 5 uses for
// the thread headed by n (the subject of n, or of its first child if n is
// a dummy) and whether n is a reply or forward (a dummy never is).
func (n *tnode) subject() (string, bool) {
	if n.msg == nil {
		if len(n.kids) == 0 {
			return "", false
		}
		s, _ := n.kids[0].subject()
		return s, false
	}
	if !n.subjLoaded {
		base, reply := baseSubject(n.msg.Subject)
		n.subj, n.reply, n.subjLoaded = CompareKey(base), reply, true
	}
	return n.subj, n.reply
}

// sortAll is step 6 of RFC 5256 §3 REFERENCES: every set of siblings is
// sorted by sent date, children before their parents, so that a dummy is
// placed by the date of its (new) first child. It returns the nodes in
// preorder.
func sortAll(roots []*tnode) []*tnode {
	order := preorder(roots, nil)
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if len(n.kids) > 1 {
			sortNodes(n.kids)
		}
		if n.msg == nil {
			n.takeFirstKey()
		}
	}
	sortNodes(roots)
	return order
}

// takeFirstKey gives dummy d the sort key of its first child.
func (d *tnode) takeFirstKey() {
	if len(d.kids) > 0 {
		k := d.kids[0]
		d.date, d.seq, d.pos = k.date, k.seq, k.pos
	}
}

func sortNodes(list []*tnode) {
	slices.SortFunc(list, func(a, b *tnode) int {
		if c := a.date.Compare(b.date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
}

// preorder appends to buf the nodes of the forest, each before its
// descendants, without recursion (a reply chain can be as deep as the
// mailbox is large).
func preorder(roots []*tnode, buf []*tnode) []*tnode {
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		buf = append(buf, n)
		stack = append(stack, n.kids...)
	}
	return buf
}

// export turns the forest into Nodes; order holds its nodes in preorder.
func export(roots, order []*tnode) []*Node {
	nodes := make([]Node, len(order))
	for i, n := range order {
		n.out = i
		nodes[i].Msg = n.msg
	}
	// Every node but the roots is exactly one node's child.
	back := make([]*Node, len(order)-len(roots))
	for i, n := range order {
		if len(n.kids) == 0 {
			continue
		}
		kids := back[:len(n.kids):len(n.kids)]
		back = back[len(n.kids):]
		for j, k := range n.kids {
			kids[j] = &nodes[k.out]
		}
		nodes[i].Children = kids
	}
	out := make([]*Node, len(roots))
	for i, r := range roots {
		out[i] = &nodes[r.out]
	}
	return out
}

// ThreadOrderedSubject threads msgs with the ORDEREDSUBJECT algorithm of
// RFC 5256 §3: messages with the same base subject form one thread, in
// sent-date order; the first is the thread's root and all others are its
// children (there are no deeper levels); threads are ordered by the sent
// date of their first message. Messages with an empty base subject form
// one thread like any other subject. Node.Msg points into msgs, which is
// not modified.
func ThreadOrderedSubject(msgs []Msg) []*Node {
	if len(msgs) == 0 {
		return nil
	}
	type item struct {
		subj string
		date time.Time
		seq  uint32
		pos  int
	}
	items := make([]item, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		items[i] = item{CompareKey(BaseSubject(m.Subject)), m.SentDate(), m.Seq, i}
	}
	byDate := func(a, b item) int {
		if c := a.date.Compare(b.date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	}
	// Sorted by base subject, then by sent date.
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.subj, b.subj); c != 0 {
			return c
		}
		return byDate(a, b)
	})

	nodes := make([]Node, len(msgs))
	back := make([]*Node, len(msgs))
	var heads []int // index in items of each thread's first message
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].subj == items[i].subj {
			j++
		}
		heads = append(heads, i)
		nodes[i].Msg = &msgs[items[i].pos]
		if j > i+1 {
			kids := back[i+1 : j : j]
			for k := i + 1; k < j; k++ {
				nodes[k].Msg = &msgs[items[k].pos]
				kids[k-i-1] = &nodes[k]
			}
			nodes[i].Children = kids
		}
		i = j
	}
	slices.SortFunc(heads, func(a, b int) int { return byDate(items[a], items[b]) })
	out := make([]*Node, len(heads))
	for i, h := range heads {
		out[i] = &nodes[h]
	}
	return out
}
