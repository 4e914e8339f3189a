// Package srs implements the Sender Rewriting Scheme for forwarded mail.
// A message forwarded to another domain keeps its author but not its
// envelope sender: the next hop checks SPF for the sender's domain against
// our address, which that domain never authorised. So the forwarded copy
// goes out from SRS0=HASH=TT=domain=local@our-domain; a bounce to that
// address is checked (HMAC, age) and sent on to the original sender.
//
// Only SRS0 is produced: an address that is already SRS is wrapped again
// as a whole (longer, but every forwarder on the way can still undo its
// own layer).
package srs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxAge is how long a rewritten address is accepted back: bounces come
// within the retry period of the next hops (days, not weeks).
const MaxAge = 21 * 24 * time.Hour

// ErrInvalid is returned for an SRS address that is malformed, forged or
// too old.
var ErrInvalid = errors.New("srs: invalid or expired address")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Codec rewrites and restores addresses with one secret.
type Codec struct {
	secret []byte
	now    func() time.Time
}

// New returns a Codec; the secret must stay the same across restarts
// (bounces arrive days later) and be kept private.
func New(secret []byte) *Codec {
	return &Codec{secret: secret, now: time.Now}
}

// day numbers wrap at 1024 (two base32 characters), ~2.8 years.
func day(t time.Time) int { return int(t.Unix()/86400) % 1024 }

func (c *Codec) hash(tt, domain, local string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(strings.ToLower(tt + "\x00" + domain + "\x00" + local)))
	return b32.EncodeToString(m.Sum(nil))[:6]
}

// Rewrite returns the SRS0 form of sender (local@domain) at ourDomain.
func (c *Codec) Rewrite(sender, ourDomain string) (string, error) {
	at := strings.LastIndexByte(sender, '@')
	if at <= 0 || at == len(sender)-1 {
		return "", fmt.Errorf("srs: cannot rewrite %q", sender)
	}
	local, domain := sender[:at], sender[at+1:]
	// "=" separates the fields: in the domain it would end the domain
	// early and Reverse could not undo the rewrite (found by FuzzReverse;
	// no valid domain has one). The local part is last and may hold any.
	if strings.ContainsRune(domain, '=') {
		return "", fmt.Errorf("srs: cannot rewrite %q: '=' in the domain", sender)
	}
	d := day(c.now())
	tt := string(b32Alphabet[d/32]) + string(b32Alphabet[d%32])
	return fmt.Sprintf("SRS0=%s=%s=%s=%s@%s", c.hash(tt, domain, local), tt, domain, local, ourDomain), nil
}

const b32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// IsSRS reports whether a local part is an SRS0 address.
func IsSRS(local string) bool {
	return len(local) > 5 && strings.EqualFold(local[:5], "SRS0=")
}

// Reverse returns the original sender of an SRS0 local part, checking its
// hash (case-insensitively: some MTAs lower-case addresses) and age.
func (c *Codec) Reverse(local string) (string, error) {
	if !IsSRS(local) {
		return "", ErrInvalid
	}
	parts := strings.SplitN(local[5:], "=", 4)
	if len(parts) != 4 || parts[2] == "" || parts[3] == "" {
		return "", ErrInvalid
	}
	h, tt, domain, orig := parts[0], strings.ToUpper(parts[1]), parts[2], parts[3]
	if len(tt) != 2 || !hmac.Equal([]byte(strings.ToUpper(h)), []byte(c.hash(tt, domain, orig))) {
		return "", ErrInvalid
	}
	i, j := strings.IndexByte(b32Alphabet, tt[0]), strings.IndexByte(b32Alphabet, tt[1])
	if i < 0 || j < 0 {
		return "", ErrInvalid
	}
	age := (day(c.now()) - (i*32 + j) + 1024) % 1024
	if time.Duration(age)*24*time.Hour > MaxAge {
		return "", ErrInvalid
	}
	return orig + "@" + domain, nil
}
