package authlimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

const (
	testFailures = 10
	testWindow   = time.Hour
	testPenalty  = 15 * time.Minute
)

func newTest(t *testing.T, configure func(*Config)) (*Limiter, *testenv.Clock) {
	t.Helper()
	c := testenv.NewClock()
	cfg := Config{Failures: testFailures, Window: testWindow, Penalty: testPenalty, Now: c.Now, Sleep: c.Sleep}
	if configure != nil {
		configure(&cfg)
	}
	return New(cfg), c
}

var (
	ipX   = netip.MustParseAddr("192.0.2.1")
	ipY   = netip.MustParseAddr("192.0.2.2")
	ctx   = context.Background()
	alice = "alice@example.test"
	bob   = "bob@example.test"
)

// try runs one login attempt: Begin, then Succeed when ok, else Fail with
// pass. It returns Begin's error (nil when the password was checked).
func try(l *Limiter, ip netip.Addr, user, pass string, ok bool) error {
	a, err := l.Begin(ctx, ip, user)
	if err != nil {
		return err
	}
	if ok {
		a.Succeed()
	} else {
		a.Fail(ctx, pass)
	}
	return nil
}

func reason(err error) Reason {
	var r *Refused
	if errors.As(err, &r) {
		return r.Reason
	}
	return 0
}

// Issue 11: 4 wrong guesses for bob + 1 right login for alice, repeated,
// had every guess checked, because alice's success erased the address's
// history. Now bob's guesses from the address stop at Failures.
func TestOtherAccountsSuccessKeepsGuessesCounted(t *testing.T) {
	l, _ := newTest(t, nil)
	checked := 0
	for round := range 32 {
		for i := range 4 {
			if err := try(l, ipX, bob, fmt.Sprintf("guess-%d-%d", round, i), false); err == nil {
				checked++
			} else if reason(err) != ReasonLogin {
				t.Fatalf("bob refused with %v, want a login block", err)
			}
		}
		if err := try(l, ipX, alice, "right", true); err != nil {
			t.Fatalf("round %d: alice's right password refused: %v", round, err)
		}
	}
	if checked > testFailures {
		t.Fatalf("%d of 128 guesses for bob checked, want at most %d", checked, testFailures)
	}
}

// Issue 10: six mistakes from loopback refused the right password on every
// protocol for five minutes.
func TestRightPasswordAfterMistakes(t *testing.T) {
	l, _ := newTest(t, nil)
	lo := netip.MustParseAddr("127.0.0.1")
	for i := range 6 {
		if err := try(l, lo, alice, fmt.Sprint("typo", i), false); err != nil {
			t.Fatalf("mistake %d refused: %v", i+1, err)
		}
	}
	if err := try(l, lo, alice, "right", true); err != nil {
		t.Fatalf("right password after 6 mistakes: %v", err)
	}
	if err := try(l, lo, bob, "right", true); err != nil {
		t.Fatalf("another account from the same address: %v", err)
	}
	// The success cleared alice's history: six more mistakes are allowed.
	for i := range 6 {
		if err := try(l, lo, alice, fmt.Sprint("again", i), false); err != nil {
			t.Fatalf("mistake %d after success refused: %v", i+1, err)
		}
	}
}

func TestAttackingClientKeepsOtherAccounts(t *testing.T) {
	l, c := newTest(t, nil)
	refused := false
	for i := range 50 {
		err := try(l, ipX, bob, fmt.Sprint("guess", i), false)
		if err != nil {
			if reason(err) != ReasonLogin {
				t.Fatalf("refused with %v, want a login block", err)
			}
			refused = true
		}
	}
	if !refused {
		t.Fatal("50 guesses for one account from one address were all checked")
	}
	// alice never logged in from X before, and X is not guessing at her.
	if err := try(l, ipX, alice, "right", true); err != nil {
		t.Fatalf("right password of another account refused: %v", err)
	}
	// bob's owner elsewhere is unaffected.
	if err := try(l, ipY, bob, "right", true); err != nil {
		t.Fatalf("bob from another address refused: %v", err)
	}
	// The block ends after the penalty: the owner behind X gets in.
	c.Advance(testPenalty)
	if err := try(l, ipX, bob, "right", true); err != nil {
		t.Fatalf("after the penalty: %v", err)
	}
}

func TestTarpitDoublesAndCaps(t *testing.T) {
	l, c := newTest(t, nil)
	for i := range 8 {
		if err := try(l, ipX, bob, fmt.Sprint("guess", i), false); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}
	if got := c.Slept(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	// A success is answered at once.
	if err := try(l, ipX, alice, "right", true); err != nil || len(c.Slept()) != len(want) {
		t.Fatalf("success: err %v, delays %v", err, c.Slept())
	}
}

// A device retrying an old password is not guessing: the same wrong
// password does not count again, so it does not lock out the owner's
// other devices behind the same address.
func TestRepeatedPasswordNotCounted(t *testing.T) {
	l, c := newTest(t, nil)
	for i := range 3 * testFailures {
		if err := try(l, ipX, alice, "old-password", false); err != nil {
			t.Fatalf("retry %d of the same password refused: %v", i+1, err)
		}
	}
	for _, d := range c.Slept() {
		if d != tarpitBase {
			t.Fatalf("repeats delayed %v, want %v each", d, tarpitBase)
		}
	}
	if err := try(l, ipX, alice, "new-password", true); err != nil {
		t.Fatalf("right password: %v", err)
	}
}

// A client spraying one or two guesses over many accounts is blocked,
// except for accounts it has logged in to before (the people behind a
// shared address keep working).
func TestSprayingClientBlocked(t *testing.T) {
	l, c := newTest(t, nil)
	c.Freeze() // many connections at once: nothing drains meanwhile
	if err := try(l, ipX, alice, "right", true); err != nil {
		t.Fatal(err)
	}
	blockedAt := 0
	for i := range 100 {
		err := try(l, ipX, fmt.Sprintf("user%d@example.test", i), "Password1", false)
		if err != nil {
			if reason(err) != ReasonClient {
				t.Fatalf("refused with %v, want a client block", err)
			}
			blockedAt = i
			break
		}
	}
	if blockedAt != spread*testFailures {
		t.Fatalf("spraying blocked after %d accounts, want after %d", blockedAt, spread*testFailures)
	}
	// Spraying is slowed down too, though no account failed twice.
	if s := c.Slept(); s[len(s)-1] != tarpitMax {
		t.Fatalf("delays while spraying: %v", s)
	}
	if err := try(l, ipX, alice, "right", true); err != nil {
		t.Fatalf("account vouched for by a past login refused: %v", err)
	}
	if err := try(l, ipY, "user1@example.test", "right", true); err != nil {
		t.Fatalf("sprayed account from another address refused: %v", err)
	}
}

// An account guessed at from many addresses is slowed down for addresses
// it never logged in from, never locked: its owner's known addresses get
// in at once, a new one gets a turn.
func TestDistributedAttackSlowsAccount(t *testing.T) {
	l, c := newTest(t, nil)
	home := netip.MustParseAddr("198.51.100.7")
	if err := try(l, home, bob, "right", true); err != nil {
		t.Fatal(err)
	}
	c.Freeze() // a botnet does not wait for its replies
	bot := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	checked := 0
	for i := range 1000 {
		if err := try(l, bot(i), bob, fmt.Sprint("guess", i), false); err == nil {
			checked++
		} else if reason(err) != ReasonAccount {
			t.Fatalf("bot %d refused with %v, want the account slowed", i, err)
		}
	}
	if checked > spread*testFailures+1 {
		t.Fatalf("%d guesses from 1000 addresses checked at once, want about %d", checked, spread*testFailures)
	}
	if err := try(l, home, bob, "right", true); err != nil {
		t.Fatalf("owner's known address refused: %v", err)
	}
	newPlace := netip.MustParseAddr("203.0.113.50")
	err := try(l, newPlace, bob, "right", true)
	if reason(err) != ReasonAccount {
		t.Fatalf("new address during the attack: %v, want slowed", err)
	}
	var r *Refused
	errors.As(err, &r)
	// Its turn comes: slowed, not locked.
	c.Advance(r.Until.Sub(c.Now()))
	if err := try(l, newPlace, bob, "right", true); err != nil {
		t.Fatalf("new address at its turn: %v", err)
	}
	// Other accounts and the bots' other business are unaffected.
	if err := try(l, bot(1), alice, "right", true); err != nil {
		t.Fatalf("another account from a bot address: %v", err)
	}
}

// A turn within the longest tarpit delay is waited for, not refused.
func TestAccountTurnIsWaitedFor(t *testing.T) {
	l, c := newTest(t, nil)
	c.Freeze()
	for i := range spread * testFailures {
		ip := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
		if err := try(l, ip, bob, fmt.Sprint("guess", i), false); err != nil {
			t.Fatal(err)
		}
	}
	n := len(c.Slept())
	if err := try(l, netip.MustParseAddr("10.2.0.1"), bob, "right", true); err != nil {
		t.Fatalf("first new client: %v", err)
	}
	// The slot was free: no wait. The next one is an interval away, more
	// than the longest wait: refused until then.
	if len(c.Slept()) != n {
		t.Fatalf("waited %v for a free slot", c.Slept()[n:])
	}
	c.Advance(l.slotInterval() - tarpitMax/2)
	if err := try(l, netip.MustParseAddr("10.2.0.2"), bob, "right", true); err != nil {
		t.Fatalf("client whose turn is near: %v", err)
	}
	if got := c.Slept()[n:]; len(got) != 1 || got[0] != tarpitMax/2 {
		t.Fatalf("waits %v, want one of %v", got, tarpitMax/2)
	}
}

func TestExemptNetworks(t *testing.T) {
	l, c := newTest(t, func(cfg *Config) {
		cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	for _, ip := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.2"} {
		for i := range 100 {
			if err := try(l, netip.MustParseAddr(ip), alice, fmt.Sprint("guess", i), false); err != nil {
				t.Fatalf("%s attempt %d refused: %v", ip, i, err)
			}
		}
	}
	if len(c.Slept()) != 0 {
		t.Fatalf("exempt failures delayed: %v", c.Slept())
	}
	if n1, n2, n3 := l.Size(); n1+n2+n3 != 0 {
		t.Fatalf("exempt failures counted: %d %d %d entries", n1, n2, n3)
	}
	// Not exempt: an ordinary address.
	for i := range testFailures {
		try(l, ipX, alice, fmt.Sprint("guess", i), false)
	}
	if err := try(l, ipX, alice, "right", true); reason(err) != ReasonLogin {
		t.Fatalf("non-exempt address: %v", err)
	}
}

func TestIPv6Slash64AndMapped(t *testing.T) {
	l, _ := newTest(t, nil)
	for i := range testFailures {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)})
		try(l, ip, bob, fmt.Sprint("guess", i), false)
	}
	if err := try(l, netip.MustParseAddr("2001:db8:0:1:ffff::1"), bob, "x", false); reason(err) != ReasonLogin {
		t.Fatalf("same /64: %v, want blocked", err)
	}
	if err := try(l, netip.MustParseAddr("2001:db8:0:2::1"), bob, "x", false); err != nil {
		t.Fatalf("other /64: %v", err)
	}
	for i := range testFailures {
		ip := ipX
		if i%2 == 0 {
			ip = netip.MustParseAddr("::ffff:192.0.2.1")
		}
		try(l, ip, bob, fmt.Sprint("guess", i), false)
	}
	if err := try(l, ipX, bob, "x", false); reason(err) != ReasonLogin {
		t.Fatalf("IPv4 and IPv4-mapped counted apart: %v", err)
	}
	// Login names are normalised as the store does.
	if err := try(l, ipX, "BOB@Example.TEST", "x", false); reason(err) != ReasonLogin {
		t.Fatalf("case variant of the login name: %v", err)
	}
}

// Failures drain: a login is blocked again only by new failures.
func TestFailuresDrain(t *testing.T) {
	l, c := newTest(t, nil)
	for i := range testFailures {
		try(l, ipX, bob, fmt.Sprint("guess", i), false)
	}
	c.Advance(testWindow)
	for i := range testFailures - 1 {
		if err := try(l, ipX, bob, fmt.Sprint("later", i), false); err != nil {
			t.Fatalf("failure %d a window later refused: %v", i+1, err)
		}
	}
}

// Connections opened at once each start a check before any failure is
// counted; once a login has failures, those in flight count against its
// limit, so a burst gets no more checks than sequential guessing would.
func TestInflightBounded(t *testing.T) {
	l, _ := newTest(t, nil)
	var ok []*Attempt
	for range 32 {
		a, err := l.Begin(ctx, ipX, alice)
		if err != nil {
			t.Fatalf("parallel logins of a client without failures refused: %v", err)
		}
		ok = append(ok, a)
	}
	for _, a := range ok {
		a.Succeed()
	}
	try(l, ipX, bob, "first", false)
	started := 0
	for range 100 {
		if _, err := l.Begin(ctx, ipX, bob); err == nil {
			started++
		}
	}
	if started != testFailures-1 {
		t.Fatalf("%d checks started in parallel after one failure, want %d", started, testFailures-1)
	}
}

// The lock is not held while an attempt waits: the waiting function can
// use the Limiter.
func TestNoLockWhileWaiting(t *testing.T) {
	var l *Limiter
	l, _ = newTest(t, func(cfg *Config) {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			l.Blocks()
			return nil
		}
	})
	try(l, ipX, bob, "guess", false)
}

func TestSleepHonoursContext(t *testing.T) {
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(cctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep on a cancelled context: %v", err)
	}
	// Fail passes its context on.
	var got context.Context
	l, _ := newTest(t, func(cfg *Config) {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error { got = ctx; return ctx.Err() }
	})
	a, _ := l.Begin(ctx, ipX, bob)
	a.Fail(cctx, "guess")
	if got != cctx {
		t.Fatal("Fail did not wait on its context")
	}
}

func TestAbandonAndDoubleFinish(t *testing.T) {
	l, _ := newTest(t, nil)
	a, err := l.Begin(ctx, ipX, bob)
	if err != nil {
		t.Fatal(err)
	}
	a.Fail(ctx, "guess")
	a.Succeed() // no-op: the attempt is finished
	a.Abandon()
	l.mu.Lock()
	le := l.logins[loginKey{ClientKey(ipX), bob}]
	l.mu.Unlock()
	if le.inflight != 0 || le.lastSuccess != (time.Time{}) || le.fails.level != 1 {
		t.Fatalf("entry after Fail, Succeed, Abandon: %+v", le)
	}
	var nl *Limiter
	na, err := nl.Begin(ctx, ipX, bob)
	if err != nil {
		t.Fatal(err)
	}
	na.Fail(ctx, "x")
	na.Succeed()
	na.Abandon()
	if nl.Blocks() != nil || nl.Clear("x") != 0 || nl.ClearAll() != 0 {
		t.Fatal("nil Limiter")
	}
}

// An attacker with many addresses cannot grow the tables past their
// bound, and blocks outlive plain failures when room is made.
func TestBoundedMemory(t *testing.T) {
	const limit = 1000
	l, c := newTest(t, func(cfg *Config) { cfg.MaxEntries = limit })
	c.Freeze()
	for i := range testFailures {
		try(l, ipX, bob, fmt.Sprint("guess", i), false)
	}
	for i := range 20000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		try(l, ip, fmt.Sprintf("u%d@example.test", i), "Password1", false)
		if n1, n2, n3 := l.Size(); n1 > limit || n2 > limit || n3 > limit {
			t.Fatalf("after %d addresses: %d logins, %d clients, %d accounts; bound %d", i+1, n1, n2, n3, limit)
		}
	}
	if err := try(l, ipX, bob, "x", false); reason(err) != ReasonLogin {
		t.Fatalf("block evicted before plain failures: %v", err)
	}
	// Once the failures drain, sweeps shrink the tables again; a login
	// that succeeded is remembered.
	try(l, ipY, alice, "right", true)
	c.Advance(testWindow + testPenalty)
	l.Begin(ctx, ipY, alice)
	if n1, n2, n3 := l.Size(); n1 > 1 || n2 > 1 || n3 > 1 {
		t.Fatalf("after the window: %d logins, %d clients, %d accounts remain", n1, n2, n3)
	}
}

func TestBlocksAndClear(t *testing.T) {
	l, c := newTest(t, nil)
	c.Freeze()
	for i := range testFailures {
		try(l, ipX, bob, fmt.Sprint("guess", i), false)
	}
	for i := range spread * testFailures {
		try(l, ipY, fmt.Sprintf("u%d@example.test", i), "Password1", false)
	}
	for i := range spread * testFailures {
		try(l, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), "carol@example.test", fmt.Sprint("guess", i), false)
	}
	got := l.Blocks()
	want := []Block{
		{Kind: "account", Account: "carol@example.test", Failures: spread * testFailures},
		{Kind: "client", Client: "192.0.2.2", Failures: spread * testFailures},
		{Kind: "login", Client: "192.0.2.1", Account: bob, Failures: testFailures},
	}
	if len(got) != len(want) {
		t.Fatalf("blocks %+v, want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		g.Until = time.Time{}
		if g != want[i] {
			t.Errorf("block %d: %+v, want %+v", i, g, want[i])
		}
	}
	if !got[2].Until.Equal(c.Now().Add(testPenalty)) {
		t.Errorf("login block until %v, want %v", got[2].Until, c.Now().Add(testPenalty))
	}
	if n := l.Clear("192.0.2.1"); n != 1 {
		t.Fatalf("Clear(address) lifted %d blocks, want 1", n)
	}
	if err := try(l, ipX, bob, "right", true); err != nil {
		t.Fatalf("after clearing its address: %v", err)
	}
	if n := l.Clear("Carol@Example.test"); n != 1 {
		t.Fatalf("Clear(account) lifted %d, want 1", n)
	}
	if n := l.Clear("192.0.2.0/24"); n != 1 {
		t.Fatalf("Clear(network) lifted %d, want 1", n)
	}
	if b := l.Blocks(); len(b) != 0 {
		t.Fatalf("blocks after clearing: %+v", b)
	}
	for i := range testFailures {
		try(l, ipX, bob, fmt.Sprint("again", i), false)
	}
	if n := l.ClearAll(); n != 1 || len(l.Blocks()) != 0 {
		t.Fatalf("ClearAll lifted %d, left %+v", n, l.Blocks())
	}
}
