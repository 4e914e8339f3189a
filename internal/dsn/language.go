package dsn

import (
	"fmt"
	"strings"
	"time"
)

// Language is the language of a notice's human-readable parts: the
// Subject, the sender's display name, the part descriptions and the text
// part. The message/delivery-status part is for programs and is the same
// in every language (RFC 3464 §2.1: its fields are US-ASCII keywords, and
// the Diagnostic-Code is the remote server's reply, verbatim).
type Language string

// The languages a notice can be written in; the values are the BCP 47
// tags ([dsn] language in the config, Content-Language in the notice).
const (
	English            Language = "en"
	TraditionalChinese Language = "zh-TW" // Taiwan usage: 郵件, 伺服器, 網域
	SimplifiedChinese  Language = "zh-CN" // mainland usage: 邮件, 服务器, 域名
)

// Languages lists every supported language, English first.
func Languages() []Language {
	return []Language{English, TraditionalChinese, SimplifiedChinese}
}

// ParseLanguage returns the Language for a tag. Tags are matched without
// regard to case, as BCP 47 tags are (RFC 5646 §2.1.1); "" is English.
func ParseLanguage(tag string) (Language, error) {
	if tag == "" {
		return English, nil
	}
	var names []string
	for _, l := range Languages() {
		if strings.EqualFold(tag, string(l)) {
			return l, nil
		}
		names = append(names, fmt.Sprintf("%q", l))
	}
	return "", fmt.Errorf("dsn: unknown language %q (want %s)", tag, strings.Join(names, ", "))
}

// texts is the wording of a notice in one language. Functions take what
// a sentence needs, so that each language can put it where its grammar
// wants it (and English can count).
type texts struct {
	language Language
	// Header fields and part descriptions.
	fromName                        string // display name of MAILER-DAEMON
	subjectFailed, subjectDelayed   string
	subjectOther                    string
	descText, descStatus            string // Content-Description of the first two parts
	descMessage, descHeaders        string // ... of the returned message or its header
	greeting                        func(mta string) string
	introFailed                     func(failed int) string
	alsoDelayed                     func(delayed int) string // added to introFailed
	introDelayed                    func(delayed int) string
	introReport                     string
	sectionFailed, sectionDelayed   string
	sectionDone                     string
	wroteTo                         func(orcpt string) string // after the address
	reasonLabel                     string
	replied                         func(mta string) string // mta may be ""
	retry                           string
	retryUntil                      func(until time.Time) string
	attachedHeader, attachedMessage string
	footer                          string
	theDomain                       string                // stands in for {d} when the domain is unknown
	reasons                         map[ReasonKind]string // {d}: a domain, {h}: a host
	englishAfter                    bool                  // the English text follows this one
	englishHeading                  string                // the line before it
	sentenceGap                     string                // between two sentences: " " or ""
}

// catalog returns the wording for lang; unknown values get English.
func catalog(lang Language) *texts {
	switch lang {
	case TraditionalChinese:
		return &zhTW
	case SimplifiedChinese:
		return &zhCN
	}
	return &en
}

var en = texts{
	language:       English,
	fromName:       "Mail Delivery System",
	subjectFailed:  "Undelivered Mail Returned to Sender",
	subjectDelayed: "Delivery Status Notification (Delay)",
	subjectOther:   "Delivery Status Notification",
	descText:       "Notification",
	descStatus:     "Delivery report",
	descMessage:    "Undelivered Message",
	descHeaders:    "Undelivered Message Headers",
	greeting:       func(mta string) string { return "This is the mail system at " + mta + "." },
	introFailed: func(n int) string {
		return "I'm sorry, but your message could not be delivered to " + count(n, "recipient") +
			". This is a permanent error: sending it again will most likely fail the same way."
	},
	alsoDelayed: func(n int) string {
		return "Delivery to " + count(n, "other recipient") + " is still being tried; there is nothing you need to do for " +
			plural(n, "that one", "those") + "."
	},
	introDelayed: func(n int) string {
		return "Your message has not been delivered yet to " + plural(n, "the recipient", "the recipients") + " below. " +
			"This is only a warning: delivery is still being tried, and you do not need to send the message again."
	},
	introReport:    "Here is the delivery report you asked for.",
	sectionFailed:  "Could not be delivered:",
	sectionDelayed: "Delayed, still trying:",
	sectionDone:    "Delivered:",
	wroteTo:        func(orcpt string) string { return " (you wrote to " + orcpt + ")" },
	reasonLabel:    "Reason: ",
	replied: func(mta string) string {
		if mta == "" {
			return "The receiving server replied:"
		}
		return "The receiving server (" + mta + ") replied:"
	},
	retry: "Delivery will be retried for a while. You do not need to send the message again.",
	retryUntil: func(t time.Time) string {
		return "Delivery will be retried until " + t.Format(dateLayout) +
			". You do not need to send the message again; if it still cannot be delivered by then, you will be told."
	},
	attachedHeader:  "The header of your message is attached below.",
	attachedMessage: "Your message is attached below.",
	footer:          "Technical details for your mail administrator are in the attached delivery report.",
	theDomain:       "the recipient's domain",
	sentenceGap:     " ",
	reasons: map[ReasonKind]string{
		ReasonNullMX:           "{d} accepts no mail (it publishes a null MX record).",
		ReasonNoMailServer:     "{d} has no mail server (no MX record).",
		ReasonNoSuchDomain:     "{d} does not exist (no such domain in DNS).",
		ReasonMXNamesNoHost:    "{d} has no mail server (its MX records name no host).",
		ReasonInvalidDomain:    "{d} is not a valid domain name.",
		ReasonNoAddress:        "{d} has no address in DNS (no AAAA or A record).",
		ReasonMXNoAddress:      "the mail servers of {d} have no address in DNS.",
		ReasonDNSTemporary:     "the DNS lookup for {d} failed for now.",
		ReasonNoSuchMailbox:    "the receiving server says this mailbox does not exist.",
		ReasonMailboxFull:      "the recipient's mailbox is full.",
		ReasonMailLoop:         "the message went round in a mail loop (it has too many Received headers).",
		ReasonNeedsSMTPUTF8:    "the message needs SMTPUTF8 (international addresses), which the receiving server does not support.",
		ReasonCannotConnect:    "could not connect to the mail server of {d}.",
		ReasonGaveUp:           "the mail system gave up after trying for too long.",
		ReasonTooBig:           "the message is too big for the receiving server.",
		ReasonPolicy:           "the receiving server refused the message (policy).",
		ReasonDelivered:        "the message was delivered.",
		ReasonDeliveredMailbox: "your message was delivered to the recipient's mailbox.",
		ReasonTemporary:        "a temporary problem is delaying delivery to {d}.",
		ReasonRejected:         "the receiving server rejected the message.",
		ReasonNotDelivered:     "the message could not be delivered to {d}.",
		ReasonRelayed:          "passed on to a mail system that does not send delivery reports.",
		ReasonRelayedTo:        "your message was handed to {h}, which does not send delivery reports; this is the last report you will get for it.",
		ReasonExpanded:         "delivered to a forwarding address or mailing list, which passed it on.",
	},
}

// zhDate is how a date reads in Chinese text: 2026年3月6日 10:00（UTC+08:00）.
const zhDate = "2006年1月2日 15:04（UTC-07:00）"

// Traditional Chinese as written in Taiwan: 郵件, 伺服器, 網域, 收件者,
// 送達/傳送, 連線, 標頭, 信箱.
var zhTW = texts{
	language:       TraditionalChinese,
	fromName:       "郵件傳送系統",
	subjectFailed:  "郵件無法送達",
	subjectDelayed: "郵件傳送延遲通知",
	subjectOther:   "郵件傳送狀態通知",
	descText:       "通知",
	descStatus:     "傳送狀態報告",
	descMessage:    "未送達的郵件",
	descHeaders:    "未送達郵件的標頭",
	greeting:       func(mta string) string { return "這封信由 " + mta + " 的郵件系統自動發出。" },
	introFailed: func(n int) string {
		return fmt.Sprintf("很抱歉，您的郵件無法送達以下 %d 位收件者。這是永久性的錯誤：重新寄送很可能仍會以同樣的原因失敗。", n)
	},
	alsoDelayed: func(n int) string {
		return fmt.Sprintf("系統仍在持續嘗試傳送給另外 %d 位收件者，這部分您不需要做任何處理。", n)
	},
	introDelayed: func(int) string {
		return "您的郵件尚未送達以下收件者。這只是提醒：系統仍在繼續嘗試傳送，您不需要重新寄出這封郵件。"
	},
	introReport:    "以下是您要求的傳送狀態報告。",
	sectionFailed:  "無法送達：",
	sectionDelayed: "尚未送達，仍在嘗試：",
	sectionDone:    "已送達：",
	wroteTo:        func(orcpt string) string { return "（您填寫的收件地址是 " + orcpt + "）" },
	reasonLabel:    "原因：",
	replied: func(mta string) string {
		if mta == "" {
			return "收件端伺服器的回覆："
		}
		return "收件端伺服器（" + mta + "）的回覆："
	},
	retry: "系統會在一段時間內繼續嘗試傳送，您不需要重新寄出這封郵件。",
	retryUntil: func(t time.Time) string {
		return "系統會持續嘗試傳送，直到 " + t.Format(zhDate) + "為止。您不需要重新寄出這封郵件；如果到時仍無法送達，系統會再通知您。"
	},
	attachedHeader:  "您郵件的標頭附在下方。",
	attachedMessage: "您的原始郵件附在下方。",
	footer:          "附件中的傳送狀態報告含有技術細節，可提供給您的郵件管理員參考。",
	theDomain:       "收件者的網域",
	englishAfter:    true,
	englishHeading:  "----- English -----",
	reasons: map[ReasonKind]string{
		ReasonNullMX:           "{d} 不接收郵件（它在 DNS 中公布了空的 MX 記錄）。",
		ReasonNoMailServer:     "{d} 沒有郵件伺服器（找不到 MX 記錄）。",
		ReasonNoSuchDomain:     "{d} 這個網域不存在（DNS 中查無此網域）。",
		ReasonMXNamesNoHost:    "{d} 沒有郵件伺服器（它的 MX 記錄沒有指向任何主機）。",
		ReasonInvalidDomain:    "{d} 不是有效的網域名稱。",
		ReasonNoAddress:        "{d} 在 DNS 中沒有位址（沒有 AAAA 或 A 記錄）。",
		ReasonMXNoAddress:      "在 DNS 中查不到 {d} 的郵件伺服器的位址。",
		ReasonDNSTemporary:     "查詢 {d} 的 DNS 時暫時失敗。",
		ReasonNoSuchMailbox:    "收件端伺服器表示這個信箱不存在。",
		ReasonMailboxFull:      "收件者的信箱已滿。",
		ReasonMailLoop:         "這封郵件陷入了郵件迴圈（Received 標頭過多）。",
		ReasonNeedsSMTPUTF8:    "這封郵件需要 SMTPUTF8（國際化電子郵件地址），但收件端伺服器不支援。",
		ReasonCannotConnect:    "無法連線到 {d} 的郵件伺服器。",
		ReasonGaveUp:           "郵件系統嘗試了太久仍未成功，已放棄傳送。",
		ReasonTooBig:           "這封郵件超過收件端伺服器允許的大小。",
		ReasonPolicy:           "收件端伺服器基於其政策拒收了這封郵件。",
		ReasonDelivered:        "郵件已送達。",
		ReasonDeliveredMailbox: "您的郵件已送達收件者的信箱。",
		ReasonTemporary:        "由於暫時性的問題，寄往 {d} 的郵件延遲送達。",
		ReasonRejected:         "收件端伺服器拒收了這封郵件。",
		ReasonNotDelivered:     "郵件無法送達 {d}。",
		ReasonRelayed:          "郵件已轉交給不會回傳送達報告的郵件系統。",
		ReasonRelayedTo:        "您的郵件已轉交給 {h}，該系統不會回傳送達報告；這是您會收到的最後一份報告。",
		ReasonExpanded:         "郵件已送達轉寄地址或郵件清單，並由其轉發出去。",
	},
}

// Simplified Chinese as written in mainland China: 邮件, 服务器, 域名,
// 收件人, 投递, 连接, 邮件头, 邮箱.
var zhCN = texts{
	language:       SimplifiedChinese,
	fromName:       "邮件投递系统",
	subjectFailed:  "邮件无法投递",
	subjectDelayed: "邮件投递延迟通知",
	subjectOther:   "邮件投递状态通知",
	descText:       "通知",
	descStatus:     "投递状态报告",
	descMessage:    "未投递的邮件",
	descHeaders:    "未投递邮件的邮件头",
	greeting:       func(mta string) string { return "此邮件由 " + mta + " 的邮件系统自动发送。" },
	introFailed: func(n int) string {
		return fmt.Sprintf("很抱歉，您的邮件无法投递给以下 %d 位收件人。这是永久性错误：重新发送很可能仍会因同样的原因失败。", n)
	},
	alsoDelayed: func(n int) string {
		return fmt.Sprintf("系统仍在继续尝试投递给另外 %d 位收件人，这部分您无需做任何处理。", n)
	},
	introDelayed: func(int) string {
		return "您的邮件尚未投递给以下收件人。这只是提醒：系统仍在继续尝试投递，您无需重新发送这封邮件。"
	},
	introReport:    "以下是您请求的投递状态报告。",
	sectionFailed:  "无法投递：",
	sectionDelayed: "尚未投递，仍在尝试：",
	sectionDone:    "已投递：",
	wroteTo:        func(orcpt string) string { return "（您填写的收件地址是 " + orcpt + "）" },
	reasonLabel:    "原因：",
	replied: func(mta string) string {
		if mta == "" {
			return "收件方服务器的回复："
		}
		return "收件方服务器（" + mta + "）的回复："
	},
	retry: "系统会在一段时间内继续尝试投递，您无需重新发送这封邮件。",
	retryUntil: func(t time.Time) string {
		return "系统会持续尝试投递，直到 " + t.Format(zhDate) + "为止。您无需重新发送这封邮件；如果届时仍无法投递，系统会再通知您。"
	},
	attachedHeader:  "您邮件的邮件头附在下方。",
	attachedMessage: "您的原始邮件附在下方。",
	footer:          "附件中的投递状态报告包含技术细节，可提供给您的邮件管理员参考。",
	theDomain:       "收件人的域名",
	englishAfter:    true,
	englishHeading:  "----- English -----",
	reasons: map[ReasonKind]string{
		ReasonNullMX:           "{d} 不接收邮件（它在 DNS 中发布了空的 MX 记录）。",
		ReasonNoMailServer:     "{d} 没有邮件服务器（找不到 MX 记录）。",
		ReasonNoSuchDomain:     "{d} 这个域名不存在（DNS 中查无此域名）。",
		ReasonMXNamesNoHost:    "{d} 没有邮件服务器（它的 MX 记录没有指向任何主机）。",
		ReasonInvalidDomain:    "{d} 不是有效的域名。",
		ReasonNoAddress:        "{d} 在 DNS 中没有地址（没有 AAAA 或 A 记录）。",
		ReasonMXNoAddress:      "在 DNS 中查不到 {d} 的邮件服务器的地址。",
		ReasonDNSTemporary:     "查询 {d} 的 DNS 时暂时失败。",
		ReasonNoSuchMailbox:    "收件方服务器表示该邮箱不存在。",
		ReasonMailboxFull:      "收件人的邮箱已满。",
		ReasonMailLoop:         "这封邮件陷入了邮件循环（Received 头过多）。",
		ReasonNeedsSMTPUTF8:    "这封邮件需要 SMTPUTF8（国际化电子邮件地址），但收件方服务器不支持。",
		ReasonCannotConnect:    "无法连接到 {d} 的邮件服务器。",
		ReasonGaveUp:           "邮件系统尝试了太久仍未成功，已放弃投递。",
		ReasonTooBig:           "这封邮件超出了收件方服务器允许的大小。",
		ReasonPolicy:           "收件方服务器根据其策略拒收了这封邮件。",
		ReasonDelivered:        "邮件已投递。",
		ReasonDeliveredMailbox: "您的邮件已投递到收件人的邮箱。",
		ReasonTemporary:        "由于临时问题，发往 {d} 的邮件被延迟投递。",
		ReasonRejected:         "收件方服务器拒收了这封邮件。",
		ReasonNotDelivered:     "邮件无法投递到 {d}。",
		ReasonRelayed:          "邮件已转交给不发送投递报告的邮件系统。",
		ReasonRelayedTo:        "您的邮件已转交给 {h}，该系统不发送投递报告；这是您会收到的最后一份报告。",
		ReasonExpanded:         "邮件已投递到转发地址或邮件列表，并由其继续转发。",
	},
}
