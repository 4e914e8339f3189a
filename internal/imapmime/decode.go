package imapmime

import (
	"bufio"
	"io"
)

// The transfer decoders below are lenient on purpose: a FETCH BINARY
// announces its size (from DecodedSize) before the data, so decoding must
// never stop half way on a malformed body. Bad input is skipped or kept
// as written, the same way every time.

// decodeChunk is how much encoded input the decoders read at a time.
const decodeChunk = 4096

// b64 returns the value of a base64 alphabet character (RFC 2045 §6.8
// table 1), or 0xff for any other byte.
func b64(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return 0xff
}

// base64Reader decodes base64 (RFC 2045 §6.8). Characters outside the
// alphabet (line breaks, stray bytes) are ignored as §6.8 asks; "=" ends a
// group early, after which decoding goes on, so that concatenated encoded
// blocks decode too.
type base64Reader struct {
	r   io.Reader
	in  []byte
	out []byte // decoded bytes not yet returned
	buf []byte // backing store of out
	q   [4]byte
	nq  int
	err error
}

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{
		r:   r,
		in:  make([]byte, decodeChunk),
		buf: make([]byte, 0, decodeChunk/4*3+3),
	}
}

// flush emits a partial group: 2 characters carry 1 byte, 3 carry 2; a
// lone character carries none.
func (d *base64Reader) flush(out []byte) []byte {
	switch d.nq {
	case 2:
		out = append(out, d.q[0]<<2|d.q[1]>>4)
	case 3:
		out = append(out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.nq = 0
	return out
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		n, err := d.r.Read(d.in)
		out := d.buf[:0]
		for _, c := range d.in[:n] {
			v := b64(c)
			if v == 0xff {
				if c == '=' {
					out = d.flush(out)
				}
				continue
			}
			d.q[d.nq] = v
			d.nq++
			if d.nq == 4 {
				out = append(out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
				d.nq = 0
			}
		}
		if err != nil {
			out = d.flush(out)
			d.err = err
		}
		d.out = out
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// qpReader decodes quoted-printable (RFC 2045 §6.7) line by line: "=XX"
// is an octet (lower-case hex accepted), "=" at the end of a line is a
// soft line break, white space at the end of a line is dropped (rule 3),
// and a line break is kept as written (CRLF or bare LF). An "=" not
// followed by two hex digits is kept as is (the robustness advice of
// §6.7, note 1).
type qpReader struct {
	br    *bufio.Reader
	carry []byte // "=" or "=X" cut off at the end of an over-long line fragment
	line  []byte
	out   []byte // decoded bytes not yet returned
	obuf  []byte // backing store of out
	err   error
}

func newQPReader(r io.Reader) *qpReader {
	return &qpReader{br: bufio.NewReaderSize(r, decodeChunk)}
}

func (d *qpReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		frag, err := d.br.ReadSlice('\n')
		d.line = append(append(d.line[:0], d.carry...), frag...)
		d.carry = d.carry[:0]
		d.out = d.decodeLine(d.obuf[:0], d.line, err == bufio.ErrBufferFull)
		d.obuf = d.out
		if err != nil && err != bufio.ErrBufferFull {
			d.err = err // a carry was consumed by this last, non-partial line
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// decodeLine decodes one line (or, when partial, a fragment of an
// over-long line) and appends it to out.
func (d *qpReader) decodeLine(out, l []byte, partial bool) []byte {
	var eol []byte
	if partial {
		// Keep an escape cut in two for the next fragment.
		for k := 1; k <= 2 && k <= len(l); k++ {
			if l[len(l)-k] == '=' {
				d.carry = append(d.carry, l[len(l)-k:]...)
				l = l[:len(l)-k]
				break
			}
		}
	} else {
		switch {
		case len(l) >= 2 && l[len(l)-2] == '\r' && l[len(l)-1] == '\n':
			l, eol = l[:len(l)-2], l[len(l)-2:]
		case len(l) >= 1 && l[len(l)-1] == '\n':
			l, eol = l[:len(l)-1], l[len(l)-1:]
		}
		// Rule 3: trailing white space was added in transport.
		for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
			l = l[:len(l)-1]
		}
		if len(l) > 0 && l[len(l)-1] == '=' {
			l, eol = l[:len(l)-1], nil // soft line break
		}
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '=' && i+2 < len(l) && isHex(l[i+1]) && isHex(l[i+2]) {
			out = append(out, unhex(l[i+1])<<4|unhex(l[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return append(out, eol...)
}
