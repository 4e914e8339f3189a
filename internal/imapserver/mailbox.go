package imapserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// mailboxName renders a mailbox name for a response: UTF-8 for clients
// that enabled it, modified UTF-7 for the others (RFC 9051 §5.1.3,
// RFC 6855 §3).
func (s *session) mailboxName(name string) string {
	if !s.utf8 {
		name = imapparse.EncodeMUTF7(name)
	}
	return string(imapmime.AppendString(nil, name, s.utf8))
}

func (s *session) create(ctx context.Context, tag string, a *imapparse.Create) {
	use := ""
	if len(a.SpecialUse) > 1 {
		s.no(tag, "[USEATTR] One special-use attribute per mailbox")
		return
	}
	if len(a.SpecialUse) == 1 {
		use = canonicalUse(a.SpecialUse[0])
		if use == "" {
			s.no(tag, "[USEATTR] Unknown special-use attribute")
			return
		}
	}
	if _, err := s.srv.st.CreateMailbox(ctx, s.account.ID, strings.TrimSuffix(a.Mailbox, "/"), use); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ownMailboxChange(strings.TrimSuffix(a.Mailbox, "/"))
	s.ok(tag, "CREATE completed")
}

// canonicalUse returns the RFC 6154 attribute in its canonical case.
func canonicalUse(u string) string {
	for _, c := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(u, c) {
			return c
		}
	}
	return ""
}

func (s *session) deleteCmd(ctx context.Context, tag, name string) {
	if s.sel != nil {
		if n, err := store.CheckMailboxName(name); err == nil && n == s.sel.mb.Name {
			s.unselect()
		}
	}
	if err := s.srv.st.DeleteMailbox(ctx, s.account.ID, name); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ownMailboxChange(name)
	s.ok(tag, "DELETE completed")
}

func (s *session) rename(ctx context.Context, tag, from, to string) {
	if err := s.srv.st.RenameMailbox(ctx, s.account.ID, from, to); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ownMailboxChange(from, to)
	if s.sel != nil {
		if mb, err := s.srv.st.MailboxByID(ctx, s.sel.mb.ID); err == nil {
			s.sel.mb.Name = mb.Name
		}
	}
	s.update(ctx, true)
	s.ok(tag, "RENAME completed")
}

func (s *session) subscribe(ctx context.Context, tag, name string, on bool) {
	if err := s.srv.st.SetSubscribed(ctx, s.account.ID, name, on); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ownMailboxChange(name)
	s.ok(tag, map[bool]string{true: "SUBSCRIBE", false: "UNSUBSCRIBE"}[on]+" completed")
}

// list answers LIST (with RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE
// and RFC 5819 LIST-STATUS) and LSUB (RFC 3501 §6.3.9).
//
// The names considered are the mailboxes, the subscribed names (which
// need not exist: subscriptions outlive DELETE) and their parents. A name
// that matches a pattern is listed when it meets the selection (exists;
// is subscribed for LSUB and LIST (SUBSCRIBED); has a special use for
// LIST (SPECIAL-USE)), or, for LSUB and RECURSIVEMATCH, when a descendant
// meets it without matching a pattern itself (RFC 3501 §6.3.9's "%"
// rule, RFC 5258 §3.5's CHILDINFO).
func (s *session) list(ctx context.Context, tag string, lsub bool, a *imapparse.List) {
	cmdName := "LIST"
	if lsub {
		cmdName = "LSUB"
	}
	if !lsub && len(a.Patterns) == 1 && a.Patterns[0] == "" && !a.Extended {
		// RFC 9051 §6.3.9: the hierarchy delimiter and root.
		s.untagged(`LIST (\Noselect) "/" ""`)
		s.ok(tag, "LIST completed")
		return
	}
	if len(a.Patterns) == 0 {
		// Every pattern was a name no mailbox can have (Command.BadName).
		s.ok(tag, cmdName+" completed")
		return
	}
	pats, ok := s.listPatterns(a)
	if !ok {
		s.no(tag, fmt.Sprintf("[LIMIT] At most %d patterns and %d wildcards in one %s", maxListPatterns, maxListWildcards, cmdName))
		return
	}
	mbs, err := s.srv.st.Mailboxes(ctx, s.account.ID)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	subscribedSel := lsub || a.SelectSubscribed
	var subs []string
	if subscribedSel || a.ReturnSubscribed {
		if subs, err = s.srv.st.Subscriptions(ctx, s.account.ID); err != nil {
			s.mailboxError(tag, err)
			return
		}
	}
	existing := make(map[string]*store.Mailbox, len(mbs))
	existNames := make([]string, 0, len(mbs)) // sorted, for \HasChildren
	all := map[string]bool{}
	addName := func(n string) {
		for !all[n] { // a name's parents are in once it is
			all[n] = true
			i := strings.LastIndexByte(n, '/')
			if i < 0 {
				return
			}
			n = n[:i]
		}
	}
	for i := range mbs {
		existing[mbs[i].Name] = &mbs[i]
		existNames = append(existNames, mbs[i].Name)
		addName(mbs[i].Name)
	}
	slices.Sort(existNames)
	subscribed := make(map[string]bool, len(subs))
	for _, n := range subs {
		subscribed[n] = true
		addName(n)
	}
	names := slices.Sorted(maps.Keys(all))

	// Each name is matched once; the matcher's work is counted.
	var m listMatcher
	matched := make(map[string]bool, len(names))
	for i, n := range names {
		if i%256 == 0 && ctx.Err() != nil {
			s.srv.work.listSteps.Add(m.steps)
			s.cancelled(ctx, tag, cmdName)
			return
		}
		for _, p := range pats {
			if m.match(p, n) {
				matched[n] = true
				break
			}
		}
	}
	s.srv.work.listSteps.Add(m.steps)
	selected := func(n string) bool {
		mb := existing[n]
		switch {
		case subscribedSel && !subscribed[n]:
			return false
		case a.SelectSpecialUse && (mb == nil || mb.SpecialUse == ""):
			return false
		case !subscribedSel && mb == nil:
			return false
		}
		return true
	}
	// hasDescendant says whether a name of the sorted list lies below n.
	hasDescendant := func(list []string, n string) bool {
		p := n + "/"
		i, _ := slices.BinarySearch(list, p)
		return i < len(list) && strings.HasPrefix(list[i], p)
	}
	// childInfo holds the names with a descendant that meets the
	// selection without matching: each such name marks its ancestors,
	// up to one marked already, so the work is one walk up per name.
	var infoBelow map[string]bool
	if lsub || a.SelectRecursiveMatch {
		infoBelow = map[string]bool{}
		for _, d := range names {
			if matched[d] || !selected(d) {
				continue
			}
			for i := strings.LastIndexByte(d, '/'); i >= 0; i = strings.LastIndexByte(d, '/') {
				d = d[:i]
				if infoBelow[d] {
					break
				}
				infoBelow[d] = true
			}
		}
	}
	for _, n := range names {
		if !matched[n] {
			continue
		}
		sel := selected(n)
		childInfo := infoBelow[n]
		if !sel && !childInfo {
			continue
		}
		mb := existing[n]
		var attrs []string
		if lsub {
			// LSUB knows no \NonExistent; a name that cannot be
			// selected is \Noselect.
			if !sel || mb == nil {
				attrs = append(attrs, `\Noselect`)
			}
		} else {
			hasChildren := hasDescendant(existNames, n)
			switch {
			case hasChildren:
				attrs = append(attrs, `\HasChildren`)
			case mb != nil:
				// RFC 5258 §4: not said of a name that does not exist.
				attrs = append(attrs, `\HasNoChildren`)
			}
			if mb != nil && mb.SpecialUse != "" { // RFC 6154 §2: shown whether asked for or not
				attrs = append(attrs, mb.SpecialUse)
			}
			if subscribed[n] && (a.ReturnSubscribed || a.SelectSubscribed) {
				attrs = append(attrs, `\Subscribed`)
			}
			if mb == nil {
				attrs = append(attrs, `\NonExistent`) // RFC 5258 §3.4
			}
		}
		l := fmt.Sprintf(`%s (%s) "/" %s`, cmdName, strings.Join(attrs, " "), s.mailboxName(n))
		if childInfo && !lsub {
			var crit []string
			if a.SelectSubscribed {
				crit = append(crit, `"SUBSCRIBED"`)
			}
			if a.SelectSpecialUse {
				crit = append(crit, `"SPECIAL-USE"`)
			}
			l += ` ("CHILDINFO" (` + strings.Join(crit, " ") + `))`
		}
		s.untagged(l)
		if len(a.ReturnStatus) > 0 && mb != nil && sel {
			s.statusLine(ctx, *mb, a.ReturnStatus)
		}
	}
	s.ok(tag, cmdName+" completed")
}

// listPatterns compiles the patterns of a LIST, or says they are over
// the limits (maxListPatterns, maxListWildcards).
func (s *session) listPatterns(a *imapparse.List) ([]*listPattern, bool) {
	if len(a.Patterns) > maxListPatterns {
		return nil, false
	}
	var pats []*listPattern
	wild := 0
	for _, p := range a.Patterns {
		lp := compileListPattern(a.Reference, p)
		if wild += lp.wildcards(); wild > maxListWildcards {
			return nil, false
		}
		pats = append(pats, lp)
	}
	return pats, true
}

// status answers STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7162
// HIGHESTMODSEQ).
func (s *session) status(ctx context.Context, tag string, a *imapparse.Status) {
	name, err := store.CheckMailboxName(a.Mailbox)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	mb, err := s.srv.st.MailboxByName(ctx, s.account.ID, name)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	if !s.statusLine(ctx, mb, a.Items) {
		s.bad(tag, "Unknown STATUS item")
		return
	}
	s.ok(tag, "STATUS completed")
}

func (s *session) statusLine(ctx context.Context, mb store.Mailbox, items []string) bool {
	if slices.Contains(items, "HIGHESTMODSEQ") {
		s.enableCondstore(ctx) // RFC 7162 §3.1
	}
	var unseen, deleted int
	if slices.Contains(items, "UNSEEN") || slices.Contains(items, "DELETED") {
		var err error
		unseen, deleted, err = s.srv.st.MailboxCounts(ctx, mb.ID)
		if err != nil {
			s.log.Error("status counts", "err", err)
		}
	}
	var out []string
	for _, it := range items {
		var v int64
		switch it {
		case "MESSAGES":
			v = int64(mb.Messages)
		case "UIDNEXT":
			v = int64(mb.UIDNext)
		case "UIDVALIDITY":
			v = int64(mb.UIDValidity)
		case "UNSEEN":
			v = int64(unseen)
		case "DELETED":
			v = int64(deleted)
		case "SIZE":
			v = mb.Size
		case "HIGHESTMODSEQ":
			v = mb.HighestModSeq
		case "RECENT":
			// Messages no session has taken as \Recent yet (recent.go).
			n, err := s.srv.st.RecentCount(ctx, mb)
			if err != nil {
				s.log.Error("status recent", "err", err)
			}
			v = int64(n)
		case "APPENDLIMIT":
			// RFC 7889 §3: the limit that applies to this mailbox.
			v = s.srv.cfg.AppendLimit
		default:
			return false
		}
		out = append(out, it+" "+itoa(v))
	}
	s.untagged("STATUS " + s.mailboxName(mb.Name) + " (" + strings.Join(out, " ") + ")")
	return true
}

// quota answers RFC 9208 GETQUOTA/GETQUOTAROOT; limits are set by the
// operator, so SETQUOTA is refused.
func (s *session) quota(ctx context.Context, tag string, cmd *imapparse.Command) {
	used, limit, err := s.srv.st.Quota(ctx, s.account.ID)
	if err != nil {
		s.mailboxError(tag, err)
		return
	}
	res := ""
	if limit > 0 {
		// RFC 9208 §5.1: STORAGE is in units of 1024 octets.
		res = fmt.Sprintf("STORAGE %d %d", (used+1023)/1024, limit/1024)
	}
	switch cmd.Name {
	case "SETQUOTA":
		s.no(tag, "[NOPERM] Quotas are set by the operator")
		return
	case "GETQUOTAROOT":
		// RFC 9208 §4.1.2: the roots of an existing mailbox; one root,
		// "", covers the whole account.
		a := cmd.Args.(*imapparse.MailboxArg)
		name, err := store.CheckMailboxName(a.Mailbox)
		if err == nil {
			_, err = s.srv.st.MailboxByName(ctx, s.account.ID, name)
		}
		if err != nil {
			s.mailboxError(tag, err)
			return
		}
		s.untagged("QUOTAROOT " + s.mailboxName(name) + ` ""`)
	case "GETQUOTA":
		a := cmd.Args.(*imapparse.Quota)
		if a.Root != "" {
			s.no(tag, "[NONEXISTENT] No such quota root")
			return
		}
	}
	s.untagged(`QUOTA "" (` + res + ")")
	s.ok(tag, cmd.Name+" completed")
}

// idle runs IDLE (RFC 2177): changes are announced as they are committed
// until the client sends DONE.
//
// The session waits in its own read: a change in the feed sets the
// connection's read deadline to now (idleNotify), the read returns a
// timeout, the session announces the change and reads on. A second
// goroutine per idling connection, reading while this one waited on the
// feed, was a third of the memory of ten thousand idle sessions. A
// deadline that passes cuts nothing: bufio keeps what it had read, and a
// TLS connection keeps its partial record after a timeout. While it
// waits, the session lends its buffers back (waitInput).
func (s *session) idle(ctx context.Context, tag string) {
	// IDLE sets its own deadlines (the autologout timer, wake-ups).
	s.phase = phaseOff
	s.update(ctx, true)
	s.notifyOthers(ctx) // RFC 5465 §4: IDLE sends what NOTIFY asked for
	s.line("+ idling")
	if s.flush() != nil {
		s.state = stateLogout
		return
	}
	if s.fw != nil || s.watcher == nil {
		// The inflating reader under a compressed session is not
		// known to survive a read cut by a deadline.
		s.idleWithReader(ctx, tag)
		return
	}
	deadline := time.Now().Add(s.srv.cfg.IdleTimeout)
	for {
		_ = s.conn.SetReadDeadline(deadline)
		s.idleMu.Lock()
		s.idleArmed, s.idleWoken = true, false
		s.idleMu.Unlock()
		var err error
		if !s.watcher.Pending() && !s.closing.Load() {
			err = s.waitInput()
		}
		s.idleMu.Lock()
		s.idleArmed = false
		woken := s.idleWoken
		s.idleMu.Unlock()
		if s.closing.Load() {
			s.untagged("BYE [UNAVAILABLE] Server shutting down")
			s.state = stateLogout
			return
		}
		var ne net.Error
		switch {
		case err == nil && s.watcher.Pending():
			s.update(ctx, true)
			s.notifyOthers(ctx)
			if s.flush() != nil {
				s.state = stateLogout
				return
			}
			if s.br.Buffered() == 0 {
				continue // only woken: wait again
			}
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout() && (woken || s.watcher.Pending()):
			continue // a change (or a stale wake-up): announced at the top
		case errors.As(err, &ne) && ne.Timeout():
			s.log.Info("autologout: idle timeout in IDLE")
			s.untagged("BYE Autologout; idle for too long")
			s.state = stateLogout
			return
		default:
			s.state = stateLogout
			return
		}
		// The client sent something: it must be DONE. The deadline is
		// set again first, as a wake-up may have moved it to now.
		_ = s.conn.SetReadDeadline(deadline)
		line, err := s.r.ReadLine()
		_ = s.conn.SetReadDeadline(time.Time{})
		if err != nil {
			s.state = stateLogout
			return
		}
		if !strings.EqualFold(string(line), "DONE") {
			s.bad(tag, "Expected DONE")
			return
		}
		s.update(ctx, true)
		s.ok(tag, "IDLE terminated")
		return
	}
}

// waitInput blocks until the client sends something (left for br to read)
// or the read is cut short. Meanwhile the session's buffers go back to the
// server's pools: an idling session holds no 8 KiB of empty buffers.
func (s *session) waitInput() error {
	if !s.releaseBuffers() {
		_, err := s.br.Peek(1)
		return err
	}
	defer s.takeBuffers()
	n, err := s.in.Read(s.scratch[:1])
	if n == 1 {
		s.in.unread(s.scratch[:1])
		return nil
	}
	return err
}

// idleNotify is the watcher's hook: it cuts the read of an idling session
// short so that the session announces the change.
func (s *session) idleNotify() {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if s.idleArmed {
		s.idleWoken = true
		_ = s.netConn.SetReadDeadline(time.Now())
	}
}

// idleWithReader is IDLE with a goroutine reading DONE while this one
// waits on the feed (compressed sessions).
func (s *session) idleWithReader(ctx context.Context, tag string) {
	done := make(chan error, 1)
	_ = s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.IdleTimeout))
	go func() {
		// This goroutine runs the inflating reader on client input: a
		// panic in it ends the session, not the process.
		defer func() {
			if p := recover(); p != nil {
				s.srv.panics.Log(s.log, p)
				done <- errPanicked
			}
		}()
		line, err := s.r.ReadLine()
		if err == nil && !strings.EqualFold(string(line), "DONE") {
			err = errBadIdle
		}
		done <- err
	}()
	var ready <-chan struct{}
	if s.watcher != nil {
		ready = s.watcher.Ready()
	}
	for {
		select {
		case err := <-done:
			_ = s.conn.SetReadDeadline(time.Time{})
			if err == errBadIdle {
				s.bad(tag, "Expected DONE")
				return
			}
			if err != nil {
				// RFC 9051 §7.1.5: BYE announces a shutdown or an
				// autologout, in IDLE as anywhere else.
				var ne net.Error
				switch {
				case errors.Is(err, errPanicked):
					s.untagged("BYE [SERVERBUG] Internal error, closing connection")
				case s.closing.Load():
					s.untagged("BYE [UNAVAILABLE] Server shutting down")
				case errors.As(err, &ne) && ne.Timeout():
					s.log.Info("autologout: idle timeout in IDLE")
					s.untagged("BYE Autologout; idle for too long")
				}
				s.state = stateLogout
				return
			}
			s.update(ctx, true)
			s.ok(tag, "IDLE terminated")
			return
		case <-ready:
			s.update(ctx, true)
			s.notifyOthers(ctx)
			if s.flush() != nil {
				s.state = stateLogout
				return
			}
		case <-s.wake:
			// Shutdown set the read deadline, but IDLE may have set its
			// own after it: end the read now.
			_ = s.netConn.SetReadDeadline(time.Now())
		}
	}
}

var errBadIdle = fmt.Errorf("imapserver: expected DONE")
