// Package tracking names messages so an operator can follow one hop by hop:
// every accepted message gets a tracking id, shown in the SMTP 250 reply and
// in the Received header, and every event about the message (received,
// delivered, queued, attempts) is recorded under it in the store.
package tracking

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// enc is lower-case base32 without padding: short, case-insensitive and safe
// in headers, file names and shells. The alphabet is in ASCII order (digits
// before letters) so that ids compare as strings the way their bytes do,
// and ids made later sort after earlier ones.
var enc = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new tracking id: 6 bytes of millisecond time (so ids sort
// roughly by arrival) and 6 random bytes, 20 characters in all.
func NewID() string {
	var b [12]byte
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(time.Now().UnixMilli()))
	copy(b[:6], t[2:])
	_, _ = rand.Read(b[6:])
	return enc.EncodeToString(b[:])
}

// Valid reports whether s looks like a tracking id (for CLI lookups).
func Valid(s string) bool {
	if len(s) != 20 {
		return false
	}
	_, err := enc.DecodeString(strings.ToLower(s))
	return err == nil
}

// Event kinds recorded under a tracking id.
const (
	EventReceived  = "received"  // accepted by an SMTP listener
	EventDelivered = "delivered" // stored in a local mailbox
	EventRefused   = "refused"   // refused before acceptance
	EventRouted    = "routed"    // recipients resolved to local accounts and remote addresses
	EventQueued    = "queued"    // waiting for delivery to another server
	EventAttempt   = "attempt"   // one delivery attempt to a remote host
	EventRelayed   = "relayed"   // accepted by the next hop
	EventDeferred  = "deferred"  // attempt failed temporarily; retried later
	EventBounced   = "bounced"   // failed for good; a notification went to the sender
	EventDelayed   = "delayed"   // a delay notification went to the sender
	EventDropped   = "dropped"   // removed from the queue by the operator
)
