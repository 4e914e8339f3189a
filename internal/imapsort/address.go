package imapsort

import (
	"mime"
	"net/mail"
	"strings"
)

// address is the part of an address SORT looks at.
type address struct {
	mailbox string // addr-mailbox: the local part, unquoted
	host    string // addr-host: the domain
	name    string // display name, encoded words decoded
}

// firstAddress returns the first mailbox of an address-list header value
// (From, To, Cc). RFC 5256 §3 sorts FROM, TO and CC by the addr-mailbox
// of the first address, and RFC 5957 §3 DISPLAYFROM and DISPLAYTO by its
// display name. ok is false when the value holds no mailbox at all (empty,
// or only an empty group such as "undisclosed-recipients:;"); SORT then
// uses the empty string.
//
// Values net/mail rejects (mail in the wild is often not RFC 5322) go
// through a tolerant scan instead, so a message never loses its key to one
// stray character.
func firstAddress(raw string) (a address, ok bool) {
	raw = strings.TrimSpace(collapseSpace(raw))
	if raw == "" {
		return address{}, false
	}
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}
	if list, err := p.ParseList(raw); err == nil {
		if len(list) == 0 {
			return address{}, false
		}
		a.mailbox, a.host = splitAddrSpec(list[0].Address)
		a.name = list[0].Name
		return a, true
	}
	return scanFirstAddress(raw)
}

// scanFirstAddress is the fallback of firstAddress: the first "<...>" is
// the address and the text before it the display name; without angle
// brackets, the first comma-separated item (comments removed) holds the
// address.
func scanFirstAddress(raw string) (a address, ok bool) {
	if lt := strings.IndexByte(raw, '<'); lt >= 0 {
		rest := raw[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			spec := strings.TrimSpace(rest[:gt])
			// Drop a source route (RFC 5322 §4.4 obs-route).
			if strings.HasPrefix(spec, "@") {
				if c := strings.IndexByte(spec, ':'); c >= 0 {
					spec = spec[c+1:]
				}
			}
			a.mailbox, a.host = splitAddrSpec(spec)
			name := strings.TrimSpace(raw[:lt])
			// A group name ("team: Joe <joe@x>") is not a display name.
			if c := strings.LastIndexByte(name, ':'); c >= 0 {
				name = strings.TrimSpace(name[c+1:])
			}
			a.name = strings.TrimSpace(decodeWords(unquote(name)))
			return a, a.mailbox != "" || a.host != ""
		}
	}
	item := raw
	if c := strings.IndexByte(item, ','); c >= 0 {
		item = item[:c]
	}
	words := strings.Fields(removeComments(item))
	if len(words) == 0 {
		return address{}, false
	}
	// The address is the word with an "@" in it ("Foo" foo@example.com),
	// or the whole item when no word has one.
	spec := strings.Join(words, " ")
	for _, w := range words {
		if strings.Contains(w, "@") {
			spec = w
			break
		}
	}
	a.mailbox, a.host = splitAddrSpec(spec)
	return a, true
}

// splitAddrSpec splits "local@domain" at its last "@", removing the quotes
// of a quoted local part.
func splitAddrSpec(spec string) (mailbox, host string) {
	at := strings.LastIndexByte(spec, '@')
	if at < 0 {
		return unquote(spec), ""
	}
	return unquote(spec[:at]), spec[at+1:]
}

// unquote removes the surrounding double quotes of s, if any, and the
// backslashes quoting characters inside (RFC 5322 §3.2.4).
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeComments returns s without its (possibly nested) comments.
func removeComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '(' {
			i = skipComment(s, i)
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// displayKey is the string DISPLAYFROM and DISPLAYTO sort by (RFC 5957
// §3): the display name of the first address, or, when it has none, the
// address itself as "mailbox@host".
func displayKey(raw string) string {
	a, ok := firstAddress(raw)
	switch {
	case !ok:
		return ""
	case a.name != "":
		return a.name
	case a.host == "":
		return a.mailbox
	}
	return a.mailbox + "@" + a.host
}
