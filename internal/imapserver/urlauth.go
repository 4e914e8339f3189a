package imapserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/yizhan-mail/yizhan/internal/imapmime"
	"github.com/yizhan-mail/yizhan/internal/imapparse"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// urlAuthVersion starts every INTERNAL token: the version of the token
// algorithm (HMAC-SHA256 of the rump URL with the mailbox access key), so
// that a later algorithm can tell old tokens apart (RFC 4467 §2.4.1, §10).
const urlAuthVersion = "01"

// urlAuthToken computes the INTERNAL authorization token of a rump URL
// (RFC 4467 §5): hexadecimal, 256 bits after the version.
func urlAuthToken(key []byte, rump string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(rump))
	return urlAuthVersion + hex.EncodeToString(m.Sum(nil))
}

// urlOwner returns the account a URLAUTH URL's user names: the address
// itself, or, as clients write it, the local part with the URL's host
// as domain ("imap://alice@example.org/...").
func (s *session) urlOwner(ctx context.Context, u *imapparse.AuthURL) (store.Account, error) {
	names := []string{u.User}
	if !strings.Contains(u.User, "@") {
		names = append(names, u.User+"@"+hostOf(u.Host))
	}
	for _, n := range names {
		if a, err := s.srv.st.AccountByAddress(ctx, n); err == nil {
			return a, nil
		}
	}
	return store.Account{}, store.ErrNotFound
}

// genURLAuth answers GENURLAUTH (RFC 4467 §7): each rump URL with the
// INTERNAL token that authorizes it. The URL must name an existing
// mailbox of the session's own account and carry an access identifier;
// anything else is BAD, as §7 asks.
func (s *session) genURLAuth(ctx context.Context, tag string, a *imapparse.GenURLAuth) {
	var out []byte
	for i, raw := range a.URLs {
		if a.Mechs[i] != "INTERNAL" {
			s.bad(tag, "Unsupported URLAUTH mechanism "+a.Mechs[i]+"; INTERNAL is")
			return
		}
		u, err := imapparse.ParseAuthURL(raw)
		if err != nil {
			s.bad(tag, "Invalid URLAUTH URL: "+badURLText(err))
			return
		}
		if u.Mech != "" {
			s.bad(tag, "URL already carries a URLAUTH token")
			return
		}
		owner, err := s.urlOwner(ctx, u)
		if err != nil || owner.ID != s.account.ID {
			s.bad(tag, "The URL's user must be the one logged in")
			return
		}
		mb, err := s.srv.st.MailboxByName(ctx, s.account.ID, u.Mailbox)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.bad(tag, "The URL's mailbox does not exist")
				return
			}
			s.mailboxError(tag, err)
			return
		}
		if u.UIDValidity != 0 && u.UIDValidity != mb.UIDValidity {
			s.bad(tag, "The URL's UIDVALIDITY does not match the mailbox")
			return
		}
		key, err := s.srv.st.URLAuthKey(ctx, mb.ID, true)
		if err != nil {
			s.mailboxError(tag, err)
			return
		}
		out = append(out, ' ')
		out = imapmime.AppendString(out, u.Rump+":internal:"+urlAuthToken(key, u.Rump), s.utf8)
	}
	s.untagged("GENURLAUTH" + string(out))
	s.ok(tag, "GENURLAUTH completed")
}

// badURLText is a parse error fit for a response line.
func badURLText(err error) string {
	return strings.TrimPrefix(err.Error(), "imapparse: ")
}

// resetKey answers RESETKEY (RFC 4467 §7): a new access key for a
// mailbox, or none at all for the account, revoking the URLs made with
// the old ones.
func (s *session) resetKey(ctx context.Context, tag string, a *imapparse.ResetKey) {
	if !a.HasMailbox {
		if err := s.srv.st.DropURLAuthKeys(ctx, s.account.ID); err != nil {
			s.mailboxError(tag, err)
			return
		}
		s.ok(tag, "All keys removed")
		return
	}
	for _, m := range a.Mechs {
		if m != "INTERNAL" {
			s.no(tag, "Unsupported URLAUTH mechanism "+m+"; INTERNAL is")
			return
		}
	}
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
	if err := s.srv.st.ResetURLAuthKey(ctx, mb.ID); err != nil {
		s.mailboxError(tag, err)
		return
	}
	s.ok(tag, "[URLMECH INTERNAL] Key reset")
}

// urlFetch answers URLFETCH (RFC 4467 §7): for each URL, the data it
// names if it validates, else NIL. The command itself succeeds whatever
// the URLs; only a server failure is NO.
func (s *session) urlFetch(ctx context.Context, tag string, a *imapparse.URLFetch) {
	type result struct {
		t *urlTarget
	}
	results := make([]result, len(a.URLs))
	defer func() {
		for _, r := range results {
			if r.t != nil {
				r.t.close()
			}
		}
	}()
	for i, raw := range a.URLs {
		t, err := s.validateAuthURL(ctx, raw)
		if err != nil {
			s.log.Error("urlfetch", "err", err)
			s.no(tag, "[SERVERBUG] URLFETCH failed")
			return
		}
		results[i].t = t
	}
	w := s.bw
	w.WriteString("* URLFETCH")
	for i, raw := range a.URLs {
		w.WriteByte(' ')
		w.Write(imapmime.AppendString(nil, raw, s.utf8))
		t := results[i].t
		if t == nil {
			w.WriteString(" NIL")
			continue
		}
		if err := s.writeURLData(t); err != nil {
			// The response is under way: end the connection rather
			// than leave the client with a literal cut short.
			s.log.Error("urlfetch: data", "err", err)
			s.state = stateLogout
			return
		}
	}
	w.WriteString("\r\n")
	s.ok(tag, "URLFETCH completed")
}

// writeURLData writes " " and what t names as a literal, a literal8 when
// it holds NUL (which a plain literal may not, RFC 9051 §4.3).
func (s *session) writeURLData(t *urlTarget) error {
	r, n, err := t.reader()
	if err != nil {
		s.bw.WriteString(` ""`) // a section that cannot be extracted (RFC 4467 §8)
		return nil
	}
	nul := &nulFinder{}
	if _, err := io.CopyN(nul, r, n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if r, n, err = t.reader(); err != nil {
		return err
	}
	return s.writePartial(r, n, nil, nul.found)
}

// nulFinder reports whether anything written to it held NUL.
type nulFinder struct{ found bool }

func (f *nulFinder) Write(p []byte) (int, error) {
	f.found = f.found || bytes.IndexByte(p, 0) >= 0
	return len(p), nil
}

// validateAuthURL checks a URLAUTH-authorized URL as RFC 4467 §6 says and
// opens what it names; nil when it does not validate (URLFETCH then
// returns NIL). The token is compared in constant time, and computed
// with a random key when the mailbox or its key does not exist, so the
// time taken does not tell which names exist (§6).
func (s *session) validateAuthURL(ctx context.Context, raw string) (*urlTarget, error) {
	u, err := imapparse.ParseAuthURL(raw)
	if err != nil || u.Mech == "" || !strings.EqualFold(u.Mech, "INTERNAL") {
		return nil, nil
	}
	var key []byte
	var owner store.Account
	var mbID int64
	found := false
	if owner, err = s.urlOwner(ctx, u); err == nil {
		if mb, err := s.srv.st.MailboxByName(ctx, owner.ID, u.Mailbox); err == nil {
			mbID = mb.ID
			key, err = s.srv.st.URLAuthKey(ctx, mb.ID, false)
			switch {
			case err == nil:
				found = true
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
	}
	if !found {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	want := urlAuthToken(key, u.Rump)
	if !hmac.Equal([]byte(strings.ToLower(u.Token)), []byte(want)) || !found || mbID == 0 {
		return nil, nil
	}
	if u.Expire != "" {
		exp, err := time.Parse(time.RFC3339, u.Expire)
		if err != nil || time.Now().After(exp) {
			return nil, nil // RFC 4467 §3: an expired URL is rejected
		}
	}
	if !s.urlAccessAllowed(u) {
		return nil, nil
	}
	t, _, err := s.openURL(ctx, owner.ID, &u.URL)
	return t, err
}

// urlAccessAllowed applies the access identifier (RFC 4467 §3):
// "anonymous" and "authuser" admit any session here (all are logged in),
// "user+name" only the session of that user, "submit+name" only a
// message submission entity, a role no session has yet.
func (s *session) urlAccessAllowed(u *imapparse.AuthURL) bool {
	access := strings.ToLower(u.Access)
	switch {
	case access == "anonymous", access == "authuser":
		return true
	case strings.HasPrefix(access, "user+"):
		who := u.Access[len("user+"):]
		if dec, err := pctUnescape(who); err == nil {
			who = dec
		}
		if strings.EqualFold(who, s.account.Address) {
			return true
		}
		// A bare local part, as the URL's own user often is.
		if !strings.Contains(who, "@") {
			local, domain, _ := strings.Cut(s.account.Address, "@")
			return strings.EqualFold(who, local) && strings.EqualFold(domain, hostOf(u.Host))
		}
	}
	return false
}

// hostOf drops a port from host[:port].
func hostOf(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		return h[:i]
	}
	return h
}

// pctUnescape undoes percent-encoding.
func pctUnescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("bad percent-encoding")
		}
		v, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", err
		}
		b.Write(v)
		i += 2
	}
	return b.String(), nil
}
