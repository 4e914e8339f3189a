package imapsort

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// syntheticMailbox makes n messages as a busy mailing list produces them:
// threads of 1 to 60 messages over a few months, each reply answering a
// random earlier message of its thread with References truncated to the
// last 10 IDs, arriving a little out of order; some messages lack a
// Message-ID or have only In-Reply-To, some replies' parents were never
// received, and subjects carry "Re:", list tags and encoded words.
func syntheticMailbox(n int) []Msg {
	rng := rand.New(rand.NewPCG(5256, 5957))
	msgs := make([]Msg, 0, n)
	type sent struct {
		id   string
		refs []string
	}
	names := []string{"alice", "Bob", "carol", "DAVE", "erin", "frank", "grace", "heidi"}
	for thread := 0; len(msgs) < n; thread++ {
		size := 1 + rng.IntN(60)
		start := rng.IntN(90 * 24 * 60)
		subject := fmt.Sprintf("topic %d", thread)
		if thread%7 == 0 {
			subject = "=?UTF-8?B?5Lit5paH?= " + subject
		}
		var chain []sent
		for i := 0; i < size && len(msgs) < n; i++ {
			id := fmt.Sprintf("%d.%d@lists.example.test", thread, i)
			var refs []string
			subj := "[list] " + subject
			if i > 0 {
				parent := chain[rng.IntN(len(chain))]
				refs = append(append(refs, parent.refs...), parent.id)
				if len(refs) > 10 {
					refs = refs[len(refs)-10:]
				}
				subj = "Re: " + subj
			} else if rng.IntN(20) == 0 {
				refs = []string{fmt.Sprintf("lost.%d@elsewhere.test", thread)}
			}
			chain = append(chain, sent{id, refs})
			from := names[rng.IntN(len(names))]
			m := Msg{
				Arrival: minute(start + i*30 + rng.IntN(20)),
				Size:    int64(1000 + rng.IntN(50000)),
				Subject: subj,
				From:    fmt.Sprintf("%s <%s@example.test>", strings.ToUpper(from[:1])+from[1:], from),
				To:      "list@lists.example.test",
			}
			if rng.IntN(50) != 0 {
				m.Date = minute(start + i*30)
			}
			if rng.IntN(100) != 0 {
				m.MessageID = "<" + id + ">"
			}
			switch {
			case len(refs) == 0:
			case rng.IntN(10) == 0:
				m.InReplyTo = "<" + refs[len(refs)-1] + ">"
			default:
				m.References = "<" + strings.Join(refs, "> <") + ">"
			}
			msgs = append(msgs, m)
		}
	}
	// Sequence numbers follow arrival, give or take the shuffling of a
	// real delivery.
	rng.Shuffle(len(msgs), func(i, j int) {
		if i-j < 50 && j-i < 50 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	})
	for i := range msgs {
		msgs[i].Seq, msgs[i].UID = uint32(i+1), uint32(i+1000)
	}
	return msgs
}

func BenchmarkThread(b *testing.B) {
	msgs := syntheticMailbox(100000)
	for b.Loop() {
		roots := ThreadReferences(msgs)
		if len(roots) == 0 {
			b.Fatal("no threads")
		}
	}
}

func BenchmarkThreadAndRender(b *testing.B) {
	msgs := syntheticMailbox(100000)
	var buf []byte
	for b.Loop() {
		buf = AppendThreads(buf[:0], ThreadReferences(msgs), true)
	}
}

func BenchmarkSort(b *testing.B) {
	msgs := syntheticMailbox(100000)
	for _, crit := range [][]Criterion{
		{{Key: "ARRIVAL"}},
		{{Key: "SUBJECT"}, {Key: "DATE", Reverse: true}},
		{{Key: "FROM"}, {Key: "SIZE"}},
		{{Key: "DISPLAYFROM"}},
	} {
		name := ""
		for _, c := range crit {
			name += c.Key
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if out := Sort(msgs, crit); len(out) != len(msgs) {
					b.Fatal("lost messages")
				}
			}
		})
	}
}

// The synthetic mailbox must thread as built: check its invariants and
// that the REFERENCES algorithm finds the threads (fewer threads than
// messages, none lost).
func TestSyntheticMailbox(t *testing.T) {
	msgs := syntheticMailbox(10000)
	roots := ThreadReferences(msgs)
	checkThreads(t, msgs, roots)
	if len(roots) > len(msgs)/10 {
		t.Errorf("%d threads for %d messages", len(roots), len(msgs))
	}
	checkOrderedSubject(t, msgs, ThreadOrderedSubject(msgs))
}

// The functions keep no state between calls: sessions may sort and thread
// the same messages at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	msgs := syntheticMailbox(2000)
	crit := []Criterion{{Key: "SUBJECT"}, {Key: "FROM", Reverse: true}}
	wantThreads := render(ThreadReferences(msgs))
	wantSort := seqs(Sort(msgs, crit))
	done := make(chan error)
	for range 4 {
		go func() {
			var err error
			if got := render(ThreadReferences(msgs)); got != wantThreads {
				err = fmt.Errorf("threads differ")
			} else if got := seqs(Sort(msgs, crit)); !slices.Equal(got, wantSort) {
				err = fmt.Errorf("sort differs")
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
