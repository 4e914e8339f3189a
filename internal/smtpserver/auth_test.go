package smtpserver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/test/testenv"
)

func (b *fakeBackend) addUser(user, pass string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[user], b.accounts[user] = pass, user
}

func (b *fakeBackend) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authCalls
}

// Failures are answered late, progressively; a login guessed at too often
// is refused with 454 4.7.0 (RFC 4954 §6) without asking the back end,
// whatever the mechanism or connection, until the penalty ends; other
// accounts from the same address are not affected.
func TestAuthThrottle(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, MaxErrors: 100})
	ts.backend.addUser("bob@example.test", "bob-secret")
	c := ts.dialGreeted(t)
	c.authReady(ts)
	for i := range testAuthFailures {
		c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", fmt.Sprint("guess", i)), "535 5.7.8")
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if got := ts.clock.Slept(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failure replies delayed %v, want %v", got, want)
	}
	calls := ts.backend.calls()
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "454 4.7.0 Too many failed logins for this account")
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd(b64("alice@example.test"), "334 UGFzc3dvcmQ6")
	c.cmd(b64("secret"), "454 4.7.0")
	c2 := ts.dialGreeted(t)
	c2.authReady(ts)
	c2.cmd("AUTH PLAIN "+plainResp("", "ALICE@example.test", "secret"), "454 4.7.0")
	if ts.backend.calls() != calls {
		t.Errorf("back end asked while blocked")
	}
	// Another account from the same address is not under attack.
	c2.cmd("AUTH PLAIN "+plainResp("", "bob@example.test", "bob-secret"), "235 2.7.0")
	// After the penalty the right password works.
	ts.clock.Advance(time.Hour)
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "235 2.7.0")
}

// Issue 10 item 13: six mistakes from 127.0.0.1 refused the right
// password for five minutes.
func TestAuthMistakesDoNotLockOut(t *testing.T) {
	clock := testenv.NewClock()
	lim := authlimit.New(authlimit.Config{Failures: 10, Window: time.Hour, Penalty: 15 * time.Minute, // the defaults
		Now: clock.Now, Sleep: clock.Sleep})
	ts := startServer(t, Config{Mode: ModeSubmission, MaxErrors: 100, AuthLimiter: lim})
	c := ts.dialGreeted(t)
	c.authReady(ts)
	for i := range 6 {
		c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", fmt.Sprint("typo", i)), "535 5.7.8")
	}
	c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "235 2.7.0")
}

// Issue 11 item 3: 4 wrong guesses for bob + 1 right login for alice,
// repeated, had every guess checked. Now bob's guesses from the address
// are refused after the limit, and alice is never refused.
func TestAuthGuessingLimitedPerLogin(t *testing.T) {
	ts := startServer(t, Config{Mode: ModeSubmission, MaxErrors: 100})
	ts.backend.addUser("bob@example.test", "bob-secret")
	checked, refused := 0, 0
	for round := range 4 {
		c := ts.dialGreeted(t)
		c.authReady(ts)
		for i := range 4 {
			c.send("AUTH PLAIN " + plainResp("", "bob@example.test", fmt.Sprint("guess", round, i)) + "\r\n")
			switch r := c.expect(""); {
			case strings.HasPrefix(r, "535 5.7.8"):
				checked++
			case strings.HasPrefix(r, "454 4.7.0"):
				refused++
			default:
				t.Fatalf("guess for bob answered %q", r)
			}
		}
		c.cmd("AUTH PLAIN "+plainResp("", "alice@example.test", "secret"), "235 2.7.0")
	}
	if checked != testAuthFailures {
		t.Fatalf("%d guesses for bob checked (%d refused), want %d", checked, refused, testAuthFailures)
	}
}
