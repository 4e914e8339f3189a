package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/passwd"
)

// Domain is a local mail domain.
type Domain struct {
	ID         int64
	Name       string // Unicode form
	Postmaster string // account receiving postmaster@Name; "" = the domain's first account
	Accounts   int
}

// Account is a mailbox owner.
type Account struct {
	ID      int64
	Address string // lookup key (lower-cased local part)
	Display string // as created
	Domain  string
	Quota   int64 // storage limit in bytes; 0 for none
}

// Alias maps an address (or "@domain", a catch-all) to targets.
type Alias struct {
	Address string
	Targets []string
}

// DefaultMailboxes are created for every account, with their RFC 6154
// special-use attributes.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// AddDomain adds a local domain. postmaster, if not empty, is the account
// address that receives postmaster@domain (it may be created later).
func (s *Store) AddDomain(ctx context.Context, name, postmaster string) (Domain, error) {
	d, err := address.NormalizeDomain(name)
	if err != nil {
		return Domain{}, invalidName("%v", err)
	}
	pm := ""
	if postmaster != "" {
		a, err := address.Parse(postmaster)
		if err != nil {
			return Domain{}, invalidName("postmaster %q: %v", postmaster, err)
		}
		pm = a.Key()
	}
	var id int64
	err = s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE name = ?`, d).Scan(&n); err != nil {
			return fmt.Errorf("store: add domain: %w", err)
		}
		if n > 0 {
			return alreadyExists("domain", d)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO domains (name, postmaster, created_at) VALUES (?, ?, ?) RETURNING id`,
			d, pm, nowUnix()).Scan(&id)
	})
	if err != nil {
		return Domain{}, err
	}
	return Domain{ID: id, Name: d, Postmaster: pm}, nil
}

// Domains lists the local domains.
func (s *Store) Domains(ctx context.Context) ([]Domain, error) {
	rows, err := s.query(ctx, `SELECT d.id, d.name, d.postmaster,
		(SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id) FROM domains d ORDER BY d.name`)
	if err != nil {
		return nil, fmt.Errorf("store: domains: %w", err)
	}
	defer rows.Close()
	var out []Domain
	for rows.Next() {
		var d Domain
		if err := rows.Scan(&d.ID, &d.Name, &d.Postmaster, &d.Accounts); err != nil {
			return nil, fmt.Errorf("store: domains: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DomainByName returns a local domain (name in any IDNA form).
func (s *Store) DomainByName(ctx context.Context, name string) (Domain, error) {
	n, err := address.NormalizeDomain(name)
	if err != nil {
		return Domain{}, invalidName("%v", err)
	}
	var d Domain
	err = s.queryRow(ctx, `SELECT id, name, postmaster FROM domains WHERE name = ?`, n).Scan(&d.ID, &d.Name, &d.Postmaster)
	if errors.Is(err, sql.ErrNoRows) {
		return Domain{}, notExist("domain", n)
	}
	if err != nil {
		return Domain{}, fmt.Errorf("store: domain: %w", err)
	}
	return d, nil
}

// IsLocalDomain reports whether the normalised domain is ours.
func (s *Store) IsLocalDomain(ctx context.Context, domain string) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM domains WHERE name = ?`, domain).Scan(&n); err != nil {
		return false, fmt.Errorf("store: domain lookup: %w", err)
	}
	return n > 0, nil
}

// DeleteDomain removes a domain and its aliases. A domain that still has
// accounts is refused unless force, which deletes them with their mail.
func (s *Store) DeleteDomain(ctx context.Context, name string, force bool) error {
	d, err := s.DomainByName(ctx, name)
	if err != nil {
		return err
	}
	return s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		var ids []int64
		rows, err := tx.QueryContext(ctx, `SELECT id FROM accounts WHERE domain_id = ?`, d.ID)
		if err != nil {
			return fmt.Errorf("store: delete domain: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store: delete domain: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) > 0 && !force {
			return fmt.Errorf("domain %s still has %d account(s); delete them first or use --force", d.Name, len(ids))
		}
		for _, id := range ids {
			if err := deleteAccountTx(ctx, tx, id, eff); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE address LIKE ? OR address = ?`, "%@"+d.Name, "@"+d.Name); err != nil {
			return fmt.Errorf("store: delete domain aliases: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE id = ?`, d.ID); err != nil {
			return fmt.Errorf("store: delete domain: %w", err)
		}
		return nil
	})
}

// AddAccount creates an account with its default mailboxes. The domain
// must be local.
func (s *Store) AddAccount(ctx context.Context, addr, password string) (Account, error) {
	a, err := address.Parse(addr)
	if err != nil {
		return Account{}, invalidName("%v", err)
	}
	if strings.ContainsRune(a.Local, '+') {
		return Account{}, invalidName("%q: '+' is reserved for subaddresses (user+tag)", addr)
	}
	if password == "" {
		return Account{}, errors.New("empty password")
	}
	d, err := s.DomainByName(ctx, a.Domain)
	if err != nil {
		return Account{}, err
	}
	hash, err := passwd.Hash(password)
	if err != nil {
		return Account{}, err
	}
	acct := Account{Address: a.Key(), Display: a.String(), Domain: d.Name}
	err = s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE address = ?`, acct.Address).Scan(&n); err != nil {
			return fmt.Errorf("store: add account: %w", err)
		}
		if n > 0 {
			return alreadyExists("account", acct.Display)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO accounts (address, display, domain_id, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, acct.Address, acct.Display, d.ID, hash, nowUnix()).Scan(&acct.ID); err != nil {
			return fmt.Errorf("store: add account: %w", err)
		}
		for _, mb := range DefaultMailboxes {
			if _, err := createMailboxTx(ctx, tx, nil, acct.ID, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
			// The mailboxes every account has start subscribed, so
			// that clients showing subscribed folders only see them.
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (account_id, name) VALUES (?, ?)`, acct.ID, mb.Name); err != nil {
				return fmt.Errorf("store: add account: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

// nextUIDValidity returns a UIDVALIDITY never used before in this store:
// the current time in seconds, or one more than the last when faster
// (RFC 9051 §2.3.1.1: a re-created mailbox must get a new value).
func nextUIDValidity(ctx context.Context, tx dbtx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'uidvalidity'`).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: uidvalidity: %w", err)
	}
	v := time.Now().Unix() & 0x7fffffff
	if v <= last {
		v = last + 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('uidvalidity', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, v); err != nil {
		return 0, fmt.Errorf("store: uidvalidity: %w", err)
	}
	return v, nil
}

func createMailboxTx(ctx context.Context, tx dbtx, eff *batchEffects, accountID int64, name, specialUse string) (int64, error) {
	uv, err := nextUIDValidity(ctx, tx)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity)
		VALUES (?, ?, ?, ?) RETURNING id`, accountID, name, specialUse, uv).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: create mailbox %s: %w", name, err)
	}
	if eff != nil {
		eff.changes = append(eff.changes, Change{Kind: ChangeMailboxCreate, AccountID: accountID, MailboxID: id, Name: name})
	}
	return id, nil
}

// Accounts lists all accounts.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.query(ctx, `SELECT a.id, a.address, a.display, d.name, a.quota_bytes FROM accounts a
		JOIN domains d ON d.id = a.domain_id ORDER BY d.name, a.address`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Address, &a.Display, &a.Domain, &a.Quota); err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AccountByAddress looks an account up by any spelling of its address.
func (s *Store) AccountByAddress(ctx context.Context, addr string) (Account, error) {
	a, err := address.Parse(addr)
	if err != nil {
		return Account{}, invalidName("%v", err)
	}
	return s.accountByKey(ctx, a.Key())
}

func (s *Store) accountByKey(ctx context.Context, key string) (Account, error) {
	var a Account
	err := s.queryRow(ctx, `SELECT a.id, a.address, a.display, d.name, a.quota_bytes FROM accounts a
		JOIN domains d ON d.id = a.domain_id WHERE a.address = ?`, key).Scan(&a.ID, &a.Address, &a.Display, &a.Domain, &a.Quota)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, notExist("account", key)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account: %w", err)
	}
	return a, nil
}

// FirstAccountOfDomain returns the oldest account of a domain (the default
// postmaster).
func (s *Store) FirstAccountOfDomain(ctx context.Context, domain string) (Account, error) {
	var a Account
	err := s.queryRow(ctx, `SELECT a.id, a.address, a.display, d.name, a.quota_bytes FROM accounts a
		JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.id LIMIT 1`, domain).Scan(&a.ID, &a.Address, &a.Display, &a.Domain, &a.Quota)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, &userError{msg: "domain " + domain + " has no accounts", err: ErrNotFound}
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account: %w", err)
	}
	return a, nil
}

// SetPassword replaces an account's password.
func (s *Store) SetPassword(ctx context.Context, addr, password string) error {
	if password == "" {
		return errors.New("empty password")
	}
	acct, err := s.AccountByAddress(ctx, addr)
	if err != nil {
		return err
	}
	hash, err := passwd.Hash(password)
	if err != nil {
		return err
	}
	err = s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, acct.ID)
		if err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		return nil
	})
	s.auth.forget(acct.Address)
	return err
}

// DeleteAccount removes an account with its mailboxes and messages.
func (s *Store) DeleteAccount(ctx context.Context, addr string) error {
	acct, err := s.AccountByAddress(ctx, addr)
	if err != nil {
		return err
	}
	s.auth.forget(acct.Address)
	return s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		return deleteAccountTx(ctx, tx, acct.ID, eff)
	})
}

func deleteAccountTx(ctx context.Context, tx dbtx, id int64, eff *batchEffects) error {
	rows, err := tx.QueryContext(ctx, `SELECT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete account: %w", err)
	}
	var blobs []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return fmt.Errorf("store: delete account: %w", err)
		}
		blobs = append(blobs, b)
	}
	rows.Close()
	mbs, err := uint32Column(ctx, tx, `SELECT id FROM mailboxes WHERE account_id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete account: %w", err)
	}
	for _, mb := range mbs {
		eff.changes = append(eff.changes, Change{Kind: ChangeMailbox, AccountID: id, MailboxID: int64(mb)})
	}
	for _, stmt := range []string{
		`DELETE FROM message_text WHERE rowid IN (SELECT m.id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?)`,
		`DELETE FROM fts_pending WHERE message_id IN (SELECT m.id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?)`,
		`DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
		`DELETE FROM expunged WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
		`DELETE FROM mailboxes WHERE account_id = ?`,
		`DELETE FROM subscriptions WHERE account_id = ?`,
		`DELETE FROM accounts WHERE id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, stmt, id); err != nil {
			return fmt.Errorf("store: delete account: %w", err)
		}
	}
	return unrefBlobs(ctx, tx, blobs, eff)
}

// unrefBlobs drops one reference per listed blob id, scheduling files that
// reach zero for removal after commit.
func unrefBlobs(ctx context.Context, tx dbtx, ids []string, eff *batchEffects) error {
	for _, b := range ids {
		var refs int
		if err := tx.QueryRowContext(ctx, `UPDATE blobs SET refs = refs - 1 WHERE id = ? RETURNING refs`, b).Scan(&refs); err != nil {
			return fmt.Errorf("store: unref blob: %w", err)
		}
		if refs <= 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, b); err != nil {
				return fmt.Errorf("store: delete blob row: %w", err)
			}
			eff.removeBlobs = append(eff.removeBlobs, b)
		}
	}
	return nil
}

// AddAlias adds targets to an alias ("user@domain" or "@domain" for a
// catch-all). The alias's domain must be local; targets may be anywhere.
func (s *Store) AddAlias(ctx context.Context, alias string, targets []string) (Alias, error) {
	key, err := AliasKey(alias)
	if err != nil {
		return Alias{}, err
	}
	dom := key[strings.LastIndexByte(key, '@')+1:]
	if ok, err := s.IsLocalDomain(ctx, dom); err != nil {
		return Alias{}, err
	} else if !ok {
		return Alias{}, &userError{msg: "domain " + dom + " does not exist (add it with 'yizhan domain add')", err: ErrNotFound}
	}
	if len(targets) == 0 {
		return Alias{}, errors.New("an alias needs at least one target")
	}
	var norm []string
	for _, t := range targets {
		a, err := address.Parse(t)
		if err != nil {
			return Alias{}, invalidName("target %q: %v", t, err)
		}
		norm = append(norm, a.String())
	}
	if !strings.HasPrefix(key, "@") {
		if _, err := s.accountByKey(ctx, key); err == nil {
			return Alias{}, &userError{msg: key + " is an account", err: ErrExists}
		}
	}
	err = s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		for _, t := range norm {
			if _, err := tx.ExecContext(ctx, `INSERT INTO aliases (address, target) VALUES (?, ?) ON CONFLICT DO NOTHING`, key, t); err != nil {
				return fmt.Errorf("store: add alias: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Alias{}, err
	}
	return Alias{Address: key, Targets: norm}, nil
}

// AliasKey normalises an alias name: "user@domain" or "@domain".
func AliasKey(alias string) (string, error) {
	if strings.HasPrefix(alias, "@") {
		d, err := address.NormalizeDomain(alias[1:])
		if err != nil {
			return "", invalidName("%v", err)
		}
		return "@" + d, nil
	}
	a, err := address.Parse(alias)
	if err != nil {
		return "", invalidName("%v", err)
	}
	return a.Key(), nil
}

// Aliases lists all aliases.
func (s *Store) Aliases(ctx context.Context) ([]Alias, error) {
	rows, err := s.query(ctx, `SELECT address, target FROM aliases ORDER BY address, target`)
	if err != nil {
		return nil, fmt.Errorf("store: aliases: %w", err)
	}
	defer rows.Close()
	var out []Alias
	for rows.Next() {
		var a, t string
		if err := rows.Scan(&a, &t); err != nil {
			return nil, fmt.Errorf("store: aliases: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].Address == a {
			out[n-1].Targets = append(out[n-1].Targets, t)
		} else {
			out = append(out, Alias{Address: a, Targets: []string{t}})
		}
	}
	return out, rows.Err()
}

// AliasTargets returns the targets of an alias key, or nil.
func (s *Store) AliasTargets(ctx context.Context, key string) ([]string, error) {
	rows, err := s.query(ctx, `SELECT target FROM aliases WHERE address = ? ORDER BY target`, key)
	if err != nil {
		return nil, fmt.Errorf("store: alias: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("store: alias: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAlias removes an alias with all its targets.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	key, err := AliasKey(alias)
	if err != nil {
		return err
	}
	return s.writeDirectory(ctx, func(ctx context.Context, tx dbtx, _ *batchEffects) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE address = ?`, key)
		if err != nil {
			return fmt.Errorf("store: delete alias: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notExist("alias", key)
		}
		return nil
	})
}

// Authenticate checks an account's password. Verified passwords are
// remembered briefly (as a salted SHA-256, never in clear) so that clients
// reconnecting often do not pay argon2id's 64 MiB each time; argon2id runs
// at most authConcurrency at once, so a login storm cannot exhaust memory.
//
// A login for an account that does not exist (unknown local part or
// domain, or no address at all) is checked against a decoy hash with the
// same parameters, on the same path: it waits for the same limiter, runs
// one argon2id and is answered as late as a wrong password for a real
// account, so the answer's time does not tell which accounts exist.
func (s *Store) Authenticate(ctx context.Context, username, password string) (Account, error) {
	var acct Account
	key, hash := "", s.auth.decoy
	found := false
	if a, err := address.Parse(username); err == nil {
		key = a.Key()
		var stored string
		err = s.queryRow(ctx, `SELECT a.id, a.address, a.display, d.name, a.password_hash FROM accounts a
			JOIN domains d ON d.id = a.domain_id WHERE a.address = ?`, key).Scan(&acct.ID, &acct.Address, &acct.Display, &acct.Domain, &stored)
		switch {
		case err == nil:
			hash, found = stored, true
		case !errors.Is(err, sql.ErrNoRows):
			return Account{}, fmt.Errorf("store: authenticate: %w", err)
		}
	}
	if !found {
		// Never a cache entry or a shared call of a real account:
		// the NUL cannot occur in an address key.
		key = "\x00" + username
	}
	ok, err := s.auth.verify(ctx, key, hash, password)
	if err != nil {
		return Account{}, err
	}
	if !ok || !found {
		return Account{}, ErrAuthFailed
	}
	return acct, nil
}

// verify checks password against hash for the cache key (an account's
// address): from the cache if it was verified recently, else with
// argon2id, sharing the computation with identical logins under way.
// Failures are never cached, so a wrong password costs one argon2id every
// time, for real accounts and decoys alike.
func (c *authCache) verify(ctx context.Context, key, hash, password string) (bool, error) {
	if c.check(key, hash, password) {
		return true, nil
	}
	// Logins with the same credentials at the same moment (a client
	// opening many connections) share one computation: thirty-two of them
	// cost 256 MiB of argon2id memory and made the heap grow to 600 MB.
	call, leader := c.join(key, hash, password)
	if !leader {
		select {
		case <-call.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		return call.ok, nil
	}
	defer c.leave(key, hash, password, call)
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	err := passwd.Verify(hash, password)
	<-c.sem
	if err != nil {
		return false, nil
	}
	call.ok = true
	c.remember(key, hash, password)
	return true, nil
}

// authConcurrency bounds parallel argon2id computations (64 MiB each).
const authConcurrency = 4

// authTTL is how long a verified password is remembered.
const authTTL = 10 * time.Minute

type authCache struct {
	decoy    string // passwd.Decoy, checked for accounts that do not exist
	sem      chan struct{}
	mu       sync.Mutex
	m        map[string]authEntry
	inflight map[[32]byte]*authCall // verifications under way
}

// authCall is one verification that others with the same credentials wait
// for; ok is set before done is closed.
type authCall struct {
	done chan struct{}
	ok   bool
}

// join returns the verification under way for these credentials, or
// starts one (leader true); the leader must call leave.
func (c *authCache) join(key, hash, password string) (*authCall, bool) {
	k := authDigest(key+"\x00"+hash, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if call, ok := c.inflight[k]; ok {
		return call, false
	}
	call := &authCall{done: make(chan struct{})}
	c.inflight[k] = call
	return call, true
}

func (c *authCache) leave(key, hash, password string, call *authCall) {
	k := authDigest(key+"\x00"+hash, password)
	c.mu.Lock()
	delete(c.inflight, k)
	c.mu.Unlock()
	close(call.done)
}

type authEntry struct {
	digest  [32]byte
	expires time.Time
}

func newAuthCache(decoy string) *authCache {
	return &authCache{decoy: decoy, sem: make(chan struct{}, authConcurrency), m: map[string]authEntry{}, inflight: map[[32]byte]*authCall{}}
}

// digest binds the password to the stored hash (which holds a random
// salt), so a changed password or a copied cache entry is useless.
func authDigest(hash, password string) [32]byte {
	return sha256.Sum256([]byte(hash + "\x00" + password))
}

func (c *authCache) check(key, hash, password string) bool {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || time.Now().After(e.expires) {
		return false
	}
	d := authDigest(hash, password)
	return subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1
}

func (c *authCache) remember(key, hash, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100000 {
		c.m = map[string]authEntry{}
	}
	c.m[key] = authEntry{digest: authDigest(hash, password), expires: time.Now().Add(authTTL)}
}

func (c *authCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
