package imapserver_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestGoIMAPClient runs an independent client implementation, go-imap's
// imapclient, through a typical session: the server's responses must
// parse as that client expects them.
func TestGoIMAPClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	raw, _ := mixedMessage()
	e.deliver(raw, delivery{prefix: tracePrefix})
	e.deliver(simpleMsg("Second", "second body\r\n"), delivery{})

	exists := make(chan uint32, 16)
	expunged := make(chan uint32, 16)
	c, err := imapclient.DialTLS(e.tls, &imapclient.Options{
		TLSConfig: clientTLS(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
			Expunge: func(seq uint32) { expunged <- seq },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	if !c.Caps().Has(imap.CapIMAP4rev2) || !c.Caps().Has(imap.CapMove) {
		t.Fatalf("capabilities: %v", c.Caps())
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if sel.NumMessages != 2 || sel.UIDValidity != e.mailbox(alice, "INBOX").UIDValidity || sel.UIDNext != 3 {
		t.Fatalf("select data: %+v", sel)
	}

	// FETCH with sections, BINARY and BODYSTRUCTURE.
	text := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	subj := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	inner := &imap.FetchItemBodySection{Part: []int{3, 1}, Peek: true}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true,
		BodyStructure:     &imap.FetchItemBodyStructure{Extended: true},
		BodySection:       []*imap.FetchItemBodySection{text, subj, inner},
		BinarySection:     []*imap.FetchItemBinarySection{bin},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
	}).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("fetch: %d messages", len(msgs))
	}
	m := msgs[0]
	eq(t, "UID", m.UID, imap.UID(1))
	eq(t, "RFC822.SIZE", m.RFC822Size, int64(len(tracePrefix)+len(raw)))
	eq(t, "subject", m.Envelope.Subject, "Mixed")
	eq(t, "from", m.Envelope.From[0].Addr(), "alice@example.test")
	eq(t, "BODY[1]", string(m.FindBodySection(text)), part1Body)
	eq(t, "BODY[HEADER.FIELDS (Subject)]", string(m.FindBodySection(subj)), "Subject: Mixed\r\n\r\n")
	eq(t, "BODY[3.1]", string(m.FindBodySection(inner)), innerBody)
	eq(t, "BINARY[2]", string(m.FindBinarySection(bin)), attachment)
	if n, ok := m.FindBinarySectionSize([]int{2}); !ok || n != uint32(len(attachment)) {
		t.Fatalf("BINARY.SIZE[2]: %d %v", n, ok)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.MediaType() != "multipart/mixed" || len(mp.Children) != 3 {
		t.Fatalf("BODYSTRUCTURE: %#v", m.BodyStructure)
	}
	att := mp.Children[1].(*imap.BodyStructureSinglePart)
	if att.MediaType() != "application/octet-stream" || att.Extended == nil || att.Extended.Disposition == nil ||
		att.Extended.Disposition.Value != "attachment" || att.Extended.Disposition.Params["filename"] != "a.bin" {
		t.Fatalf("attachment part: %#v", att)
	}
	rfc := mp.Children[2].(*imap.BodyStructureSinglePart)
	if rfc.MessageRFC822 == nil || rfc.MessageRFC822.Envelope.Subject != "Inner" || rfc.MessageRFC822.NumLines != 4 {
		t.Fatalf("message/rfc822 part: %#v", rfc)
	}
	// \Recent only: the first session to select the mailbox.
	if len(m.Flags) != 1 || m.Flags[0] != `\Recent` {
		t.Fatalf("PEEK set flags: %v", m.Flags)
	}

	// STORE and SEARCH.
	if _, err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Work"}}, nil).Collect(); err != nil {
		t.Fatalf("store: %v", err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, nil).Wait()
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	eq(t, "UID SEARCH FLAGGED", slices.Equal(sd.AllUIDs(), []imap.UID{2}), true)
	sd, err = c.Search(&imap.SearchCriteria{Body: []string{"second body"}}, &imap.SearchOptions{ReturnCount: true}).Wait()
	if err != nil {
		t.Fatalf("search body: %v", err)
	}
	eq(t, "SEARCH BODY COUNT", sd.Count, uint32(1))

	// APPEND with flags and date.
	msg := simpleMsg("Appended", "by go-imap\r\n")
	date := time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)
	ac := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
	if _, err := ac.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := ac.Close(); err != nil {
		t.Fatal(err)
	}
	ad, err := ac.Wait()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	eq(t, "APPENDUID", ad.UID, imap.UID(3))
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.UIDSetNum(3), &imap.FetchOptions{Flags: true, InternalDate: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch appended: %v %d", err, len(msgs))
	}
	if !msgs[0].InternalDate.Equal(date) || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Fatalf("appended message: %v %v", msgs[0].InternalDate, msgs[0].Flags)
	}

	// MOVE with COPYUID.
	md, err := c.Move(imap.UIDSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	if md.UIDValidity != e.mailbox(alice, "Archive").UIDValidity || md.SourceUIDs.String() != "1" || md.DestUIDs.String() != "1" {
		t.Fatalf("move data: %+v", md)
	}
	select {
	case seq := <-expunged:
		eq(t, "EXPUNGE after MOVE", seq, uint32(1))
	case <-time.After(wait):
		t.Fatal("no EXPUNGE after MOVE")
	}
	for len(exists) > 0 {
		<-exists
	}

	// IDLE: a delivery is pushed.
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("idle: %v", err)
	}
	e.deliver(simpleMsg("Pushed", "x"), delivery{})
	select {
	case n := <-exists:
		eq(t, "EXISTS in IDLE", n, uint32(3))
	case <-time.After(wait):
		t.Fatal("no EXISTS in IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("idle: %v", err)
	}
	if err := c.Logout().Wait(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("logout: %v", err)
	}
}
