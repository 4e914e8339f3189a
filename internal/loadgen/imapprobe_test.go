package loadgen

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
)

// The fill appends exactly what was asked, with the planted words where
// mailGen puts them, and the probes run and count what the fake returns.
func TestIMAPProbeFillAndProbe(t *testing.T) {
	f := newFake(t, 50).start()
	var progress bytes.Buffer
	res, err := RunIMAPProbe(context.Background(), IMAPProbeOptions{IMAPServer: f.server(), Mailbox: "Big",
		Fill: 30, FillConns: 3, Reps: 3, Size: 1500, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Filled != 30 || res.Messages != 80 || res.Reps != 3 || res.FlagsLines != 80 || res.SearchHits != 3 {
		t.Errorf("filled=%d messages=%d reps=%d flags lines=%d hits=%d, want 30, 80, 3, 80, 3",
			res.Filled, res.Messages, res.Reps, res.FlagsLines, res.SearchHits)
	}
	if len(res.Select) != 3 || len(res.FetchFlags) != 3 || len(res.SearchText) != 3 || res.Login <= 0 ||
		minDuration(res.Select) <= 0 || res.FillLiteral != "nonsync" {
		t.Errorf("timings %v %v %v login %v, fill literals %q", res.Select, res.FetchFlags, res.SearchText, res.Login, res.FillLiteral)
	}
	for _, c := range []struct {
		cmd  string
		want int
	}{{"CREATE", 1}, {"APPEND", 30}, {"SELECT", 1 + 3}, {"UID FETCH FLAGS", 3}, {"UID SEARCH", 3}, {"LOGIN", 3 + 1}, {"LOGOUT", 3 + 1}} {
		if got := f.count(c.cmd); got != c.want {
			t.Errorf("server got %d %s, want %d", got, c.cmd, c.want)
		}
	}
	// Messages 50..79: the word in the body of every 5th (50, 55, ... 75),
	// in the Subject of every 7th (56, 63, 70, 77); 70 has both. CJK
	// subjects in every 6th from 5 (53, 59, 65, 71, 77).
	word, cjk := 0, 0
	for _, m := range f.appended {
		msg, err := mail.ReadMessage(bytes.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(msg.Body)
		if strings.Contains(subj, "invoice") || bytes.Contains(body, []byte("invoice")) {
			word++
		}
		if strings.ContainsAny(subj, "感会月请謝お来项ご年") {
			cjk++
		}
		if len(m) < 700 || len(m) > 2300 {
			t.Errorf("filled message of %d bytes, want 750 to 2250", len(m))
		}
	}
	if word != 9 || cjk != 5 {
		t.Errorf("%d messages with the word, %d with CJK subjects; want 9 and 5", word, cjk)
	}
	f.mu.Lock()
	searches := f.searches
	f.mu.Unlock()
	if len(searches) != 3 || searches[0] != "TEXT invoice" {
		t.Errorf("searches %q", searches)
	}
	kv := res.KV()
	for _, want := range []string{"mode=imap-probe messages=80 reps=3 login_ms=", " select_ms=", " fetch_flags_ms=", " search_text_ms=",
		" search_text_min_ms=", " flags_lines=80 search_hits=3 filled=30 fill_s=", " fill_literal=nonsync"} {
		if !strings.Contains(kv, want) {
			t.Errorf("KV %q lacks %q", kv, want)
		}
	}
}

// --fill-to tops up; literals follow the capabilities: synchronising
// without LITERAL+, non-synchronising up to 4 KB under IMAP4rev2.
func TestIMAPProbeFillLiterals(t *testing.T) {
	for _, tc := range []struct {
		caps       string
		size       int
		want       string
		sync, plus int
	}{
		{"IMAP4rev1", 2000, "sync", 10, 0},
		{"IMAP4rev1 LITERAL+", 20000, "nonsync", 0, 10},
		{"IMAP4rev2", 2000, "nonsync", 0, 10}, // 1000 to 3000 bytes: within LITERAL-
		{"IMAP4rev2", 10000, "sync", 10, 0},   // 5000 to 15000 bytes: beyond it
	} {
		f := newFake(t, 5)
		f.caps = tc.caps
		f.start()
		res, err := RunIMAPProbe(context.Background(), IMAPProbeOptions{IMAPServer: f.server(), FillTo: 15, Size: tc.size})
		if err != nil {
			t.Fatalf("%s: %v", tc.caps, err)
		}
		f.mu.Lock()
		sync, plus := f.syncLits, f.plusLits
		f.mu.Unlock()
		if res.Filled != 10 || res.Messages != 15 || res.FillLiteral != tc.want || sync != tc.sync || plus != tc.plus || res.Reps != 0 {
			t.Errorf("%s size %d: filled %d, %q, server saw %d sync %d non-sync literals, %d reps; want 10, %q, %d, %d, 0",
				tc.caps, tc.size, res.Filled, res.FillLiteral, sync, plus, res.Reps, tc.want, tc.sync, tc.plus)
		}
		if f.count("CREATE") != 0 {
			t.Error("CREATE for INBOX")
		}
		// Already full: nothing to do.
		res, err = RunIMAPProbe(context.Background(), IMAPProbeOptions{IMAPServer: f.server(), FillTo: 15})
		if err != nil || res.Filled != 0 || res.Messages != 15 || f.count("APPEND") != 10 {
			t.Errorf("second fill-to: %v, filled %d, messages %d, %d APPENDs", err, res.Filled, res.Messages, f.count("APPEND"))
		}
	}
}

// Any failure ends a probe with an error: a failed probe measured nothing.
func TestIMAPProbeErrors(t *testing.T) {
	f := newFake(t, 5)
	f.pass = "changed"
	f.start()
	if _, err := RunIMAPProbe(context.Background(), IMAPProbeOptions{IMAPServer: IMAPServer{Addr: f.addr, TLS: TLSNone, User: f.user, Password: "secret"}, Reps: 1}); err == nil ||
		!strings.Contains(err.Error(), "LOGIN: NO") {
		t.Errorf("bad login: %v", err)
	}
	for _, o := range []IMAPProbeOptions{
		{IMAPServer: IMAPServer{User: "u"}, Fill: 1, FillTo: 2},
		{IMAPServer: IMAPServer{User: "u"}, Reps: -1},
		{IMAPServer: IMAPServer{User: "u"}, Word: "x\ny"},
	} {
		if _, err := RunIMAPProbe(context.Background(), o); err == nil || !strings.HasPrefix(err.Error(), "imap-probe: ") {
			t.Errorf("%+v: %v, want an option error", o, err)
		}
	}
}
