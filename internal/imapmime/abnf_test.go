package imapmime

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// syntaxChecker validates output against the RFC 9051 §9 ABNF for body,
// envelope and their parts. It is independent of the code that writes the
// output, so that a formatting bug cannot hide behind a matching parser.
type syntaxChecker struct {
	b    string
	i    int
	utf8 bool // quoted strings may carry UTF-8
}

type syntaxError struct {
	at  int
	msg string
}

func (e syntaxError) Error() string { return fmt.Sprintf("at %d: %s", e.at, e.msg) }

func (c *syntaxChecker) fail(format string, args ...any) {
	panic(syntaxError{c.i, fmt.Sprintf(format, args...)})
}

// check runs f over s and reports the first violation, or trailing bytes.
func checkSyntax(s string, utf8OK bool, f func(c *syntaxChecker)) (err error) {
	c := &syntaxChecker{b: s, utf8: utf8OK}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(syntaxError)
			if !ok {
				panic(r)
			}
			err = se
		}
	}()
	f(c)
	if c.i != len(c.b) {
		c.fail("trailing bytes %q", c.b[c.i:])
	}
	return nil
}

func (c *syntaxChecker) peek() byte {
	if c.i < len(c.b) {
		return c.b[c.i]
	}
	return 0
}

func (c *syntaxChecker) lit(s string) {
	if !strings.HasPrefix(c.b[c.i:], s) {
		c.fail("want %q", s)
	}
	c.i += len(s)
}

func (c *syntaxChecker) sp() { c.lit(" ") }

func (c *syntaxChecker) isNil() bool {
	if strings.HasPrefix(c.b[c.i:], "NIL") {
		c.i += 3
		return true
	}
	return false
}

// number = 1*DIGIT
func (c *syntaxChecker) number() int64 {
	start := c.i
	for c.i < len(c.b) && '0' <= c.b[c.i] && c.b[c.i] <= '9' {
		c.i++
	}
	if start == c.i {
		c.fail("want number")
	}
	n, err := strconv.ParseInt(c.b[start:c.i], 10, 64)
	if err != nil {
		c.fail("number: %v", err)
	}
	return n
}

// str = quoted / literal
func (c *syntaxChecker) str() string {
	switch c.peek() {
	case '"':
		c.i++
		var b strings.Builder
		for {
			if c.i >= len(c.b) {
				c.fail("unterminated quoted string")
			}
			ch := c.b[c.i]
			c.i++
			switch {
			case ch == '"':
				s := b.String()
				if !isASCII(s) && (!c.utf8 || !utf8.ValidString(s)) {
					c.fail("8-bit quoted string %q", s)
				}
				return s
			case ch == '\\':
				if q := c.peek(); q != '"' && q != '\\' {
					c.fail("bad quoted pair")
				}
				b.WriteByte(c.b[c.i])
				c.i++
			case ch == '\r' || ch == '\n' || ch == 0:
				c.fail("CR, LF or NUL in quoted string")
			default:
				b.WriteByte(ch)
			}
		}
	case '{':
		c.i++
		n := c.number()
		c.lit("}\r\n")
		if int64(len(c.b)-c.i) < n {
			c.fail("short literal")
		}
		s := c.b[c.i : c.i+int(n)]
		if strings.IndexByte(s, 0) >= 0 {
			c.fail("NUL in literal")
		}
		c.i += int(n)
		return s
	}
	c.fail("want string")
	return ""
}

func (c *syntaxChecker) nstring() {
	if !c.isNil() {
		c.str()
	}
}

// body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
func (c *syntaxChecker) params() {
	if c.isNil() {
		return
	}
	c.lit("(")
	for {
		c.str()
		c.sp()
		c.str()
		if c.peek() == ')' {
			c.i++
			return
		}
		c.sp()
	}
}

// body-fld-dsp = "(" string SP body-fld-param ")" / nil
func (c *syntaxChecker) dsp() {
	if c.isNil() {
		return
	}
	c.lit("(")
	c.str()
	c.sp()
	c.params()
	c.lit(")")
}

// body-fld-lang = nstring / "(" string *(SP string) ")"
func (c *syntaxChecker) lang() {
	if c.peek() != '(' {
		c.nstring()
		return
	}
	c.i++
	c.str()
	for c.peek() == ' ' {
		c.i++
		c.str()
	}
	c.lit(")")
}

// body = "(" (body-type-1part / body-type-mpart) ")"
func (c *syntaxChecker) body(ext bool) {
	c.lit("(")
	if c.peek() == '(' {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		for c.peek() == '(' {
			c.body(ext)
		}
		c.sp()
		c.str()
		if ext {
			c.sp()
			c.params()
			c.sp()
			c.dsp()
			c.sp()
			c.lang()
			c.sp()
			c.nstring()
		}
		c.lit(")")
		return
	}
	typ := strings.ToUpper(c.str())
	c.sp()
	sub := strings.ToUpper(c.str())
	// body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
	//               body-fld-enc SP body-fld-octets
	c.sp()
	c.params()
	c.sp()
	c.nstring()
	c.sp()
	c.nstring()
	c.sp()
	c.str()
	c.sp()
	if n := c.number(); n > 1<<32-1 {
		c.fail("body-fld-octets over 32 bits")
	}
	switch {
	case typ == "MESSAGE" && (sub == "RFC822" || sub == "GLOBAL"):
		c.sp()
		c.envelope()
		c.sp()
		c.body(ext)
		c.sp()
		c.number()
	case typ == "TEXT":
		c.sp()
		c.number()
	}
	if ext {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
		//                  [SP body-fld-loc]]]
		c.sp()
		c.nstring()
		c.sp()
		c.dsp()
		c.sp()
		c.lang()
		c.sp()
		c.nstring()
	}
	c.lit(")")
}

// envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
//
//	env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
//	env-message-id ")"
func (c *syntaxChecker) envelope() {
	c.lit("(")
	c.nstring()
	c.sp()
	c.nstring()
	for range 6 {
		c.sp()
		c.addressList()
	}
	c.sp()
	c.nstring()
	c.sp()
	c.nstring()
	c.lit(")")
}

// env-from = "(" 1*address ")" / nil
func (c *syntaxChecker) addressList() {
	if c.isNil() {
		return
	}
	c.lit("(")
	for {
		// address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
		c.lit("(")
		c.nstring()
		c.sp()
		c.nstring()
		c.sp()
		c.nstring()
		c.sp()
		c.nstring()
		c.lit(")")
		if c.peek() == ')' {
			c.i++
			return
		}
	}
}
