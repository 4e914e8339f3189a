package imapparse

import (
	"encoding/base64"
	"strings"
	"time"
)

// Command is one parsed client command.
type Command struct {
	Tag  string // the client's tag, echoed in the tagged response
	Name string // upper-case command name without the UID prefix: "FETCH", "SEARCH", ...
	UID  bool   // the UID prefix was used (RFC 9051 §6.4.9)
	// Args holds a pointer to the typed arguments: *Login for LOGIN,
	// *Fetch for FETCH, and so on (see each type). It is nil for
	// commands without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS,
	// CHECK, CLOSE, UNSELECT, IDLE and NAMESPACE.
	Args any
	// BadName is the first mailbox name of the command that is not valid
	// in the session's encoding (see MailboxNameError), nil if none. Such
	// a name stands in Args as sent; LIST and LSUB leave out the patterns
	// that are not valid, and all of them for a bad reference. The server
	// answers any other command with NO: a name no mailbox can have.
	BadName *MailboxNameError
}

// Login holds LOGIN's arguments (RFC 9051 §6.2.3).
type Login struct {
	User     string // userid, as sent
	Password string // password, as sent
}

// Authenticate holds AUTHENTICATE's arguments (RFC 9051 §6.2.2) with the
// optional initial response of SASL-IR (RFC 4959).
type Authenticate struct {
	Mechanism       string // SASL mechanism, upper-case: "PLAIN"
	InitialResponse []byte // decoded initial response; empty for "="
	HasInitial      bool   // an initial response was given ("=" included)
}

// Enable holds ENABLE's capability names, upper-case (RFC 5161 §3.1).
type Enable struct {
	Caps []string // capability names, upper-case
}

// ID holds the client's ID parameters (RFC 2971 §3.1).
type ID struct {
	// Params are the field/value pairs in order; a NIL value is "". Params
	// is nil for "ID NIL" and empty for "ID ()".
	Params [][2]string
}

// Select holds the arguments of SELECT and EXAMINE (RFC 9051 §6.3.2,
// §6.3.3) with the select-params of RFC 7162 §3.1.8 and §3.2.5.
type Select struct {
	Mailbox   string   // decoded mailbox name
	CondStore bool     // (CONDSTORE) was given
	QResync   *QResync // (QRESYNC (...)) was given
}

// QResync is the QRESYNC select parameter (RFC 7162 §3.2.5.1).
type QResync struct {
	UIDValidity uint32  // the UIDVALIDITY the client knows
	ModSeq      uint64  // the last known HIGHESTMODSEQ
	KnownUIDs   *SeqSet // UIDs the client knows, nil if not given
	SeqMatch    *SeqSet // known-sequence-set of the seq-match-data, nil if not given
	UIDMatch    *SeqSet // known-uid-set of the seq-match-data, nil if not given
}

// Create holds CREATE's arguments with the USE parameter of
// CREATE-SPECIAL-USE (RFC 6154 §3).
type Create struct {
	Mailbox    string   // decoded mailbox name
	SpecialUse []string // special-use attributes such as `\Drafts`, known ones in canonical case
}

// MailboxArg is the argument of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type MailboxArg struct {
	Mailbox string // decoded mailbox name
}

// Rename holds RENAME's arguments (RFC 9051 §6.3.6).
type Rename struct {
	From string // existing mailbox name, decoded
	To   string // new mailbox name, decoded
}

// List holds the arguments of LIST (RFC 9051 §6.3.9, with LIST-EXTENDED of
// RFC 5258, SPECIAL-USE of RFC 6154 and LIST-STATUS of RFC 5819) and of
// LSUB (RFC 3501 §6.3.9), which has a single pattern and no options.
type List struct {
	Reference string   // reference name, decoded
	Patterns  []string // mailbox patterns with "*" and "%", decoded; empty when none was a valid name (Command.BadName)

	SelectSubscribed     bool // selection option SUBSCRIBED
	SelectRemote         bool // selection option REMOTE
	SelectRecursiveMatch bool // selection option RECURSIVEMATCH
	SelectSpecialUse     bool // selection option SPECIAL-USE (RFC 6154 §3)

	ReturnSubscribed bool     // return option SUBSCRIBED
	ReturnChildren   bool     // return option CHILDREN
	ReturnSpecialUse bool     // return option SPECIAL-USE (RFC 6154 §3)
	ReturnStatus     []string // return option STATUS items, upper-case (RFC 5819)

	// Extended is set when the extended syntax was used: selection
	// options, return options or a parenthesised pattern list, even empty
	// ones. The response then follows RFC 5258 (CHILDINFO and so on).
	Extended bool
}

// Status holds STATUS's arguments (RFC 9051 §6.3.11).
type Status struct {
	Mailbox string   // decoded mailbox name
	Items   []string // status data items, upper-case: "MESSAGES", "SIZE", ...
}

// Append holds APPEND's arguments (RFC 9051 §6.3.12, RFC 3516 §4.4,
// RFC 6855 §4): one message, or several with MULTIAPPEND (RFC 3502 §6),
// each a literal or, with CATENATE (RFC 4469 §5), a list of parts.
type Append struct {
	Mailbox  string          // decoded mailbox name
	Messages []AppendMessage // at least one, in the order sent
}

// AppendMessage is one message of an APPEND.
type AppendMessage struct {
	Flags   []string  // flags to set, system flags in canonical case; nil if none given
	Date    time.Time // internal date, in the zone the client gave
	HasDate bool      // a date-time was given
	Message []byte    // the message; nil when Catenate is set
	// Binary is set when the message came as literal8 ("~{n}", RFC 3516
	// §4.4), which is also the case for the UTF8 form: it may hold NUL
	// and binary content-transfer-encodings.
	Binary bool
	UTF8   bool // the "UTF8 (~{n}...)" form of RFC 6855 §4 was used
	// Catenate holds the parts of a "CATENATE (...)" message (RFC 4469
	// §5), at least one; nil for a message given as a literal.
	Catenate []CatPart
}

// CatPart is one part of a CATENATE message: literal text or a URL
// naming a message or part of one (RFC 4469 §3).
type CatPart struct {
	URL    string // "URL" part: the IMAP URL as sent (RFC 5092); "" for text
	Text   []byte // "TEXT" (or "UTF8") part: the octets
	Binary bool   // the text came as literal8 and may hold NUL
}

// Search holds SEARCH's arguments (RFC 9051 §6.4.4) with ESEARCH return
// options (RFC 4731), SAVE (RFC 5182) and those of CONTEXT=SEARCH (RFC
// 5267 §4).
type Search struct {
	Charset string // CHARSET given, upper-case: "UTF-8" or "US-ASCII"; "" if none
	// Return holds the return options, upper-case: MIN MAX COUNT ALL SAVE,
	// and CONTEXT UPDATE PARTIAL (RFC 5267 §4), each at most once.
	Return    []string
	HasReturn bool          // RETURN (...) was given, possibly empty (which means ALL)
	Partial   *PartialRange // PARTIAL's range; nil unless Return holds PARTIAL
	Key       *SearchKey    // an "AND" of the keys given
}

// PartialRange is the range of the PARTIAL return option (RFC 5267 §4.4):
// results First to Last, counted from 1, First ≤ Last.
type PartialRange struct {
	First, Last uint32
}

// CancelUpdate holds CANCELUPDATE's tags (RFC 5267 §4.3.5): those of the
// searching commands whose updates are to stop.
type CancelUpdate struct {
	Tags []string // at least one
}

// Fetch holds FETCH's arguments (RFC 9051 §6.4.5) with the CONDSTORE and
// QRESYNC modifiers (RFC 7162 §3.1.4, §3.2.6).
type Fetch struct {
	Set          SeqSet      // messages, by number or (UID FETCH) by UID
	Items        []FetchItem // data items, macros expanded
	ChangedSince uint64      // CHANGEDSINCE value; 0 if not given (the value is at least 1)
	Vanished     bool        // VANISHED was given (UID FETCH only, with CHANGEDSINCE)
}

// StoreMode says how STORE applies its flags.
type StoreMode int

// Store modes of RFC 9051 §6.4.6.
const (
	StoreReplace StoreMode = iota // FLAGS: replace the flags
	StoreAdd                      // +FLAGS: add to the flags
	StoreRemove                   // -FLAGS: remove from the flags
)

// Store holds STORE's arguments (RFC 9051 §6.4.6) with UNCHANGEDSINCE
// (RFC 7162 §3.1.3).
type Store struct {
	Set               SeqSet    // messages, by number or (UID STORE) by UID
	Mode              StoreMode // replace, add or remove
	Silent            bool      // .SILENT: no untagged FETCH responses
	Flags             []string  // flags, system flags in canonical case; may be empty
	UnchangedSince    uint64    // UNCHANGEDSINCE value (0 is allowed)
	HasUnchangedSince bool      // UNCHANGEDSINCE was given
}

// Copy holds the arguments of COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851
// §3.1).
type Copy struct {
	Set     SeqSet // messages, by number or (UID COPY/MOVE) by UID
	Mailbox string // decoded destination mailbox name
}

// Expunge holds the arguments of EXPUNGE and UID EXPUNGE (RFC 4315 §2.1).
type Expunge struct {
	Set *SeqSet // UIDs to limit UID EXPUNGE to; nil for EXPUNGE
}

// SortCriterion is one sort key of SORT (RFC 5256 §3).
type SortCriterion struct {
	Key     string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM or DISPLAYTO (RFC 5957)
	Reverse bool   // REVERSE was given
}

// Sort holds SORT's arguments (RFC 5256 §3) with the return options of
// ESORT and CONTEXT=SORT (RFC 5267 §3, §4).
type Sort struct {
	Criteria  []SortCriterion // at least one
	Charset   string          // upper-case: "UTF-8" or "US-ASCII"
	Key       *SearchKey      // an "AND" of the search keys given
	Return    []string        // return options as for Search
	HasReturn bool            // RETURN (...) was given: the answer is an ESEARCH response
	Partial   *PartialRange   // PARTIAL's range; nil unless Return holds PARTIAL
}

// Thread holds THREAD's arguments (RFC 5256 §3).
type Thread struct {
	Algorithm string     // ORDEREDSUBJECT or REFERENCES
	Charset   string     // upper-case: "UTF-8" or "US-ASCII"
	Key       *SearchKey // an "AND" of the search keys given
}

// QuotaLimit is one resource limit of SETQUOTA (RFC 9208 §4.1.3).
type QuotaLimit struct {
	Resource string // resource name, upper-case: "STORAGE", "MESSAGE", ...
	Limit    uint64 // the limit, in the resource's unit (KiB for STORAGE)
}

// Quota holds the arguments of GETQUOTA and SETQUOTA (RFC 9208 §4.1.1,
// §4.1.3). GETQUOTAROOT takes a mailbox and uses MailboxArg.
type Quota struct {
	Root   string       // quota root, as sent (not a mailbox name)
	Limits []QuotaLimit // SETQUOTA's limits, possibly empty; nil for GETQUOTA
}

// Compress holds COMPRESS's argument (RFC 4978 §3).
type Compress struct {
	Mechanism string // upper-case; "DEFLATE" is the only one defined
}

// parseCommand parses the command whose first segment is in r.line.
func (r *Reader) parseCommand() (*Command, error) {
	start := r.pos
	for r.pos < len(r.line) && isTagChar(r.line[r.pos]) {
		r.pos++
	}
	if r.pos == start {
		if r.end() {
			return nil, r.errorf("empty command line")
		}
		return nil, r.errorf("missing or bad tag")
	}
	tag := string(r.line[start:r.pos])
	if !r.end() && r.peek() != ' ' {
		return nil, r.errorf("bad character %+q in tag", r.peek())
	}
	r.tag = tag
	if err := r.sp("command name"); err != nil {
		return nil, err
	}
	name, err := r.keyword("command name")
	if err != nil {
		return nil, err
	}
	cmd := &Command{Tag: tag, Name: name}
	if name == "UID" {
		if err := r.sp("UID command"); err != nil {
			return nil, err
		}
		if cmd.Name, err = r.keyword("UID command"); err != nil {
			return nil, err
		}
		switch cmd.Name {
		case "COPY", "MOVE", "FETCH", "STORE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		default:
			return nil, r.errorf("UID %s is not a command", short(cmd.Name))
		}
		cmd.UID = true
	}
	if cmd.Args, err = r.parseArgs(cmd); err != nil {
		return nil, err
	}
	cmd.BadName = r.badName
	if err := r.endOfCommand(); err != nil {
		return nil, err
	}
	// The whole command is in: a BadCharsetError leaves nothing to skip.
	r.done = true
	if err := r.checkCharset(cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// parseArgs parses the arguments of cmd, positioned after its name.
func (r *Reader) parseArgs(cmd *Command) (any, error) {
	switch cmd.Name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NAMESPACE":
		return nil, nil
	case "EXPUNGE":
		if !cmd.UID {
			return &Expunge{}, nil
		}
		if err := r.sp("UID set"); err != nil {
			return nil, err
		}
		set, err := r.seqSet("UID EXPUNGE")
		if err != nil {
			return nil, err
		}
		return &Expunge{Set: &set}, nil
	case "LOGIN":
		return r.parseLogin()
	case "AUTHENTICATE":
		return r.parseAuthenticate()
	case "ENABLE":
		return r.parseEnable()
	case "ID":
		return r.parseID()
	case "SELECT", "EXAMINE":
		return r.parseSelect()
	case "CREATE":
		return r.parseCreate()
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
		if err := r.sp("mailbox name"); err != nil {
			return nil, err
		}
		mbox, err := r.mailbox("mailbox name")
		if err != nil {
			return nil, err
		}
		return &MailboxArg{Mailbox: mbox}, nil
	case "RENAME":
		return r.parseRename()
	case "LIST":
		return r.parseList(false)
	case "LSUB":
		return r.parseList(true)
	case "STATUS":
		return r.parseStatus()
	case "APPEND":
		return r.parseAppend()
	case "SEARCH":
		return r.parseSearch()
	case "FETCH":
		return r.parseFetch(cmd.UID)
	case "STORE":
		return r.parseStore()
	case "COPY", "MOVE":
		return r.parseCopy()
	case "SORT":
		return r.parseSort()
	case "THREAD":
		return r.parseThread()
	case "GETQUOTA", "SETQUOTA":
		return r.parseQuota(cmd.Name == "SETQUOTA")
	case "CANCELUPDATE":
		return r.parseCancelUpdate()
	case "NOTIFY":
		return r.parseNotify()
	case "GENURLAUTH":
		return r.parseGenURLAuth()
	case "RESETKEY":
		return r.parseResetKey()
	case "URLFETCH":
		return r.parseURLFetch()
	case "COMPRESS":
		if err := r.sp("compression mechanism"); err != nil {
			return nil, err
		}
		mech, err := r.keyword("compression mechanism")
		if err != nil {
			return nil, err
		}
		return &Compress{Mechanism: mech}, nil
	}
	return nil, r.errorf("unknown command %s", short(cmd.Name))
}

// parseLogin: "LOGIN" SP userid SP password (RFC 9051 §6.2.3).
func (r *Reader) parseLogin() (*Login, error) {
	var a Login
	var err error
	if err = r.sp("user name"); err != nil {
		return nil, err
	}
	if a.User, err = r.astring("user name"); err != nil {
		return nil, err
	}
	if err = r.sp("password"); err != nil {
		return nil, err
	}
	if a.Password, err = r.astring("password"); err != nil {
		return nil, err
	}
	return &a, nil
}

// parseAuthenticate: "AUTHENTICATE" SP auth-type [SP (base64 / "=")]
// (RFC 9051 §6.2.2, RFC 4959 §7).
func (r *Reader) parseAuthenticate() (*Authenticate, error) {
	var a Authenticate
	var err error
	if err = r.sp("SASL mechanism"); err != nil {
		return nil, err
	}
	if a.Mechanism, err = r.keyword("SASL mechanism"); err != nil {
		return nil, err
	}
	if !r.take(' ') {
		return &a, nil
	}
	resp, err := r.atom("initial response")
	if err != nil {
		return nil, err
	}
	a.HasInitial = true
	if resp == "=" { // RFC 4959 §3: "=" is an empty initial response
		a.InitialResponse = []byte{}
		return &a, nil
	}
	// The base64 alphabet and padding are all ATOM-CHARs, so the atom is
	// the whole response; StdEncoding demands the padding RFC 9051 §9 does.
	if a.InitialResponse, err = base64.StdEncoding.DecodeString(resp); err != nil {
		return nil, r.errorf("bad base64 in initial response")
	}
	return &a, nil
}

// parseEnable: "ENABLE" 1*(SP capability) (RFC 5161 §4).
func (r *Reader) parseEnable() (*Enable, error) {
	var a Enable
	for {
		if err := r.sp("capability"); err != nil {
			return nil, err
		}
		c, err := r.keyword("capability")
		if err != nil {
			return nil, err
		}
		a.Caps = append(a.Caps, c)
		if r.end() {
			return &a, nil
		}
	}
}

// parseID: "ID" SP ("(" [string SP nstring *(SP string SP nstring)] ")" /
// nil) (RFC 2971 §4).
func (r *Reader) parseID() (*ID, error) {
	if err := r.sp("ID parameters"); err != nil {
		return nil, err
	}
	if !r.take('(') {
		kw, err := r.keyword("ID parameters")
		if err != nil {
			return nil, err
		}
		if kw != "NIL" {
			return nil, r.errorf("expected parameter list or NIL")
		}
		return &ID{}, nil
	}
	a := ID{Params: [][2]string{}}
	if r.take(')') {
		return &a, nil
	}
	for {
		k, err := r.str("ID field")
		if err != nil {
			return nil, err
		}
		if err := r.sp("ID value"); err != nil {
			return nil, err
		}
		v, _, err := r.nstring("ID value")
		if err != nil {
			return nil, err
		}
		a.Params = append(a.Params, [2]string{k, v})
		if r.take(')') {
			return &a, nil
		}
		if err := r.sp("ID field"); err != nil {
			return nil, err
		}
	}
}

// parseSelect: ("SELECT" / "EXAMINE") SP mailbox [SP "(" select-param
// *(SP select-param) ")"] (RFC 4466 §2.1, RFC 7162 §7).
func (r *Reader) parseSelect() (*Select, error) {
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	mbox, err := r.mailbox("mailbox name")
	if err != nil {
		return nil, err
	}
	a := &Select{Mailbox: mbox}
	if !r.take(' ') {
		return a, nil
	}
	if err := r.expect('(', "before select parameters"); err != nil {
		return nil, err
	}
	for {
		p, err := r.keyword("select parameter")
		if err != nil {
			return nil, err
		}
		switch p {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			if a.QResync, err = r.parseQResync(); err != nil {
				return nil, err
			}
		default:
			return nil, r.errorf("unknown select parameter %s", short(p))
		}
		if r.take(')') {
			return a, nil
		}
		if err := r.sp("select parameter"); err != nil {
			return nil, err
		}
	}
}

// parseQResync: "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
// [SP known-uids] [SP seq-match-data] ")"; seq-match-data = "("
// known-sequence-set SP known-uid-set ")" (RFC 7162 §7). None of the sets
// may use "*" (or "$"): they list numbers the client knows.
func (r *Reader) parseQResync() (*QResync, error) {
	var q QResync
	var err error
	if err = r.sp("QRESYNC parameters"); err != nil {
		return nil, err
	}
	if err = r.expect('(', "before QRESYNC parameters"); err != nil {
		return nil, err
	}
	if q.UIDValidity, err = r.nzNumber("UIDVALIDITY"); err != nil {
		return nil, err
	}
	if err = r.sp("mod-sequence"); err != nil {
		return nil, err
	}
	if q.ModSeq, err = r.number64("mod-sequence", true); err != nil {
		return nil, err
	}
	if r.take(' ') && r.peek() != '(' {
		if q.KnownUIDs, err = r.staticSet("known UIDs"); err != nil {
			return nil, err
		}
		if !r.take(' ') {
			return &q, r.expect(')', "after QRESYNC parameters")
		}
	}
	if r.take('(') {
		if q.SeqMatch, err = r.staticSet("known sequence set"); err != nil {
			return nil, err
		}
		if err = r.sp("known UID set"); err != nil {
			return nil, err
		}
		if q.UIDMatch, err = r.staticSet("known UID set"); err != nil {
			return nil, err
		}
		if err = r.expect(')', "after sequence match data"); err != nil {
			return nil, err
		}
	}
	return &q, r.expect(')', "after QRESYNC parameters")
}

// staticSet reads a sequence set without "*" or "$".
func (r *Reader) staticSet(what string) (*SeqSet, error) {
	set, err := r.seqSet(what)
	if err != nil {
		return nil, err
	}
	if set.Dynamic() || set.Dollar {
		return nil, r.errorf(`"*" and "$" not allowed in %s`, what)
	}
	return &set, nil
}

// parseCreate: "CREATE" SP mailbox [SP "(" create-param *(SP
// create-param) ")"] (RFC 4466 §2.2); the only parameter is USE SP "("
// [use-attr *(SP use-attr)] ")" (RFC 6154 §6).
func (r *Reader) parseCreate() (*Create, error) {
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	mbox, err := r.mailbox("mailbox name")
	if err != nil {
		return nil, err
	}
	a := &Create{Mailbox: mbox}
	if !r.take(' ') {
		return a, nil
	}
	if err := r.expect('(', "before create parameters"); err != nil {
		return nil, err
	}
	for {
		p, err := r.keyword("create parameter")
		if err != nil {
			return nil, err
		}
		if p != "USE" {
			return nil, r.errorf("unknown create parameter %s", short(p))
		}
		if err := r.sp("special-use list"); err != nil {
			return nil, err
		}
		if err := r.expect('(', "before special-use attributes"); err != nil {
			return nil, err
		}
		for first := true; !r.take(')'); first = false {
			if !first {
				if err := r.sp("special-use attribute"); err != nil {
					return nil, err
				}
			}
			if err := r.expect('\\', "starting special-use attribute"); err != nil {
				return nil, err
			}
			name, err := r.atom("special-use attribute")
			if err != nil {
				return nil, err
			}
			a.SpecialUse = append(a.SpecialUse, canonicalSpecialUse(name))
		}
		if r.take(')') {
			return a, nil
		}
		if err := r.sp("create parameter"); err != nil {
			return nil, err
		}
	}
}

// canonicalSpecialUse spells the special-use attributes of RFC 6154 §2 and
// RFC 8457 (\Important) canonically; others keep the client's spelling, and
// the server refuses them with [USEATTR].
func canonicalSpecialUse(name string) string {
	for _, a := range [...]string{"All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash", "Important"} {
		if strings.EqualFold(name, a) {
			return `\` + a
		}
	}
	return `\` + name
}

// parseRename: "RENAME" SP mailbox SP mailbox (RFC 9051 §6.3.6).
func (r *Reader) parseRename() (*Rename, error) {
	var a Rename
	var err error
	if err = r.sp("mailbox name"); err != nil {
		return nil, err
	}
	if a.From, err = r.mailbox("mailbox name"); err != nil {
		return nil, err
	}
	if err = r.sp("new mailbox name"); err != nil {
		return nil, err
	}
	if a.To, err = r.mailbox("new mailbox name"); err != nil {
		return nil, err
	}
	return &a, nil
}

// parseList parses LIST with the extended syntax of RFC 5258 §6:
//
//	"LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
//
// and LSUB: "LSUB" SP mailbox SP list-mailbox (RFC 3501 §6.3.9).
func (r *Reader) parseList(lsub bool) (*List, error) {
	a := &List{}
	if err := r.sp("reference name"); err != nil {
		return nil, err
	}
	if !lsub && r.take('(') {
		a.Extended = true
		if err := r.listSelectOpts(a); err != nil {
			return nil, err
		}
		if err := r.sp("reference name"); err != nil {
			return nil, err
		}
	}
	var err error
	bad := r.badNames
	if a.Reference, err = r.mailbox("reference name"); err != nil {
		return nil, err
	}
	// A reference or pattern that is no valid name matches nothing
	// (Command.BadName): it is left out.
	badRef := r.badNames > bad
	if err := r.sp("mailbox pattern"); err != nil {
		return nil, err
	}
	if !lsub && r.take('(') {
		a.Extended = true
		for {
			bad := r.badNames
			p, err := r.listMailbox("mailbox pattern")
			if err != nil {
				return nil, err
			}
			if r.badNames == bad {
				a.Patterns = append(a.Patterns, p)
			}
			if r.take(')') {
				break
			}
			if err := r.sp("mailbox pattern"); err != nil {
				return nil, err
			}
		}
	} else {
		bad := r.badNames
		p, err := r.listMailbox("mailbox pattern")
		if err != nil {
			return nil, err
		}
		if r.badNames == bad {
			a.Patterns = []string{p}
		}
	}
	if badRef {
		a.Patterns = nil
	}
	if lsub || !r.take(' ') {
		return a, nil
	}
	a.Extended = true
	if kw, err := r.keyword("RETURN"); err != nil || kw != "RETURN" {
		return nil, r.errorf("expected RETURN after mailbox pattern")
	}
	if err := r.sp("return options"); err != nil {
		return nil, err
	}
	if err := r.expect('(', "before return options"); err != nil {
		return nil, err
	}
	return a, r.listReturnOpts(a)
}

// listSelectOpts reads the selection options after "(" (RFC 5258 §3.1,
// RFC 6154 §5.1). Unknown options and RECURSIVEMATCH without an option it
// could qualify get BAD, as RFC 5258 §3 requires.
func (r *Reader) listSelectOpts(a *List) error {
	for first := true; !r.take(')'); first = false {
		if !first {
			if err := r.sp("selection option"); err != nil {
				return err
			}
		}
		opt, err := r.keyword("selection option")
		if err != nil {
			return err
		}
		switch opt {
		case "SUBSCRIBED":
			a.SelectSubscribed = true
		case "REMOTE":
			a.SelectRemote = true
		case "RECURSIVEMATCH":
			a.SelectRecursiveMatch = true
		case "SPECIAL-USE":
			a.SelectSpecialUse = true
		default:
			return r.errorf("unknown LIST selection option %s", short(opt))
		}
	}
	if a.SelectRecursiveMatch && !a.SelectSubscribed && !a.SelectSpecialUse {
		return r.errorf("RECURSIVEMATCH needs another selection option")
	}
	return nil
}

// listReturnOpts reads the return options after "(" (RFC 5258 §3.2, RFC
// 5819 §2, RFC 6154 §5.2).
func (r *Reader) listReturnOpts(a *List) error {
	for first := true; !r.take(')'); first = false {
		if !first {
			if err := r.sp("return option"); err != nil {
				return err
			}
		}
		opt, err := r.keyword("return option")
		if err != nil {
			return err
		}
		switch opt {
		case "SUBSCRIBED":
			a.ReturnSubscribed = true
		case "CHILDREN":
			a.ReturnChildren = true
		case "SPECIAL-USE":
			a.ReturnSpecialUse = true
		case "STATUS":
			if err := r.sp("status items"); err != nil {
				return err
			}
			items, err := r.statusItems()
			if err != nil {
				return err
			}
			a.ReturnStatus = append(a.ReturnStatus, items...)
		default:
			return r.errorf("unknown LIST return option %s", short(opt))
		}
	}
	return nil
}

// parseStatus: "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
// (RFC 9051 §6.3.11).
func (r *Reader) parseStatus() (*Status, error) {
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	mbox, err := r.mailbox("mailbox name")
	if err != nil {
		return nil, err
	}
	if err := r.sp("status items"); err != nil {
		return nil, err
	}
	items, err := r.statusItems()
	if err != nil {
		return nil, err
	}
	return &Status{Mailbox: mbox, Items: items}, nil
}

// statusItems reads "(" status-att *(SP status-att) ")". The items are
// those of RFC 9051 (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED,
// SIZE) and RFC 3501 (RECENT), HIGHESTMODSEQ (RFC 7162 §3.1.6) and
// APPENDLIMIT (RFC 7889).
func (r *Reader) statusItems() ([]string, error) {
	if err := r.expect('(', "before status items"); err != nil {
		return nil, err
	}
	var items []string
	for {
		it, err := r.keyword("status item")
		if err != nil {
			return nil, err
		}
		switch it {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT":
		default:
			return nil, r.errorf("unknown status item %s", short(it))
		}
		items = append(items, it)
		if r.take(')') {
			return items, nil
		}
		if err := r.sp("status item"); err != nil {
			return nil, err
		}
	}
}

// parseAppend: "APPEND" SP mailbox 1*append-message with append-message =
// append-opts SP append-data and append-opts = [SP flag-list] [SP
// date-time] (RFC 3502 §6, RFC 4466 §2.1). append-data is a literal, a
// literal8 (RFC 3516 §6), "UTF8" SP "(" literal8 ")" (RFC 6855 §4) or
// "CATENATE" SP "(" cat-part *(SP cat-part) ")" (RFC 4469 §5). Message
// literals and TEXT parts are limited by MaxAppend each and by
// MaxAppendTotal together.
func (r *Reader) parseAppend() (*Append, error) {
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	mbox, err := r.mailbox("mailbox name")
	if err != nil {
		return nil, err
	}
	a := &Append{Mailbox: mbox}
	for {
		if err := r.sp("message"); err != nil {
			return nil, err
		}
		m, err := r.appendMessage()
		if err != nil {
			return nil, err
		}
		a.Messages = append(a.Messages, m)
		if r.end() {
			return a, nil
		}
	}
}

// appendMessage reads one append-message after its leading space.
func (r *Reader) appendMessage() (AppendMessage, error) {
	var m AppendMessage
	var err error
	if r.peek() == '(' {
		if m.Flags, err = r.flagList(); err != nil {
			return m, err
		}
		if err := r.sp("message"); err != nil {
			return m, err
		}
	}
	if r.peek() == '"' {
		s, err := r.quoted("date-time")
		if err != nil {
			return m, err
		}
		var ok bool
		if m.Date, ok = parseDateTime(s); !ok {
			return m, r.errorf("bad date-time %s", short(s))
		}
		m.HasDate = true
		if err := r.sp("message"); err != nil {
			return m, err
		}
	}
	if c := r.peek(); c == '{' || c == '~' {
		m.Message, m.Binary, err = r.literal("message", true, true)
		return m, err
	}
	kw, err := r.keyword("message literal")
	if err != nil {
		return m, err
	}
	switch kw {
	case "UTF8":
		m.UTF8, m.Binary = true, true
		m.Message, err = r.utf8Literal("UTF8 message")
		return m, err
	case "CATENATE":
		m.Catenate, err = r.catParts()
		return m, err
	}
	return m, r.errorf("expected message literal, got %s", short(kw))
}

// utf8Literal reads SP "(" literal8 ")" after "UTF8" (RFC 6855 §4).
func (r *Reader) utf8Literal(what string) ([]byte, error) {
	if err := r.sp(what); err != nil {
		return nil, err
	}
	if err := r.expect('(', "before "+what); err != nil {
		return nil, err
	}
	if r.peek() != '~' {
		return nil, r.errorf("%s must be a literal8", what)
	}
	b, _, err := r.literal(what, true, true)
	if err != nil {
		return nil, err
	}
	return b, r.expect(')', "after "+what)
}

// catParts reads SP "(" cat-part *(SP cat-part) ")" with cat-part =
// "TEXT" SP literal / "URL" SP astring (RFC 4469 §5) / "UTF8" SP "("
// literal8 ")" (RFC 6855 §4). TEXT also takes a literal8, as APPEND
// does with BINARY (RFC 3516 §4.4).
func (r *Reader) catParts() ([]CatPart, error) {
	if err := r.sp("CATENATE parts"); err != nil {
		return nil, err
	}
	if err := r.expect('(', "before CATENATE parts"); err != nil {
		return nil, err
	}
	var parts []CatPart
	for {
		kw, err := r.keyword("CATENATE part")
		if err != nil {
			return nil, err
		}
		var p CatPart
		switch kw {
		case "TEXT":
			if err := r.sp("TEXT literal"); err != nil {
				return nil, err
			}
			if c := r.peek(); c != '{' && c != '~' {
				return nil, r.errorf("TEXT needs a literal")
			}
			if p.Text, p.Binary, err = r.literal("TEXT part", true, true); err != nil {
				return nil, err
			}
			if p.Text == nil {
				p.Text = []byte{}
			}
		case "UTF8":
			p.Binary = true
			if p.Text, err = r.utf8Literal("UTF8 part"); err != nil {
				return nil, err
			}
		case "URL":
			if err := r.sp("URL"); err != nil {
				return nil, err
			}
			// Whether it is a URL we can serve is the server's to say
			// (NO [BADURL], RFC 4469 §4.1), not a syntax error.
			if p.URL, err = r.astring("URL"); err != nil {
				return nil, err
			}
		default:
			return nil, r.errorf("unknown CATENATE part %s", short(kw))
		}
		parts = append(parts, p)
		if r.take(')') {
			return parts, nil
		}
		if err := r.sp("CATENATE part"); err != nil {
			return nil, err
		}
	}
}

// parseCopy: ("COPY" / "MOVE") SP sequence-set SP mailbox (RFC 9051
// §6.4.7, RFC 6851 §3.1).
func (r *Reader) parseCopy() (*Copy, error) {
	if err := r.sp("sequence set"); err != nil {
		return nil, err
	}
	set, err := r.seqSet("messages")
	if err != nil {
		return nil, err
	}
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	mbox, err := r.mailbox("mailbox name")
	if err != nil {
		return nil, err
	}
	return &Copy{Set: set, Mailbox: mbox}, nil
}

// parseStore: "STORE" SP sequence-set [store-modifiers] SP store-att-flags,
// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag
// *(SP flag))) (RFC 9051 §9, RFC 7162 §7 for UNCHANGEDSINCE).
func (r *Reader) parseStore() (*Store, error) {
	if err := r.sp("sequence set"); err != nil {
		return nil, err
	}
	set, err := r.seqSet("messages")
	if err != nil {
		return nil, err
	}
	a := &Store{Set: set}
	if err := r.sp("STORE item"); err != nil {
		return nil, err
	}
	if r.take('(') {
		for {
			m, err := r.keyword("STORE modifier")
			if err != nil {
				return nil, err
			}
			if m != "UNCHANGEDSINCE" {
				return nil, r.errorf("unknown STORE modifier %s", short(m))
			}
			if err := r.sp("UNCHANGEDSINCE value"); err != nil {
				return nil, err
			}
			if a.UnchangedSince, err = r.number64("UNCHANGEDSINCE", false); err != nil {
				return nil, err
			}
			a.HasUnchangedSince = true
			if r.take(')') {
				break
			}
			if err := r.sp("STORE modifier"); err != nil {
				return nil, err
			}
		}
		if err := r.sp("STORE item"); err != nil {
			return nil, err
		}
	}
	item, err := r.keyword("STORE item")
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(item, "+"):
		a.Mode, item = StoreAdd, item[1:]
	case strings.HasPrefix(item, "-"):
		a.Mode, item = StoreRemove, item[1:]
	}
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return nil, r.errorf("unknown STORE item %s", short(item))
	}
	if err := r.sp("flags"); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		if a.Flags, err = r.flagList(); err != nil {
			return nil, err
		}
		return a, nil
	}
	for {
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		a.Flags = append(a.Flags, f)
		if !r.take(' ') {
			return a, nil
		}
	}
}

// parseQuota: "GETQUOTA" SP quota-root, "SETQUOTA" SP quota-root SP
// setquota-list with setquota-list = "(" [setquota-resource *(SP
// setquota-resource)] ")" and setquota-resource = resource-name SP
// resource-limit (RFC 9208 §9).
func (r *Reader) parseQuota(set bool) (*Quota, error) {
	if err := r.sp("quota root"); err != nil {
		return nil, err
	}
	root, err := r.astring("quota root")
	if err != nil {
		return nil, err
	}
	a := &Quota{Root: root}
	if !set {
		return a, nil
	}
	if err := r.sp("quota limits"); err != nil {
		return nil, err
	}
	if err := r.expect('(', "before quota limits"); err != nil {
		return nil, err
	}
	a.Limits = []QuotaLimit{}
	for first := true; !r.take(')'); first = false {
		if !first {
			if err := r.sp("quota resource"); err != nil {
				return nil, err
			}
		}
		res, err := r.keyword("quota resource")
		if err != nil {
			return nil, err
		}
		if err := r.sp("quota limit"); err != nil {
			return nil, err
		}
		n, err := r.number64("quota limit", false)
		if err != nil {
			return nil, err
		}
		a.Limits = append(a.Limits, QuotaLimit{Resource: res, Limit: n})
	}
	return a, nil
}

// parseCancelUpdate: "CANCELUPDATE" 1*(SP quoted) (RFC 5267 §5).
func (r *Reader) parseCancelUpdate() (*CancelUpdate, error) {
	a := &CancelUpdate{}
	for {
		if err := r.sp("tag"); err != nil {
			return nil, err
		}
		if r.peek() != '"' {
			return nil, r.errorf("CANCELUPDATE takes quoted tags")
		}
		t, err := r.quoted("tag")
		if err != nil {
			return nil, err
		}
		a.Tags = append(a.Tags, t)
		if r.end() {
			return a, nil
		}
	}
}
