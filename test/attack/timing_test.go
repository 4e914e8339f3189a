package attack

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// enumerationRounds is how many failed logins of each kind are timed per
// protocol. Each costs one argon2id on a correct server (~50 ms, ~1 s in
// a -race build), so the count is a balance between the test's time and
// the medians' robustness; the old code's gap (< 1 ms against one
// argon2id) is over 50× and shows in any round.
const enumerationRounds = 7

// maxMedianRatio is how far apart the median times of failed logins for
// an existing and a missing account may be. Both should be one argon2id
// plus the same protocol work; a factor of 3 leaves room for a loaded
// machine and is far below the old gap.
const maxMedianRatio = 3.0

// TestNoAccountEnumerationByTiming (issue 11 item 4): a wrong password for
// an existing account took one argon2id (~70 ms) and a login for an
// account that does not exist was answered in under 1 ms, on SMTP AUTH,
// IMAP LOGIN and POP3 USER/PASS, so one attempt told whether an account
// exists. Failed logins for alice (wrong password), for a missing account
// of a local domain and for an account of an unknown domain are timed in
// turn on each protocol; their medians must be within maxMedianRatio.
//
// Loopback is exempt from the login throttle here, so that its tarpit
// (the same for every failure) does not drown what is measured.
func TestNoAccountEnumerationByTiming(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.Submissions, imapsListener, testenv.POP3S},
		Extra:     "[limits]\nauth_exempt_loopback = true\n",
		ExpectLog: []string{`authentication failed`},
	})
	srv.AddDomain(t, domain)
	srv.AddUser(t, alice, alicePW)

	users := map[string]string{
		"existing account":             alice,
		"missing account":              "nobody@example.test",
		"account of an unknown domain": "alice@nowhere.test",
	}
	protocols := []struct {
		name  string
		login func(t *testing.T, user, pass string) time.Duration
	}{
		{"smtp", func(t *testing.T, user, pass string) time.Duration {
			c := dialTLS(t, srv.Addr(t, testenv.Submissions))
			c.readSMTP()
			c.send("EHLO client.test")
			c.readSMTP()
			start := time.Now()
			c.send("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
			reply := c.readSMTP()
			took := time.Since(start)
			if !strings.HasPrefix(reply, "535 ") {
				t.Fatalf("AUTH as %s with a wrong password: %q, want 535", user, reply)
			}
			return took
		}},
		{"imap", func(t *testing.T, user, pass string) time.Duration {
			c := dialTLS(t, srv.Addr(t, imapsListener))
			c.readLine()
			start := time.Now()
			c.send(`a LOGIN "%s" "%s"`, user, pass)
			reply := c.readTagged("a")
			took := time.Since(start)
			if !strings.HasPrefix(reply, "a NO [AUTHENTICATIONFAILED]") {
				t.Fatalf("LOGIN as %s with a wrong password: %q, want NO [AUTHENTICATIONFAILED]", user, reply)
			}
			return took
		}},
		{"pop3", func(t *testing.T, user, pass string) time.Duration {
			c := dialTLS(t, srv.Addr(t, testenv.POP3S))
			c.readLine()
			c.send("USER %s", user)
			if reply := c.readLine(); !strings.HasPrefix(reply, "+OK") {
				t.Fatalf("USER %s: %q, want +OK whether the account exists or not", user, reply)
			}
			start := time.Now()
			c.send("PASS %s", pass)
			reply := c.readLine()
			took := time.Since(start)
			if !strings.HasPrefix(reply, "-ERR") {
				t.Fatalf("PASS for %s with a wrong password: %q, want -ERR", user, reply)
			}
			return took
		}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			times := map[string][]time.Duration{}
			for i := range enumerationRounds {
				// Interleaved, so that a change in the machine's load
				// weighs on every kind alike.
				for kind, user := range users {
					times[kind] = append(times[kind], p.login(t, user, "wrong-password-"+string(rune('a'+i))))
				}
			}
			medians := map[string]time.Duration{}
			for kind, ts := range times {
				medians[kind] = median(ts)
			}
			t.Logf("median time of a failed login: %v (all: %v)", medians, times)
			for kind := range users {
				if kind == "existing account" {
					continue
				}
				a, b := medians["existing account"], medians[kind]
				if ratio := float64(max(a, b)) / float64(max(min(a, b), time.Microsecond)); ratio > maxMedianRatio {
					t.Errorf("a failed login for an existing account takes %v (median of %d), for an %s %v: %.1f× apart, an attacker can tell which accounts exist",
						a, enumerationRounds, kind, b, ratio)
				}
			}
		})
	}
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}
