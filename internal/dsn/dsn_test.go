package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

var (
	arrival  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	attempt  = time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	retryEnd = time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)
)

const origMsg = "From: alice@example.com\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: hi\r\n" +
	"Message-ID: <orig@example.com>\r\n" +
	"\r\n" +
	"Hello Bob.\r\n" +
	"See you.\r\n"

// report returns a valid failure report for two recipients; tests change
// what they look at.
func report() *Report {
	return &Report{
		ReportingMTA: "mail.example.com",
		ReceivedFrom: "dns; client.example",
		ArrivalDate:  arrival,
		EnvelopeID:   "QQ314159",
		From:         "MAILER-DAEMON@mail.example.com",
		To:           "alice@example.com",
		Date:         attempt,
		Original:     strings.NewReader(origMsg),
		Recipients: []Recipient{
			{
				Address:        "bob@example.net",
				OriginalRcpt:   "rfc822;Bob.Alias@example.org",
				Action:         Failed,
				Status:         "5.1.1",
				RemoteMTA:      "mx.example.net",
				DiagnosticCode: "550 5.1.1 <bob@example.net>: no such user",
				LastAttempt:    attempt,
				WillRetryUntil: retryEnd, // must not appear: not delayed
				Reason:         Explain("5.1.1", "example.net", "550 5.1.1 no such user"),
			},
			{
				Address:     "carol@demodomain.tw",
				Action:      Failed,
				Status:      "5.1.2",
				LastAttempt: attempt,
				Reason:      Explain("5.1.2", "demodomain.tw", ""),
			},
		},
	}
}

// dsnPart is one parsed body part of a DSN.
type dsnPart struct {
	mediaType string
	header    message.Header
	body      []byte // transfer-decoded
}

// build runs Build, checks the wire format every DSN must keep (CRLF only,
// lines within RFC 5322 limits) and parses the result.
func build(t *testing.T, r *Report) ([]byte, *message.Entity, []dsnPart) {
	t.Helper()
	out, err := Build(r)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	checkWireFormat(t, out)

	e, err := message.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		t.Fatalf("DSN is not multipart")
	}
	var parts []dsnPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		mt, _, err := p.Header.ContentType()
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		parts = append(parts, dsnPart{mediaType: mt, header: p.Header, body: body})
	}
	return out, e, parts
}

// checkWireFormat fails unless every line of out ends in CRLF, there is no
// bare CR or LF, and no line is longer than 998 octets.
func checkWireFormat(t *testing.T, out []byte) {
	t.Helper()
	for i, c := range out {
		switch {
		case c == '\n' && (i == 0 || out[i-1] != '\r'):
			t.Fatalf("bare LF at offset %d: %q", i, context(out, i))
		case c == '\r' && (i+1 >= len(out) || out[i+1] != '\n'):
			t.Fatalf("bare CR at offset %d: %q", i, context(out, i))
		}
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("output does not end with CRLF")
	}
	for n, l := range bytes.Split(out, []byte("\r\n")) {
		if len(l) > 998 {
			t.Fatalf("line %d is %d octets long", n+1, len(l))
		}
	}
}

func context(b []byte, i int) []byte {
	return b[max(0, i-20):min(len(b), i+20)]
}

// statusBlocks parses a delivery-status body as RFC 3464 header blocks: the
// per-message block first, then one block per recipient.
func statusBlocks(t *testing.T, body []byte) []textproto.MIMEHeader {
	t.Helper()
	rd := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	var blocks []textproto.MIMEHeader
	for {
		h, err := rd.ReadMIMEHeader()
		if len(h) > 0 {
			blocks = append(blocks, h)
		}
		if err == io.EOF {
			return blocks
		}
		if err != nil {
			t.Fatalf("status block %d: %v", len(blocks)+1, err)
		}
	}
}

// wantFields checks fields of a block; "" means the field must be absent.
func wantFields(t *testing.T, what string, h textproto.MIMEHeader, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, present := h[textproto.CanonicalMIMEHeaderKey(k)]
		switch {
		case v == "" && present:
			t.Errorf("%s: %s = %q, want absent", what, k, got)
		case v != "" && (len(got) != 1 || got[0] != v):
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func wantDate(t *testing.T, what, field string, h textproto.MIMEHeader, want time.Time) {
	t.Helper()
	got, err := netmail.ParseDate(h.Get(field))
	if err != nil {
		t.Fatalf("%s: %s %q: %v", what, field, h.Get(field), err)
	}
	if !got.Equal(want) {
		t.Errorf("%s: %s = %v, want %v", what, field, got, want)
	}
}

func partTypes(parts []dsnPart) []string {
	var s []string
	for _, p := range parts {
		s = append(s, p.mediaType)
	}
	return s
}

func wantTypes(t *testing.T, parts []dsnPart, want ...string) {
	t.Helper()
	if got := partTypes(parts); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("part types = %v, want %v", got, want)
	}
}

func TestBuildFailure(t *testing.T) {
	_, e, parts := build(t, report())

	mt, params, err := e.Header.ContentType()
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if mt != "multipart/report" || params["report-type"] != "delivery-status" || params["boundary"] == "" {
		t.Errorf("Content-Type = %s %v, want multipart/report; report-type=delivery-status with a boundary", mt, params)
	}
	for k, want := range map[string]string{
		"Auto-Submitted": "auto-replied",
		"Subject":        "Undelivered Mail Returned to Sender",
		"MIME-Version":   "1.0",
		"To":             "<alice@example.com>",
	} {
		if got := e.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	from, err := netmail.ParseAddress(e.Header.Get("From"))
	if err != nil || from.Address != "MAILER-DAEMON@mail.example.com" {
		t.Errorf("From = %q (%v), want MAILER-DAEMON@mail.example.com", e.Header.Get("From"), err)
	}
	if d, err := netmail.ParseDate(e.Header.Get("Date")); err != nil || !d.Equal(attempt) {
		t.Errorf("Date = %q (%v), want %v", e.Header.Get("Date"), err, attempt)
	}
	if id := e.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mail.example.com>") || len(id) < len("<x@mail.example.com>")+10 {
		t.Errorf("Message-ID = %q, want a random id at mail.example.com", id)
	}

	wantTypes(t, parts, "text/plain", "message/delivery-status", "message/rfc822")

	text := string(parts[0].body)
	for _, s := range []string{
		"bob@example.net", "Bob.Alias@example.org", "this mailbox does not exist",
		"550 5.1.1 <bob@example.net>: no such user", "mx.example.net",
		"carol@demodomain.tw", "demodomain.tw has no mail server (no MX record).",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q:\n%s", s, text)
		}
	}

	blocks := statusBlocks(t, parts[1].body)
	if len(blocks) != 3 {
		t.Fatalf("got %d status blocks, want 3 (per-message + 2 recipients): %v", len(blocks), blocks)
	}
	wantFields(t, "per-message", blocks[0], map[string]string{
		"Original-Envelope-Id": "QQ314159",
		"Reporting-MTA":        "dns; mail.example.com",
		"Received-From-MTA":    "dns; client.example",
		"Final-Recipient":      "",
	})
	wantDate(t, "per-message", "Arrival-Date", blocks[0], arrival)
	wantFields(t, "bob", blocks[1], map[string]string{
		"Original-Recipient": "rfc822; Bob.Alias@example.org",
		"Final-Recipient":    "rfc822; bob@example.net",
		"Action":             "failed",
		"Status":             "5.1.1",
		"Remote-MTA":         "dns; mx.example.net",
		"Diagnostic-Code":    "smtp; 550 5.1.1 <bob@example.net>: no such user",
		"Will-Retry-Until":   "",
	})
	wantDate(t, "bob", "Last-Attempt-Date", blocks[1], attempt)
	wantFields(t, "carol", blocks[2], map[string]string{
		"Original-Recipient": "",
		"Final-Recipient":    "rfc822; carol@demodomain.tw",
		"Action":             "failed",
		"Status":             "5.1.2",
		"Remote-MTA":         "",
		"Diagnostic-Code":    "",
	})

	if got := string(parts[2].body); got != origMsg {
		t.Errorf("returned message = %q, want the original %q", got, origMsg)
	}
}

func TestBuildDelay(t *testing.T) {
	r := report()
	r.Recipients = []Recipient{{
		Address:        "dave@slow.example",
		Action:         Delayed,
		Status:         "4.4.1",
		LastAttempt:    attempt,
		WillRetryUntil: retryEnd,
		Reason:         Explain("4.4.1", "slow.example", ""),
	}}
	_, e, parts := build(t, r)

	if got := e.Header.Get("Subject"); got != "Delivery Status Notification (Delay)" {
		t.Errorf("Subject = %q", got)
	}
	wantTypes(t, parts, "text/plain", "message/delivery-status", "message/rfc822")
	blocks := statusBlocks(t, parts[1].body)
	if len(blocks) != 2 {
		t.Fatalf("got %d status blocks, want 2", len(blocks))
	}
	wantFields(t, "dave", blocks[1], map[string]string{"Action": "delayed", "Status": "4.4.1"})
	wantDate(t, "dave", "Will-Retry-Until", blocks[1], retryEnd)

	text := strings.Join(strings.Fields(string(parts[0].body)), " ")
	for _, s := range []string{"could not connect to the mail server of slow.example", "retried until", "do not need to send the message again"} {
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q:\n%s", s, text)
		}
	}
}

func TestSubject(t *testing.T) {
	cases := []struct {
		actions []Action
		want    string
	}{
		{[]Action{Delayed, Failed}, "Undelivered Mail Returned to Sender"},
		{[]Action{Delivered, Delayed}, "Delivery Status Notification (Delay)"},
		{[]Action{Delivered, Relayed, Expanded}, "Delivery Status Notification"},
	}
	for _, c := range cases {
		r := report()
		r.Recipients = nil
		for _, a := range c.actions {
			st := map[Action]string{Failed: "5.0.0", Delayed: "4.0.0"}[a]
			if st == "" {
				st = "2.0.0"
			}
			r.Recipients = append(r.Recipients, Recipient{Address: "x@example.net", Action: a, Status: st})
		}
		_, e, _ := build(t, r)
		if got := e.Header.Get("Subject"); got != c.want {
			t.Errorf("actions %v: Subject = %q, want %q", c.actions, got, c.want)
		}
	}
}

func TestReturnHeadersOnly(t *testing.T) {
	cases := map[string]func(*Report){
		"RET=HDRS":    func(r *Report) { r.ReturnHeadersOnly = true },
		"MaxOriginal": func(r *Report) { r.MaxOriginal = int64(len(origMsg) - 1) },
		"MaxOriginal inside header": func(r *Report) {
			r.MaxOriginal = int64(strings.Index(origMsg, "Subject:") + 3)
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			r := report()
			set(r)
			_, _, parts := build(t, r)
			wantTypes(t, parts, "text/plain", "message/delivery-status", "text/rfc822-headers")
			got := string(parts[2].body)
			if strings.Contains(got, "Hello Bob") || strings.Contains(got, "See you") {
				t.Errorf("headers part contains the body: %q", got)
			}
			if !strings.HasPrefix(got, "From: alice@example.com\r\nTo: bob@example.net\r\n") {
				t.Errorf("headers part = %q, want the original header", got)
			}
			if name != "MaxOriginal inside header" && !strings.Contains(got, "Message-ID: <orig@example.com>\r\n") {
				t.Errorf("headers part = %q, want the whole original header", got)
			}
			if !strings.Contains(string(parts[0].body), "header of your message is attached") {
				t.Errorf("text part does not say only the header is attached:\n%s", parts[0].body)
			}
		})
	}

	t.Run("MaxOriginal not reached", func(t *testing.T) {
		r := report()
		r.MaxOriginal = int64(len(origMsg))
		_, _, parts := build(t, r)
		wantTypes(t, parts, "text/plain", "message/delivery-status", "message/rfc822")
		if string(parts[2].body) != origMsg {
			t.Errorf("returned message = %q, want the original", parts[2].body)
		}
	})

	t.Run("no original", func(t *testing.T) {
		r := report()
		r.Original = nil
		_, _, parts := build(t, r)
		wantTypes(t, parts, "text/plain", "message/delivery-status")
	})
}

func TestNonASCIIRecipient(t *testing.T) {
	r := report()
	r.Recipients = []Recipient{{
		Address:        "用户@例子.台灣",
		OriginalRcpt:   "utf-8;用户@例子.台灣",
		Action:         Failed,
		Status:         "5.1.1",
		RemoteMTA:      "邮件.例子.台灣",
		DiagnosticCode: "550 5.1.1 <用户@例子.台灣>: 没有这个用户",
	}}
	r.Original = strings.NewReader("From: 发件人@例子.台灣\r\nSubject: 你好\r\n\r\n正文\r\n")
	out, e, parts := build(t, r)

	if got := e.Header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("top-level Content-Transfer-Encoding = %q, want 8bit", got)
	}
	wantTypes(t, parts, "text/plain", "message/global-delivery-status", "message/global")
	blocks := statusBlocks(t, parts[1].body)
	if len(blocks) != 2 {
		t.Fatalf("got %d status blocks, want 2", len(blocks))
	}
	wantFields(t, "recipient", blocks[1], map[string]string{
		"Original-Recipient": "utf-8; 用户@例子.台灣",
		"Final-Recipient":    "utf-8; 用户@例子.台灣",
		"Remote-MTA":         "dns; xn--5nq051n.xn--fsqu00a.xn--kpry57d",
		"Diagnostic-Code":    "smtp; 550 5.1.1 <用户@例子.台灣>: 没有这个用户",
	})
	if !strings.Contains(string(parts[0].body), "用户@例子.台灣") {
		t.Errorf("text part lacks the recipient:\n%s", parts[0].body)
	}
	if !bytes.Contains(out, []byte("Content-Transfer-Encoding: quoted-printable")) {
		t.Errorf("non-ASCII text part is not quoted-printable")
	}

	// ASCII addresses keep the plain types even with UTF-8 in the reply,
	// which is then reduced to ASCII.
	r = report()
	r.Recipients[0].DiagnosticCode = "550 5.1.1 没有"
	_, _, parts = build(t, r)
	wantTypes(t, parts, "text/plain", "message/delivery-status", "message/rfc822")
	if d := statusBlocks(t, parts[1].body)[1].Get("Diagnostic-Code"); d != "smtp; 550 5.1.1 ??" {
		t.Errorf("Diagnostic-Code = %q, want non-ASCII replaced", d)
	}
}

func TestNoBareLineEnds(t *testing.T) {
	r := report()
	r.Original = strings.NewReader("Subject: x\nFrom: a@example.com\n\nline1\nline2\rline3\r\nlast")
	r.Recipients[0].DiagnosticCode = "550-5.1.1 first line\r\n550-5.1.1 second\n550 5.1.1 third\r"
	r.Recipients[0].Reason = Reason{Kind: ReasonNotDelivered, Domain: "two\nlines"}
	_, _, parts := build(t, r) // build checks every byte for bare CR and LF

	want := "Subject: x\r\nFrom: a@example.com\r\n\r\nline1\r\nline2\r\nline3\r\nlast\r\n"
	if got := string(parts[2].body); got != want {
		t.Errorf("returned message = %q, want %q", got, want)
	}
	d := statusBlocks(t, parts[1].body)[1].Get("Diagnostic-Code")
	if want := "smtp; 550-5.1.1 first line 550-5.1.1 second 550 5.1.1 third"; d != want {
		t.Errorf("Diagnostic-Code = %q, want %q", d, want)
	}
}

func TestLongDiagnosticCode(t *testing.T) {
	reply := "550 5.7.1" + strings.Repeat(" rejected-by-policy", 16) // 313 chars
	if len(reply) < 300 {
		t.Fatalf("test reply too short: %d", len(reply))
	}
	r := report()
	r.Recipients[0].DiagnosticCode = reply
	out, _, parts := build(t, r)

	i := bytes.Index(out, []byte("\r\nDiagnostic-Code: "))
	if i < 0 {
		t.Fatal("no Diagnostic-Code field")
	}
	field := out[i+2:]
	first, rest, _ := bytes.Cut(field, []byte("\r\n"))
	if len(first) > 78 || !bytes.HasPrefix(rest, []byte(" ")) {
		t.Errorf("Diagnostic-Code is not folded: first line %q", first)
	}
	if d := statusBlocks(t, parts[1].body)[1].Get("Diagnostic-Code"); d != "smtp; "+reply {
		t.Errorf("unfolded Diagnostic-Code = %q, want %q", d, "smtp; "+reply)
	}

	// A word no fold can split must still keep lines within 998 octets
	// (build checks); the content survives apart from the forced folds.
	long := "550 " + strings.Repeat("x", 2500)
	r = report()
	r.Recipients[0].DiagnosticCode = long
	_, _, parts = build(t, r)
	d := statusBlocks(t, parts[1].body)[1].Get("Diagnostic-Code")
	if strings.ReplaceAll(d, " ", "") != strings.ReplaceAll("smtp; "+long, " ", "") {
		t.Errorf("long Diagnostic-Code lost content: %q", d)
	}
}

func TestOriginalWithLongLines(t *testing.T) {
	// message/rfc822 cannot carry a 2000-octet line: only the header goes back.
	r := report()
	r.Original = strings.NewReader("Subject: long\r\n\r\n" + strings.Repeat("y", 2000) + "\r\n")
	_, _, parts := build(t, r)
	wantTypes(t, parts, "text/plain", "message/delivery-status", "text/rfc822-headers")
	if got := string(parts[2].body); got != "Subject: long\r\n" {
		t.Errorf("headers part = %q", got)
	}

	// A header line that is too long is quoted-printable encoded.
	long := "X-Long: " + strings.Repeat("z", 1500) + "\r\n"
	r = report()
	r.Original = strings.NewReader(long + "\r\nbody\r\n")
	_, _, parts = build(t, r)
	if got := parts[2].header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Errorf("Content-Transfer-Encoding = %q, want quoted-printable", got)
	}
	if got := string(parts[2].body); got != long {
		t.Errorf("decoded headers part = %q, want %q", got, long)
	}
}

func TestBuildInvalid(t *testing.T) {
	cases := map[string]func(*Report){
		"no recipients":     func(r *Report) { r.Recipients = nil },
		"status class 3":    func(r *Report) { r.Recipients[0].Status = "3.1.1" },
		"status two parts":  func(r *Report) { r.Recipients[0].Status = "5.1" },
		"status four parts": func(r *Report) { r.Recipients[0].Status = "5.1.1.1" },
		"status letters":    func(r *Report) { r.Recipients[0].Status = "5.x.1" },
		"status too long":   func(r *Report) { r.Recipients[0].Status = "5.1234.1" },
		"status empty":      func(r *Report) { r.Recipients[1].Status = "" },
		"bad action":        func(r *Report) { r.Recipients[0].Action = "bounced" },
		"empty action":      func(r *Report) { r.Recipients[1].Action = "" },
		"empty address":     func(r *Report) { r.Recipients[0].Address = "" },
		"orcpt without type": func(r *Report) {
			r.Recipients[0].OriginalRcpt = "bob@example.net"
		},
		"empty To":         func(r *Report) { r.To = "" },
		"header injection": func(r *Report) { r.To = "a@example.com\r\nBcc: victim@example.org" },
		"no reporting MTA": func(r *Report) { r.ReportingMTA = "" },
		"bad remote MTA":   func(r *Report) { r.Recipients[0].RemoteMTA = "mx example net" },
		"bracketed msg-id": func(r *Report) { r.MessageID = "<x@y>" },
		"read error":       func(r *Report) { r.Original = errReader{} },
		"empty from":       func(r *Report) { r.From = "" },
		"LF in received-from": func(r *Report) {
			r.ReceivedFrom = "dns; a\nX: y"
		},
	}
	for name, set := range cases {
		r := report()
		set(r)
		if out, err := Build(r); err == nil {
			t.Errorf("%s: Build succeeded, want an error:\n%s", name, out)
		} else if !strings.HasPrefix(err.Error(), "dsn: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if _, err := Build(nil); err == nil {
		t.Error("Build(nil) succeeded")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestValidStatus(t *testing.T) {
	for _, s := range []string{"2.0.0", "4.4.7", "5.1.10", "5.123.999"} {
		if !validStatus(s) {
			t.Errorf("validStatus(%q) = false", s)
		}
	}
}

func TestMessageIDGiven(t *testing.T) {
	r := report()
	r.MessageID = "dsn.1@mail.example.com"
	_, e, _ := build(t, r)
	if got := e.Header.Get("Message-ID"); got != "<dsn.1@mail.example.com>" {
		t.Errorf("Message-ID = %q", got)
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		status, domain, reply, want string
	}{
		{"5.1.10", "nomail.example", "", "nomail.example accepts no mail (it publishes a null MX record)."},
		{"5.1.2", "demodomain.tw", "", "demodomain.tw has no mail server (no MX record)."},
		{"5.1.2", "gone.example", "550 5.1.2 bad destination domain", "gone.example does not exist (no such domain in DNS)."},
		{"5.1.1", "example.net", "550 5.1.1 no such user", "the receiving server says this mailbox does not exist."},
		{"5.2.2", "example.net", "552 5.2.2 over quota", "the recipient's mailbox is full."},
		{"5.4.6", "example.net", "", "the message went round in a mail loop (it has too many Received headers)."},
		{"5.6.7", "example.net", "553 5.6.7 no SMTPUTF8", "the message needs SMTPUTF8 (international addresses), which the receiving server does not support."},
		{"4.4.1", "slow.example", "", "could not connect to the mail server of slow.example."},
		{"4.4.2", "slow.example", "", "could not connect to the mail server of slow.example."},
		{"4.4.3", "flaky.example", "DNS timeout looking up flaky.example", "the DNS lookup for flaky.example failed for now."},
		{"4.4.4", "flaky.example", "", "the mail servers of flaky.example have no address in DNS."},
		{"4.4.7", "slow.example", "", "the mail system gave up after trying for too long."},
		{"5.4.7", "slow.example", "", "the mail system gave up after trying for too long."},
		{"5.3.4", "example.net", "552 5.3.4 too big", "the message is too big for the receiving server."},
		{"5.7.1", "example.net", "550 5.7.1 spam", "the receiving server refused the message (policy)."},
		{"2.0.0", "example.net", "250 ok", "the message was delivered."},
		{"4.7.0", "example.net", "451 try later", "a temporary problem is delaying delivery to example.net."},
		{"5.0.0", "example.net", "550 no", "the receiving server rejected the message."},
		{"5.0.0", "example.net", "", "the message could not be delivered to example.net."},
		{"5.1.2", "", "", "the recipient's domain has no mail server (no MX record)."},
	}
	for _, c := range cases {
		if got := Explain(c.status, c.domain, c.reply).Text(English); got != c.want {
			t.Errorf("Explain(%q, %q, %q) = %q, want %q", c.status, c.domain, c.reply, got, c.want)
		}
	}
}
