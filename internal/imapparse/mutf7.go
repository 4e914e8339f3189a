package imapparse

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 §5.1.3), the mailbox name encoding of IMAP4rev1
// clients that have not enabled UTF8=ACCEPT: printable US-ASCII except "&"
// stands for itself, "&" is "&-", and any other run of characters is
// "&", the modified BASE64 (RFC 2152 with "," for "/", no padding) of
// its UTF-16BE form, and "-".

// mbase64 is the modified BASE64 alphabet.
const mbase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// printableASCII reports the characters that must represent themselves.
func printableASCII(r rune) bool { return 0x20 <= r && r <= 0x7e }

// EncodeMUTF7 encodes a UTF-8 mailbox name in modified UTF-7 for IMAP4rev1
// clients. Invalid UTF-8 octets are encoded as U+FFFD.
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var units []uint16
	for i := 0; i < len(s); {
		c := s[i]
		if printableASCII(rune(c)) {
			b.WriteByte(c)
			if c == '&' {
				b.WriteByte('-')
			}
			i++
			continue
		}
		// A run of characters that cannot stand for themselves is encoded
		// as a whole: two adjacent encoded runs are not allowed.
		units = units[:0]
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if printableASCII(r) {
				break
			}
			units = utf16.AppendRune(units, r)
			i += size
		}
		b.WriteByte('&')
		encodeBase64UTF16(&b, units)
		b.WriteByte('-')
	}
	return b.String()
}

// encodeBase64UTF16 writes the modified BASE64 of units as UTF-16BE.
func encodeBase64UTF16(b *strings.Builder, units []uint16) {
	var acc uint32
	nbits := 0
	for _, u := range units {
		acc = acc<<16 | uint32(u)
		nbits += 16
		for nbits >= 6 {
			nbits -= 6
			b.WriteByte(mbase64[(acc>>nbits)&0x3f])
		}
		acc &= 1<<nbits - 1
	}
	if nbits > 0 {
		// Pad the last sextet with zero bits (RFC 2152: "zero bits").
		b.WriteByte(mbase64[(acc<<(6-nbits))&0x3f])
	}
}

// Errors of DecodeMUTF7, wrapped with the offending detail.
var (
	errMUTF7Octet      = errors.New("character not allowed in modified UTF-7")
	errMUTF7Unclosed   = errors.New(`encoded run not closed by "-"`)
	errMUTF7Adjacent   = errors.New("adjacent encoded runs")
	errMUTF7Base64     = errors.New("bad modified BASE64")
	errMUTF7UTF16      = errors.New("bad UTF-16 in encoded run")
	errMUTF7Needless   = errors.New("printable US-ASCII must not be encoded")
	errMUTF7Incomplete = errors.New("encoded run has partial character")
)

// DecodeMUTF7 decodes a modified UTF-7 mailbox name into UTF-8. It is
// strict: whatever it accepts, EncodeMUTF7 gives back octet for octet, so
// one mailbox has one spelling on the wire. RFC 3501 §5.1.3 forbids
// encoding printable US-ASCII, null shifts ("-&" between encoded runs) and
// octets outside printable US-ASCII; RFC 2152 asks for zero padding bits.
func DecodeMUTF7(s string) (string, error) {
	var b strings.Builder
	runEnd := -1 // index just after the last encoded run
	for i := 0; i < len(s); {
		c := s[i]
		if !printableASCII(rune(c)) {
			// The octet in hex: read as a character it would be a
			// Latin-1 guess at what is most often UTF-8.
			return "", fmt.Errorf("%w: octet 0x%02x at %d", errMUTF7Octet, c, i)
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", fmt.Errorf("%w at %d", errMUTF7Unclosed, i)
		}
		run := s[i+1 : i+1+j]
		if run == "" { // "&-" is "&"
			b.WriteByte('&')
			i += 2
			continue
		}
		if i == runEnd {
			return "", fmt.Errorf("%w at %d", errMUTF7Adjacent, i)
		}
		if err := decodeRun(&b, run); err != nil {
			return "", fmt.Errorf("%w at %d", err, i)
		}
		i += j + 2
		runEnd = i
	}
	return b.String(), nil
}

// decodeRun decodes the modified BASE64 between "&" and "-".
func decodeRun(b *strings.Builder, run string) error {
	var (
		acc   uint32
		nbits int
		hi    uint16 // pending high surrogate, 0 if none
		odd   bool   // one octet of a UTF-16 unit is pending
		first byte
	)
	for i := 0; i < len(run); i++ {
		v := strings.IndexByte(mbase64, run[i])
		if v < 0 {
			return errMUTF7Base64
		}
		acc = acc<<6 | uint32(v)
		nbits += 6
		if nbits < 8 {
			continue
		}
		nbits -= 8
		octet := byte(acc >> nbits)
		acc &= 1<<nbits - 1
		if !odd {
			first, odd = octet, true
			continue
		}
		odd = false
		u := uint16(first)<<8 | uint16(octet)
		var r rune
		switch {
		case utf16.IsSurrogate(rune(u)) && u < 0xdc00: // high surrogate
			if hi != 0 {
				return errMUTF7UTF16
			}
			hi = u
			continue
		case utf16.IsSurrogate(rune(u)): // low surrogate
			if hi == 0 {
				return errMUTF7UTF16
			}
			r = utf16.DecodeRune(rune(hi), rune(u))
			hi = 0
		default:
			if hi != 0 {
				return errMUTF7UTF16
			}
			r = rune(u)
		}
		if printableASCII(r) {
			return errMUTF7Needless
		}
		b.WriteRune(r)
	}
	// Leftover bits must be fewer than a sextet and zero; a pending octet
	// or high surrogate means the run stopped inside a character.
	if nbits >= 6 || acc != 0 {
		return errMUTF7Base64
	}
	if odd || hi != 0 {
		return errMUTF7Incomplete
	}
	return nil
}
