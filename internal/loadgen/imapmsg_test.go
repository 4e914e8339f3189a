package loadgen

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMailGen(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := newMailGen(1, "invoice", 10240, "alice@example.test", now)
	words, cjk := 0, 0
	for seq := range 210 {
		m := g.build(seq, now)
		if d := len(m) - 10240; d < 0 || d > maxLine+2 {
			t.Errorf("message %d: %d bytes, want 10240 to %d", seq, len(m), 10240+maxLine+2)
		}
		if !utf8.Valid(m) || !bytes.HasSuffix(m, []byte("\r\n")) {
			t.Errorf("message %d: invalid UTF-8 or no final CRLF", seq)
		}
		for i, l := range bytes.Split(m[:len(m)-2], []byte("\r\n")) {
			if len(l) > maxLine || bytes.ContainsAny(l, "\r\n") {
				t.Errorf("message %d line %d: %q", seq, i, l)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m))
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("message %d: Subject: %v", seq, err)
		}
		body, _ := io.ReadAll(msg.Body)
		hasWord := strings.Contains(subj, "invoice") || bytes.Contains(body, []byte("invoice"))
		if want := seq%wordInSubjectEvery == 0 || seq%wordInBodyEvery == 0; hasWord != want {
			t.Errorf("message %d: has the word %v, want %v", seq, hasWord, want)
		}
		if hasWord {
			words++
		}
		isCJK := !isASCII(subj)
		if want := seq%cjkEvery == cjkEvery-1; isCJK != want || isCJK && isASCII(string(body)) {
			t.Errorf("message %d: CJK subject %v (%q), want %v, or ASCII body", seq, isCJK, subj, want)
		}
		if isCJK {
			cjk++
		}
		if to := msg.Header.Get("To"); to != "<alice@example.test>" {
			t.Errorf("To %q", to)
		}
	}
	// 210 messages: 42 with the word in the body, 30 in the Subject, 6 in
	// both; 35 CJK.
	if words != 66 || cjk != 35 {
		t.Errorf("%d with the word, %d CJK; want 66 and 35", words, cjk)
	}
	if !bytes.Equal(g.build(5, now), g.build(5, now)) || bytes.Equal(g.build(5, now), g.build(6, now)) {
		t.Error("build is not a function of seq")
	}
	// Small sizes still make a whole message.
	for _, size := range []int{0, 100, 400} {
		if _, err := mail.ReadMessage(bytes.NewReader(g.buildSized(35, size, now))); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
