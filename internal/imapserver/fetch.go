package imapserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// fetchPlan is what a FETCH needs from the store.
type fetchPlan struct {
	mime    bool // the parsed structure (ENVELOPE, BODY[STRUCTURE], sections)
	data    bool // the message bytes
	setSeen bool // a non-peek body item: \Seen is set (RFC 9051 §6.4.5)
	modseq  bool
	uid     bool
	flags   bool
}

func planFetch(items []imapparse.FetchItem, uid, readOnly bool) fetchPlan {
	p := fetchPlan{uid: uid}
	for _, it := range items {
		switch it.Name {
		case "ENVELOPE", "BODYSTRUCTURE":
			p.mime = true
		case "BODY":
			p.mime = true
			if it.Section != nil {
				p.data = true
				if !it.Peek && !readOnly {
					p.setSeen = true
				}
			}
		case "BINARY", "BINARY.SIZE":
			p.mime, p.data = true, true
			if it.Name == "BINARY" && !it.Peek && !readOnly {
				p.setSeen = true
			}
		case "RFC822", "RFC822.TEXT":
			p.mime, p.data = true, true
			if !readOnly {
				p.setSeen = true
			}
		case "RFC822.HEADER":
			p.mime, p.data = true, true
		case "MODSEQ":
			p.modseq = true
		case "UID":
			p.uid = true
		case "FLAGS":
			p.flags = true
		}
	}
	return p
}

// fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5) with CHANGEDSINCE
// and VANISHED (RFC 7162 §3.1.4, §3.2.6).
func (s *session) fetch(ctx context.Context, tag string, uidCmd bool, a *imapparse.Fetch) {
	if a.Vanished && (!uidCmd || !s.qresync || a.ChangedSince == 0) {
		s.bad(tag, "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE")
		return
	}
	if a.ChangedSince > 0 || slices.ContainsFunc(a.Items, func(it imapparse.FetchItem) bool { return it.Name == "MODSEQ" }) {
		s.enableCondstore(ctx)
	}
	uids := s.resolve(a.Set, uidCmd)
	plan := planFetch(a.Items, uidCmd, s.sel.readOnly)
	if a.ChangedSince > 0 || (s.condstore && plan.flags) {
		plan.modseq = plan.modseq || a.ChangedSince > 0
	}
	if a.Vanished {
		gone, err := s.srv.st.VanishedSince(ctx, s.sel.mb.ID, int64(a.ChangedSince))
		if err == nil {
			var in []uint32
			max := uint32(0)
			max = s.sel.uids.Last()
			for _, u := range gone {
				if a.Set.Contains(u, max) {
					in = append(in, u)
				}
			}
			if len(in) > 0 {
				s.untagged("VANISHED (EARLIER) " + imapparse.FormatUIDs(in))
			}
		}
	}
	// Flags shown here for a message with a change notice waiting need
	// not be shown again by that notice.
	waiting := s.pendingFlagUIDs()
	// Messages are loaded and answered a batch at a time: FETCH 1:* of a
	// big mailbox loaded the rows and structures of all its messages at
	// once and held them as long as the client took to read the answer.
	expungeIssued := false
	for len(uids) > 0 && !s.writeFailed() {
		batch := uids[:min(len(uids), fetchBatchSize)]
		uids = uids[len(batch):]
		issued, ok := s.fetchBatch(ctx, tag, batch, a, plan, waiting)
		if !ok {
			return
		}
		expungeIssued = expungeIssued || issued
	}
	if s.writeFailed() {
		return // the session ends: nothing more reaches the client
	}
	s.update(ctx, uidCmd)
	if expungeIssued && !uidCmd {
		// A UID FETCH ignores UIDs that do not exist (RFC 9051 §6.4.9)
		// and has just announced the expunge; a FETCH by number cannot
		// answer for a number the client still holds.
		s.no(tag, "[EXPUNGEISSUED] Some of the requested messages no longer exist")
		return
	}
	s.ok(tag, "FETCH completed")
}

// fetchBatchSize is how many messages a FETCH loads at a time.
const fetchBatchSize = 256

// fetchBatch answers FETCH for some of its messages (UIDs ascending). It
// reports whether some were expunged meanwhile, and false if it answered
// the command NO.
func (s *session) fetchBatch(ctx context.Context, tag string, uids []uint32, a *imapparse.Fetch, plan fetchPlan, waiting map[uint32]bool) (expungeIssued, ok bool) {
	msgs, err := s.loadMessages(ctx, uids, plan.mime, plan.mime || plan.data)
	if err != nil {
		s.mailboxError(tag, err)
		return false, false
	}
	// Messages in the view that another session expunged meanwhile are
	// left out; the others are all answered (RFC 5530 EXPUNGEISSUED).
	expungeIssued = len(msgs) < len(uids)
	if a.ChangedSince > 0 {
		kept := msgs[:0]
		for _, m := range msgs {
			if m.ModSeq > int64(a.ChangedSince) {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	seenNow := map[uint32]store.FlagUpdate{}
	if plan.setSeen {
		var need []uint32
		for _, m := range msgs {
			if !hasFlag(m.Flags, `\Seen`) {
				need = append(need, m.UID)
			}
		}
		if len(need) > 0 {
			ups, _, err := s.srv.st.StoreFlags(ctx, s.sel.mb.ID, need, store.FlagsAdd, []string{`\Seen`}, 0)
			if err != nil {
				s.mailboxError(tag, err)
				return false, false
			}
			for _, u := range ups {
				seenNow[u.UID] = u
				s.sel.ownFlags[u.UID] = u.ModSeq
			}
		}
	}
	for i := range msgs {
		if s.writeFailed() {
			break
		}
		m := &msgs[i]
		if u, ok := seenNow[m.UID]; ok {
			m.Flags, m.ModSeq = u.Flags, u.ModSeq
		}
		if err := s.fetchOne(ctx, m, a.Items, plan, has(seenNow, m.UID)); err != nil {
			if gone(err) {
				// Expunged between the load and opening its bytes;
				// nothing of it was written.
				expungeIssued = true
				continue
			}
			if s.writeFailed() {
				break
			}
			if errors.Is(err, imapmime.ErrUnknownCTE) {
				s.no(tag, "[UNKNOWN-CTE] Cannot decode this part's transfer encoding")
				return false, false
			}
			s.log.Error("fetch", "uid", m.UID, "err", err)
			s.no(tag, "[SERVERBUG] Fetch failed")
			return false, false
		}
		if waiting[m.UID] && (plan.flags || has(seenNow, m.UID)) {
			s.sel.markShown(m.UID, m.ModSeq)
		}
	}
	return expungeIssued, true
}

// gone reports whether err says a message or its bytes were removed: it
// was expunged while being read.
func gone(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

func has[K comparable, V any](m map[K]V, k K) bool { _, found := m[k]; return found }

// loadMessages returns the messages of the given UIDs (ascending): from
// the database when full (rows with ids, for bytes or structure, mime
// also loading the cached structure), else from the store's in-memory
// index, which answers flags, sizes and dates without a query.
func (s *session) loadMessages(ctx context.Context, uids []uint32, mime, full bool) ([]store.Message, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	if !full {
		meta, err := s.srv.st.Meta(ctx, s.sel.mb.ID, uids)
		if err != nil {
			return nil, err
		}
		out := make([]store.Message, len(meta))
		for i := range meta {
			m := &meta[i]
			out[i] = store.Message{MailboxID: s.sel.mb.ID, UID: m.UID, ModSeq: m.ModSeq, Size: m.Size, Flags: m.Flags, InternalDate: m.InternalDate()}
		}
		return out, nil
	}
	// Few scattered UIDs: one lookup each; otherwise one range scan.
	if len(uids) <= 16 && uids[len(uids)-1]-uids[0] > 64 {
		var out []store.Message
		for _, u := range uids {
			m, err := s.srv.st.MessageRange(ctx, s.sel.mb.ID, u, u, mime)
			if err != nil {
				return nil, err
			}
			out = append(out, m...)
		}
		return s.indexFlags(ctx, out)
	}
	all, err := s.srv.st.MessageRange(ctx, s.sel.mb.ID, uids[0], uids[len(uids)-1], mime)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	j := 0
	for _, m := range all {
		for j < len(uids) && uids[j] < m.UID {
			j++
		}
		if j < len(uids) && uids[j] == m.UID {
			out = append(out, m)
		}
	}
	return s.indexFlags(ctx, out)
}

// indexFlags replaces the flags and MODSEQ read from the database with
// the mailbox index's, which every other flag report of a session uses
// too: the database can be a commit ahead of the index, and showing that
// state first would make the next notice look like a step back. A message
// gone from the index was expunged and is dropped.
func (s *session) indexFlags(ctx context.Context, msgs []store.Message) ([]store.Message, error) {
	if len(msgs) == 0 {
		return msgs, nil
	}
	uids := make([]uint32, len(msgs))
	for i := range msgs {
		uids[i] = msgs[i].UID
	}
	meta, err := s.srv.st.Meta(ctx, s.sel.mb.ID, uids)
	if err != nil {
		return nil, err
	}
	out := msgs[:0]
	j := 0
	for _, m := range msgs {
		for j < len(meta) && meta[j].UID < m.UID {
			j++
		}
		if j < len(meta) && meta[j].UID == m.UID {
			m.Flags, m.ModSeq = meta[j].Flags, meta[j].ModSeq
			out = append(out, m)
		}
	}
	return out, nil
}

// structure returns a message's parsed MIME tree with offsets into the
// served message, parsing and caching it if delivery did not.
func (s *session) structure(ctx context.Context, m *store.Message) (*imapmime.Part, error) {
	if m.MIME != nil {
		p, err := imapmime.Unmarshal(m.MIME)
		if err == nil {
			p.Shift(m.PrefixLen)
			return p, nil
		}
		s.log.Warn("cached structure unreadable, parsing again", "uid", m.UID, "err", err)
	}
	d, err := s.srv.st.OpenMessageAt(ctx, *m)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	p, err := imapmime.Parse(io.NewSectionReader(d, 0, d.Size()))
	if err != nil {
		return nil, err
	}
	// Cache it blob-relative, as delivery does.
	p.Shift(-m.PrefixLen)
	if err := s.srv.st.SaveMIME(ctx, *m, p.Marshal()); err != nil {
		s.log.Warn("caching structure", "err", err)
	}
	p.Shift(m.PrefixLen)
	return p, nil
}

// fetchOne writes one message's FETCH response.
func (s *session) fetchOne(ctx context.Context, m *store.Message, items []imapparse.FetchItem, plan fetchPlan, flagsChanged bool) error {
	var root *imapmime.Part
	var data *store.MessageData
	if plan.mime {
		var err error
		if root, err = s.structure(ctx, m); err != nil {
			return err
		}
	}
	if plan.data {
		var err error
		if data, err = s.srv.st.OpenMessageAt(ctx, *m); err != nil {
			return err
		}
		defer data.Close()
	}
	if plan.flags || flagsChanged {
		s.announceKeywords(m.Flags)
	}
	w := s.bw
	// Numbers and flags are appended to one scratch buffer: this runs
	// once per message, 100,000 times for FETCH 1:* (FLAGS).
	num := s.scratch[:0]
	w.WriteString("* ")
	w.Write(strconv.AppendInt(num, int64(s.sel.seqOf(m.UID)), 10))
	w.WriteString(" FETCH (")
	writeFlags := func() {
		w.WriteString("FLAGS (")
		recent := s.isRecent(m.UID) // IMAP4rev1 only (recent.go)
		if recent {
			w.WriteString(`\Recent`)
		}
		for i, f := range m.Flags {
			if i > 0 || recent {
				w.WriteByte(' ')
			}
			w.WriteString(f)
		}
		w.WriteByte(')')
	}
	writeUID := func() {
		w.WriteString("UID ")
		w.Write(strconv.AppendUint(num, uint64(m.UID), 10))
	}
	writeModSeq := func() {
		w.WriteString("MODSEQ (")
		w.Write(strconv.AppendInt(num, m.ModSeq, 10))
		w.WriteByte(')')
	}
	first := true
	sep := func() {
		if !first {
			w.WriteByte(' ')
		}
		first = false
	}
	wroteFlags, wroteUID, wroteModSeq := false, false, false
	for _, it := range items {
		switch it.Name {
		case "FLAGS":
			sep()
			writeFlags()
			wroteFlags = true
		case "UID":
			sep()
			writeUID()
			wroteUID = true
		case "MODSEQ":
			sep()
			writeModSeq()
			wroteModSeq = true
		case "INTERNALDATE":
			sep()
			w.WriteString(`INTERNALDATE "` + m.InternalDate.Format("02-Jan-2006 15:04:05 -0700") + `"`)
		case "RFC822.SIZE":
			sep()
			w.WriteString("RFC822.SIZE " + itoa(m.Size))
		case "ENVELOPE":
			sep()
			w.WriteString("ENVELOPE ")
			env := root.Envelope
			if env == nil {
				env = &imapmime.Envelope{}
			}
			w.Write(env.AppendIMAP(nil, s.utf8))
		case "BODYSTRUCTURE":
			sep()
			w.WriteString("BODYSTRUCTURE ")
			w.Write(root.AppendBodyStructure(nil, true, s.utf8))
		case "BODY":
			sep()
			if it.Section == nil {
				w.WriteString("BODY ")
				w.Write(root.AppendBodyStructure(nil, false, s.utf8))
				continue
			}
			r, n, err := imapmime.Extract(data, root, toSection(it.Section))
			if err != nil {
				return err
			}
			w.WriteString("BODY[" + sectionLabel(it.Section) + "]")
			if err := s.writePartial(r, n, it.Partial, false); err != nil {
				return err
			}
		case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			sep()
			sec := imapmime.Section{}
			switch it.Name {
			case "RFC822.HEADER":
				sec.Specifier = "HEADER"
			case "RFC822.TEXT":
				sec.Specifier = "TEXT"
			}
			r, n, err := imapmime.Extract(data, root, sec)
			if err != nil {
				return err
			}
			w.WriteString(it.Name)
			if err := s.writePartial(r, n, nil, false); err != nil {
				return err
			}
		case "BINARY":
			sep()
			path := sectionPath(it.Section)
			size, err := imapmime.DecodedSize(data, root, path)
			if err != nil {
				return err
			}
			r, err := imapmime.Decode(data, root, path)
			if err != nil {
				return err
			}
			w.WriteString("BINARY[" + sectionLabel(it.Section) + "]")
			if err := s.writePartial(r, size, it.Partial, true); err != nil {
				return err
			}
		case "BINARY.SIZE":
			sep()
			size, err := imapmime.DecodedSize(data, root, sectionPath(it.Section))
			if err != nil {
				return err
			}
			w.WriteString("BINARY.SIZE[" + sectionLabel(it.Section) + "] " + itoa(size))
		}
	}
	if plan.uid && !wroteUID {
		sep()
		writeUID()
	}
	if flagsChanged && !wroteFlags {
		sep()
		writeFlags()
	}
	if (plan.modseq || (s.condstore && (wroteFlags || flagsChanged))) && !wroteModSeq {
		sep()
		writeModSeq()
	}
	w.WriteString(")\r\n")
	return nil
}

// writePartial writes " {n}\r\n" and the bytes, honouring <offset.count>
// (then the label gets "<offset>", RFC 9051 §6.4.5). binary uses literal8
// (RFC 3516 §4.2) since decoded data may hold NULs.
func (s *session) writePartial(r io.Reader, n int64, p *imapparse.Partial, binary bool) error {
	w := s.bw
	if p != nil {
		off := int64(p.Offset)
		w.WriteString("<" + strconv.FormatInt(off, 10) + ">")
		if off > n {
			off = n
		}
		if _, err := io.CopyN(io.Discard, r, off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		n -= off
		if c := int64(p.Count); c < n {
			n = c
		}
	}
	if binary {
		w.WriteString(" ~{" + strconv.FormatInt(n, 10) + "}\r\n")
	} else {
		w.WriteString(" {" + strconv.FormatInt(n, 10) + "}\r\n")
		// NUL may not travel in a plain literal (RFC 9051 §4.3.1, §9
		// CHAR8). Parts appended with NUL are stored base64
		// (append.go); what is left (a NUL in a header, mail from SMTP)
		// goes as 0x80, which keeps the announced length.
		r = nulReplacer{r}
	}
	got, err := io.CopyN(w, r, n)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	// A short source (it should not happen) is padded so the literal's
	// announced length stays true and the stream stays in sync.
	if got < n {
		_, _ = w.Write(bytes.Repeat([]byte{' '}, int(n-got)))
	}
	return nil
}

func toSection(s *imapparse.Section) imapmime.Section {
	return imapmime.Section{Path: s.Path, Specifier: s.Specifier, Fields: s.Fields}
}

func sectionPath(s *imapparse.Section) []int {
	if s == nil {
		return nil
	}
	return s.Path
}

// sectionLabel renders a section spec for the response.
func sectionLabel(s *imapparse.Section) string {
	if s == nil {
		return ""
	}
	var parts []string
	for _, p := range s.Path {
		parts = append(parts, strconv.Itoa(p))
	}
	if s.Specifier != "" {
		spec := s.Specifier
		if len(s.Fields) > 0 {
			spec += " (" + strings.Join(s.Fields, " ") + ")"
		}
		parts = append(parts, spec)
	}
	return strings.Join(parts, ".")
}

// nulReplacer reads r with every NUL octet turned into 0x80.
type nulReplacer struct{ r io.Reader }

func (n nulReplacer) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	for b := p[:k]; ; {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			break
		}
		b[i] = 0x80
		b = b[i+1:]
	}
	return k, err
}
