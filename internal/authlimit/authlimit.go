// Package authlimit slows down and limits password guessing on SMTP AUTH,
// IMAP and POP3. One Limiter is shared by every protocol, so a guesser
// cannot spread attempts over them.
//
// Failures are counted three ways: per login (client, account), per
// client across accounts, and per account across clients; a client is an
// IPv4 address or an IPv6 /64. Each count is a leaky bucket drained at
// its limit per window, so it measures recent failures without keeping
// their times. Failure replies are delayed progressively (the tarpit);
// only a login that is itself being guessed, a client guessing at many
// accounts, and new clients of an account guessed at from many places are
// held back, and a successful login clears nothing but its own login's
// history. docs/DESIGN-notes.md ("Password guessing") gives the model and
// its reasons.
package authlimit

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/address"
)

const (
	// DefaultMaxEntries bounds each of the three tables (logins, clients,
	// accounts): about 200 bytes an entry, so a few tens of MB at most
	// whatever number of addresses an attacker has.
	DefaultMaxEntries = 1 << 16

	// tarpitBase is the delay of a first failure; each further one
	// doubles it. Half a second is not felt by a person who mistyped.
	tarpitBase = 500 * time.Millisecond
	// tarpitMax caps the delay below the 30–60 s after which clients give
	// up on a reply and reconnect (costing us more than the wait saves).
	tarpitMax = 15 * time.Second
	// spread is how many times Failures a client may fail across accounts,
	// or an account across clients, before it is held back: more than one
	// person's mistakes, far less than a dictionary.
	spread = 3
	// vouch is how long a successful login keeps vouching for its client:
	// the owner's usual places keep working while their account or their
	// shared address is under attack.
	vouch = 30 * 24 * time.Hour
	// recentPasswords is how many distinct wrong passwords of a login are
	// recognised when repeated: a phone retrying an old password is not
	// guessing, and must not lock its owner's other devices out.
	recentPasswords = 4
	// maxAccountKey bounds the account names kept; longer ones are
	// truncated (no real address is that long, RFC 5321 §4.5.3.1).
	maxAccountKey = 320
	// sweepEvery is how often tables are swept of forgotten entries.
	sweepEvery = time.Minute
)

// Config sets a Limiter's policy.
type Config struct {
	// Failures is how many distinct wrong passwords one login (client,
	// account) may send within Window before that login is refused for
	// Penalty; clients across accounts and accounts across clients are
	// allowed spread times as many.
	Failures int
	Window   time.Duration // failures are forgotten at Failures per Window
	Penalty  time.Duration // how long a blocked login or client stays blocked
	// Exempt lists networks whose logins are never counted or held back
	// (loopback when a webmail on the same host logs users in).
	Exempt []netip.Prefix
	// MaxEntries bounds each table; 0 means DefaultMaxEntries.
	MaxEntries int
	// Now and Sleep stand in for the clock in tests; nil means the real
	// ones. Sleep must return early with ctx's error when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Reason says which count refused an attempt.
type Reason int

const (
	// ReasonLogin: this account has been guessed at from this client.
	ReasonLogin Reason = iota + 1
	// ReasonClient: this client has guessed at many accounts.
	ReasonClient
	// ReasonAccount: this account is being guessed at from many clients,
	// and clients it has never logged in from wait their turn.
	ReasonAccount
)

func (r Reason) String() string {
	switch r {
	case ReasonLogin:
		return "login"
	case ReasonClient:
		return "client"
	case ReasonAccount:
		return "account"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Refused is Begin's error when an attempt may not be checked now.
// Protocols answer it with a temporary failure, never "wrong password".
type Refused struct {
	Reason Reason
	Until  time.Time // when trying again may succeed
}

func (r *Refused) Error() string {
	switch r.Reason {
	case ReasonLogin:
		return "authlimit: too many failed logins for this account from this address"
	case ReasonClient:
		return "authlimit: too many failed logins from this address"
	default:
		return "authlimit: account under attack; logins from new addresses are slowed down"
	}
}

// Limiter holds the counts. Its methods are safe for concurrent use; a
// nil *Limiter limits nothing.
type Limiter struct {
	failures   float64
	window     time.Duration
	penalty    time.Duration
	exempt     []netip.Prefix
	maxEntries int
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error
	seed       maphash.Seed // keys the hashes of recent wrong passwords

	mu        sync.Mutex
	logins    map[loginKey]*loginEntry
	clients   map[netip.Prefix]*clientEntry
	accounts  map[string]*accountEntry
	lastSweep time.Time
}

type loginKey struct {
	client  netip.Prefix
	account string
}

// bucket is a leaky bucket: level drains linearly since at.
type bucket struct {
	level float64
	at    time.Time
}

// value is the level at now, drained at rate per second.
func (b *bucket) value(now time.Time, rate float64) float64 {
	if b.level == 0 {
		return 0
	}
	return max(0, b.level-now.Sub(b.at).Seconds()*rate)
}

// add drains the bucket to now, adds n and returns the new level.
func (b *bucket) add(now time.Time, rate, n float64) float64 {
	b.level, b.at = b.value(now, rate)+n, now
	return b.level
}

type loginEntry struct {
	fails        bucket
	blockedUntil time.Time
	lastSuccess  time.Time
	seen         time.Time // last attempt, for eviction order
	inflight     int       // attempts begun and not finished
	recent       [recentPasswords]uint64
	nrecent      int
}

type clientEntry struct {
	fails        bucket
	blockedUntil time.Time
	seen         time.Time
	inflight     int // attempts not vouched for by a past success
}

type accountEntry struct {
	fails    bucket
	nextSlot time.Time // when the next client without a past success may try
	seen     time.Time
	inflight int // attempts not vouched for by a past success
}

// New returns a Limiter with cfg's policy. Failures, Window and Penalty
// must be positive.
func New(cfg Config) *Limiter {
	l := &Limiter{
		failures:   float64(max(cfg.Failures, 1)),
		window:     max(cfg.Window, time.Second),
		penalty:    cfg.Penalty,
		exempt:     cfg.Exempt,
		maxEntries: cfg.MaxEntries,
		now:        cfg.Now,
		sleep:      cfg.Sleep,
		seed:       maphash.MakeSeed(),
		logins:     map[loginKey]*loginEntry{},
		clients:    map[netip.Prefix]*clientEntry{},
		accounts:   map[string]*accountEntry{},
	}
	if l.maxEntries <= 0 {
		l.maxEntries = DefaultMaxEntries
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = sleep
	}
	return l
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain rates, per second: a login forgets Failures per window, a client
// or an account spread times as many.
func (l *Limiter) loginRate() float64 { return l.failures / l.window.Seconds() }
func (l *Limiter) wideRate() float64  { return spread * l.failures / l.window.Seconds() }
func (l *Limiter) wideMax() float64   { return spread * l.failures }

// slotInterval spaces the attempts of clients without a past success on
// an account under attack, so that they add failures no faster than the
// account's bucket drains.
func (l *Limiter) slotInterval() time.Duration {
	return time.Duration(float64(l.window) / l.wideMax())
}

// ClientKey is the client an address counts as: IPv4 addresses alone,
// IPv6 addresses by /64, since one host usually owns a whole /64.
func ClientKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil { // the zero Addr: a client we know nothing of
		return netip.Prefix{}
	}
	return p
}

// AccountKey is the account a login name counts as: the normalised
// address the store looks up, so "Bob@Example.test" and
// "bob@example.test" share their failures.
func AccountKey(user string) string {
	k := strings.ToLower(user)
	if a, err := address.Parse(user); err == nil {
		k = a.Key()
	}
	if len(k) > maxAccountKey {
		k = k[:maxAccountKey]
	}
	return k
}

func (l *Limiter) exempted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Attempt is one password check between Begin and one of Fail, Succeed
// or Abandon (later calls are no-ops, so callers may defer Abandon).
type Attempt struct {
	l      *Limiter // nil: not limited
	key    loginKey
	login  *loginEntry
	client *clientEntry  // counted in its inflight; nil when vouched for
	acct   *accountEntry // likewise
	done   bool
}

// pressed reports whether a count with failures has no room left for the
// attempts in flight: without this, a client with many connections would
// start a burst of checks before the first failure is counted.
func pressed(level float64, inflight int, limit float64) bool {
	return level > 0 && ceil(level)+inflight >= int(limit)
}

// Begin is called before a password is checked, with the login name as
// the client sent it. It returns *Refused when the attempt must not be
// checked now, or ctx's error when ctx ended while the attempt waited for
// its turn; otherwise the caller checks the password and reports the
// outcome on the Attempt.
func (l *Limiter) Begin(ctx context.Context, ip netip.Addr, user string) (*Attempt, error) {
	if l == nil || l.exempted(ip) {
		return &Attempt{}, nil
	}
	key := loginKey{ClientKey(ip), AccountKey(user)}
	l.mu.Lock()
	now := l.now()
	l.maybeSweep(now)
	le := l.logins[key]
	vouched := false
	if le != nil {
		if now.Before(le.blockedUntil) {
			l.mu.Unlock()
			return nil, &Refused{ReasonLogin, le.blockedUntil}
		}
		if pressed(le.fails.value(now, l.loginRate()), le.inflight, l.failures) {
			l.mu.Unlock()
			return nil, &Refused{ReasonLogin, now.Add(tarpitMax)}
		}
		vouched = !le.lastSuccess.IsZero() && now.Sub(le.lastSuccess) < vouch
	}
	var wait time.Duration
	var ce *clientEntry
	var ae *accountEntry
	if !vouched {
		ce = l.clients[key.client]
		if ce != nil {
			if now.Before(ce.blockedUntil) {
				l.mu.Unlock()
				return nil, &Refused{ReasonClient, ce.blockedUntil}
			}
			if pressed(ce.fails.value(now, l.wideRate()), ce.inflight, l.wideMax()) {
				l.mu.Unlock()
				return nil, &Refused{ReasonClient, now.Add(tarpitMax)}
			}
		}
		ae = l.accounts[key.account]
		if ae != nil && pressed(ae.fails.value(now, l.wideRate()), ae.inflight, l.wideMax()) {
			// Under attack from many clients: new clients take turns, one
			// per slot. A turn within the longest tarpit delay is waited
			// for (slowed, not refused); a later one is refused for now.
			slot := now
			if ae.nextSlot.After(now) {
				slot = ae.nextSlot
			}
			if slot.Sub(now) > tarpitMax {
				l.mu.Unlock()
				return nil, &Refused{ReasonAccount, slot}
			}
			ae.nextSlot = slot.Add(l.slotInterval())
			wait = slot.Sub(now)
		}
		ce = l.client(key.client, now)
		ce.inflight++
		ae = l.account(key.account, now)
		ae.inflight++
	}
	le = l.login(key, now)
	le.inflight++
	a := &Attempt{l: l, key: key, login: le, client: ce, acct: ae}
	l.mu.Unlock()
	if wait > 0 {
		if err := l.sleep(ctx, wait); err != nil {
			a.Abandon()
			return nil, err
		}
	}
	return a, nil
}

// finish ends the attempt's share of the in-flight counts; l.mu is held.
func (a *Attempt) finish() bool {
	if a.l == nil || a.done {
		return false
	}
	a.done = true
	a.login.inflight--
	if a.client != nil {
		a.client.inflight--
	}
	if a.acct != nil {
		a.acct.inflight--
	}
	return true
}

// Abandon ends an attempt whose password was not judged (the back end
// failed, the client left).
func (a *Attempt) Abandon() {
	if a == nil || a.l == nil {
		return
	}
	a.l.mu.Lock()
	a.finish()
	a.l.mu.Unlock()
}

// Succeed records a correct password. It clears this login's failures and
// nothing else: another account's success does not excuse the client's
// guesses, and the account's count from other clients stays.
func (a *Attempt) Succeed() {
	if a == nil || a.l == nil {
		return
	}
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if !a.finish() {
		return
	}
	now := l.now()
	le := l.login(a.key, now)
	le.fails = bucket{}
	le.blockedUntil = time.Time{}
	le.recent, le.nrecent = [recentPasswords]uint64{}, 0
	le.lastSuccess = now
}

// Fail records a wrong password and then waits the tarpit delay (or until
// ctx ends) before returning, so the caller answers late. The delay grows
// with the login's, the client's and the account's recent failures. A
// password this login already failed with recently is not counted again.
// blocked reports whether this failure blocked the login or the client or
// started slowing the account down, for the caller's log.
func (a *Attempt) Fail(ctx context.Context, password string) (blocked bool) {
	if a == nil || a.l == nil {
		return false
	}
	l := a.l
	h := maphash.String(l.seed, password)
	l.mu.Lock()
	if !a.finish() {
		l.mu.Unlock()
		return false
	}
	now := l.now()
	le := l.login(a.key, now)
	ce := l.client(a.key.client, now)
	ae := l.account(a.key.account, now)
	lv := le.fails.value(now, l.loginRate())
	cv := ce.fails.value(now, l.wideRate())
	av := ae.fails.value(now, l.wideRate())
	if !slices.Contains(le.recent[:le.nrecent], h) {
		if le.nrecent < recentPasswords {
			le.nrecent++
		}
		copy(le.recent[1:], le.recent[:le.nrecent-1])
		le.recent[0] = h
		lv = le.fails.add(now, l.loginRate(), 1)
		cv = ce.fails.add(now, l.wideRate(), 1)
		wasSlowed := l.slowed(av)
		av = ae.fails.add(now, l.wideRate(), 1)
		if ceil(lv) >= int(l.failures) && !now.Before(le.blockedUntil) {
			le.blockedUntil = now.Add(l.penalty)
			blocked = true
		}
		if ceil(cv) >= int(l.wideMax()) && !now.Before(ce.blockedUntil) {
			ce.blockedUntil = now.Add(l.penalty)
			blocked = true
		}
		if l.slowed(av) && !wasSlowed {
			blocked = true
		}
	}
	n := max(ceil(lv), ceil(cv/spread), ceil(av/spread))
	l.mu.Unlock()
	_ = l.sleep(ctx, tarpit(n))
	return blocked
}

// ceil is the number of failures a level counts: a failure partly
// drained still counts whole, or the time an attacker spends waiting for
// its delays would buy it extra guesses.
func ceil(f float64) int { return int(math.Ceil(f - 1e-9)) }

// slowed reports whether an account's level makes it slowed down for
// clients without a past success.
func (l *Limiter) slowed(level float64) bool { return ceil(level) >= int(l.wideMax()) }

// tarpit is the delay of a failure reply when n failures are counted:
// tarpitBase doubled for each failure after the first, at most tarpitMax.
func tarpit(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := tarpitBase
	for i := 1; i < n && d < tarpitMax; i++ {
		d *= 2
	}
	return min(d, tarpitMax)
}

// login, client and account return the entry for a key, created when
// missing; l.mu is held.
func (l *Limiter) login(k loginKey, now time.Time) *loginEntry {
	e := l.logins[k]
	if e == nil {
		if len(l.logins) >= l.maxEntries {
			evict(l.logins, now, l.maxEntries, l.loginIdle, l.loginKeep, func(e *loginEntry) (time.Time, int) { return e.seen, e.inflight })
		}
		e = &loginEntry{}
		l.logins[k] = e
	}
	e.seen = now
	return e
}

func (l *Limiter) client(k netip.Prefix, now time.Time) *clientEntry {
	e := l.clients[k]
	if e == nil {
		if len(l.clients) >= l.maxEntries {
			evict(l.clients, now, l.maxEntries, l.clientIdle, l.clientKeep, func(e *clientEntry) (time.Time, int) { return e.seen, e.inflight })
		}
		e = &clientEntry{}
		l.clients[k] = e
	}
	e.seen = now
	return e
}

func (l *Limiter) account(k string, now time.Time) *accountEntry {
	e := l.accounts[k]
	if e == nil {
		if len(l.accounts) >= l.maxEntries {
			evict(l.accounts, now, l.maxEntries, l.accountIdle, l.accountKeep, func(e *accountEntry) (time.Time, int) { return e.seen, e.inflight })
		}
		e = &accountEntry{}
		l.accounts[k] = e
	}
	e.seen = now
	return e
}

// Idle entries hold nothing worth keeping: they are dropped by sweeps.
func (l *Limiter) loginIdle(e *loginEntry, now time.Time) bool {
	return e.inflight == 0 && e.fails.value(now, l.loginRate()) == 0 && !now.Before(e.blockedUntil) &&
		(e.lastSuccess.IsZero() || now.Sub(e.lastSuccess) >= vouch)
}

func (l *Limiter) clientIdle(e *clientEntry, now time.Time) bool {
	return e.inflight == 0 && e.fails.value(now, l.wideRate()) == 0 && !now.Before(e.blockedUntil)
}

func (l *Limiter) accountIdle(e *accountEntry, now time.Time) bool {
	return e.inflight == 0 && e.fails.value(now, l.wideRate()) == 0 && !now.Before(e.nextSlot)
}

// Kept entries (blocks, vouching successes, accounts being slowed) are
// evicted only after every other one.
func (l *Limiter) loginKeep(e *loginEntry, now time.Time) bool {
	return now.Before(e.blockedUntil) || (!e.lastSuccess.IsZero() && now.Sub(e.lastSuccess) < vouch)
}

func (l *Limiter) clientKeep(e *clientEntry, now time.Time) bool { return now.Before(e.blockedUntil) }

func (l *Limiter) accountKeep(e *accountEntry, now time.Time) bool {
	return l.slowed(e.fails.value(now, l.wideRate()))
}

// evict makes room in a full table: it drops idle entries, then, if the
// table is still above seven eighths of max, the least recently seen ones
// (entries worth keeping last; never one with an attempt in flight).
// Freeing an eighth at a time keeps the sort's cost per insert small.
func evict[K comparable, E any](m map[K]E, now time.Time, limit int,
	idle, keep func(E, time.Time) bool, meta func(E) (time.Time, int)) {
	for k, e := range m {
		if idle(e, now) {
			delete(m, k)
		}
	}
	target := limit - limit/8
	if len(m) <= target {
		return
	}
	type cand struct {
		k    K
		keep bool
		seen time.Time
	}
	cands := make([]cand, 0, len(m))
	for k, e := range m {
		if seen, inflight := meta(e); inflight == 0 {
			cands = append(cands, cand{k, keep(e, now), seen})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.keep != b.keep {
			if a.keep {
				return 1
			}
			return -1
		}
		return a.seen.Compare(b.seen)
	})
	for _, c := range cands {
		if len(m) <= target {
			break
		}
		delete(m, c.k)
	}
}

// maybeSweep drops idle entries once per sweepEvery, so memory shrinks
// again after an attack; l.mu is held.
func (l *Limiter) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for k, e := range l.logins {
		if l.loginIdle(e, now) {
			delete(l.logins, k)
		}
	}
	for k, e := range l.clients {
		if l.clientIdle(e, now) {
			delete(l.clients, k)
		}
	}
	for k, e := range l.accounts {
		if l.accountIdle(e, now) {
			delete(l.accounts, k)
		}
	}
}

// Block is one thing the Limiter holds back, as `yizhan auth blocks`
// shows it.
type Block struct {
	Kind     string    `json:"kind"`              // "login", "client" or "account" (Reason's names)
	Client   string    `json:"client,omitempty"`  // address, or IPv6 /64
	Account  string    `json:"account,omitempty"` // normalised login name
	Failures int       `json:"failures"`          // failures counted now
	Until    time.Time `json:"until"`             // when it ends if nothing more fails
}

// clientString shows an IPv4 client as its address and an IPv6 one as
// its /64.
func clientString(p netip.Prefix) string {
	if p.Addr().Is4() {
		return p.Addr().String()
	}
	return p.String()
}

// Blocks lists the logins and clients blocked and the accounts being
// slowed down, ordered by kind, client and account.
func (l *Limiter) Blocks() []Block {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var out []Block
	for k, e := range l.logins {
		if now.Before(e.blockedUntil) {
			out = append(out, Block{ReasonLogin.String(), clientString(k.client), k.account, ceil(e.fails.value(now, l.loginRate())), e.blockedUntil})
		}
	}
	for k, e := range l.clients {
		if now.Before(e.blockedUntil) {
			out = append(out, Block{ReasonClient.String(), clientString(k), "", ceil(e.fails.value(now, l.wideRate())), e.blockedUntil})
		}
	}
	for k, e := range l.accounts {
		if v := e.fails.value(now, l.wideRate()); l.slowed(v) {
			// Slowed until the count drains below the limit.
			until := now.Add(time.Duration((v - l.wideMax() + 1) / l.wideRate() * float64(time.Second)))
			out = append(out, Block{ReasonAccount.String(), "", k, ceil(v), until})
		}
	}
	slices.SortFunc(out, func(a, b Block) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Client, b.Client), cmp.Compare(a.Account, b.Account))
	})
	return out
}

// Clear forgets the failures, and so lifts the blocks, of target: an IP
// address (its client), a network (every client in it) or a login name
// (its account, from every client). Successes are kept. It returns how
// many blocks were lifted.
func (l *Limiter) Clear(target string) int {
	if l == nil {
		return 0
	}
	var match func(loginKey) bool
	var matchClient func(netip.Prefix) bool
	account := ""
	if ip, err := netip.ParseAddr(target); err == nil {
		ck := ClientKey(ip)
		matchClient = func(p netip.Prefix) bool { return p == ck }
	} else if p, err := netip.ParsePrefix(target); err == nil {
		p = p.Masked()
		matchClient = func(c netip.Prefix) bool { return c.Bits() >= p.Bits() && p.Contains(c.Addr()) }
	} else {
		account = AccountKey(target)
	}
	if matchClient != nil {
		match = func(k loginKey) bool { return matchClient(k.client) }
	} else {
		match = func(k loginKey) bool { return k.account == account }
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clear(match, matchClient, func(a string) bool { return matchClient == nil && a == account })
}

// ClearAll forgets every failure and lifts every block; successes are
// kept. It returns how many blocks were lifted.
func (l *Limiter) ClearAll() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clear(func(loginKey) bool { return true }, func(netip.Prefix) bool { return true }, func(string) bool { return true })
}

// clear resets the entries matched; l.mu is held. Entries stay in their
// maps (attempts in flight point at them) and are swept when idle.
func (l *Limiter) clear(login func(loginKey) bool, client func(netip.Prefix) bool, account func(string) bool) int {
	now := l.now()
	n := 0
	for k, e := range l.logins {
		if login(k) {
			if now.Before(e.blockedUntil) {
				n++
			}
			e.fails, e.blockedUntil = bucket{}, time.Time{}
			e.recent, e.nrecent = [recentPasswords]uint64{}, 0
		}
	}
	for k, e := range l.clients {
		if client != nil && client(k) {
			if now.Before(e.blockedUntil) {
				n++
			}
			e.fails, e.blockedUntil = bucket{}, time.Time{}
		}
	}
	for k, e := range l.accounts {
		if account(k) {
			if l.slowed(e.fails.value(now, l.wideRate())) {
				n++
			}
			e.fails, e.nextSlot = bucket{}, time.Time{}
		}
	}
	return n
}

// Size reports the number of entries in each table, for tests and
// metrics.
func (l *Limiter) Size() (logins, clients, accounts int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.logins), len(l.clients), len(l.accounts)
}
