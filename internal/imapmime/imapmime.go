// Package imapmime gives the IMAP server what it needs to know about a stored
// message: its MIME structure with byte offsets, the ENVELOPE, BODY and
// BODYSTRUCTURE responses (RFC 9051 §7.5.2, same syntax as RFC 3501), body
// sections (RFC 9051 §6.4.5 BODY[...], RFC 3516 BINARY[...]) and decoded
// text for the full-text index.
//
// A message is parsed once, at delivery, by Parse, which reads it as a
// stream line by line and keeps only the header fields it needs, so memory
// stays bounded whatever the message size. The resulting tree of Parts is
// stored in the database with Marshal; later FETCHes Unmarshal it and read
// only the byte ranges they need through an io.ReaderAt over the stored
// message.
//
// Parsing never fails on syntax: malformed MIME is handled best effort, as
// IMAP clients expect a structure for every message (RFC 9051 §7.5.2).
package imapmime

import (
	"errors"
)

// Limits that keep the work and memory of one Parse bounded however hostile
// the message.
const (
	// maxHeaderBytes caps the header field bytes kept per entity. Only the
	// fields the IMAP responses need are kept; 1 MiB is far above any real
	// header yet bounds a header made of one endless field.
	maxHeaderBytes = 1 << 20
	// maxDepth caps entity nesting (multiparts and encapsulated messages).
	// Deeper entities are treated as opaque leaves; real mail rarely goes
	// past 5 levels.
	maxDepth = 50
	// maxParts caps the number of entities in one message so that a message
	// made only of boundary lines cannot make the tree proportional to its
	// size. Parts past the cap stay part of their parent's body.
	maxParts = 10000
	// maxAddresses caps the addresses kept per address header field.
	maxAddresses = 10000
	// maxParams caps the parameters kept per Content-Type or
	// Content-Disposition field.
	maxParams = 256
	// maxBoundary caps a usable multipart boundary. RFC 2046 §5.1.1 allows
	// 70 characters; we accept longer ones seen in the wild.
	maxBoundary = 1000
)

// ErrUnknownCTE is returned by Decode and DecodedSize when the part's
// Content-Transfer-Encoding is one we cannot decode; the server answers
// NO [UNKNOWN-CTE] (RFC 3516 §4.3, RFC 9051 §7.1).
var ErrUnknownCTE = errors.New("imapmime: unknown content-transfer-encoding")

// Part is one MIME entity with byte offsets into the whole message.
type Part struct {
	HeaderStart int64 // offset of the first header byte of this entity
	BodyStart   int64 // offset of the first body byte (after the blank line)
	// End is the offset just past the body (exclusive). For a multipart
	// child it is before the line break that precedes the next boundary,
	// which belongs to the boundary (RFC 2046 §5.1.1).
	End int64

	Type    string // media type, lower-case; default "text" (RFC 2045 §5.2)
	Subtype string // media subtype, lower-case; default "plain", or message/rfc822 in a digest (RFC 2046 §5.1.5)
	// Params are the Content-Type parameters in header order with names
	// lower-case; RFC 2231 continuations are joined and charsets converted
	// to UTF-8.
	Params [][2]string

	ID          string // Content-ID, raw (RFC 2045 §7)
	Description string // Content-Description, raw: encoded words are left for the client (RFC 2045 §8)
	Encoding    string // Content-Transfer-Encoding, upper-case; default "7BIT" (RFC 2045 §6.1)

	Size  int64 // body octets: End-BodyStart
	Lines int64 // lines in the body; shown for text/* and message/rfc822

	MD5               string      // Content-MD5 (RFC 1864)
	Disposition       string      // Content-Disposition type, lower-case (RFC 2183)
	DispositionParams [][2]string // Content-Disposition parameters, decoded like Params
	Language          []string    // Content-Language tags (RFC 3282)
	Location          string      // Content-Location (RFC 2557)

	Parts    []*Part   // children of a multipart
	Message  *Part     // message/rfc822 and message/global: the encapsulated message's root entity
	Envelope *Envelope // for the root and for encapsulated messages
}

// isMultipart reports whether p's children are addressed by part number.
func (p *Part) isMultipart() bool { return p.Type == "multipart" }

// isMessage reports whether p has the message/rfc822 body layout in IMAP
// (RFC 9051 §7.5.2 body-type-msg; message/global per RFC 6532 §3.5).
func (p *Part) isMessage() bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global")
}

// Param returns the value of the Content-Type parameter name (lower-case),
// or "" when absent.
func (p *Part) Param(name string) string {
	for _, kv := range p.Params {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// Shift adds n to every offset in the tree except the root's HeaderStart.
// The server prepends n bytes of per-recipient trace header lines to the
// root header when it serves the message, which makes the root header n
// bytes longer and moves everything after its first byte.
func (p *Part) Shift(n int64) {
	p.BodyStart += n
	p.End += n
	for _, c := range p.Parts {
		c.shiftAll(n)
	}
	if p.Message != nil {
		p.Message.shiftAll(n)
	}
}

func (p *Part) shiftAll(n int64) {
	p.HeaderStart += n
	p.Shift(n)
}

// Find returns the part addressed by an IMAP part number path (RFC 9051
// §6.4.5): nil is the whole message; in a multipart, n is its n-th child;
// a non-multipart message has only part 1, its body; and the subparts of a
// message/rfc822 part address the body parts of the encapsulated message,
// so 1 is its single body or the first child of its multipart.
func (p *Part) Find(path []int) (*Part, bool) {
	cur := p
	for i, n := range path {
		container := cur
		if i > 0 {
			switch {
			case cur.Message != nil:
				container = cur.Message
			case cur.isMultipart():
			default:
				return nil, false
			}
		}
		switch {
		case container.isMultipart():
			if n < 1 || n > len(container.Parts) {
				return nil, false
			}
			cur = container.Parts[n-1]
		case n == 1:
			cur = container
		default:
			return nil, false
		}
	}
	return cur, true
}
