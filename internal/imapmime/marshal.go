package imapmime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Cache encoding. A Marshal'ed structure is:
//
//	version byte (formatVersion)
//	part
//
// where a part is: HeaderStart, BodyStart-HeaderStart, End-BodyStart,
// Size-(End-BodyStart) and Lines as signed varints; the strings Type,
// Subtype, ID, Description, Encoding, MD5, Disposition, Location; Params,
// DispositionParams and Language as a count and strings; a flags byte
// (flagMessage, flagEnvelope, flagSenderFrom, flagReplyToFrom); the
// children as a count and parts; then the encapsulated message's part and
// the envelope when flagged. A string is a uvarint x: odd x is entry x>>1
// of commonStrings, even x is a length x>>1 followed by the bytes.
const formatVersion = 1

const (
	flagMessage     = 1 << iota // Message follows the children
	flagEnvelope                // Envelope follows
	flagSenderFrom              // Envelope.Sender equals From and is not stored
	flagReplyToFrom             // Envelope.ReplyTo equals From and is not stored
)

// commonStrings are values stored as a one-byte reference. The table is
// part of format version 1: entries may only be appended.
var commonStrings = [...]string{
	"", "text", "plain", "html", "multipart", "mixed", "alternative",
	"related", "message", "rfc822", "application", "octet-stream", "image",
	"7BIT", "8BIT", "BASE64", "QUOTED-PRINTABLE", "BINARY", "charset",
	"utf-8", "UTF-8", "us-ascii", "iso-8859-1", "boundary", "name",
	"filename", "attachment", "inline", "pdf", "jpeg", "png", "gb2312",
	"big5", "report", "delivery-status", "signed", "calendar", "global",
}

// commonIndex returns the index of s in commonStrings, or -1.
func commonIndex(s string) int {
	if len(s) > len("QUOTED-PRINTABLE") {
		return -1
	}
	for i, c := range commonStrings {
		if c == s {
			return i
		}
	}
	return -1
}

// Marshal encodes the structure for the database cache; Unmarshal reverses
// it exactly.
func (p *Part) Marshal() []byte {
	b := []byte{formatVersion}
	return p.marshal(b)
}

func (p *Part) marshal(b []byte) []byte {
	b = binary.AppendVarint(b, p.HeaderStart)
	b = binary.AppendVarint(b, p.BodyStart-p.HeaderStart)
	b = binary.AppendVarint(b, p.End-p.BodyStart)
	b = binary.AppendVarint(b, p.Size-(p.End-p.BodyStart))
	b = binary.AppendVarint(b, p.Lines)
	for _, s := range [...]string{p.Type, p.Subtype, p.ID, p.Description, p.Encoding, p.MD5, p.Disposition, p.Location} {
		b = appendStr(b, s)
	}
	b = appendPairs(b, p.Params)
	b = appendPairs(b, p.DispositionParams)
	b = binary.AppendUvarint(b, uint64(len(p.Language)))
	for _, s := range p.Language {
		b = appendStr(b, s)
	}
	var flags byte
	if p.Message != nil {
		flags |= flagMessage
	}
	env := p.Envelope
	if env != nil {
		flags |= flagEnvelope
		if addressesEqual(env.Sender, env.From) {
			flags |= flagSenderFrom
		}
		if addressesEqual(env.ReplyTo, env.From) {
			flags |= flagReplyToFrom
		}
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(p.Parts)))
	for _, c := range p.Parts {
		b = c.marshal(b)
	}
	if p.Message != nil {
		b = p.Message.marshal(b)
	}
	if env != nil {
		for _, s := range [...]string{env.Date, env.Subject, env.InReplyTo, env.MessageID} {
			b = appendStr(b, s)
		}
		b = appendAddresses(b, env.From)
		if flags&flagSenderFrom == 0 {
			b = appendAddresses(b, env.Sender)
		}
		if flags&flagReplyToFrom == 0 {
			b = appendAddresses(b, env.ReplyTo)
		}
		b = appendAddresses(b, env.To)
		b = appendAddresses(b, env.Cc)
		b = appendAddresses(b, env.Bcc)
	}
	return b
}

// addressesEqual compares two lists; nil and empty differ, so that the
// round trip is exact.
func addressesEqual(a, b []Address) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func appendStr(b []byte, s string) []byte {
	if i := commonIndex(s); i >= 0 {
		return binary.AppendUvarint(b, uint64(i)<<1|1)
	}
	b = binary.AppendUvarint(b, uint64(len(s))<<1)
	return append(b, s...)
}

func appendPairs(b []byte, kv [][2]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(kv)))
	for _, p := range kv {
		b = appendStr(b, p[0])
		b = appendStr(b, p[1])
	}
	return b
}

// appendAddresses stores a count+1, with 0 for a nil list, so that nil and
// empty lists survive the round trip.
func appendAddresses(b []byte, list []Address) []byte {
	if list == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(list))+1)
	for _, a := range list {
		b = appendStr(b, a.Name)
		b = appendStr(b, a.Adl)
		b = appendStr(b, a.Mailbox)
		b = appendStr(b, a.Host)
	}
	return b
}

var (
	errShort   = errors.New("truncated")
	errCorrupt = errors.New("corrupt")
)

// decoder reads the cache encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a collection length, which cannot exceed the bytes left as
// each element takes at least one: this bounds allocations on bad input.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errCorrupt)
		d.b = nil
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	x := d.uvarint()
	if x&1 == 1 {
		if x>>1 >= uint64(len(commonStrings)) {
			d.fail(errCorrupt)
			return ""
		}
		return commonStrings[x>>1]
	}
	n := x >> 1
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) pairs() [][2]string {
	n := d.count()
	if n == 0 {
		return nil
	}
	kv := make([][2]string, n)
	for i := range kv {
		kv[i] = [2]string{d.str(), d.str()}
	}
	return kv
}

func (d *decoder) addresses() []Address {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	if n-1 > uint64(len(d.b)) {
		d.fail(errCorrupt)
		d.b = nil
		return nil
	}
	list := make([]Address, n-1)
	for i := range list {
		list[i] = Address{Name: d.str(), Adl: d.str(), Mailbox: d.str(), Host: d.str()}
	}
	return list
}

func (d *decoder) part(depth int) *Part {
	if depth > maxDepth {
		d.fail(errCorrupt)
		return nil
	}
	p := &Part{}
	p.HeaderStart = d.varint()
	p.BodyStart = p.HeaderStart + d.varint()
	p.End = p.BodyStart + d.varint()
	p.Size = (p.End - p.BodyStart) + d.varint()
	p.Lines = d.varint()
	for _, s := range [...]*string{&p.Type, &p.Subtype, &p.ID, &p.Description, &p.Encoding, &p.MD5, &p.Disposition, &p.Location} {
		*s = d.str()
	}
	p.Params = d.pairs()
	p.DispositionParams = d.pairs()
	if n := d.count(); n > 0 {
		p.Language = make([]string, n)
		for i := range p.Language {
			p.Language[i] = d.str()
		}
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return nil
	}
	flags := d.b[0]
	d.b = d.b[1:]
	if flags&^(flagMessage|flagEnvelope|flagSenderFrom|flagReplyToFrom) != 0 {
		d.fail(errCorrupt)
		return nil
	}
	if n := d.count(); n > 0 {
		p.Parts = make([]*Part, 0, n)
		for range n {
			c := d.part(depth + 1)
			if d.err != nil {
				return nil
			}
			p.Parts = append(p.Parts, c)
		}
	}
	if flags&flagMessage != 0 {
		p.Message = d.part(depth + 1)
	}
	if flags&flagEnvelope != 0 {
		env := &Envelope{Date: d.str(), Subject: d.str(), InReplyTo: d.str(), MessageID: d.str()}
		env.From = d.addresses()
		// Copies keep nil and empty apart, as Marshal does.
		env.Sender = slices.Clone(env.From)
		if flags&flagSenderFrom == 0 {
			env.Sender = d.addresses()
		}
		env.ReplyTo = slices.Clone(env.From)
		if flags&flagReplyToFrom == 0 {
			env.ReplyTo = d.addresses()
		}
		env.To = d.addresses()
		env.Cc = d.addresses()
		env.Bcc = d.addresses()
		p.Envelope = env
	}
	if d.err != nil {
		return nil
	}
	return p
}

// Unmarshal decodes a structure made by Marshal. It fails on any input
// Marshal cannot have produced, without panicking.
func Unmarshal(b []byte) (*Part, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("imapmime: unmarshal: %w", errShort)
	}
	if b[0] != formatVersion {
		return nil, fmt.Errorf("imapmime: unmarshal: unknown format version %d", b[0])
	}
	d := &decoder{b: b[1:]}
	p := d.part(0)
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, fmt.Errorf("imapmime: unmarshal: %w", d.err)
	}
	return p, nil
}
