package router

import (
	"context"
	"errors"
	"sync"

	"github.com/yizhan-mail/yizhan/internal/store"
)

// cacheMax bounds the entries of a Cache; when full it starts over (a
// sender probing random addresses cannot grow it without bound).
const cacheMax = 50000

// Cache is a Directory that remembers what another Directory answered
// until the directory's version changes. Resolving a recipient costs
// several lookups, made for every RCPT; the directory changes only when
// an operator edits it.
type Cache struct {
	dir     Directory
	version func(context.Context) (string, error)

	mu      sync.Mutex
	current string // version the entries below belong to
	domains map[string]bool
	accts   map[string]acctEntry
	aliases map[string][]string
	byName  map[string]domainEntry
	first   map[string]acctEntry
	list    []store.Domain
	listOK  bool
}

type acctEntry struct {
	acct store.Account
	err  error // nil or store.ErrNotFound
}

type domainEntry struct {
	d   store.Domain
	err error
}

// NewCache wraps dir; version returns a token that changes whenever the
// directory does (store.Store.DirectoryVersion).
func NewCache(dir Directory, version func(context.Context) (string, error)) *Cache {
	c := &Cache{dir: dir, version: version}
	c.reset("")
	return c
}

func (c *Cache) reset(v string) {
	c.current = v
	c.domains = map[string]bool{}
	c.accts = map[string]acctEntry{}
	c.aliases = map[string][]string{}
	c.byName = map[string]domainEntry{}
	c.first = map[string]acctEntry{}
	c.list, c.listOK = nil, false
}

// check empties the cache if the directory changed since it was filled,
// and returns the version the caller's results will belong to.
func (c *Cache) check(ctx context.Context) (string, error) {
	v, err := c.version(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if v != c.current {
		c.reset(v)
	}
	c.mu.Unlock()
	return v, nil
}

// remember stores an answer unless the directory moved on meanwhile (the
// answer might then predate the change) or the cache is full.
func (c *Cache) remember(v string, store func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.current {
		return
	}
	if len(c.domains)+len(c.accts)+len(c.aliases)+len(c.byName)+len(c.first) >= cacheMax {
		c.reset(v)
	}
	store()
}

// cacheable reports whether an error is an answer (not found) rather than
// a failure to get one.
func cacheable(err error) bool { return err == nil || errors.Is(err, store.ErrNotFound) }

// IsLocalDomain implements Directory.
func (c *Cache) IsLocalDomain(ctx context.Context, domain string) (bool, error) {
	v, err := c.check(ctx)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	ok, hit := c.domains[domain]
	c.mu.Unlock()
	if hit {
		return ok, nil
	}
	ok, err = c.dir.IsLocalDomain(ctx, domain)
	if err != nil {
		return false, err
	}
	c.remember(v, func() { c.domains[domain] = ok })
	return ok, nil
}

// AccountByAddress implements Directory.
func (c *Cache) AccountByAddress(ctx context.Context, addr string) (store.Account, error) {
	return c.account(ctx, func() map[string]acctEntry { return c.accts }, addr, c.dir.AccountByAddress)
}

// FirstAccountOfDomain implements Directory.
func (c *Cache) FirstAccountOfDomain(ctx context.Context, domain string) (store.Account, error) {
	return c.account(ctx, func() map[string]acctEntry { return c.first }, domain, c.dir.FirstAccountOfDomain)
}

// account looks key up in the map which returns (called under the lock:
// reset replaces the maps).
func (c *Cache) account(ctx context.Context, which func() map[string]acctEntry, key string,
	get func(context.Context, string) (store.Account, error)) (store.Account, error) {
	v, err := c.check(ctx)
	if err != nil {
		return store.Account{}, err
	}
	c.mu.Lock()
	e, hit := which()[key]
	c.mu.Unlock()
	if hit {
		return e.acct, e.err
	}
	a, err := get(ctx, key)
	if cacheable(err) {
		c.remember(v, func() { which()[key] = acctEntry{a, err} })
	}
	return a, err
}

// AliasTargets implements Directory.
func (c *Cache) AliasTargets(ctx context.Context, key string) ([]string, error) {
	v, err := c.check(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	t, hit := c.aliases[key]
	c.mu.Unlock()
	if hit {
		return t, nil
	}
	t, err = c.dir.AliasTargets(ctx, key)
	if err != nil {
		return nil, err
	}
	c.remember(v, func() { c.aliases[key] = t })
	return t, nil
}

// DomainByName implements Directory.
func (c *Cache) DomainByName(ctx context.Context, name string) (store.Domain, error) {
	v, err := c.check(ctx)
	if err != nil {
		return store.Domain{}, err
	}
	c.mu.Lock()
	e, hit := c.byName[name]
	c.mu.Unlock()
	if hit {
		return e.d, e.err
	}
	d, err := c.dir.DomainByName(ctx, name)
	if cacheable(err) {
		c.remember(v, func() { c.byName[name] = domainEntry{d, err} })
	}
	return d, err
}

// Domains implements Directory.
func (c *Cache) Domains(ctx context.Context) ([]store.Domain, error) {
	v, err := c.check(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	list, hit := c.list, c.listOK
	c.mu.Unlock()
	if hit {
		return list, nil
	}
	list, err = c.dir.Domains(ctx)
	if err != nil {
		return nil, err
	}
	c.remember(v, func() { c.list, c.listOK = list, true })
	return list, nil
}
