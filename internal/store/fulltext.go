package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/yizhan-mail/yizhan/internal/textsearch"
)

// TextEntry is the searchable text of one message.
type TextEntry struct {
	MessageID int64
	MailboxID int64  // with UID, what MessageID named when it was read
	UID       uint32 // (an id freed by an expunge is given out again)
	Headers   string
	Body      string
}

// IndexKick is signalled when messages wait to be indexed.
func (s *Store) IndexKick() <-chan struct{} { return s.indexKick }

func (s *Store) kickIndexer() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}

// PendingText returns up to limit messages waiting for the full-text
// index, oldest first; mailboxID > 0 restricts them to one mailbox.
//
// Every SEARCH BODY/TEXT asks first, so the usual answer (nothing waits)
// must be cheap: the queue is counted before anything is joined, and a
// short queue drives the join (a mailbox of 100,000 messages would
// otherwise be scanned to find none of them queued: 12 ms per search).
func (s *Store) PendingText(ctx context.Context, mailboxID int64, limit int) ([]Message, error) {
	var queued int
	if err := s.queryRow(ctx, `SELECT count(*) FROM fts_pending`).Scan(&queued); err != nil {
		return nil, fmt.Errorf("store: pending text: %w", err)
	}
	if queued == 0 {
		return nil, nil
	}
	const cols = `m.id, m.uid, m.modseq, m.size, m.flags, m.internal_date, m.tracking_id, m.message_id, m.blob_id, length(m.prefix), m.mime, m.mailbox_id`
	q := `SELECT ` + cols + ` FROM fts_pending p JOIN messages m ON m.id = p.message_id ORDER BY p.message_id LIMIT ?`
	args := []any{limit}
	if mailboxID > 0 {
		// CROSS JOIN makes SQLite loop over the queue outside (it keeps
		// the order of a CROSS JOIN); a long queue is better read
		// through the mailbox's messages.
		join := `fts_pending p CROSS JOIN messages m`
		if queued > 10000 {
			join = `messages m CROSS JOIN fts_pending p`
		}
		q = `SELECT ` + cols + ` FROM ` + join + ` WHERE m.id = p.message_id AND m.mailbox_id = ? ORDER BY p.message_id LIMIT ?`
		args = []any{mailboxID, limit}
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending text: %w", err)
	}
	defer rows.Close()
	var mb int64
	return scanMessagesAlso(rows, 0, &mb)
}

// SaveText adds entries to the full-text index, replacing earlier ones,
// and takes them off the queue. Messages expunged meanwhile are skipped.
func (s *Store) SaveText(ctx context.Context, entries []TextEntry) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		for _, e := range entries {
			// Skipped when the id names another message by now: that
			// one stays queued and gets its own text.
			var same bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE id = ? AND mailbox_id = ? AND uid = ?)`,
				e.MessageID, e.MailboxID, e.UID).Scan(&same); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			if !same {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM fts_pending WHERE message_id = ?`, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			// A message indexed before (migration 6 queues every message
			// again) has its entry replaced.
			if _, err := tx.ExecContext(ctx, `DELETE FROM message_text WHERE rowid = ?`, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO message_text (rowid, headers, body)
				SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)`,
				e.MessageID, e.Headers, e.Body, e.MessageID); err != nil {
				return fmt.Errorf("store: save text: %w", err)
			}
		}
		return nil
	})
}

// Limits of a text search (SearchText). FTS5 answers a phrase by walking,
// in every message that holds all its trigrams, the positions of each of
// them, once per time it is in the phrase. Where the needle's trigrams
// are all different, that is about one pass over the message however it
// was made; a trigram the needle repeats is walked again for each repeat:
// SEARCH BODY with 60,000 times one character, over messages of that
// character, walked 256 K positions 60,000 times per message (minutes of
// CPU). Measured here per 256 KB message made to match: 7–9 ms for
// distinct trigrams, 17–25 ms with each twice, 40–70 ms with one six
// times; reading the message and searching it in Go, 2 ms. Trigrams
// looked up without positions (AND) cost only their lists of messages.
const (
	// maxPhraseRunes: a needle up to this long whose trigrams are all
	// different is answered exactly by the index, as a phrase: almost
	// every word and short phrase people search for. A phrase's
	// trigrams are looked up one by one, so their number is bounded too.
	maxPhraseRunes = 32
	// maxFilterTrigrams: any other needle is looked up as up to this
	// many of its distinct trigrams, without positions, and the
	// messages holding them all are read and searched (internal/
	// textsearch, linear in the text).
	maxFilterTrigrams = 8
)

// TextWork is what text searches have done since the store was opened:
// figures until the server has metrics (issue 14), and what tests hold
// against their bounds.
type TextWork struct {
	MaxPhraseTerms  int64 // most trigrams in one phrase query
	MaxPhraseRepeat int64 // most times a phrase query held one trigram
	Checked         int64 // messages read and searched by textsearch
	Read            int64 // characters they read
}

// textWork counts TextWork.
type textWork struct {
	maxPhraseTerms, maxPhraseRepeat, checked, read atomic.Int64
}

// TextWork returns what text searches have done.
func (s *Store) TextWork() TextWork {
	return TextWork{
		MaxPhraseTerms:  s.textWork.maxPhraseTerms.Load(),
		MaxPhraseRepeat: s.textWork.maxPhraseRepeat.Load(),
		Checked:         s.textWork.checked.Load(),
		Read:            s.textWork.read.Load(),
	}
}

// trigramRepeat is the most times one trigram is in runes (folded as
// the index folds case).
func trigramRepeat(runes []rune) int {
	seen := map[[3]rune]int{}
	most := 0
	for i := 0; i+3 <= len(runes); i++ {
		var t [3]rune
		for k := range t {
			t[k] = unicode.ToLower(runes[i+k])
		}
		seen[t]++
		most = max(most, seen[t])
	}
	return most
}

// SearchText returns the UIDs of a mailbox's indexed messages whose body
// (field "body") or headers and body (field "text") contain needle,
// case-insensitively (IMAP SEARCH BODY/TEXT are substring searches, RFC
// 9051 §6.4.4).
//
// The work is bounded by the text of the mailbox's messages, whatever
// the needle and the text: needles of one or two characters are looked
// for with LIKE in the mailbox's own messages; the trigram index answers
// a needle of distinct trigrams up to maxPhraseRunes long as a phrase;
// other needles are looked up as some of their trigrams and the messages
// found are searched (see the limits above). The index answers with
// message ids, concatenated inside SQLite into one row (iterating tens of
// thousands of rows through database/sql cost ten times the search
// itself), and the mailbox's in-memory index turns them into UIDs.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, field, needle string) (map[uint32]bool, error) {
	ix, err := s.index(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	runes := []rune(needle)
	repeat := trigramRepeat(runes)
	if len(runes) > maxPhraseRunes || repeat > 1 {
		return s.searchTextChecked(ctx, ix, field, runes)
	}
	var q, arg string
	if len(runes) >= 3 {
		// The trigram tokenizer answers a quoted phrase as a substring
		// match through the index. TEXT names no column: the table has
		// just the two, and a column filter costs a walk of positions.
		arg = ftsString(needle)
		if field != "text" {
			arg = "body:" + arg
		}
		q = `SELECT COALESCE(group_concat(rowid), '') FROM message_text WHERE message_text MATCH ?`
		raise(&s.textWork.maxPhraseTerms, int64(len(runes)-2))
		raise(&s.textWork.maxPhraseRepeat, int64(repeat))
	} else {
		// Too short for a trigram: LIKE over the text of the mailbox's
		// messages (not of every account's).
		arg = "%" + escapeLike(needle) + "%"
		cond := `t.body LIKE ?2 ESCAPE '\'`
		if field == "text" {
			cond = `(t.body LIKE ?2 ESCAPE '\' OR t.headers LIKE ?2 ESCAPE '\')`
		}
		q = `SELECT COALESCE(group_concat(m.id), '') FROM messages m JOIN message_text t ON t.rowid = m.id WHERE m.mailbox_id = ?1 AND ` + cond
		var list string
		if err := s.queryRow(ctx, q, mailboxID, arg).Scan(&list); err != nil {
			return nil, fmt.Errorf("store: search text: %w", err)
		}
		ids, err := parseIDs(list)
		if err != nil {
			return nil, err
		}
		return ix.uidsOfIDs(ids), nil
	}
	var list string
	if err := s.queryRow(ctx, q, arg).Scan(&list); err != nil {
		return nil, fmt.Errorf("store: search text: %w", err)
	}
	ids, err := parseIDs(list)
	if err != nil {
		return nil, err
	}
	return ix.uidsOfIDs(ids), nil
}

// searchTextChecked answers a needle the index cannot take as a phrase:
// the index names the messages holding some of its trigrams (no positions:
// cheap however often they occur), and those of the mailbox are read and
// searched.
func (s *Store) searchTextChecked(ctx context.Context, ix *mbIndex, field string, runes []rune) (map[uint32]bool, error) {
	var terms []string
	seen := map[string]bool{}
	// Trigrams spread over the needle, its first and last among them.
	picks := min(len(runes)-2, 4*maxFilterTrigrams)
	for i := range picks {
		at := 0
		if picks > 1 {
			at = i * (len(runes) - 3) / (picks - 1)
		}
		tri := [3]rune{}
		for k := range tri {
			tri[k] = unicode.ToLower(runes[at+k]) // the index folds case too
		}
		t := string(tri[:])
		if seen[t] {
			continue
		}
		seen[t] = true
		terms = append(terms, ftsString(t))
		if len(terms) == maxFilterTrigrams {
			break
		}
	}
	var list string
	if err := s.queryRow(ctx, `SELECT COALESCE(group_concat(rowid), '') FROM message_text WHERE message_text MATCH ?`,
		strings.Join(terms, " AND ")).Scan(&list); err != nil {
		return nil, fmt.Errorf("store: search text: %w", err)
	}
	ids, err := parseIDs(list)
	if err != nil {
		return nil, err
	}
	n := textsearch.New(string(runes))
	out := map[uint32]bool{}
	for _, c := range ix.ofIDs(ids) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var headers, body string
		err := s.queryRow(ctx, `SELECT headers, body FROM message_text WHERE rowid = ?`, c.ID).Scan(&headers, &body)
		if errors.Is(err, sql.ErrNoRows) {
			continue // expunged meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("store: search text: %w", err)
		}
		found, read := n.In(body)
		if !found && field == "text" {
			var more int
			found, more = n.In(headers)
			read += more
		}
		s.textWork.checked.Add(1)
		s.textWork.read.Add(int64(read))
		if found {
			out[c.UID] = true
		}
	}
	return out, nil
}

// raise sets c to v if v is more.
func raise(c *atomic.Int64, v int64) {
	for {
		cur := c.Load()
		if v <= cur || c.CompareAndSwap(cur, v) {
			return
		}
	}
}

// ftsString quotes s as an FTS5 string (a phrase for the trigram
// tokenizer).
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// parseIDs reads group_concat's list of row ids.
func parseIDs(list string) ([]int64, error) {
	ids := make([]int64, 0, strings.Count(list, ",")+1)
	for f := range strings.SplitSeq(list, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: search text: bad rowid %q", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
