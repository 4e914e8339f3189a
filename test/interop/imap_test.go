package interop

// IMAP interop: Python's imaplib, the go-imap v2 client, curl and mbsync
// against the imap (STARTTLS, LOGINDISABLED before TLS) and imaps
// (implicit TLS) listeners of the built binary.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// Listener names as printed by `yizhan serve`.
const (
	imapListener  = "imap"
	imapsListener = "imaps"
)

// eventGuard bounds the wait for a unilateral response (EXISTS, EXPUNGE)
// during IDLE. It only keeps a lost notification from hanging the run; it
// is not a latency expectation.
const eventGuard = 30 * time.Second

// newIMAPServer starts an instance with every listener, imap and imaps
// included, and with example.test and alice.
func newIMAPServer(t *testing.T) *testenv.Server {
	t.Helper()
	listeners := append(slices.Clone(testenv.AllListeners), imapListener, imapsListener)
	srv := testenv.Start(t, testenv.Options{Listeners: listeners})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)
	return srv
}

// certFile is the self-signed certificate the server generated in its
// data directory (internal/tlsutil).
func certFile(srv *testenv.Server) string {
	return filepath.Join(srv.DataDir, "tls", "selfsigned.crt")
}

// transcript keeps the tail of an IMAP client's traffic, written to the
// test log if the test fails.
type transcript struct {
	mu  sync.Mutex
	buf []byte
}

// transcriptMax bounds what is kept: the last exchanges are what explain
// a failure, and a 1,000-message FETCH would drown the log.
const transcriptMax = 16 << 10

func (tr *transcript) Write(p []byte) (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.buf = append(tr.buf, p...)
	if len(tr.buf) > 2*transcriptMax {
		tr.buf = append([]byte(nil), tr.buf[len(tr.buf)-transcriptMax:]...)
	}
	return len(p), nil
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	b := tr.buf
	if len(b) > transcriptMax {
		b = b[len(b)-transcriptMax:]
	}
	return string(b)
}

// events collects the unilateral responses a client receives (during
// IDLE, between commands).
type events struct {
	exists  chan uint32 // "* n EXISTS"
	expunge chan uint32 // "* n EXPUNGE"
}

func newEvents() *events {
	return &events{exists: make(chan uint32, 256), expunge: make(chan uint32, 256)}
}

func (ev *events) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case ev.exists <- *d.NumMessages:
				default:
				}
			}
		},
		Expunge: func(seq uint32) {
			select {
			case ev.expunge <- seq:
			default:
			}
		},
	}
}

// waitEvent waits until ch delivers want, ignoring other values.
func waitEvent(t *testing.T, ch <-chan uint32, want uint32, what string) {
	t.Helper()
	deadline := time.After(eventGuard)
	var seen []uint32
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
			seen = append(seen, got)
		case <-deadline:
			t.Fatalf("no %s %d within %v (got %v)", what, want, eventGuard, seen)
		}
	}
}

// dialIMAPS connects the go-imap client to the imaps listener and logs in
// as alice. ev may be nil.
func dialIMAPS(t *testing.T, srv *testenv.Server, ev *events) *imapclient.Client {
	t.Helper()
	tr := &transcript{}
	opts := &imapclient.Options{TLSConfig: testenv.TLSConfig(), DebugWriter: tr}
	if ev != nil {
		opts.UnilateralDataHandler = ev.handler()
	}
	c, err := imapclient.DialTLS(srv.Addr(t, imapsListener), opts)
	if err != nil {
		t.Fatalf("imaps dial: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("IMAP transcript (tail):\n%s", indent(tr.String()))
		}
	})
	if err := c.Login(alice, alicePW).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

// deliver sends raw (CRLF line ends) to alice over the smtp listener.
func deliver(t *testing.T, srv *testenv.Server, raw string) {
	t.Helper()
	c, err := testenv.DialSMTP(srv.Addr(t, testenv.SMTP))
	if err != nil {
		t.Fatalf("smtp dial: %v", err)
	}
	defer c.Quit()
	if err := c.Hello("client.remote.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	if _, err := c.Send("bob@remote.test", []string{alice}, []byte(raw)); err != nil {
		t.Fatalf("sending: %v", err)
	}
}

// pythonIMAP returns python3 after checking it has imaplib and ssl.
func pythonIMAP(t *testing.T) string {
	t.Helper()
	py := python(t)
	if out, err := exec.Command(py, "-c", "import imaplib, ssl, email.header").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "%s lacks imaplib: %v\n%s", py, err, out)
	}
	return py
}

func TestPythonImaplibSeedSnippet(t *testing.T) {
	t.Parallel()
	pythonIMAP(t)
	srv := newIMAPServer(t)
	subHost, subPort := srv.HostPort(t, testenv.Submission)
	script(t, "smtp_send.py", subHost, subPort, alice, alicePW, "Test Mail", "感謝信")

	host, port := srv.HostPort(t, imapsListener)
	out := script(t, "imap_seed.py", host, port, alice, alicePW)
	var raw, decoded []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if d, ok := strings.CutPrefix(line, "decoded: "); ok {
			decoded = append(decoded, d)
		} else {
			raw = append(raw, line)
		}
	}
	if want := []string{"Test Mail", "感謝信"}; !slices.Equal(decoded, want) {
		t.Fatalf("subjects %q, want %q; output:\n%s", decoded, want, out)
	}
	// EmailMessage writes the CJK subject as an RFC 2047 encoded word;
	// RFC822 must return it as stored.
	if len(raw) != 2 || raw[0] != "Test Mail" || !strings.HasPrefix(strings.ToLower(raw[1]), "=?utf-8?") {
		t.Errorf("raw Subject lines %q: want \"Test Mail\" and an RFC 2047 encoded word", raw)
	}
}

// imaplibReply is one command's result as testdata/imap_session.py
// prints it.
type imaplibReply struct {
	Typ  string   `json:"typ"`
	Data []string `json:"data"`
}

func TestPythonImaplib(t *testing.T) {
	t.Parallel()
	pythonIMAP(t)
	srv := newIMAPServer(t)
	for _, s := range []string{"imaplib one", "imaplib two", "imaplib three"} {
		sendInbound(t, srv, "bob@remote.test", alice, s)
	}
	host, port := srv.HostPort(t, imapListener)
	out := script(t, "imap_session.py", host, port, alice, alicePW)
	var r map[string]json.RawMessage
	if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
		t.Fatalf("imap_session.py output: %v\n%s", err, out)
	}
	if e, ok := r["error"]; ok {
		t.Errorf("imap_session.py stopped: %s", e)
	}
	step := func(name string) imaplibReply {
		t.Helper()
		var rep imaplibReply
		if raw, ok := r[name]; !ok {
			t.Fatalf("no result for %s (the script stopped before it)", name)
		} else if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return rep
	}
	// ok returns the data of a step that must have succeeded.
	ok := func(name string) []string {
		t.Helper()
		rep := step(name)
		if rep.Typ != "OK" {
			t.Fatalf("%s: %s %q, want OK", name, rep.Typ, rep.Data)
		}
		return rep.Data
	}
	joined := func(name string) string { t.Helper(); return strings.Join(ok(name), "\n") }

	// RFC 9051 §6.2.3 / RFC 2595: no LOGIN before TLS.
	capsPlain := ok("caps_plain")
	for _, c := range []string{"STARTTLS", "LOGINDISABLED"} {
		if !slices.Contains(capsPlain, c) {
			t.Errorf("capabilities before TLS %q lack %s", capsPlain, c)
		}
	}
	if rep := step("plain_login"); rep.Typ == "OK" {
		t.Errorf("LOGIN without TLS accepted: %q", rep.Data)
	}
	capsTLS := ok("caps_tls")
	if slices.Contains(capsTLS, "LOGINDISABLED") || slices.Contains(capsTLS, "STARTTLS") {
		t.Errorf("capabilities after STARTTLS still offer STARTTLS/LOGINDISABLED: %q", capsTLS)
	}
	ok("login")

	if d := ok("select"); !slices.Equal(d, []string{"3"}) {
		t.Errorf("SELECT INBOX: %q, want 3 messages", d)
	}
	if d := joined("store_seen"); !strings.Contains(d, `\Seen`) {
		t.Errorf("STORE 1 +FLAGS \\Seen: %q lacks \\Seen", d)
	}
	if d := ok("search_unseen"); !slices.Equal(d, []string{"2 3"}) {
		t.Errorf("SEARCH UNSEEN: %q, want [\"2 3\"]", d)
	}
	if d := joined("copy"); !strings.Contains(d, "COPYUID") {
		t.Errorf("COPY 2 Archive: %q has no COPYUID", d)
	}
	if d := ok("expunge"); !slices.Equal(d, []string{"2"}) {
		t.Errorf("EXPUNGE: %q, want message 2 expunged", d)
	}
	flags := ok("fetch_flags")
	if len(flags) != 2 {
		t.Errorf("FETCH 1:* after EXPUNGE: %q, want 2 messages", flags)
	} else {
		if !regexp.MustCompile(`\bUID 1\b`).MatchString(flags[0]) || !strings.Contains(flags[0], `\Seen`) {
			t.Errorf("message 1: %q, want UID 1 with \\Seen", flags[0])
		}
		if !regexp.MustCompile(`\bUID 3\b`).MatchString(flags[1]) || strings.Contains(flags[1], `\Seen`) {
			t.Errorf("message 2: %q, want UID 3 without \\Seen", flags[1])
		}
	}
	// imaplib's list() returns every untagged LIST response received
	// since the last call, so a LIST response the server volunteers
	// elsewhere (e.g. in SELECT, which RFC 9051 §6.3.2 only sends to an
	// IMAP4rev2 client) shows up as a duplicate mailbox.
	wantBoxes := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}
	if list := ok("list"); !slices.Equal(listNames(list), wantBoxes) {
		t.Errorf("LIST \"\" *: mailboxes %q, want %q; lines:\n%s", listNames(list), wantBoxes, strings.Join(list, "\n"))
	}
	if d := joined("status_archive"); !regexp.MustCompile(`\(.*MESSAGES 1\b.*\)`).MatchString(d) || !strings.Contains(d, "UNSEEN 1") {
		t.Errorf("STATUS Archive: %q, want MESSAGES 1 UNSEEN 1", d)
	}
	if d := joined("append"); !strings.Contains(d, "APPENDUID") {
		t.Errorf("APPEND to Drafts: %q has no APPENDUID", d)
	}
	if d := ok("select_drafts"); !slices.Equal(d, []string{"1"}) {
		t.Errorf("SELECT Drafts: %q, want 1 message", d)
	}
	if d := joined("fetch_draft"); !strings.Contains(d, `\Draft`) || !strings.Contains(d, `\Seen`) || !strings.Contains(d, "not sent yet\r\n") {
		t.Errorf("FETCH of the appended draft: %q, want \\Draft \\Seen and the body", d)
	}

	// 台北 in modified UTF-7 (RFC 3501 §5.1.3).
	ok("create_utf7")
	wantBoxes = append(wantBoxes, "&U,BTFw-")
	slices.Sort(wantBoxes)
	if list := ok("list_all"); !slices.Equal(listNames(list), wantBoxes) {
		t.Errorf("LIST \"\" * after CREATE: mailboxes %q, want %q; lines:\n%s", listNames(list), wantBoxes, strings.Join(list, "\n"))
	}
	if d := ok("list_utf7"); len(d) != 1 || listName(d[0]) != "&U,BTFw-" {
		t.Errorf("LIST \"\" &U,BTFw-: %q, want that one mailbox", d)
	}
	ok("append_utf7")
	if d := joined("status_utf7"); !strings.Contains(d, "MESSAGES 1") {
		t.Errorf("STATUS &U,BTFw-: %q, want MESSAGES 1", d)
	}

	// Another client sees the same mailbox under its UTF-8 name, and the
	// state imaplib left behind.
	c := dialIMAPS(t, srv, nil)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	if !slices.ContainsFunc(boxes, func(l *imap.ListData) bool { return l.Mailbox == "台北" }) {
		t.Errorf("go-imap LIST: no mailbox 台北 in %v", mailboxNames(boxes))
	}
	if _, err := c.Select("Archive", nil).Wait(); err != nil {
		t.Fatalf("SELECT Archive: %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH Archive 1: %v, %d messages", err, len(msgs))
	}
	if s := msgs[0].Envelope.Subject; s != "imaplib two" || slices.Contains(msgs[0].Flags, imap.FlagDeleted) {
		t.Errorf("Archive holds %q with flags %v, want the copy of \"imaplib two\" without \\Deleted", s, msgs[0].Flags)
	}
}

// listName returns the mailbox name of an untagged LIST line as imaplib
// returns it: `(\HasNoChildren) "/" INBOX`.
func listName(line string) string {
	i := strings.LastIndex(line, `"/" `)
	if i < 0 {
		return ""
	}
	return strings.Trim(line[i+4:], `"`)
}

// listNames returns the sorted mailbox names of LIST lines, duplicates
// kept.
func listNames(lines []string) []string {
	var names []string
	for _, l := range lines {
		names = append(names, listName(l))
	}
	slices.Sort(names)
	return names
}

func mailboxNames(l []*imap.ListData) []string {
	var names []string
	for _, d := range l {
		names = append(names, d.Mailbox)
	}
	return names
}

// multipartMessage is a letter with a base64 UTF-8 text part (whose words
// are only findable after decoding) and a PDF attachment.
func multipartMessage() (raw, textB64 string) {
	text := "親愛的愛麗絲：\r\n郵差明天上午會把包裹送到驛站。\r\n"
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	lines = append(lines, enc)
	textB64 = strings.Join(lines, "\r\n")
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"))
	raw = "From: Bob <bob@remote.test>\r\n" +
		"To: Alice <alice@example.test>\r\n" +
		"Subject: " + mime.BEncoding.Encode("utf-8", "包裹通知 Parcel notice") + "\r\n" +
		"Date: Fri, 02 Jan 2026 15:04:05 +0800\r\n" +
		"Message-ID: <multipart-1@remote.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"=-b1\"\r\n" +
		"\r\n" +
		"This is a multi-part message in MIME format.\r\n" +
		"--=-b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		textB64 + "\r\n" +
		"--=-b1\r\n" +
		"Content-Type: application/pdf; name=\"notice.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"notice.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		pdf + "\r\n" +
		"--=-b1--\r\n"
	return raw, textB64
}

func simpleMessage(id, subject string) string {
	return "From: <bob@remote.test>\r\nTo: <alice@example.test>\r\nSubject: " + subject +
		"\r\nDate: Sat, 03 Jan 2026 09:00:00 +0000\r\nMessage-ID: <" + id + ">\r\n\r\nbody of " + subject + "\r\n"
}

// param looks a MIME parameter up by name, case-insensitively.
func param(params map[string]string, name string) string {
	for k, v := range params {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func TestGoIMAPClient(t *testing.T) {
	t.Parallel()
	srv := newIMAPServer(t)
	raw, textB64 := multipartMessage()
	deliver(t, srv, raw)
	deliver(t, srv, simpleMessage("plain-2@remote.test", "plain two"))

	ev := newEvents()
	c := dialIMAPS(t, srv, ev)

	// LIST with RETURN (SPECIAL-USE), RFC 6154.
	boxes, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("LIST RETURN (SPECIAL-USE): %v", err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, b := range boxes {
		attrs[b.Mailbox] = b.Attrs
	}
	if _, ok := attrs["INBOX"]; !ok {
		t.Errorf("LIST lacks INBOX: %v", mailboxNames(boxes))
	}
	specialUse := map[string]imap.MailboxAttr{
		"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash,
		"Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive,
	}
	for name, attr := range specialUse {
		a, ok := attrs[name]
		if !ok {
			t.Errorf("LIST lacks %s: %v", name, mailboxNames(boxes))
		} else if !slices.Contains(a, attr) {
			t.Errorf("LIST %s: attributes %v lack %s", name, a, attr)
		}
	}
	// LIST (SPECIAL-USE): only the special-use mailboxes.
	su, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("LIST (SPECIAL-USE): %v", err)
	}
	if got := mailboxNames(su); len(got) != len(specialUse) {
		t.Errorf("LIST (SPECIAL-USE) \"\" *: %v, want the %d special-use mailboxes", got, len(specialUse))
	}

	sel, err := c.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatalf("SELECT INBOX (CONDSTORE): %v", err)
	}
	if sel.NumMessages != 2 || sel.UIDValidity == 0 || sel.HighestModSeq == 0 {
		t.Fatalf("SELECT INBOX: %d messages, UIDVALIDITY %d, HIGHESTMODSEQ %d; want 2, non-zero, non-zero",
			sel.NumMessages, sel.UIDValidity, sel.HighestModSeq)
	}

	// FETCH ENVELOPE BODYSTRUCTURE BODY.PEEK[] of the multipart letter.
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{whole},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH 1: %v (%d messages)", err, len(msgs))
	}
	m := msgs[0]
	uid1 := m.UID
	env := m.Envelope
	if env == nil {
		t.Fatal("FETCH 1: no ENVELOPE")
	}
	if env.Subject != "包裹通知 Parcel notice" {
		t.Errorf("ENVELOPE subject %q, want %q", env.Subject, "包裹通知 Parcel notice")
	}
	if len(env.From) != 1 || env.From[0].Addr() != "bob@remote.test" || env.From[0].Name != "Bob" {
		t.Errorf("ENVELOPE from %+v, want Bob <bob@remote.test>", env.From)
	}
	if len(env.To) != 1 || env.To[0].Addr() != alice {
		t.Errorf("ENVELOPE to %+v, want %s", env.To, alice)
	}
	if env.MessageID != "multipart-1@remote.test" {
		t.Errorf("ENVELOPE message-id %q", env.MessageID)
	}
	if want := time.Date(2026, 1, 2, 7, 4, 5, 0, time.UTC); !env.Date.Equal(want) {
		t.Errorf("ENVELOPE date %v, want %v", env.Date, want)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok {
		t.Fatalf("BODYSTRUCTURE %T %+v, want multipart", m.BodyStructure, m.BodyStructure)
	}
	if mp.MediaType() != "multipart/mixed" || len(mp.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE %s with %d parts, want multipart/mixed with 2", mp.MediaType(), len(mp.Children))
	}
	if tp, ok := mp.Children[0].(*imap.BodyStructureSinglePart); !ok {
		t.Errorf("part 1: %T, want a single part", mp.Children[0])
	} else {
		if tp.MediaType() != "text/plain" || !strings.EqualFold(param(tp.Params, "charset"), "utf-8") ||
			!strings.EqualFold(tp.Encoding, "base64") || tp.Size != uint32(len(textB64)) {
			t.Errorf("part 1: %s charset=%q encoding %q size %d; want text/plain charset=utf-8 base64 size %d",
				tp.MediaType(), param(tp.Params, "charset"), tp.Encoding, tp.Size, len(textB64))
		}
	}
	if ap, ok := mp.Children[1].(*imap.BodyStructureSinglePart); !ok {
		t.Errorf("part 2: %T, want a single part", mp.Children[1])
	} else if ap.MediaType() != "application/pdf" || ap.Filename() != "notice.pdf" ||
		ap.Disposition() == nil || !strings.EqualFold(ap.Disposition().Value, "attachment") {
		t.Errorf("part 2: %s filename %q disposition %+v; want application/pdf attachment notice.pdf",
			ap.MediaType(), ap.Filename(), ap.Disposition())
	}
	body := m.FindBodySection(whole)
	if !bytes.HasSuffix(body, []byte(raw)) {
		t.Errorf("BODY[] does not end with the message as sent:\n%s", body)
	}
	if _, ok := testenv.Header(body, "Received"); !ok {
		t.Errorf("BODY[] has no Received field:\n%s", body)
	}
	if slices.Contains(m.Flags, imap.FlagSeen) {
		t.Errorf("BODY.PEEK[] set \\Seen: %v", m.Flags)
	}

	// SEARCH TEXT finds words of the base64 body (decoded, RFC 9051
	// §6.4.4), two CJK characters as well as a longer phrase.
	for _, q := range []struct {
		text string
		want []uint32
	}{
		{"郵差", []uint32{1}},
		{"包裹送到驛站", []uint32{1}},
		{"plain two", []uint32{2}},
		{"不存在的詞", nil},
	} {
		data, err := c.Search(&imap.SearchCriteria{Text: []string{q.text}}, nil).Wait()
		if err != nil {
			t.Errorf("SEARCH TEXT %q: %v", q.text, err)
			continue
		}
		if got := data.AllSeqNums(); !slices.Equal(got, q.want) {
			t.Errorf("SEARCH TEXT %q: %v, want %v", q.text, got, q.want)
		}
	}

	// IDLE: a delivery meanwhile is announced with EXISTS.
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	deliver(t, srv, simpleMessage("idle-3@remote.test", "during idle"))
	waitEvent(t, ev.exists, 3, "EXISTS during IDLE")
	if err := idle.Close(); err != nil {
		t.Fatalf("DONE: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}

	// UID MOVE with COPYUID (RFC 6851 §4.3, RFC 4315).
	arch, err := c.Status("Archive", &imap.StatusOptions{UIDValidity: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS Archive: %v", err)
	}
	mv, err := c.Move(imap.UIDSetNum(uid1), "Archive").Wait()
	if err != nil {
		t.Fatalf("UID MOVE %d Archive: %v", uid1, err)
	}
	if mv.UIDValidity != arch.UIDValidity || mv.SourceUIDs.String() != fmt.Sprint(uid1) || mv.DestUIDs.String() != fmt.Sprint(arch.UIDNext) {
		t.Errorf("MOVE COPYUID: validity %d source %v dest %v; want %d %d %d",
			mv.UIDValidity, mv.SourceUIDs, mv.DestUIDs, arch.UIDValidity, uid1, arch.UIDNext)
	}
	if st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
		t.Errorf("STATUS Archive after MOVE: %+v, %v; want 1 message", st, err)
	}

	// APPEND with APPENDUID (RFC 4315 §3).
	inbox, err := c.Status("INBOX", &imap.StatusOptions{UIDNext: true, NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX: %v", err)
	}
	if *inbox.NumMessages != 2 {
		t.Errorf("INBOX after MOVE: %d messages, want 2", *inbox.NumMessages)
	}
	appended := []byte(simpleMessage("appended-4@example.test", "appended"))
	ap := c.Append("INBOX", int64(len(appended)), &imap.AppendOptions{
		Flags: []imap.Flag{imap.FlagFlagged}, Time: time.Date(2025, 12, 24, 18, 0, 0, 0, time.UTC),
	})
	if _, err := ap.Write(appended); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	if err := ap.Close(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	apd, err := ap.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	if apd.UIDValidity != sel.UIDValidity || apd.UID != inbox.UIDNext {
		t.Errorf("APPENDUID %d %d, want %d %d", apd.UIDValidity, apd.UID, sel.UIDValidity, inbox.UIDNext)
	}
	// The EXISTS for the appended message reaches the selected session.
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP: %v", err)
	}
	if n := c.Mailbox().NumMessages; n != 3 {
		t.Errorf("selected INBOX has %d messages after APPEND, want 3", n)
	}
	got, err := c.Fetch(imap.UIDSetNum(apd.UID), &imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true}).Collect()
	if err != nil || len(got) != 1 {
		t.Fatalf("UID FETCH %d: %v, %d messages", apd.UID, err, len(got))
	}
	if !slices.Contains(got[0].Flags, imap.FlagFlagged) || !got[0].InternalDate.Equal(time.Date(2025, 12, 24, 18, 0, 0, 0, time.UTC)) ||
		got[0].RFC822Size != int64(len(appended)) {
		t.Errorf("appended message: flags %v, INTERNALDATE %v, size %d; want \\Flagged, 2025-12-24 18:00 UTC, %d",
			got[0].Flags, got[0].InternalDate, got[0].RFC822Size, len(appended))
	}

	// UID EXPUNGE removes only the given UIDs of those marked \Deleted
	// (RFC 4315 §2.1).
	all, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(all) != 3 {
		t.Fatalf("FETCH 1:* UID: %v, %d messages", err, len(all))
	}
	keep := all[0].UID // "plain two", marked \Deleted but not in the UID EXPUNGE set
	if err := c.Store(imap.UIDSetNum(keep, apd.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("STORE +FLAGS \\Deleted: %v", err)
	}
	exp, err := c.UIDExpunge(imap.UIDSetNum(apd.UID)).Collect()
	if err != nil {
		t.Fatalf("UID EXPUNGE %d: %v", apd.UID, err)
	}
	if !slices.Equal(exp, []uint32{3}) {
		t.Errorf("UID EXPUNGE %d expunged %v, want [3]", apd.UID, exp)
	}
	left, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:*: %v", err)
	}
	if len(left) != 2 || left[0].UID != keep || !slices.Contains(left[0].Flags, imap.FlagDeleted) {
		t.Errorf("after UID EXPUNGE: %d messages, first UID %d flags %v; want 2, UID %d still \\Deleted", len(left), left[0].UID, left[0].Flags, keep)
	}

	// STATUS HIGHESTMODSEQ (RFC 7162 §3.1.4) and FETCH CHANGEDSINCE
	// (§3.1.4.1): after one STORE, only that message has changed.
	st1, err := c.Status("INBOX", &imap.StatusOptions{HighestModSeq: true, NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX HIGHESTMODSEQ: %v", err)
	}
	if st1.HighestModSeq == 0 || st1.HighestModSeq <= sel.HighestModSeq {
		t.Errorf("STATUS HIGHESTMODSEQ %d, want more than %d at SELECT (flags changed since)", st1.HighestModSeq, sel.HighestModSeq)
	}
	changed := left[1].UID
	if err := c.Store(imap.UIDSetNum(changed), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
		t.Fatalf("STORE +FLAGS \\Answered: %v", err)
	}
	cs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true, ChangedSince: st1.HighestModSeq}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:* (CHANGEDSINCE %d): %v", st1.HighestModSeq, err)
	}
	if len(cs) != 1 || cs[0].UID != changed || cs[0].ModSeq <= st1.HighestModSeq || !slices.Contains(cs[0].Flags, imap.FlagAnswered) {
		var desc []string
		for _, x := range cs {
			desc = append(desc, fmt.Sprintf("UID %d MODSEQ %d FLAGS %v", x.UID, x.ModSeq, x.Flags))
		}
		t.Errorf("FETCH CHANGEDSINCE %d: %v; want only UID %d with \\Answered and a higher MODSEQ", st1.HighestModSeq, desc, changed)
	}
	st2, err := c.Status("INBOX", &imap.StatusOptions{HighestModSeq: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX HIGHESTMODSEQ: %v", err)
	}
	if len(cs) == 1 && st2.HighestModSeq != cs[0].ModSeq {
		t.Errorf("STATUS HIGHESTMODSEQ %d after the STORE, want the message's MODSEQ %d", st2.HighestModSeq, cs[0].ModSeq)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}
}

// A message bigger than the store keeps inline (64 KiB) is written to a
// file of its own: its structure is parsed at delivery like any other
// (the server used to log "cannot parse message structure … bad file
// descriptor" for it, which the log check of testenv now fails on), and
// BODYSTRUCTURE and the attachment read back intact.
func TestLargeMessage(t *testing.T) {
	t.Parallel()
	srv := newIMAPServer(t)
	att := make([]byte, 150<<10)
	for i := range att {
		att[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(att)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	raw := "From: Bob <bob@remote.test>\r\nTo: <alice@example.test>\r\nSubject: large\r\n" +
		"Message-ID: <large-1@remote.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b.String() + "--b--\r\n"
	deliver(t, srv, raw)

	c := dialIMAPS(t, srv, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}
	part2 := &imap.FetchItemBodySection{Peek: true, Part: []int{2}}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{},
		BodySection:   []*imap.FetchItemBodySection{part2},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH 1: %v (%d messages)", err, len(msgs))
	}
	mp, ok := msgs[0].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE %+v, want multipart with 2 parts", msgs[0].BodyStructure)
	}
	// The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1).
	size := uint32(b.Len() - 2)
	if ap, ok := mp.Children[1].(*imap.BodyStructureSinglePart); !ok || ap.MediaType() != "application/octet-stream" || ap.Size != size {
		t.Errorf("part 2: %+v, want application/octet-stream of %d bytes", mp.Children[1], size)
	}
	got, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(msgs[0].FindBodySection(part2)), "\r\n", ""))
	if err != nil || !bytes.Equal(got, att) {
		t.Errorf("BODY[2] decodes to %d bytes (%v), want the %d bytes sent", len(got), err, len(att))
	}
}

func TestPOP3DeleteReachesIMAPIdle(t *testing.T) {
	t.Parallel()
	python(t)
	srv := newIMAPServer(t)
	sendInbound(t, srv, "bob@remote.test", alice, "pop idle one")
	sendInbound(t, srv, "bob@remote.test", alice, "pop idle two")

	ev := newEvents()
	c := dialIMAPS(t, srv, ev)
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 2 {
		t.Fatalf("SELECT INBOX: %+v, %v; want 2 messages", sel, err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	r := poplib(t, srv, "ssl", alice, alicePW, "1")
	if r.Count != 2 {
		t.Fatalf("poplib saw %d messages, want 2", r.Count)
	}
	waitEvent(t, ev.expunge, 1, "EXPUNGE during IDLE after POP3 DELE 1 + QUIT")
	if err := idle.Close(); err != nil {
		t.Fatalf("DONE: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:*: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Envelope.Subject != "pop idle two" {
		t.Errorf("after the POP3 deletion the IMAP session has %d messages (%v), want only \"pop idle two\"", len(msgs), msgs)
	}
}

// curlIMAP returns the curl binary after checking it speaks IMAP.
func curlIMAP(t *testing.T) string {
	t.Helper()
	c := testenv.RequireTool(t, "curl")
	out, _ := exec.Command(c, "--version").CombinedOutput()
	for _, p := range []string{" imap ", " imaps ", "SSL"} {
		if !strings.Contains(string(out), p) {
			testenv.Unavailable(t, "curl lacks %s: %s", strings.TrimSpace(p), out)
		}
	}
	return c
}

func TestCurlIMAP(t *testing.T) {
	t.Parallel()
	cu := curlIMAP(t)
	srv := newIMAPServer(t)
	sendInbound(t, srv, "bob@remote.test", alice, "curl imap one")
	sendInbound(t, srv, "bob@remote.test", alice, "curl imap two")
	imaps := srv.Addr(t, imapsListener)
	plain := srv.Addr(t, imapListener)
	userpw := alice + ":" + alicePW

	out := mustRun(t, "", cu, "-sS", "-k", "imaps://"+imaps+"/INBOX;UID=1", "--user", userpw)
	if !strings.Contains(out, "Subject: curl imap one") || !strings.Contains(out, "body of curl imap one") {
		t.Errorf("curl imaps INBOX;UID=1: message not in output:\n%s", out)
	}
	checkTrace(t, []byte(out), "bob@remote.test", alice)

	out = mustRun(t, "", cu, "-sS", "-k", "imaps://"+imaps+"/INBOX?ALL", "--user", userpw)
	if strings.TrimSpace(out) != "* SEARCH 1 2" {
		t.Errorf("curl imaps INBOX?ALL: %q, want \"* SEARCH 1 2\"", out)
	}

	out = mustRun(t, "", cu, "-sS", "-k", "imaps://"+imaps+"/", "--user", userpw)
	for _, mb := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"} {
		if !regexp.MustCompile(`(?m)^\* LIST \(.*\) "/" "?` + mb + `"?\r?$`).MatchString(out) {
			t.Errorf("curl imaps LIST: no %s in\n%s", mb, out)
		}
	}

	out = mustRun(t, "", cu, "-sS", "-k", "--ssl-reqd", "imap://"+plain+"/INBOX;UID=2", "--user", userpw)
	if !strings.Contains(out, "Subject: curl imap two") {
		t.Errorf("curl imap STARTTLS INBOX;UID=2: message not in output:\n%s", out)
	}
	// Without TLS the server offers no way to log in (LOGINDISABLED, no
	// AUTH=), so the transfer fails.
	if out, err := run(t, "", cu, "-sS", "imap://"+plain+"/INBOX;UID=1", "--user", userpw); err == nil {
		t.Errorf("curl imap without TLS logged in:\n%s", out)
	}
}

// TestIMAPCompressPartialFlush sends one command over COMPRESS=DEFLATE
// (RFC 4978) flushed as zlib clients do: with Z_SYNC_FLUSH, and with
// Z_PARTIAL_FLUSH, which isync/mbsync uses. Either flush makes everything
// written so far decodable (zlib manual: a partial flush completes the
// current block), so the server must answer both.
func TestIMAPCompressPartialFlush(t *testing.T) {
	t.Parallel()
	python(t)
	srv := newIMAPServer(t)
	host, port := srv.HostPort(t, imapsListener)
	for _, mode := range []string{"sync", "partial"} {
		out := script(t, "imap_compress.py", host, port, alice, alicePW, mode)
		if got := lastLine(out); !strings.HasPrefix(got, "c OK") {
			t.Errorf("NOOP compressed and flushed with zlib's %s flush: got %q, want \"c OK ...\"", mode, got)
		}
	}
}

// Maildir flag letters (maildir(5)) and the IMAP system flags mbsync maps
// them to.
var maildirFlags = map[byte]imap.Flag{
	'D': imap.FlagDraft, 'F': imap.FlagFlagged, 'R': imap.FlagAnswered, 'S': imap.FlagSeen, 'T': imap.FlagDeleted,
}

// flagLetters turns IMAP flags into sorted Maildir letters, dropping the
// flags mbsync does not synchronise.
func flagLetters(flags []imap.Flag) string {
	var b []byte
	for letter, f := range maildirFlags {
		if slices.ContainsFunc(flags, func(x imap.Flag) bool { return strings.EqualFold(string(x), string(f)) }) {
			b = append(b, letter)
		}
	}
	slices.Sort(b)
	return string(b)
}

// mailState is folder → Message-ID (without <>) → Maildir flag letters.
type mailState map[string]map[string]string

// readMaildir reads the near side: every directory with a cur/ under
// root is a mailbox named by its path (SubFolders Verbatim).
func readMaildir(t *testing.T, root string) mailState {
	t.Helper()
	st := mailState{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		switch d.Name() {
		case "cur", "new", "tmp":
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "cur")); err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		box := map[string]string{}
		st[filepath.ToSlash(rel)] = box
		for _, sub := range []string{"cur", "new"} {
			ents, err := os.ReadDir(filepath.Join(p, sub))
			if err != nil {
				return err
			}
			for _, e := range ents {
				data, err := os.ReadFile(filepath.Join(p, sub, e.Name()))
				if err != nil {
					return err
				}
				id, _ := testenv.Header(data, "Message-ID")
				id = strings.Trim(id, "<>")
				if _, dup := box[id]; dup {
					t.Errorf("Maildir %s: Message-ID %q twice", rel, id)
				}
				var letters []byte
				if _, info, ok := strings.Cut(e.Name(), ":2,"); ok {
					for i := 0; i < len(info); i++ {
						if _, known := maildirFlags[info[i]]; known {
							letters = append(letters, info[i])
						}
					}
				}
				slices.Sort(letters)
				box[id] = string(letters)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading Maildir: %v", err)
	}
	return st
}

// readIMAP reads the far side: every selectable mailbox, by EXAMINE and
// FETCH 1:* (ENVELOPE FLAGS).
func readIMAP(t *testing.T, c *imapclient.Client) mailState {
	t.Helper()
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	st := mailState{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		box := map[string]string{}
		st[b.Mailbox] = box
		sel, err := c.Select(b.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %s: %v", b.Mailbox, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s 1:*: %v", b.Mailbox, err)
		}
		if len(msgs) != int(sel.NumMessages) {
			t.Errorf("%s: EXAMINE said %d messages, FETCH 1:* returned %d", b.Mailbox, sel.NumMessages, len(msgs))
		}
		for _, m := range msgs {
			if m.Envelope == nil {
				t.Fatalf("%s: FETCH %d returned no ENVELOPE", b.Mailbox, m.SeqNum)
			}
			if _, dup := box[m.Envelope.MessageID]; dup {
				t.Errorf("IMAP %s: Message-ID %q twice", b.Mailbox, m.Envelope.MessageID)
			}
			box[m.Envelope.MessageID] = flagLetters(m.Flags)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
	return st
}

// diffState describes how got differs from want, at most a few lines per
// folder; "" if they are equal.
func diffState(want, got mailState) string {
	var b strings.Builder
	var folders []string
	for f := range want {
		folders = append(folders, f)
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			folders = append(folders, f)
		}
	}
	sort.Strings(folders)
	for _, f := range folders {
		w, inW := want[f]
		g, inG := got[f]
		switch {
		case !inG:
			fmt.Fprintf(&b, "  folder %s missing (want %d messages)\n", f, len(w))
			continue
		case !inW:
			fmt.Fprintf(&b, "  unexpected folder %s (%d messages)\n", f, len(g))
			continue
		}
		var lines []string
		for id, wf := range w {
			if gf, ok := g[id]; !ok {
				lines = append(lines, fmt.Sprintf("missing %s", id))
			} else if gf != wf {
				lines = append(lines, fmt.Sprintf("%s: flags %q, want %q", id, gf, wf))
			}
		}
		for id := range g {
			if _, ok := w[id]; !ok {
				lines = append(lines, fmt.Sprintf("unexpected %s", id))
			}
		}
		if len(lines) == 0 {
			continue
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "  %s: %d messages, want %d; %d differences:\n", f, len(g), len(w), len(lines))
		for i, l := range lines {
			if i == 10 {
				fmt.Fprintf(&b, "    ... and %d more\n", len(lines)-10)
				break
			}
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}

// The near side of the mbsync test: how many messages the local INBOX
// starts with, and how many of them are still in new/ (unseen, no flags).
const (
	mbsyncMessages = 1000
	mbsyncNew      = 100
)

func mbsyncID(i int) string { return fmt.Sprintf("local-%04d@near.test", i) }

// mbsyncSubject varies the subjects: plain ASCII, RFC 2047 encoded CJK,
// long folded ones.
func mbsyncSubject(i int) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf("Weekly report %d", i)
	case 1:
		return mime.BEncoding.Encode("utf-8", fmt.Sprintf("會議紀錄 第%d號", i))
	case 2:
		return fmt.Sprintf("Re: [list] a rather long subject line that a mailing list would produce, number %d,\r\n and folded", i)
	default:
		return mime.QEncoding.Encode("utf-8", fmt.Sprintf("Réunion n°%d", i))
	}
}

func mbsyncMessage(id, subject string, i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender %d <sender%d@near.test>\r\nTo: <%s>\r\nSubject: %s\r\n", i%17, i%17, alice, subject)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s>\r\n", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format(time.RFC1123Z), id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for l := 0; l <= i%9; l++ {
		fmt.Fprintf(&b, "Line %d of message %d: 驛站 keeps the mail.\r\n", l, i)
	}
	return []byte(b.String())
}

// writeMaildirMessage writes msg into box/new (no flags) or box/cur with
// the Maildir info ":2,FLAGS".
func writeMaildirMessage(t *testing.T, box string, n int, flags string, inNew bool, msg []byte) {
	t.Helper()
	base := fmt.Sprintf("%d.M%dP4242.near", 1750000000+n, n)
	name := filepath.Join(box, "cur", base+":2,"+flags)
	if inNew {
		name = filepath.Join(box, "new", base)
	}
	if err := os.WriteFile(name, msg, 0o600); err != nil {
		t.Fatal(err)
	}
}

// setMaildirFlags renames the file holding Message-ID id in box (a Maildir)
// to carry flags, moving it to cur/ as a MUA does.
func setMaildirFlags(t *testing.T, box, id, flags string) {
	t.Helper()
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(box, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(box, sub, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := testenv.Header(data, "Message-ID"); v != "<"+id+">" {
				continue
			}
			base, _, _ := strings.Cut(e.Name(), ":2,")
			if err := os.Rename(p, filepath.Join(box, "cur", base+":2,"+flags)); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no file with Message-ID <%s> in %s", id, box)
}

// addFlag and delFlag edit a sorted Maildir flag string.
func addFlag(flags string, f byte) string {
	if strings.IndexByte(flags, f) >= 0 {
		return flags
	}
	b := []byte(flags + string(f))
	slices.Sort(b)
	return string(b)
}

func delFlag(flags string, f byte) string { return strings.ReplaceAll(flags, string(f), "") }

func TestMbsync(t *testing.T) {
	t.Parallel()
	mbsync := testenv.RequireTool(t, "mbsync")
	srv := newIMAPServer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "mail")
	inboxDir := filepath.Join(root, "INBOX")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(inboxDir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	// The expected state of both sides; every special-use mailbox the
	// server creates for a user is synchronised too (Patterns *).
	want := mailState{"INBOX": {}}
	for _, f := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		want[f] = map[string]string{}
	}
	for i := 1; i <= mbsyncMessages; i++ {
		var flags string
		inNew := i <= mbsyncNew
		if !inNew {
			if i%4 != 0 {
				flags += "S"
			}
			if i%25 == 0 {
				flags += "F"
			}
			if i%40 == 0 {
				flags += "R"
			}
			b := []byte(flags)
			slices.Sort(b)
			flags = string(b)
		}
		writeMaildirMessage(t, inboxDir, i, flags, inNew, mbsyncMessage(mbsyncID(i), mbsyncSubject(i), i))
		want["INBOX"][mbsyncID(i)] = flags
	}

	// The certificate names mail.example.test and localhost; mbsync checks
	// the name even for a certificate given in CertificateFile.
	// mbsync uses COMPRESS=DEFLATE and flushes with Z_PARTIAL_FLUSH: this
	// test is also the interop test for that.
	_, port := srv.HostPort(t, imapsListener)
	cfg := filepath.Join(dir, "mbsyncrc")
	conf := fmt.Sprintf(`IMAPAccount yizhan
Host localhost
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
Timeout 30

IMAPStore far
Account yizhan

MaildirStore near
Path %s/
Inbox %s
SubFolders Verbatim

Channel yizhan
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
`, port, alice, alicePW, certFile(srv), root, inboxDir)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	syncBoth := func(round string) {
		t.Helper()
		start := time.Now()
		if out, err := run(t, "", mbsync, "-c", cfg, "-a"); err != nil {
			t.Fatalf("mbsync (%s): %v\n%s", round, err, out)
		}
		t.Logf("mbsync (%s) took %v", round, time.Since(start).Round(time.Millisecond))
	}
	check := func(round string, c *imapclient.Client) {
		t.Helper()
		if d := diffState(want, readIMAP(t, c)); d != "" {
			t.Errorf("after %s, Yizhan (IMAP) differs from the expected state:\n%s", round, d)
		}
		if d := diffState(want, readMaildir(t, root)); d != "" {
			t.Errorf("after %s, the Maildir differs from the expected state:\n%s", round, d)
		}
	}

	syncBoth("first sync, 1,000 messages up")
	c := dialIMAPS(t, srv, nil)
	check("the first sync", c)
	if t.Failed() {
		t.FailNow()
	}

	// Far side changes, through IMAP.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:*: %v", err)
	}
	uidOf := map[string]imap.UID{}
	for _, m := range msgs {
		uidOf[m.Envelope.MessageID] = m.UID
	}
	store := func(op imap.StoreFlagsOp, flag imap.Flag, ids ...int) {
		t.Helper()
		var set imap.UIDSet
		for _, i := range ids {
			set.AddNum(uidOf[mbsyncID(i)])
		}
		if err := c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close(); err != nil {
			t.Fatalf("UID STORE %v %s: %v", set, flag, err)
		}
	}
	flagged := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // in new/ on the near side
	store(imap.StoreFlagsAdd, imap.FlagFlagged, flagged...)
	for _, i := range flagged {
		want["INBOX"][mbsyncID(i)] = addFlag(want["INBOX"][mbsyncID(i)], 'F')
	}
	unseen := []int{121, 122, 123, 125} // \Seen on both sides so far
	store(imap.StoreFlagsDel, imap.FlagSeen, unseen...)
	for _, i := range unseen {
		want["INBOX"][mbsyncID(i)] = delFlag(want["INBOX"][mbsyncID(i)], 'S')
	}
	var gone []int
	for i := 101; i <= 120; i++ {
		gone = append(gone, i)
		delete(want["INBOX"], mbsyncID(i))
	}
	store(imap.StoreFlagsAdd, imap.FlagDeleted, gone...)
	if err := c.Expunge().Close(); err != nil {
		t.Fatalf("EXPUNGE: %v", err)
	}
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatalf("CREATE Projects: %v", err)
	}
	want["Projects"] = map[string]string{}
	for i, flags := range []string{"S", "", "FS"} {
		id := fmt.Sprintf("project-%d@far.test", i+1)
		msg := mbsyncMessage(id, fmt.Sprintf("Project plan %d", i+1), 2000+i)
		var fl []imap.Flag
		for j := 0; j < len(flags); j++ {
			fl = append(fl, maildirFlags[flags[j]])
		}
		ap := c.Append("Projects", int64(len(msg)), &imap.AppendOptions{Flags: fl})
		if _, err := ap.Write(msg); err != nil {
			t.Fatalf("APPEND Projects: %v", err)
		}
		if err := ap.Close(); err != nil {
			t.Fatalf("APPEND Projects: %v", err)
		}
		if _, err := ap.Wait(); err != nil {
			t.Fatalf("APPEND Projects: %v", err)
		}
		want["Projects"][id] = flags
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}

	// Near side changes, in the Maildir.
	for i := 201; i <= 210; i++ { // flag
		id := mbsyncID(i)
		want["INBOX"][id] = addFlag(want["INBOX"][id], 'F')
		setMaildirFlags(t, inboxDir, id, want["INBOX"][id])
	}
	for i := 211; i <= 216; i++ { // toggle \Seen
		id := mbsyncID(i)
		if strings.Contains(want["INBOX"][id], "S") {
			want["INBOX"][id] = delFlag(want["INBOX"][id], 'S')
		} else {
			want["INBOX"][id] = addFlag(want["INBOX"][id], 'S')
		}
		setMaildirFlags(t, inboxDir, id, want["INBOX"][id])
	}
	// Trashed (T) locally: with Expunge Both it is gone on both sides.
	setMaildirFlags(t, inboxDir, mbsyncID(300), addFlag(want["INBOX"][mbsyncID(300)], 'T'))
	delete(want["INBOX"], mbsyncID(300))
	newID := "local-new@near.test"
	writeMaildirMessage(t, inboxDir, 5000, "", true, mbsyncMessage(newID, "written locally after the first sync", 5000))
	want["INBOX"][newID] = ""

	syncBoth("second sync, changes both ways")
	check("the second sync", c)
	if n := len(want["INBOX"]); n != mbsyncMessages-20-1+1 {
		t.Errorf("test bug: expected INBOX has %d messages", n)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}
}
