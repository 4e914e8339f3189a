package imapparse

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SearchKey is a node of a search program (RFC 9051 §6.4.4). Op is the
// upper-case key name; which other fields are set depends on it:
//
//	ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN
//	UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN      no argument
//	BCC BODY CC FROM SUBJECT TEXT TO                   Value
//	HEADER                                             Field (name), Value
//	KEYWORD UNKEYWORD                                  Value (the keyword)
//	BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE        Date (midnight UTC)
//	LARGER SMALLER                                     Number
//	UID, SEQSET (a bare sequence set)                  Set
//	MODSEQ (RFC 7162 §3.1.5)                           ModSeq; Field and Value hold the
//	                                                   optional entry name ("/flags/\Draft")
//	                                                   and entry type ("priv", "shared", "all")
//	NOT                                                Children[0]
//	OR                                                 Children[0], Children[1]
//	AND (a parenthesised list, and the top level)     Children, at least one
type SearchKey struct {
	Op       string       // key name, upper-case
	Set      *SeqSet      // UID and SEQSET
	Field    string       // HEADER field name; MODSEQ entry name
	Value    string       // string argument; KEYWORD; MODSEQ entry type
	Date     time.Time    // date keys
	Number   int64        // LARGER, SMALLER
	ModSeq   uint64       // MODSEQ
	Children []*SearchKey // NOT, OR, AND
}

// supportedCharset reports the charsets SEARCH, SORT and THREAD take.
// US-ASCII is a subset of UTF-8, the only charset IMAP4rev2 requires
// (RFC 9051 §6.4.4).
func supportedCharset(cs string) bool { return cs == "UTF-8" || cs == "US-ASCII" }

// parseSearch: "SEARCH" [search-return-opts] SP search-program (RFC 9051
// §9, RFC 4731 §3, RFC 5182 §3, RFC 5267 §5).
func (r *Reader) parseSearch() (*Search, error) {
	if err := r.sp("search keys"); err != nil {
		return nil, err
	}
	a := &Search{}
	if r.peekKeyword("RETURN") {
		a.HasReturn = true
		var err error
		if a.Return, a.Partial, err = r.returnOpts(); err != nil {
			return nil, err
		}
		if err := r.sp("search keys"); err != nil {
			return nil, err
		}
	}
	if r.peekKeyword("CHARSET") {
		cs, err := r.astring("charset")
		if err != nil {
			return nil, err
		}
		a.Charset = strings.ToUpper(cs)
		if err := r.sp("search keys"); err != nil {
			return nil, err
		}
	}
	var err error
	a.Key, err = r.searchProgram()
	return a, err
}

// searchProgram reads search-key *(SP search-key), the implicit AND at the
// top of a program.
func (r *Reader) searchProgram() (*SearchKey, error) {
	top := &SearchKey{Op: "AND"}
	for {
		k, err := r.searchKey(1)
		if err != nil {
			return nil, err
		}
		top.Children = append(top.Children, k)
		if !r.take(' ') {
			return top, nil
		}
	}
}

// searchKey reads one search-key (RFC 9051 §9, RFC 3501 §9 for NEW, OLD,
// RECENT and UNDRAFT's siblings, RFC 7162 §7 for MODSEQ). depth counts
// the parenthesis, NOT and OR levels above it.
func (r *Reader) searchKey(depth int) (*SearchKey, error) {
	if depth > r.lim.MaxNesting {
		return nil, r.errorf("search keys nested too deeply")
	}
	switch c := r.peek(); {
	case c == '(':
		r.pos++
		k := &SearchKey{Op: "AND"}
		for {
			child, err := r.searchKey(depth + 1)
			if err != nil {
				return nil, err
			}
			k.Children = append(k.Children, child)
			if r.take(')') {
				return k, nil
			}
			if err := r.sp("search key"); err != nil {
				return nil, err
			}
		}
	case isDigit(c) || c == '*' || c == '$':
		set, err := r.seqSet("search")
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: "SEQSET", Set: &set}, nil
	}
	op, err := r.keyword("search key")
	if err != nil {
		return nil, err
	}
	k := &SearchKey{Op: op}
	switch op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return k, nil
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		if err := r.sp(op + " string"); err != nil {
			return nil, err
		}
		k.Value, err = r.astring(op + " string")
		return k, err
	case "HEADER":
		if err := r.sp("header field name"); err != nil {
			return nil, err
		}
		if k.Field, err = r.astring("header field name"); err != nil {
			return nil, err
		}
		if err := r.sp("header value"); err != nil {
			return nil, err
		}
		k.Value, err = r.astring("header value")
		return k, err
	case "KEYWORD", "UNKEYWORD":
		if err := r.sp("keyword"); err != nil {
			return nil, err
		}
		k.Value, err = r.atom("keyword")
		return k, err
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		if err := r.sp("date"); err != nil {
			return nil, err
		}
		k.Date, err = r.searchDate(op)
		return k, err
	case "LARGER", "SMALLER":
		if err := r.sp("size"); err != nil {
			return nil, err
		}
		n, err := r.number64(op, false)
		k.Number = int64(n)
		return k, err
	case "UID":
		if err := r.sp("UID set"); err != nil {
			return nil, err
		}
		set, err := r.seqSet("UID")
		k.Set = &set
		return k, err
	case "NOT":
		if err := r.sp("search key"); err != nil {
			return nil, err
		}
		child, err := r.searchKey(depth + 1)
		if err != nil {
			return nil, err
		}
		k.Children = []*SearchKey{child}
		return k, nil
	case "OR":
		for i := 0; i < 2; i++ {
			if err := r.sp("search key"); err != nil {
				return nil, err
			}
			child, err := r.searchKey(depth + 1)
			if err != nil {
				return nil, err
			}
			k.Children = append(k.Children, child)
		}
		return k, nil
	case "MODSEQ":
		return k, r.modSeqKey(k)
	}
	return nil, r.errorf("unknown search key %s", short(op))
}

// modSeqKey reads the rest of: "MODSEQ" [SP entry-name SP entry-type-req]
// SP mod-sequence-valzer, where entry-name is a quoted "/flags/" followed
// by a flag and entry-type-req is "priv", "shared" or "all" (RFC 7162 §7).
func (r *Reader) modSeqKey(k *SearchKey) error {
	if err := r.sp("mod-sequence"); err != nil {
		return err
	}
	if r.peek() == '"' {
		name, err := r.quoted("MODSEQ entry name")
		if err != nil {
			return err
		}
		const prefix = "/flags/"
		if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
			return r.errorf("bad MODSEQ entry name %s", short(name))
		}
		k.Field = name
		if err := r.sp("MODSEQ entry type"); err != nil {
			return err
		}
		typ, err := r.atom("MODSEQ entry type")
		if err != nil {
			return err
		}
		k.Value = strings.ToLower(typ)
		switch k.Value {
		case "priv", "shared", "all":
		default:
			return r.errorf("bad MODSEQ entry type %s", short(typ))
		}
		if err := r.sp("mod-sequence"); err != nil {
			return err
		}
	}
	var err error
	k.ModSeq, err = r.number64("MODSEQ", false)
	return err
}

// parseSort: "SORT" SP sort-criteria SP search-criteria, where
// search-criteria = charset 1*(SP search-key) (RFC 5256 §5).
func (r *Reader) parseSort() (*Sort, error) {
	if err := r.sp("sort criteria"); err != nil {
		return nil, err
	}
	a := &Sort{}
	if r.peekKeyword("RETURN") {
		a.HasReturn = true
		var err error
		if a.Return, a.Partial, err = r.returnOpts(); err != nil {
			return nil, err
		}
		if err := r.sp("sort criteria"); err != nil {
			return nil, err
		}
	}
	if err := r.expect('(', "before sort criteria"); err != nil {
		return nil, err
	}
	for {
		var c SortCriterion
		key, err := r.keyword("sort key")
		if err != nil {
			return nil, err
		}
		if key == "REVERSE" {
			c.Reverse = true
			if err := r.sp("sort key"); err != nil {
				return nil, err
			}
			if key, err = r.keyword("sort key"); err != nil {
				return nil, err
			}
		}
		switch key {
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
			"DISPLAYFROM", "DISPLAYTO": // SORT=DISPLAY, RFC 5957 §4
		default:
			return nil, r.errorf("unknown sort key %s", short(key))
		}
		c.Key = key
		a.Criteria = append(a.Criteria, c)
		if r.take(')') {
			break
		}
		if err := r.sp("sort key"); err != nil {
			return nil, err
		}
	}
	var err error
	a.Charset, a.Key, err = r.searchCriteria()
	return a, err
}

// returnOpts reads "(" [search-return-opt *(SP search-return-opt)] ")"
// after RETURN SP: MIN MAX ALL COUNT (RFC 4731 §3), SAVE (RFC 5182 §3),
// CONTEXT, UPDATE and PARTIAL SP partial-range (RFC 5267 §5). An option
// given twice counts once; two PARTIALs, or PARTIAL with ALL, are an
// error (RFC 5267 §4.4).
func (r *Reader) returnOpts() ([]string, *PartialRange, error) {
	if err := r.expect('(', "before return options"); err != nil {
		return nil, nil, err
	}
	opts := []string{}
	var partial *PartialRange
	for first := true; !r.take(')'); first = false {
		if !first {
			if err := r.sp("return option"); err != nil {
				return nil, nil, err
			}
		}
		opt, err := r.keyword("return option")
		if err != nil {
			return nil, nil, err
		}
		switch opt {
		case "MIN", "MAX", "ALL", "COUNT", "SAVE", "CONTEXT", "UPDATE":
		case "PARTIAL":
			if err := r.sp("partial range"); err != nil {
				return nil, nil, err
			}
			if partial, err = r.partialRange(); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, r.errorf("unknown return option %s", short(opt))
		}
		if slices.Contains(opts, opt) {
			if opt == "PARTIAL" {
				return nil, nil, r.errorf("PARTIAL given twice")
			}
			continue
		}
		opts = append(opts, opt)
	}
	if slices.Contains(opts, "ALL") && slices.Contains(opts, "PARTIAL") {
		return nil, nil, r.errorf("PARTIAL and ALL cannot be combined")
	}
	return opts, partial, nil
}

// partialRange reads partial-range = nz-number ":" nz-number (RFC 5267
// §5); "500:400" is the same as "400:500".
func (r *Reader) partialRange() (*PartialRange, error) {
	a, err := r.nzNumber("partial range")
	if err != nil {
		return nil, err
	}
	if err := r.expect(':', "in partial range"); err != nil {
		return nil, err
	}
	b, err := r.nzNumber("partial range")
	if err != nil {
		return nil, err
	}
	return &PartialRange{First: min(a, b), Last: max(a, b)}, nil
}

// parseThread: "THREAD" SP thread-alg SP search-criteria (RFC 5256 §5).
func (r *Reader) parseThread() (*Thread, error) {
	if err := r.sp("thread algorithm"); err != nil {
		return nil, err
	}
	alg, err := r.keyword("thread algorithm")
	if err != nil {
		return nil, err
	}
	switch alg {
	case "ORDEREDSUBJECT", "REFERENCES":
	default:
		return nil, r.errorf("unknown thread algorithm %s", short(alg))
	}
	a := &Thread{Algorithm: alg}
	a.Charset, a.Key, err = r.searchCriteria()
	return a, err
}

// searchCriteria reads SP charset 1*(SP search-key); the charset is not
// optional here (RFC 5256 §5).
func (r *Reader) searchCriteria() (string, *SearchKey, error) {
	if err := r.sp("charset"); err != nil {
		return "", nil, err
	}
	cs, err := r.astring("charset")
	if err != nil {
		return "", nil, err
	}
	if err := r.sp("search keys"); err != nil {
		return "", nil, err
	}
	key, err := r.searchProgram()
	return strings.ToUpper(cs), key, err
}

// checkCharset runs once a SEARCH, SORT or THREAD command has been read in
// full: an unknown charset is a BadCharsetError, and with a known one every
// string must be UTF-8 (US-ASCII being a subset).
func (r *Reader) checkCharset(cmd *Command) error {
	var cs string
	var key *SearchKey
	switch a := cmd.Args.(type) {
	case *Search:
		cs, key = a.Charset, a.Key
	case *Sort:
		cs, key = a.Charset, a.Key
	case *Thread:
		cs, key = a.Charset, a.Key
	default:
		return nil
	}
	if cs != "" && !supportedCharset(cs) {
		return &BadCharsetError{Tag: r.tag, Name: cmd.Name, Charset: cs}
	}
	if !validKeyStrings(key) {
		return r.errorf("search string is not valid UTF-8")
	}
	return nil
}

// validKeyStrings reports whether all strings in the tree are UTF-8. The
// tree is at most MaxNesting deep.
func validKeyStrings(k *SearchKey) bool {
	if !utf8.ValidString(k.Value) || !utf8.ValidString(k.Field) {
		return false
	}
	for _, c := range k.Children {
		if !validKeyStrings(c) {
			return false
		}
	}
	return true
}
