package dsn

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// technical holds the Latin words a Chinese text may keep: names of DNS
// records and protocol features, which are written the same in Chinese
// technical writing.
var technical = map[string]bool{"MX": true, "DNS": true, "AAAA": true, "A": true, "SMTPUTF8": true, "Received": true}

var latinWord = regexp.MustCompile(`[A-Za-z][A-Za-z0-9'-]*`)

// untranslated returns the Latin words of s that are neither technical
// terms nor part of one of the names (addresses, hosts, a remote reply)
// that a notice quotes as they are.
func untranslated(s string, names ...string) []string {
	// Longest first: a reply may quote an address.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, n := range names {
		if n != "" {
			s = strings.ReplaceAll(s, n, " ")
		}
	}
	var out []string
	for _, w := range latinWord.FindAllString(s, -1) {
		if !technical[w] {
			out = append(out, w)
		}
	}
	return out
}

// TestEveryReasonInEveryLanguage walks every reason kind: each language
// words it, the domain and host land where they belong, and the Chinese
// wordings leave no English behind.
func TestEveryReasonInEveryLanguage(t *testing.T) {
	for _, lang := range Languages() {
		if n := len(catalog(lang).reasons); n != len(reasonKinds) {
			t.Errorf("%s: %d wordings for %d reason kinds", lang, n, len(reasonKinds))
		}
		for _, k := range reasonKinds {
			if _, ok := catalog(lang).reasons[k]; !ok {
				t.Errorf("%s: no wording for %s", lang, k)
				continue
			}
			r := Reason{Kind: k, Domain: "demodomain.tw", Host: "mx.example.net"}
			got := r.Text(lang)
			if strings.ContainsAny(got, "{}") {
				t.Errorf("%s %s: placeholder left in %q", lang, k, got)
			}
			if k == ReasonRelayedTo && !strings.Contains(got, "mx.example.net") {
				t.Errorf("%s %s: %q does not name the host", lang, k, got)
			}
			if strings.Contains(catalog(English).reasons[k], "{d}") && !strings.Contains(got, "demodomain.tw") {
				t.Errorf("%s %s: %q does not name the domain", lang, k, got)
			}
			if lang == English {
				continue
			}
			if w := untranslated(got, "demodomain.tw", "mx.example.net"); len(w) > 0 {
				t.Errorf("%s %s: untranslated English %q in %q", lang, k, w, got)
			}
			// Without a domain the sentence says "the recipient's domain".
			if got := (Reason{Kind: k}).Text(lang); len(untranslated(got)) > 0 || strings.Contains(got, "{d}") {
				t.Errorf("%s %s without a domain: %q", lang, k, got)
			}
		}
	}
}

// Terms that show which Chinese a text is written in. A Traditional
// Chinese text for Taiwan says 伺服器, 網域, 收件者, 連線; a Simplified
// Chinese text for the mainland says 服务器, 域名, 收件人, 连接.
var (
	// Pairs of characters written differently in the two scripts.
	scriptPairs = [][2]rune{
		{'郵', '邮'}, {'無', '无'}, {'達', '达'}, {'傳', '传'}, {'遞', '递'}, {'連', '连'}, {'線', '线'},
		{'標', '标'}, {'頭', '头'}, {'這', '这'}, {'記', '记'}, {'錄', '录'}, {'時', '时'}, {'為', '为'},
		{'統', '统'}, {'個', '个'}, {'務', '务'}, {'網', '网'}, {'們', '们'}, {'過', '过'}, {'試', '试'},
		{'續', '续'}, {'會', '会'}, {'報', '报'}, {'態', '态'}, {'請', '请'}, {'據', '据'}, {'給', '给'},
		{'於', '于'}, {'轉', '转'}, {'發', '发'}, {'錯', '错'}, {'誤', '误'}, {'處', '处'}, {'際', '际'},
		{'國', '国'}, {'電', '电'}, {'該', '该'}, {'滿', '满'}, {'環', '环'}, {'實', '实'}, {'詢', '询'},
		{'題', '题'}, {'問', '问'}, {'還', '还'}, {'附', '附'},
	}
	// Words of the other region's usage.
	notInTW = []string{"服务器", "服務器", "域名", "收件人", "连接", "連接", "邮箱", "郵箱", "投递", "投遞", "信息", "策略"}
	notInCN = []string{"伺服器", "网域", "網域", "收件者", "连线", "連線", "信箱", "标头", "標頭", "传送", "送达", "政策"}
)

// allText renders every piece of wording of a language, with sample
// values, for the terminology checks.
func allText(lang Language) string {
	t := catalog(lang)
	when := time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)
	parts := []string{
		t.fromName, t.subjectFailed, t.subjectDelayed, t.subjectOther,
		t.descText, t.descStatus, t.descMessage, t.descHeaders,
		t.greeting("mail.example.com"), t.introFailed(1), t.introFailed(2), t.alsoDelayed(1), t.alsoDelayed(3),
		t.introDelayed(1), t.introDelayed(2), t.introReport, t.sectionFailed, t.sectionDelayed, t.sectionDone,
		t.wroteTo("bob@example.org"), t.reasonLabel, t.replied(""), t.replied("mx.example.net"),
		t.retry, t.retryUntil(when), t.attachedHeader, t.attachedMessage, t.footer, t.theDomain,
	}
	for _, k := range reasonKinds {
		parts = append(parts, Reason{Kind: k, Domain: "example.net", Host: "mx.example.net"}.Text(lang))
	}
	return strings.Join(parts, "\n")
}

func TestChineseTerminology(t *testing.T) {
	tw, cn := allText(TraditionalChinese), allText(SimplifiedChinese)
	for _, p := range scriptPairs {
		if p[0] == p[1] {
			continue
		}
		if strings.ContainsRune(tw, p[1]) {
			t.Errorf("zh-TW uses the simplified character %c (traditional: %c)", p[1], p[0])
		}
		if strings.ContainsRune(cn, p[0]) {
			t.Errorf("zh-CN uses the traditional character %c (simplified: %c)", p[0], p[1])
		}
	}
	for _, w := range notInTW {
		// 網域名稱 (domain name) is Taiwan usage; 域名 alone is not.
		if strings.Contains(strings.ReplaceAll(tw, "網域名稱", ""), w) {
			t.Errorf("zh-TW uses %q, mainland usage", w)
		}
	}
	for _, w := range notInCN {
		if strings.Contains(cn, w) {
			t.Errorf("zh-CN uses %q, Taiwan usage", w)
		}
	}
	for lang, text := range map[Language]string{TraditionalChinese: tw, SimplifiedChinese: cn} {
		if w := untranslated(text, "mail.example.com", "mx.example.net", "example.net", "bob@example.org", "UTC"); len(w) > 0 {
			t.Errorf("%s: untranslated English %q", lang, w)
		}
	}
}

// noticeKinds are reports of every kind a notice is made for: a failure
// (with delays beside it), a delay warning, a success report, and the
// relayed and expanded reports, each once with the whole message and once
// with its header only.
func noticeKinds() map[string]*Report {
	kinds := map[string]*Report{}
	failed := report()
	failed.Recipients = append(failed.Recipients, Recipient{Address: "dave@slow.example", Action: Delayed, Status: "4.4.1",
		LastAttempt: attempt, WillRetryUntil: retryEnd})
	kinds["failure"] = failed

	delayed := report()
	delayed.Recipients = []Recipient{
		{Address: "dave@slow.example", Action: Delayed, Status: "4.4.1", LastAttempt: attempt, WillRetryUntil: retryEnd},
		{Address: "erin@dns.example", Action: Delayed, Status: "4.4.3", LastAttempt: attempt},
		{Address: "fay@busy.example", Action: Delayed, Status: "4.2.2", RemoteMTA: "mx.busy.example",
			DiagnosticCode: "452 4.2.2 mailbox full", LastAttempt: attempt, WillRetryUntil: retryEnd},
	}
	kinds["delay"] = delayed

	success := report()
	success.ReturnHeadersOnly = true
	success.Recipients = []Recipient{
		{Address: "bob@example.net", Action: Delivered, Status: "2.0.0", Reason: Reason{Kind: ReasonDeliveredMailbox}},
		{Address: "carol@example.net", Action: Relayed, Status: "2.0.0", RemoteMTA: "mx.example.net",
			DiagnosticCode: "250 2.0.0 queued as 12345"},
		{Address: "list@example.net", OriginalRcpt: "rfc822;List@example.net", Action: Expanded, Status: "2.0.0"},
		{Address: "old@example.net", Action: Relayed, Status: "2.0.0"},
	}
	kinds["success"] = success
	return kinds
}

// TestNoticesInEveryLanguage renders every kind of notice in each
// language: the Subject and From are RFC 2047 encoded where they are not
// ASCII and decode to the language's words, the text part is UTF-8 in
// that language (no English left but the names it quotes) followed by the
// English text, and the machine-readable part is the same in every
// language.
func TestNoticesInEveryLanguage(t *testing.T) {
	for name, r := range noticeKinds() {
		enR := *r
		enR.Original = strings.NewReader(origMsg)
		_, _, enParts := build(t, &enR)
		englishStatus := enParts[1].body
		for _, lang := range Languages() {
			t.Run(name+"/"+string(lang), func(t *testing.T) {
				r := *r
				r.Original = strings.NewReader(origMsg)
				r.Language = lang
				out, e, parts := build(t, &r)
				cat := catalog(lang)

				head, _, _ := bytes.Cut(out, []byte("\r\n\r\n"))
				if !isASCII(string(head)) {
					t.Errorf("header section is not ASCII:\n%s", head)
				}
				subject, err := e.Header.Text("Subject")
				if err != nil {
					t.Fatalf("Subject: %v", err)
				}
				want := map[string]string{"failure": cat.subjectFailed, "delay": cat.subjectDelayed, "success": cat.subjectOther}[name]
				if lang != English {
					want += " (" + map[string]string{"failure": en.subjectFailed, "delay": en.subjectDelayed, "success": en.subjectOther}[name] + ")"
				}
				if subject != want {
					t.Errorf("Subject = %q, want %q", subject, want)
				}
				if from, err := e.Header.Text("From"); err != nil || !strings.HasPrefix(from, cat.fromName+" <") {
					t.Errorf("From = %q (%v), want the display name %q", from, err, cat.fromName)
				}

				if _, params, _ := parts[0].header.ContentType(); params["charset"] != "utf-8" {
					t.Errorf("text part charset = %q, want utf-8", params["charset"])
				}
				wantLang := string(lang)
				if lang != English {
					wantLang += ", en"
				}
				if got := parts[0].header.Get("Content-Language"); got != wantLang {
					t.Errorf("Content-Language = %q, want %q", got, wantLang)
				}
				for i, p := range parts {
					if d, err := p.header.Text("Content-Description"); err != nil || d == "" || (lang != English && !utf8.ValidString(d)) {
						t.Errorf("part %d: Content-Description %q (%v)", i, d, err)
					}
				}

				text := strings.ReplaceAll(string(parts[0].body), "\r\n", "\n")
				own := text
				if lang != English {
					var found bool
					own, _, found = strings.Cut(text, cat.englishHeading)
					if !found {
						t.Fatalf("no English text after the %s one:\n%s", lang, text)
					}
					// The English text is the English notice's text.
					enR := r
					enR.Original, enR.Language = strings.NewReader(origMsg), English
					_, _, enParts := build(t, &enR)
					if !strings.HasSuffix(text, strings.ReplaceAll(string(enParts[0].body), "\r\n", "\n")) {
						t.Errorf("the English text after the %s one differs from the English notice's:\n%s", lang, text)
					}
					var names []string
					for _, rc := range r.Recipients {
						names = append(names, rc.Address, domainOf(rc.Address), rc.RemoteMTA, joinReply(rc.DiagnosticCode),
							strings.TrimPrefix(rc.OriginalRcpt, "rfc822;"))
					}
					names = append(names, r.ReportingMTA, "UTC")
					if w := untranslated(own, names...); len(w) > 0 {
						t.Errorf("untranslated English %q in the %s text:\n%s", w, lang, own)
					}
				}
				for _, rc := range r.Recipients {
					if !strings.Contains(own, rc.Address) {
						t.Errorf("text lacks the recipient %s:\n%s", rc.Address, own)
					}
					if !strings.Contains(strings.Join(strings.Fields(own), ""), strings.Join(strings.Fields(rc.reason().Text(lang)), "")) {
						t.Errorf("text lacks the reason %q:\n%s", rc.reason().Text(lang), own)
					}
				}
				if name == "delay" && !strings.Contains(own, cat.retryUntil(retryEnd)[:10]) {
					t.Errorf("delay text does not say until when it is retried:\n%s", own)
				}
				for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
					if columns(l) > textWidth && len(units(l)) > 1 && !strings.Contains(l, "@") {
						t.Errorf("line wider than %d columns: %q", textWidth, l)
					}
				}

				// RFC 3464: the status part is for programs, the same in
				// every language.
				if !bytes.Equal(parts[1].body, englishStatus) {
					t.Errorf("status part differs from the English one:\n%s\n---\n%s", parts[1].body, englishStatus)
				}
			})
		}
	}
}

func TestParseLanguage(t *testing.T) {
	for in, want := range map[string]Language{"": English, "en": English, "zh-TW": TraditionalChinese, "zh-tw": TraditionalChinese, "ZH-CN": SimplifiedChinese} {
		if got, err := ParseLanguage(in); err != nil || got != want {
			t.Errorf("ParseLanguage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"zh", "fr", "zh-Hant", "en-US", " en"} {
		if _, err := ParseLanguage(in); err == nil || !strings.Contains(err.Error(), `"zh-TW"`) {
			t.Errorf("ParseLanguage(%q) = %v, want an error listing the languages", in, err)
		}
	}
	r := report()
	r.Language = "fr"
	if _, err := Build(r); err == nil {
		t.Error("Build with language fr succeeded")
	}
}

// TestWrapCJK: Chinese text, written without spaces, is broken between
// characters by display width, never before closing or after opening
// punctuation, and words of Latin script stay whole.
func TestWrapCJK(t *testing.T) {
	s := "很抱歉，您的郵件無法送達以下 2 位收件者。這是永久性的錯誤：重新寄送很可能仍會以同樣的原因失敗。" +
		"收件端伺服器（mx.very-long-host-name.example.net）的回覆：「拒收」。"
	lines := wrap(s, "    ", 40)
	if len(lines) < 4 {
		t.Fatalf("not wrapped: %q", lines)
	}
	for _, l := range lines {
		if columns(l) > 40 && len(units(l)) > 1 { // a unit longer than a line stays whole
			t.Errorf("line of %d columns: %q", columns(l), l)
		}
		body := strings.TrimPrefix(l, "    ")
		if strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "    ") || strings.HasPrefix(body, " ") {
			t.Errorf("bad indent: %q", l)
		}
		if r, _ := utf8.DecodeRuneInString(body); strings.ContainsRune(noBreakBefore, r) {
			t.Errorf("line starts with %c: %q", r, l)
		}
		if strings.ContainsAny(lastRune(body), noBreakAfter) {
			t.Errorf("line ends with an opening bracket: %q", l)
		}
	}
	joined := ""
	for _, l := range lines {
		joined += strings.TrimPrefix(l, "    ")
	}
	if strings.ReplaceAll(joined, " ", "") != strings.ReplaceAll(s, " ", "") {
		t.Errorf("wrapping lost text:\n%q\n%q", joined, s)
	}
	if !strings.Contains(joined, "mx.very-long-host-name.example.net") {
		t.Errorf("a host name was split: %q", lines)
	}
	// English keeps its spaces.
	if got := wrap("one two three", "", 72); len(got) != 1 || got[0] != "one two three" {
		t.Errorf("wrap English = %q", got)
	}
}

// FuzzNoticeText feeds what a notice quotes from outside (the remote
// reply, the original recipient as the client wrote it, the domain) into
// every language: Build must succeed with well-formed output, and the
// wrapping must lose no text and keep lines within the width where they
// can be broken.
func FuzzNoticeText(f *testing.F) {
	f.Add("550 5.1.1 <bob@example.net>: no such user", "Bob.Alias@example.org", "example.net", uint8(0))
	f.Add("550 5.7.1 拒收：您的郵件被判定為垃圾郵件（policy）。", "用户@例子.台灣", "例子.台灣", uint8(1))
	f.Add("451 4.3.0 （「『【〈《", "，。、", "x", uint8(2))
	f.Add("\xff\xfe 5.0.0 \r\n\t"+strings.Repeat("長", 200), "", "", uint8(2))
	f.Fuzz(func(t *testing.T, reply, orcpt, domain string, which uint8) {
		lang := Languages()[int(which)%len(Languages())]
		r := report()
		r.Language = lang
		r.Recipients[0].DiagnosticCode = reply
		r.Recipients[0].OriginalRcpt = "rfc822;" + orcpt
		r.Recipients[1].Reason = Reason{Kind: reasonKinds[int(which)%len(reasonKinds)], Domain: domain, Host: reply}
		out, err := Build(r)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		checkWireFormat(t, out)
		r.Original = nil
		for _, c := range humanText(r, nil, lang) {
			if unicode.IsControl(c) && c != '\n' {
				t.Fatalf("control character %U in the text part", c)
			}
		}

		text := oneLine(reply)
		lines := wrap(text, "  ", 40)
		var got strings.Builder
		for _, l := range lines {
			if !strings.HasPrefix(l, "  ") {
				t.Fatalf("line without its indent: %q", l)
			}
			if columns(l) > 40 && len(units(l)) > 1 {
				t.Fatalf("line of %d columns: %q", columns(l), l)
			}
			got.WriteString(l)
		}
		if strip := func(s string) string { return strings.Join(strings.Fields(s), "") }; strip(got.String()) != strip(text) {
			t.Fatalf("wrap changed the text:\n%q\n%q", got.String(), text)
		}
	})
}
