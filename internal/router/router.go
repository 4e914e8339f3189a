// Package router decides where a recipient address goes: to local accounts
// (after alias expansion, subaddressing "user+tag@domain", the catch-all
// "@domain" and postmaster@ of every domain) or to a remote domain. It also
// decides which sender addresses an authenticated account may use.
package router

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/srs"
	"github.com/yizhan-mail/yizhan/internal/store"
)

// Errors returned by Resolve.
var (
	ErrUnknownUser  = errors.New("router: no such user")
	ErrNoPostmaster = errors.New("router: no account to receive postmaster mail")
)

// maxDepth bounds alias chains (and so alias loops).
const maxDepth = 10

// Target is one local account a message goes to.
type Target struct {
	AccountID int64
	Address   string // the account's address (Delivered-To)
	Quota     int64  // the account's storage limit in bytes; 0 for none
}

// Result is where one recipient address leads.
type Result struct {
	Local  []Target // distinct accounts
	Remote []string // addresses in other domains (forwarding)
}

// Directory is what the router reads from the store.
type Directory interface {
	IsLocalDomain(ctx context.Context, domain string) (bool, error)
	AccountByAddress(ctx context.Context, addr string) (store.Account, error)
	AliasTargets(ctx context.Context, key string) ([]string, error)
	DomainByName(ctx context.Context, name string) (store.Domain, error)
	FirstAccountOfDomain(ctx context.Context, domain string) (store.Account, error)
	Domains(ctx context.Context) ([]store.Domain, error)
}

// Router resolves addresses against a Directory.
type Router struct {
	dir      Directory
	hostname string
	srs      *srs.Codec // nil: SRS addresses are not recognised
}

// WithSRS makes the router send mail for SRS0 addresses of local domains
// (bounces of forwarded mail) on to the original sender.
func (r *Router) WithSRS(c *srs.Codec) *Router {
	r.srs = c
	return r
}

// New returns a Router; hostname decides whose postmaster a bare
// "postmaster" (RFC 5321 §4.1.1.3) is.
func New(dir Directory, hostname string) *Router {
	return &Router{dir: dir, hostname: hostname}
}

// IsLocal reports whether addr's domain is one of ours.
func (r *Router) IsLocal(ctx context.Context, addr string) (bool, error) {
	a, err := address.Parse(addr)
	if err != nil {
		return false, err
	}
	return r.dir.IsLocalDomain(ctx, a.Domain)
}

// Resolve expands a recipient. An address in a local domain that leads to
// no account gives ErrUnknownUser; an address in another domain is
// returned in Remote as it is.
func (r *Router) Resolve(ctx context.Context, rcpt string) (Result, error) {
	if strings.EqualFold(rcpt, "postmaster") {
		pm, err := r.barePostmaster(ctx)
		if err != nil {
			return Result{}, err
		}
		return Result{Local: []Target{pm}}, nil
	}
	var res Result
	seen := map[string]bool{}
	if err := r.resolve(ctx, rcpt, 0, seen, &res); err != nil {
		return Result{}, err
	}
	if len(res.Local) == 0 && len(res.Remote) == 0 {
		return Result{}, ErrUnknownUser
	}
	return res, nil
}

func (r *Router) resolve(ctx context.Context, addr string, depth int, seen map[string]bool, res *Result) error {
	if depth > maxDepth {
		return fmt.Errorf("router: alias chain too deep at %s", addr)
	}
	a, err := address.Parse(addr)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	key := a.Key()
	if seen[key] {
		return nil // alias loop or duplicate target
	}
	seen[key] = true
	local, err := r.dir.IsLocalDomain(ctx, a.Domain)
	if err != nil {
		return err
	}
	if !local {
		res.Remote = append(res.Remote, a.String())
		return nil
	}
	if r.srs != nil && srs.IsSRS(a.Local) {
		// A bounce of a message we forwarded: back to its sender.
		orig, err := r.srs.Reverse(a.Local)
		if err != nil {
			return ErrUnknownUser // forged or expired
		}
		res.Remote = append(res.Remote, orig)
		return nil
	}
	found, err := r.lookup(ctx, key, depth, seen, res)
	if err != nil || found {
		return err
	}
	// Subaddressing (RFC 5233): user+tag@domain goes where user@domain goes.
	if base, _, ok := a.Base(); ok {
		if found, err := r.lookup(ctx, base.Key(), depth, seen, res); err != nil || found {
			return err
		}
	}
	// postmaster@ of every local domain always works (RFC 5321 §4.5.1).
	if strings.EqualFold(a.Local, "postmaster") {
		pm, err := r.postmaster(ctx, a.Domain)
		if err != nil {
			return err
		}
		res.addLocal(pm)
		return nil
	}
	// Catch-all.
	targets, err := r.dir.AliasTargets(ctx, "@"+a.Domain)
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		return r.expand(ctx, targets, depth, seen, res)
	}
	if depth == 0 {
		return ErrUnknownUser
	}
	return nil // a dangling alias target: skipped
}

// lookup resolves an exact key as an account or an alias.
func (r *Router) lookup(ctx context.Context, key string, depth int, seen map[string]bool, res *Result) (bool, error) {
	acct, err := r.dir.AccountByAddress(ctx, key)
	if err == nil {
		res.addLocal(Target{AccountID: acct.ID, Address: acct.Display, Quota: acct.Quota})
		return true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	targets, err := r.dir.AliasTargets(ctx, key)
	if err != nil {
		return false, err
	}
	if len(targets) == 0 {
		return false, nil
	}
	return true, r.expand(ctx, targets, depth, seen, res)
}

func (r *Router) expand(ctx context.Context, targets []string, depth int, seen map[string]bool, res *Result) error {
	for _, t := range targets {
		if err := r.resolve(ctx, t, depth+1, seen, res); err != nil {
			return err
		}
	}
	return nil
}

func (res *Result) addLocal(t Target) {
	for _, x := range res.Local {
		if x.AccountID == t.AccountID {
			return
		}
	}
	res.Local = append(res.Local, t)
}

// postmaster returns the account receiving postmaster@domain: the one named
// at 'domain add', else the domain's first account, else the first account
// of any domain.
func (r *Router) postmaster(ctx context.Context, domain string) (Target, error) {
	d, err := r.dir.DomainByName(ctx, domain)
	if err != nil {
		return Target{}, err
	}
	if d.Postmaster != "" {
		if acct, err := r.dir.AccountByAddress(ctx, d.Postmaster); err == nil {
			return Target{AccountID: acct.ID, Address: acct.Display, Quota: acct.Quota}, nil
		}
	}
	if acct, err := r.dir.FirstAccountOfDomain(ctx, domain); err == nil {
		return Target{AccountID: acct.ID, Address: acct.Display, Quota: acct.Quota}, nil
	}
	domains, err := r.dir.Domains(ctx)
	if err != nil {
		return Target{}, err
	}
	for _, other := range domains {
		if acct, err := r.dir.FirstAccountOfDomain(ctx, other.Name); err == nil {
			return Target{AccountID: acct.ID, Address: acct.Display, Quota: acct.Quota}, nil
		}
	}
	return Target{}, ErrNoPostmaster
}

// barePostmaster handles "RCPT TO:<postmaster>": the postmaster of the
// domain our hostname is in if that is local, else of the first domain.
func (r *Router) barePostmaster(ctx context.Context) (Target, error) {
	domains, err := r.dir.Domains(ctx)
	if err != nil {
		return Target{}, err
	}
	if len(domains) == 0 {
		return Target{}, ErrNoPostmaster
	}
	host, _ := address.NormalizeDomain(r.hostname)
	for _, d := range domains {
		if host == d.Name || strings.HasSuffix(host, "."+d.Name) {
			return r.postmaster(ctx, d.Name)
		}
	}
	return r.postmaster(ctx, domains[0].Name)
}

// MaySendAs reports whether the account may use addr as a sender: its own
// address, any "+tag" form of it, or a named alias in a local domain that
// leads to it. A catch-all or postmaster route does not make an account the
// owner of every address in a domain.
func (r *Router) MaySendAs(ctx context.Context, accountID int64, addr string) (bool, error) {
	a, err := address.Parse(addr)
	if err != nil {
		return false, nil
	}
	owner := func(key string) (found, ok bool, err error) {
		acct, err := r.dir.AccountByAddress(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return false, false, nil
		}
		if err != nil {
			return false, false, err
		}
		return true, acct.ID == accountID, nil
	}
	if found, ok, err := owner(a.Key()); err != nil || found {
		return ok, err
	}
	if base, _, isSub := a.Base(); isSub {
		if found, ok, err := owner(base.Key()); err != nil || found {
			return ok, err
		}
	}
	targets, err := r.dir.AliasTargets(ctx, a.Key())
	if err != nil || len(targets) == 0 {
		return false, err
	}
	res, err := r.Resolve(ctx, addr)
	if err != nil {
		return false, nil
	}
	for _, t := range res.Local {
		if t.AccountID == accountID {
			return true, nil
		}
	}
	return false, nil
}
