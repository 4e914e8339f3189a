package imapparse

import "strings"

// Notify holds NOTIFY's arguments (RFC 5465 §3.1, §8).
type Notify struct {
	None   bool          // NOTIFY NONE
	Status bool          // NOTIFY SET STATUS: report the watched mailboxes' status now
	Groups []NotifyGroup // NOTIFY SET's event groups, at least one
}

// The mailbox filters of RFC 5465 §6, as NotifyGroup.Filter holds them.
const (
	FilterSelected        = "SELECTED"
	FilterSelectedDelayed = "SELECTED-DELAYED"
	FilterInboxes         = "INBOXES"
	FilterPersonal        = "PERSONAL"
	FilterSubscribed      = "SUBSCRIBED"
	FilterSubtree         = "SUBTREE"
	FilterMailboxes       = "MAILBOXES"
)

// The events of RFC 5465 §5, spelled as NotifyEvent.Name holds them.
const (
	EventMessageNew            = "MessageNew"
	EventMessageExpunge        = "MessageExpunge"
	EventFlagChange            = "FlagChange"
	EventAnnotationChange      = "AnnotationChange"
	EventMailboxName           = "MailboxName"
	EventSubscriptionChange    = "SubscriptionChange"
	EventMailboxMetadataChange = "MailboxMetadataChange"
	EventServerMetadataChange  = "ServerMetadataChange"
)

// NotifyGroup is one event group: which mailboxes, and which events.
type NotifyGroup struct {
	Filter string // one of the Filter constants
	// Mailboxes are the decoded names after SUBTREE or MAILBOXES; names
	// that are not valid mailbox names (Command.BadName) are left out,
	// as they name no mailbox (RFC 5465 §3.1 ignores those).
	Mailboxes []string
	Events    []NotifyEvent // nil for NONE
}

// NotifyEvent is one event of a group. Name is one of the Event
// constants for the events RFC 5465 defines, whatever case the client
// used, else the atom as sent (an event-ext the server refuses with
// BADEVENT).
type NotifyEvent struct {
	Name  string
	Fetch []FetchItem // MessageNew's fetch attributes; nil if none
}

// MessageEvent reports whether e is a message-event (RFC 5465 §8), the
// only kind SELECTED and SELECTED-DELAYED take.
func (e NotifyEvent) MessageEvent() bool {
	switch e.Name {
	case EventMessageNew, EventMessageExpunge, EventFlagChange, EventAnnotationChange:
		return true
	}
	return false
}

// parseNotify: "NOTIFY" SP (notify-set / notify-none), notify-set = "SET"
// [SP "STATUS"] SP event-groups (RFC 5465 §8). Beyond the grammar, the
// rules RFC 5465 answers with BAD are checked: one SELECTED or
// SELECTED-DELAYED at most (§6.1), only message events with them (§6.1),
// fetch attributes only with them (§8).
func (r *Reader) parseNotify() (*Notify, error) {
	if err := r.sp("NOTIFY SET or NONE"); err != nil {
		return nil, err
	}
	kw, err := r.keyword("NOTIFY SET or NONE")
	if err != nil {
		return nil, err
	}
	switch kw {
	case "NONE":
		return &Notify{None: true}, nil
	case "SET":
	default:
		return nil, r.errorf("expected NOTIFY SET or NOTIFY NONE")
	}
	a := &Notify{}
	if err := r.sp("event groups"); err != nil {
		return nil, err
	}
	if r.peekKeyword("STATUS") {
		a.Status = true
	}
	selected := false
	for {
		g, err := r.notifyGroup()
		if err != nil {
			return nil, err
		}
		if g.Filter == FilterSelected || g.Filter == FilterSelectedDelayed {
			if selected {
				return nil, r.errorf("only one of SELECTED and SELECTED-DELAYED may be given")
			}
			selected = true
		}
		a.Groups = append(a.Groups, g)
		if r.end() {
			return a, nil
		}
		if err := r.sp("event group"); err != nil {
			return nil, err
		}
	}
}

// notifyGroup reads "(" filter-mailboxes SP events ")".
func (r *Reader) notifyGroup() (NotifyGroup, error) {
	var g NotifyGroup
	if err := r.expect('(', "before event group"); err != nil {
		return g, err
	}
	f, err := r.keyword("mailbox filter")
	if err != nil {
		return g, err
	}
	switch f {
	case FilterSelected, FilterSelectedDelayed, FilterInboxes, FilterPersonal, FilterSubscribed:
	case FilterSubtree, FilterMailboxes:
		if err := r.sp("mailboxes"); err != nil {
			return g, err
		}
		if g.Mailboxes, err = r.notifyMailboxes(); err != nil {
			return g, err
		}
	default:
		return g, r.errorf("unknown mailbox filter %s", short(f))
	}
	g.Filter = f
	if err := r.sp("events"); err != nil {
		return g, err
	}
	selected := f == FilterSelected || f == FilterSelectedDelayed
	if r.take('(') {
		g.Events = []NotifyEvent{}
		for {
			e, err := r.notifyEvent(selected)
			if err != nil {
				return g, err
			}
			if selected && !e.MessageEvent() {
				return g, r.errorf("%s takes only message events, not %s", f, short(e.Name))
			}
			g.Events = append(g.Events, e)
			if r.take(')') {
				break
			}
			if err := r.sp("event"); err != nil {
				return g, err
			}
		}
	} else if kw, err := r.keyword("events"); err != nil || kw != "NONE" {
		return g, r.errorf("expected event list or NONE")
	}
	return g, r.expect(')', "after event group")
}

// notifyMailboxes reads one-or-more-mailbox = mailbox / "(" mailbox *(SP
// mailbox) ")", leaving out names that are not valid.
func (r *Reader) notifyMailboxes() ([]string, error) {
	names := []string{}
	one := func() error {
		bad := r.badNames
		m, err := r.mailbox("mailbox name")
		if err == nil && r.badNames == bad {
			names = append(names, m)
		}
		return err
	}
	if !r.take('(') {
		return names, one()
	}
	for {
		if err := one(); err != nil {
			return nil, err
		}
		if r.take(')') {
			return names, nil
		}
		if err := r.sp("mailbox name"); err != nil {
			return nil, err
		}
	}
}

// notifyEvent reads one event; MessageNew may carry "(" fetch-att *(SP
// fetch-att) ")", allowed only for SELECTED and SELECTED-DELAYED.
func (r *Reader) notifyEvent(selected bool) (NotifyEvent, error) {
	name, err := r.atom("event")
	if err != nil {
		return NotifyEvent{}, err
	}
	e := NotifyEvent{Name: name}
	for _, known := range [...]string{EventMessageNew, EventMessageExpunge, EventFlagChange, EventAnnotationChange,
		EventMailboxName, EventSubscriptionChange, EventMailboxMetadataChange, EventServerMetadataChange} {
		if strings.EqualFold(name, known) {
			e.Name = known
		}
	}
	if e.Name != EventMessageNew || r.pos+1 >= len(r.line) || r.line[r.pos] != ' ' || r.line[r.pos+1] != '(' {
		return e, nil
	}
	if !selected {
		return e, r.errorf("fetch attributes for MessageNew are only allowed with SELECTED or SELECTED-DELAYED")
	}
	r.pos += 2
	for {
		it, err := r.fetchAtt()
		if err != nil {
			return e, err
		}
		e.Fetch = append(e.Fetch, it)
		if r.take(')') {
			return e, nil
		}
		if err := r.sp("fetch item"); err != nil {
			return e, err
		}
	}
}
