package imapsort

import "strconv"

// AppendThreads appends to dst the thread data of a THREAD response (RFC
// 5256 §4, the part after "* THREAD "), such as
//
//	(2)(3 6 (4 23)(44 7 96))
//
// using UIDs when uid is true (UID THREAD) and sequence numbers otherwise.
// Each thread is a parenthesised list: a message followed by its only
// reply continues the list ("3 6"), and a message with several replies is
// followed by one parenthesised sub-thread per reply ("(4 23)(44 7 96)").
//
// A dummy has no number of its own (RFC 5256 §4: thread-list may be made
// of nested thread-lists only), so its children appear as parenthesised
// sub-threads where the dummy is, as in "((3)(5))" for a dummy with the
// messages 3 and 5. A dummy with a single child is replaced by the child,
// and one with no messages below it is left out; with ThreadReferences'
// output neither happens.
func AppendThreads(dst []byte, roots []*Node, uid bool) []byte {
	w := threadWriter{dst: dst, uid: uid}
	for _, it := range flatten(roots) {
		w.list(it)
	}
	return w.dst
}

// threadItem is a node as it is written: a message, or a dummy with the
// (flattened) children that stand in its place.
type threadItem struct {
	node  *Node
	dummy []threadItem // for a dummy: its children, at least two
}

// flatten returns nodes as items, with dummies that would write nothing
// dropped and those with a single child replaced by that child.
func flatten(nodes []*Node) []threadItem {
	items := make([]threadItem, 0, len(nodes))
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if n.Msg != nil {
			items = append(items, threadItem{node: n})
			continue
		}
		switch kids := flatten(n.Children); len(kids) {
		case 0:
		case 1:
			items = append(items, kids[0])
		default:
			items = append(items, threadItem{node: n, dummy: kids})
		}
	}
	return items
}

type threadWriter struct {
	dst []byte
	uid bool
}

// list writes it as a thread-list: "(" thread-members / thread-nested ")".
func (w *threadWriter) list(it threadItem) {
	w.dst = append(w.dst, '(')
	w.members(it)
	w.dst = append(w.dst, ')')
}

// members writes the inside of it's thread-list. A chain of single
// replies is written by the loop, so only branching recurses.
func (w *threadWriter) members(it threadItem) {
	for {
		if it.dummy != nil {
			for _, k := range it.dummy {
				w.list(k)
			}
			return
		}
		m := it.node.Msg
		n := m.Seq
		if w.uid {
			n = m.UID
		}
		w.dst = strconv.AppendUint(w.dst, uint64(n), 10)
		kids := flatten(it.node.Children)
		switch len(kids) {
		case 0:
			return
		case 1:
			w.dst = append(w.dst, ' ')
			it = kids[0]
		default:
			w.dst = append(w.dst, ' ')
			for _, k := range kids {
				w.list(k)
			}
			return
		}
	}
}
