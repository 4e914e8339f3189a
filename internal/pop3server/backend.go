// Package pop3server speaks POP3 (RFC 1939) with CAPA (RFC 2449), STLS
// (RFC 2595), AUTH PLAIN (RFC 5034) and implicit TLS (RFC 8314) for
// download-and-delete clients. It owns the protocol only; accounts and the
// maildrop come from a Backend.
package pop3server

import (
	"context"
	"errors"
	"io"
)

// ErrAuthFailed is returned by Backend.Authenticate for bad credentials.
var ErrAuthFailed = errors.New("pop3server: authentication failed")

// Backend is the mail system behind the protocol.
type Backend interface {
	// Authenticate checks a username (an address) and password and returns
	// the canonical account address, or ErrAuthFailed.
	Authenticate(ctx context.Context, username, password string) (account string, err error)
	// OpenMaildrop snapshots the account's INBOX for one POP3 session.
	OpenMaildrop(ctx context.Context, account string) (Maildrop, error)
}

// MessageInfo is one message of a maildrop snapshot.
type MessageInfo struct {
	UIDL string // unique id, stable across sessions and restarts (RFC 1939 §7)
	Size int64  // exact octets that Open's reader yields (CRLF line endings)
}

// Maildrop is a snapshot of one account's INBOX taken at login.
type Maildrop interface {
	// Messages lists the snapshot; message number n is Messages()[n-1].
	Messages() []MessageInfo
	// Open streams message i (0-based) with CRLF line endings, without
	// loading it whole into memory.
	Open(ctx context.Context, i int) (io.ReadCloser, error)
	// Expunge removes the messages (0-based indexes) for good; called once,
	// in the UPDATE state after QUIT (RFC 1939 §6).
	Expunge(ctx context.Context, idx []int) error
	// Close releases the snapshot.
	Close() error
}
