package imapsort

// appendMsgIDs appends to dst the message IDs found in a Message-ID,
// In-Reply-To or References header value: the text of each "<...>" token
// (RFC 5322 §3.6.4 msg-id), without the angle brackets and without any
// white space left inside by folding. Comments and quoted strings are
// skipped, so an old-style In-Reply-To such as
//
//	<1234@example.net> (from Joe <joe@example.net>)
//
// yields only the message ID. Empty tokens ("<>") are ignored.
//
// The IDs are returned as written: THREAD compares them octet by octet,
// so "<A@X>" and "<a@x>" are different messages.
func appendMsgIDs(dst []string, s string) []string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			i = skipComment(s, i)
		case '"':
			i = skipQuoted(s, i)
		case '<':
			// An unclosed or restarted "<" is dropped: the ID runs from
			// the last "<" before the next ">".
			start := i + 1
			j := start
			for j < len(s) && s[j] != '>' {
				if s[j] == '<' {
					start = j + 1
				}
				j++
			}
			if j == len(s) {
				return dst
			}
			if id := stripSpace(s[start:j]); id != "" {
				dst = append(dst, id)
			}
			i = j
		}
	}
	return dst
}

// firstMsgID returns the first message ID of a header value, or "".
func firstMsgID(s string) string {
	var buf [1]string
	if ids := appendMsgIDs(buf[:0], s); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// skipComment returns the index of the ")" closing the comment that opens
// at s[i] (RFC 5322 §3.2.2: comments nest, and a backslash quotes the next
// character), or len(s)-1 if it never closes.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s) - 1
}

// skipQuoted returns the index of the '"' closing the quoted string that
// opens at s[i] (RFC 5322 §3.2.4), or len(s)-1 if it never closes.
func skipQuoted(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(s) - 1
}

// stripSpace removes spaces, tabs, CR and LF from s.
func stripSpace(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)-n)
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}
