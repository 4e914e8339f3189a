package imapmime

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// smallMessage is a typical 10 KB message: text and HTML alternatives and
// a small base64 attachment.
func smallMessage() []byte {
	var b strings.Builder
	b.WriteString(crlf(`Received: from mx.example.cn by mail.example.org; Tue, 2 Jan 2024 00:00:01 +0000
From: =?UTF-8?B?5byg5LiJ?= <zhang@example.cn>
To: "Bob Smith" <bob@example.org>, carol@example.org
Subject: =?GB2312?B?uNDQu9DF?=
Date: Tue, 2 Jan 2024 08:00:00 +0800
Message-ID: <bench@example.cn>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

`))
	for range 30 {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do =E2=80=94\r\n")
	}
	b.WriteString(crlf("--inner\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"))
	for range 30 {
		b.WriteString("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit</p>=E2=80=94\r\n")
	}
	b.WriteString(crlf("--inner--\n--outer\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=a.pdf\n\n"))
	for range 60 {
		b.WriteString(strings.Repeat("QUJD", 19) + "\r\n")
	}
	b.WriteString(crlf("--outer--\n"))
	return []byte(b.String())
}

// bigMessage is a 20 MB message, mostly one base64 attachment.
func bigMessage(tb testing.TB) []byte {
	b, err := io.ReadAll(newBigMessage(20 << 20))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct {
		name string
		msg  []byte
	}{
		{"10KB", smallMessage()},
		{"20MB", bigMessage(b)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.msg)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(bm.msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBodyStructure(b *testing.B) {
	msg := smallMessage()
	p, err := Parse(bytes.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = p.AppendBodyStructure(buf[:0], true, false)
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	p, err := Parse(bytes.NewReader(smallMessage()))
	if err != nil {
		b.Fatal(err)
	}
	data := p.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSmallBenchMessage(t *testing.T) {
	msg := smallMessage()
	if len(msg) < 9000 || len(msg) > 12000 {
		t.Errorf("small benchmark message is %d bytes", len(msg))
	}
	p := mustParse(t, string(msg))
	checkStructure(t, p, string(msg))
	if got := string(p.AppendBodyStructure(nil, false, false)); !strings.HasPrefix(got, `((("text" "plain"`) || !strings.HasSuffix(got, `"mixed")`) {
		t.Errorf("unexpected structure %s", got)
	}
}
