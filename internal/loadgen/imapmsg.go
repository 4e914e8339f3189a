package loadgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"time"
)

// mailVocabulary is what subjects and bodies are made of: ordinary office
// words, none containing the default search word "invoice", so that word
// is found exactly where mailGen put it.
var mailVocabulary = strings.Fields(`meeting report quarterly budget schedule project review update
	shipment order payment receipt contract draft agenda travel hotel lunch deadline proposal
	customer support ticket release server backup holiday team weekly summary question answer
	minutes office printer network account password reminder training survey feedback launch`)

// cjkPhrases are Chinese and Japanese phrases, so that the mailbox holds
// UTF-8 text as real mailboxes here do (感謝信 is "letter of thanks").
var cjkPhrases = []string{
	"感謝信", "会議の議事録", "月次報告書", "请查收附件", "謝謝您的幫助", "お疲れ様です",
	"来週の予定について", "项目进度更新", "ご確認ください", "年度预算草案",
}

// Shares of generated messages, as one in N.
const (
	wordInSubjectEvery = 7 // the search word is in the Subject
	wordInBodyEvery    = 5 // the search word is in the body
	cjkEvery           = 6 // Subject and some body lines are Chinese/Japanese
)

// mailGen makes the messages a run APPENDs: varied subjects and bodies so
// that SEARCH SUBJECT and SEARCH TEXT have something to find and something
// to skip. Message seq is the same bytes in every run with the same seed
// (the Date and Message-ID aside).
type mailGen struct {
	seed  uint64
	word  string // the search word planted in some messages
	size  int    // target size in bytes, headers included
	to    string // To: address
	runID string // makes Message-IDs unique across runs
}

func newMailGen(seed int64, word string, size int, to string, now time.Time) *mailGen {
	if !strings.Contains(to, "@") {
		to = "loadgen@example.test"
	}
	return &mailGen{seed: uint64(seed), word: word, size: size, to: to, runID: fmt.Sprintf("%x", now.UnixNano())}
}

// build returns message seq, about g.size bytes (never less than its
// headers and one body line), lines no longer than 78 bytes plus CRLF.
func (g *mailGen) build(seq int, now time.Time) []byte { return g.buildSized(seq, g.size, now) }

// buildSized is build with a size of its own.
func (g *mailGen) buildSized(seq, size int, now time.Time) []byte {
	rnd := rand.New(rand.NewPCG(g.seed, uint64(seq)))
	cjk := seq%cjkEvery == cjkEvery-1
	var subj []string
	if cjk {
		subj = []string{cjkPhrases[rnd.IntN(len(cjkPhrases))], cjkPhrases[rnd.IntN(len(cjkPhrases))]}
	} else {
		subj = pickWords(rnd, 2+rnd.IntN(4))
	}
	if g.word != "" && seq%wordInSubjectEvery == 0 {
		subj = append(subj, g.word)
	}
	subj = append(subj, fmt.Sprintf("#%d", seq))

	var m bytes.Buffer
	m.Grow(size + 256)
	fmt.Fprintf(&m, "From: Sender %d <sender%d@loadgen.example.test>\r\n", seq%50, seq%50)
	fmt.Fprintf(&m, "To: <%s>\r\n", g.to)
	writeSubject(&m, subj)
	fmt.Fprintf(&m, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&m, "Message-ID: <%s.%d@loadgen.example.test>\r\n", g.runID, seq)
	m.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")

	wordLine := -1
	if g.word != "" && seq%wordInBodyEvery == 0 {
		wordLine = rnd.IntN(4)
	}
	for line := 0; line == 0 || line <= wordLine || m.Len() < size; line++ {
		rest := size - m.Len() - 2 // room left before the target size
		var l string
		switch {
		case line == wordLine:
			l = "Please see the " + g.word + " attached, " + strings.Join(pickWords(rnd, 3), " ")
		case cjk && line%3 == 1 && rest >= 64:
			l = cjkPhrases[rnd.IntN(len(cjkPhrases))] + "。" + cjkPhrases[rnd.IntN(len(cjkPhrases))] + "。"
		default:
			// ASCII only, so it can be cut anywhere to fit.
			l = strings.Join(pickWords(rnd, 6+rnd.IntN(6)), " ")
			if len(l) > maxLine {
				l = l[:strings.LastIndexByte(l[:maxLine+1], ' ')]
			}
			if line > 0 && rest < len(l) {
				l = strings.TrimRight(l[:max(rest, 1)], " ")
			}
		}
		m.WriteString(l)
		m.WriteString("\r\n")
	}
	return m.Bytes()
}

// writeSubject writes a Subject field of the words, folded (RFC 5322
// §2.2.3) to keep lines within 78 characters. Non-ASCII words become RFC
// 2047 encoded-words, one each: 8-bit headers need RFC 6532, which not
// every server takes in APPEND. (A decoder drops the space between two
// adjacent encoded-words, RFC 2047 §6.2: as CJK text is written.)
func writeSubject(m *bytes.Buffer, words []string) {
	line := len("Subject:")
	m.WriteString("Subject:")
	for _, w := range words {
		w = mime.BEncoding.Encode("utf-8", w)
		if line+1+len(w) > maxLine {
			m.WriteString("\r\n")
			line = 0
		}
		m.WriteByte(' ')
		m.WriteString(w)
		line += 1 + len(w)
	}
	m.WriteString("\r\n")
}

func pickWords(rnd *rand.Rand, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = mailVocabulary[rnd.IntN(len(mailVocabulary))]
	}
	return w
}
