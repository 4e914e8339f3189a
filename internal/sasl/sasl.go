// Package sasl decodes what clients send in the SASL exchanges the
// servers offer (SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH): base64
// responses and the PLAIN message. It is the one place this hostile input
// is parsed, so that it is fuzzed once for the three protocols; what a
// decoded response means (which user, which reply) stays with each server.
package sasl

import (
	"bytes"
	"encoding/base64"
	"errors"
)

var (
	// ErrBase64 is returned for a response that is not base64.
	ErrBase64 = errors.New("sasl: response is not base64")
	// ErrPlain is returned for a PLAIN message without exactly two NULs.
	ErrPlain = errors.New("sasl: malformed PLAIN message")
)

// DecodeResponse decodes one base64 client response, with the padding
// RFC 4648 §4 requires. "=" alone is the empty response: RFC 4954 §4
// (SMTP), RFC 5034 §4 (POP3) and RFC 4959 §3 (IMAP) define it for the
// initial response, where an empty string could not be told from none;
// it means the same as a challenge's answer.
func DecodeResponse(b []byte) ([]byte, error) {
	if len(b) == 1 && b[0] == '=' {
		return []byte{}, nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, ErrBase64
	}
	return out[:n], nil
}

// Plain is a PLAIN message's three fields.
type Plain struct {
	Authz  string // authorization identity; "" to act as Authc
	Authc  string // authentication identity (the login name)
	Passwd string
}

// ParsePlain splits a PLAIN message, [authzid] NUL authcid NUL passwd
// (RFC 4616 §2). Only the structure is checked: whether an empty authcid
// or password, or an authzid, is accepted is each server's decision.
func ParsePlain(msg []byte) (Plain, error) {
	authz, rest, ok := bytes.Cut(msg, []byte{0})
	if !ok {
		return Plain{}, ErrPlain
	}
	authc, passwd, ok := bytes.Cut(rest, []byte{0})
	if !ok || bytes.IndexByte(passwd, 0) >= 0 {
		return Plain{}, ErrPlain
	}
	return Plain{Authz: string(authz), Authc: string(authc), Passwd: string(passwd)}, nil
}
