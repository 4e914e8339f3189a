package imapparse

import (
	"strconv"
	"strings"
)

// FetchItem is one FETCH data item (RFC 9051 §6.4.5). Name is one of
// FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, UID,
// MODSEQ (RFC 7162 §3.1.4.1), RFC822, RFC822.HEADER, RFC822.TEXT (RFC 3501
// §6.4.5), BINARY and BINARY.SIZE (RFC 3516 §4.2). "BODY" with a nil
// Section is the body structure without extension data; "BODY[...]" and
// "BODY.PEEK[...]" are Name "BODY" with Section set, Peek for the latter.
type FetchItem struct {
	Name    string   // item name, upper-case, without ".PEEK" and section
	Section *Section // BODY[...], BINARY[...], BINARY.SIZE[...]; nil otherwise
	Peek    bool     // BODY.PEEK or BINARY.PEEK: do not set \Seen
	Partial *Partial // <offset.count>, nil if not given
}

// Section is a body section specification (RFC 9051 §6.4.5). BINARY and
// BINARY.SIZE sections have a Path only.
type Section struct {
	Path      []int    // part numbers, each at least 1; empty for the whole message
	Specifier string   // "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME"
	Fields    []string // header field names for HEADER.FIELDS[.NOT], as sent; match them case-insensitively
}

// Partial is the <offset.count> of a BODY or BINARY item.
type Partial struct {
	Offset uint32 // first octet, from 0
	Count  uint32 // number of octets, at least 1
}

// String renders the item as a client would send it.
func (f FetchItem) String() string {
	name := f.Name
	if f.Peek {
		name += ".PEEK"
	}
	s := name + f.sectionString()
	if f.Partial != nil {
		s += "<" + strconv.FormatUint(uint64(f.Partial.Offset), 10) + "." + strconv.FormatUint(uint64(f.Partial.Count), 10) + ">"
	}
	return s
}

// ResponseName renders the item's name as the server's FETCH response
// gives it (RFC 9051 §7.5.2): no ".PEEK", and a partial as "<offset>".
func (f FetchItem) ResponseName() string {
	s := f.Name + f.sectionString()
	if f.Partial != nil {
		s += "<" + strconv.FormatUint(uint64(f.Partial.Offset), 10) + ">"
	}
	return s
}

func (f FetchItem) sectionString() string {
	if f.Section == nil {
		return ""
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range f.Section.Path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(p))
	}
	if f.Section.Specifier != "" {
		if len(f.Section.Path) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.Section.Specifier)
	}
	if len(f.Section.Fields) > 0 {
		b.WriteString(" (")
		for i, h := range f.Section.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(h) // field names are atoms, checked when parsed
		}
		b.WriteByte(')')
	}
	b.WriteByte(']')
	return b.String()
}

// fetchMacro expands the FETCH macros of RFC 9051 §6.4.5.
func fetchMacro(name string) ([]FetchItem, bool) {
	var names []string
	switch name {
	case "ALL":
		names = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
	case "FAST":
		names = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
	case "FULL":
		names = []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
	default:
		return nil, false
	}
	items := make([]FetchItem, len(names))
	for i, n := range names {
		items[i].Name = n
	}
	return items, true
}

// parseFetch: "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
// fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
// (RFC 9051 §9, RFC 7162 §7).
func (r *Reader) parseFetch(uid bool) (*Fetch, error) {
	if err := r.sp("sequence set"); err != nil {
		return nil, err
	}
	set, err := r.seqSet("messages")
	if err != nil {
		return nil, err
	}
	a := &Fetch{Set: set}
	if err := r.sp("fetch items"); err != nil {
		return nil, err
	}
	if r.take('(') {
		for {
			it, err := r.fetchAtt()
			if err != nil {
				return nil, err
			}
			a.Items = append(a.Items, it)
			if r.take(')') {
				break
			}
			if err := r.sp("fetch item"); err != nil {
				return nil, err
			}
		}
	} else {
		start := r.pos
		name, err := r.fetchName()
		if err != nil {
			return nil, err
		}
		if items, ok := fetchMacro(name); ok {
			a.Items = items
		} else {
			r.pos = start
			it, err := r.fetchAtt()
			if err != nil {
				return nil, err
			}
			a.Items = []FetchItem{it}
		}
	}
	if !r.take(' ') {
		return a, nil
	}
	if err := r.fetchModifiers(a, uid); err != nil {
		return nil, err
	}
	return a, nil
}

// fetchModifiers reads "(" fetch-modifier *(SP fetch-modifier) ")" with
// CHANGEDSINCE (RFC 7162 §3.1.4.1) and VANISHED (§3.2.6), which is only
// for UID FETCH and only together with CHANGEDSINCE: BAD otherwise.
func (r *Reader) fetchModifiers(a *Fetch, uid bool) error {
	if err := r.expect('(', "before fetch modifiers"); err != nil {
		return err
	}
	for {
		m, err := r.keyword("fetch modifier")
		if err != nil {
			return err
		}
		switch m {
		case "CHANGEDSINCE":
			if err := r.sp("CHANGEDSINCE value"); err != nil {
				return err
			}
			if a.ChangedSince, err = r.number64("CHANGEDSINCE", true); err != nil {
				return err
			}
		case "VANISHED":
			if !uid {
				return r.errorf("VANISHED is only allowed in UID FETCH")
			}
			a.Vanished = true
		default:
			return r.errorf("unknown fetch modifier %s", short(m))
		}
		if r.take(')') {
			break
		}
		if err := r.sp("fetch modifier"); err != nil {
			return err
		}
	}
	if a.Vanished && a.ChangedSince == 0 {
		return r.errorf("VANISHED requires CHANGEDSINCE")
	}
	return nil
}

// fetchName reads an item name up to "[", "<", SP, ")" or the end, and
// returns it upper-cased.
func (r *Reader) fetchName() (string, error) {
	start := r.pos
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		if c != '.' && !isDigit(c) && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z') {
			break
		}
		r.pos++
	}
	if r.pos == start {
		return "", r.errorf("expected fetch item")
	}
	return strings.ToUpper(string(r.line[start:r.pos])), nil
}

// fetchAtt reads one fetch-att (RFC 9051 §9, RFC 3516 §6, RFC 7162 §7).
func (r *Reader) fetchAtt() (FetchItem, error) {
	name, err := r.fetchName()
	if err != nil {
		return FetchItem{}, err
	}
	it := FetchItem{Name: name}
	switch name {
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT",
		"BODYSTRUCTURE", "UID", "MODSEQ":
		return it, nil
	case "BODY", "BODY.PEEK":
		it.Name, it.Peek = "BODY", name == "BODY.PEEK"
		if r.peek() != '[' {
			if it.Peek {
				return FetchItem{}, r.errorf("BODY.PEEK needs a section")
			}
			return it, nil // BODY: structure without extension data
		}
		if it.Section, err = r.section(); err != nil {
			return FetchItem{}, err
		}
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		it.Name, it.Peek = "BINARY", name == "BINARY.PEEK"
		if name == "BINARY.SIZE" {
			it.Name = name
		}
		if it.Section, err = r.binarySection(); err != nil {
			return FetchItem{}, err
		}
		if name == "BINARY.SIZE" {
			return it, nil // no partial (RFC 3516 §6)
		}
	default:
		return FetchItem{}, r.errorf("unknown fetch item %s", short(name))
	}
	if r.peek() == '<' {
		if it.Partial, err = r.partial(); err != nil {
			return FetchItem{}, err
		}
	}
	return it, nil
}

// partial reads "<" number "." nz-number ">" (RFC 9051 §9).
func (r *Reader) partial() (*Partial, error) {
	r.pos++ // "<"
	var p Partial
	var err error
	if p.Offset, err = r.number("partial offset"); err != nil {
		return nil, err
	}
	if err = r.expect('.', "in partial"); err != nil {
		return nil, err
	}
	if p.Count, err = r.nzNumber("partial length"); err != nil {
		return nil, err
	}
	if err = r.expect('>', "after partial"); err != nil {
		return nil, err
	}
	return &p, nil
}

// sectionPath reads section-part: nz-number *("." nz-number). It stops
// before a "." that is not followed by a digit.
func (r *Reader) sectionPath() ([]int, error) {
	var path []int
	for {
		n, err := r.nzNumber("section part")
		if err != nil {
			return nil, err
		}
		path = append(path, int(n))
		if r.pos+1 < len(r.line) && r.line[r.pos] == '.' && isDigit(r.line[r.pos+1]) {
			r.pos++
			continue
		}
		return path, nil
	}
}

// binarySection reads section-binary: "[" [section-part] "]" (RFC 3516 §6).
func (r *Reader) binarySection() (*Section, error) {
	if err := r.expect('[', "before section"); err != nil {
		return nil, err
	}
	s := &Section{}
	if r.take(']') {
		return s, nil
	}
	var err error
	if !isDigit(r.peek()) {
		return nil, r.errorf("BINARY section must be part numbers only")
	}
	if s.Path, err = r.sectionPath(); err != nil {
		return nil, err
	}
	if err := r.expect(']', "after BINARY section"); err != nil {
		return nil, err
	}
	return s, nil
}

// section reads "[" [section-spec] "]" where section-spec =
// section-msgtext / (section-part ["." section-text]), section-text =
// section-msgtext / "MIME" and section-msgtext = "HEADER" /
// "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT" (RFC 9051 §9).
func (r *Reader) section() (*Section, error) {
	r.pos++ // "["
	s := &Section{}
	if r.take(']') {
		return s, nil
	}
	var err error
	if isDigit(r.peek()) {
		if s.Path, err = r.sectionPath(); err != nil {
			return nil, err
		}
		if r.take(']') {
			return s, nil
		}
		if err := r.expect('.', "after section part"); err != nil {
			return nil, err
		}
	}
	spec, err := r.fetchName()
	if err != nil {
		return nil, err
	}
	switch spec {
	case "HEADER", "TEXT":
	case "MIME":
		// MIME is the part's own header: the message has none of its own.
		if len(s.Path) == 0 {
			return nil, r.errorf("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := r.sp("header field list"); err != nil {
			return nil, err
		}
		if s.Fields, err = r.headerList(); err != nil {
			return nil, err
		}
	default:
		return nil, r.errorf("unknown section %s", short(spec))
	}
	s.Specifier = spec
	if err := r.expect(']', "after section"); err != nil {
		return nil, err
	}
	return s, nil
}

// headerList reads header-list: "(" header-fld-name *(SP header-fld-name)
// ")". The names are astrings; they must be field names of RFC 5322 §3.6.8
// (printable US-ASCII but ":"), which also lets them be echoed as atoms.
func (r *Reader) headerList() ([]string, error) {
	if err := r.expect('(', "before header field list"); err != nil {
		return nil, err
	}
	var fields []string
	for {
		f, err := r.astring("header field name")
		if err != nil {
			return nil, err
		}
		if !validFieldName(f) {
			return nil, r.errorf("bad header field name %s", short(f))
		}
		fields = append(fields, f)
		if r.take(')') {
			return fields, nil
		}
		if err := r.sp("header field name"); err != nil {
			return nil, err
		}
	}
}

// validFieldName reports a field name that is also an atom: ftext (RFC
// 5322 §3.6.8: printable US-ASCII except ":") without atom-specials.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || !isAstringChar(s[i]) || s[i] == ']' {
			return false
		}
	}
	return true
}
