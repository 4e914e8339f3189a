// Package inflate decompresses a raw DEFLATE stream (RFC 1951) arriving
// over a live connection, as IMAP COMPRESS=DEFLATE (RFC 4978) needs: Read
// returns what it has decoded as soon as the connection has nothing more
// buffered, instead of waiting for the end of a block or a sync flush.
//
// Why our own: compress/flate returns data only at a sync flush, a full
// window or the end of the stream (golang/go#31514), and
// klauspost/compress's partial-block mode reads ten bits beyond the end
// of a dynamic block, which a client flushing with zlib's
// Z_PARTIAL_FLUSH (mbsync) may never send. Either way a command waits in
// the server's inflater while the client waits for its answer. This
// decoder reads bits only as it needs them and decodes whole items
// (a literal, or a length and distance) from bits it already holds, so it
// never blocks while it has output to give.
package inflate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// windowSize is DEFLATE's maximum back-reference distance (RFC 1951 §2).
const windowSize = 1 << 15

// maxItemBits bounds the bits one item takes: a 15-bit length code, 5
// extra bits, a 15-bit distance code and 13 extra bits.
const maxItemBits = 48

// ErrCorrupt reports an invalid DEFLATE stream.
var ErrCorrupt = errors.New("inflate: corrupt stream")

// huffman is a canonical Huffman code (RFC 1951 §3.2.2) as counts per
// length and symbols in code order, decoded bit by bit.
type huffman struct {
	count  [16]uint16
	symbol []uint16
}

func newHuffman(lengths []uint8) (*huffman, error) {
	h := &huffman{symbol: make([]uint16, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	// An over-subscribed code is invalid; an incomplete one is allowed
	// (RFC 1951 permits a single distance code).
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= int(h.count[l])
		if left < 0 {
			return nil, ErrCorrupt
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = h.symbol[:len(lengths)]
	n := 0
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
			n++
		}
	}
	h.symbol = h.symbol[:n]
	return h, nil
}

// decode reads one symbol from the low bits of b (nb of them valid) and
// returns it with the number of bits used, or used == 0 if nb bits are not
// enough.
func (h *huffman) decode(b uint64, nb uint) (sym int, used uint, err error) {
	code, first, index := 0, 0, 0
	for l := uint(1); l < 16; l++ {
		if l > nb {
			return 0, 0, nil
		}
		code |= int(b>>(l-1)) & 1
		count := int(h.count[l])
		if code-first < count {
			return int(h.symbol[index+code-first]), l, nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, 0, ErrCorrupt
}

// RFC 1951 §3.2.5 tables.
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// order of code length code lengths, RFC 1951 §3.2.7
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

var fixedLit, fixedDist = func() (*huffman, *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	lit, _ := newHuffman(l[:])
	dist, _ := newHuffman(d[:])
	return lit, dist
}()

// state of the decoder between Reads.
type state int

const (
	stateHeader  state = iota // at a block header
	stateStored               // inside a stored block
	stateHuffman              // inside a compressed block
	stateDone                 // after the final block
)

// Reader decompresses from a *bufio.Reader (whose Buffered count tells
// whether reading more would block).
type Reader struct {
	src    *bufio.Reader
	bits   uint64
	nbits  uint
	st     state
	final  bool
	stored int // bytes left in a stored block
	lit    *huffman
	dist   *huffman
	window [windowSize]byte
	wpos   int // next write position in window
	filled bool
	copyN  int // bytes of a back-reference still to copy
	copyD  int // its distance
	err    error
}

// NewReader returns a Reader of the raw DEFLATE stream in src.
func NewReader(src *bufio.Reader) *Reader {
	return &Reader{src: src}
}

// fill adds buffered source bytes to the bit buffer without blocking, or
// blocks for one byte when block is set.
func (r *Reader) fill(want uint, block bool) error {
	for r.nbits < want && r.nbits <= 56 {
		if !block && r.src.Buffered() == 0 {
			return nil
		}
		c, err := r.src.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		r.bits |= uint64(c) << r.nbits
		r.nbits += 8
		block = false // one blocking read at most per call
	}
	return nil
}

func (r *Reader) drop(n uint) {
	r.bits >>= n
	r.nbits -= n
}

// need makes sure n bits are held, blocking if it must.
func (r *Reader) need(n uint) error {
	for r.nbits < n {
		if err := r.fill(n, true); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) emit(p []byte, n *int, c byte) {
	p[*n] = c
	*n++
	r.window[r.wpos] = c
	r.wpos++
	if r.wpos == windowSize {
		r.wpos = 0
		r.filled = true
	}
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	for n < len(p) {
		// Never block while there is output to hand over.
		wouldBlock := r.src.Buffered() == 0
		if r.copyN > 0 {
			for r.copyN > 0 && n < len(p) {
				i := r.wpos - r.copyD
				if i < 0 {
					i += windowSize
				}
				r.emit(p, &n, r.window[i])
				r.copyN--
			}
			continue
		}
		switch r.st {
		case stateDone:
			if n > 0 {
				return n, nil
			}
			r.err = io.EOF
			return 0, io.EOF
		case stateHeader:
			if n > 0 && wouldBlock {
				// The next block may not have been sent yet.
				return n, nil
			}
			if err := r.header(); err != nil {
				return r.fail(n, err)
			}
		case stateStored:
			if r.stored == 0 {
				r.endBlock()
				continue
			}
			if n > 0 && wouldBlock && r.nbits < 8 {
				return n, nil
			}
			if r.nbits >= 8 {
				r.emit(p, &n, byte(r.bits))
				r.drop(8)
				r.stored--
				continue
			}
			c, err := r.src.ReadByte()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return r.fail(n, err)
			}
			r.emit(p, &n, c)
			r.stored--
		case stateHuffman:
			done, err := r.item(p, &n, n > 0)
			if err != nil {
				return r.fail(n, err)
			}
			if !done {
				return n, nil // would block with output in hand
			}
		}
	}
	return n, nil
}

func (r *Reader) fail(n int, err error) (int, error) {
	r.err = err
	if n > 0 {
		return n, nil
	}
	return 0, err
}

func (r *Reader) endBlock() {
	if r.final {
		r.st = stateDone
	} else {
		r.st = stateHeader
	}
}

// header reads a block header (RFC 1951 §3.2.3).
func (r *Reader) header() error {
	if err := r.need(3); err != nil {
		return err
	}
	r.final = r.bits&1 == 1
	typ := (r.bits >> 1) & 3
	r.drop(3)
	switch typ {
	case 0:
		// Stored (§3.2.4): skip to a byte boundary, then LEN and NLEN.
		r.drop(r.nbits % 8)
		if err := r.need(32); err != nil {
			return err
		}
		ln := uint16(r.bits)
		nln := uint16(r.bits >> 16)
		r.drop(32)
		if ln != ^nln {
			return ErrCorrupt
		}
		// Whole bytes still in the bit buffer are the block's first
		// data bytes; stateStored takes them before the source.
		r.stored = int(ln)
		r.st = stateStored
	case 1:
		r.lit, r.dist = fixedLit, fixedDist
		r.st = stateHuffman
	case 2:
		if err := r.dynamic(); err != nil {
			return err
		}
		r.st = stateHuffman
	default:
		return ErrCorrupt
	}
	return nil
}

// dynamic reads the code tables of a dynamic block (RFC 1951 §3.2.7).
func (r *Reader) dynamic() error {
	if err := r.need(14); err != nil {
		return err
	}
	nlen := int(r.bits&31) + 257
	ndist := int((r.bits>>5)&31) + 1
	ncode := int((r.bits>>10)&15) + 4
	r.drop(14)
	if nlen > 286 || ndist > 30 {
		return ErrCorrupt
	}
	var cl [19]uint8
	for i := 0; i < ncode; i++ {
		if err := r.need(3); err != nil {
			return err
		}
		cl[clOrder[i]] = uint8(r.bits & 7)
		r.drop(3)
	}
	clh, err := newHuffman(cl[:])
	if err != nil {
		return err
	}
	lengths := make([]uint8, nlen+ndist)
	for i := 0; i < nlen+ndist; {
		sym, err := r.symbol(clh)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return ErrCorrupt
			}
			if err := r.need(2); err != nil {
				return err
			}
			val, rep = lengths[i-1], 3+int(r.bits&3)
			r.drop(2)
		case 17:
			if err := r.need(3); err != nil {
				return err
			}
			rep = 3 + int(r.bits&7)
			r.drop(3)
		default:
			if err := r.need(7); err != nil {
				return err
			}
			rep = 11 + int(r.bits&127)
			r.drop(7)
		}
		if i+rep > nlen+ndist {
			return ErrCorrupt
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return ErrCorrupt // no end-of-block code
	}
	if r.lit, err = newHuffman(lengths[:nlen]); err != nil {
		return err
	}
	if r.dist, err = newHuffman(lengths[nlen:]); err != nil {
		return err
	}
	return nil
}

// symbol decodes one symbol, blocking for bits as needed.
func (r *Reader) symbol(h *huffman) (int, error) {
	for {
		sym, used, err := h.decode(r.bits, r.nbits)
		if err != nil {
			return 0, err
		}
		if used > 0 {
			r.drop(used)
			return sym, nil
		}
		if r.nbits >= 15 {
			return 0, ErrCorrupt
		}
		if err := r.need(r.nbits + 1); err != nil {
			return 0, err
		}
	}
}

// item decodes one literal, end of block, or length/distance pair into p.
// It consumes bits only once the whole item is decodable. With
// mayReturn set it returns done == false instead of blocking.
func (r *Reader) item(p []byte, n *int, mayReturn bool) (done bool, err error) {
	for {
		// Take whatever is buffered, without blocking.
		if err := r.fill(maxItemBits, false); err != nil {
			return false, err
		}
		ok, err := r.tryItem(p, n)
		if err != nil || ok {
			return ok, err
		}
		if mayReturn {
			return false, nil
		}
		if r.nbits >= maxItemBits {
			return false, ErrCorrupt
		}
		if err := r.fill(r.nbits+1, true); err != nil {
			return false, err
		}
	}
}

// tryItem decodes one item from the bits held, or reports ok == false
// (nothing consumed) when they are not enough.
func (r *Reader) tryItem(p []byte, n *int) (ok bool, err error) {
	b, nb := r.bits, r.nbits
	sym, used, err := r.lit.decode(b, nb)
	if err != nil || used == 0 {
		return false, err
	}
	b, nb = b>>used, nb-used
	switch {
	case sym < 256:
		r.drop(r.nbits - nb)
		r.emit(p, n, byte(sym))
		return true, nil
	case sym == 256:
		r.drop(r.nbits - nb)
		r.endBlock()
		return true, nil
	case sym > 285:
		return false, ErrCorrupt
	}
	li := sym - 257
	eb := uint(lengthExtra[li])
	if nb < eb {
		return false, nil
	}
	length := int(lengthBase[li]) + int(b&(1<<eb-1))
	b, nb = b>>eb, nb-eb
	dsym, used, err := r.dist.decode(b, nb)
	if err != nil || used == 0 {
		return false, err
	}
	if dsym > 29 {
		return false, ErrCorrupt
	}
	b, nb = b>>used, nb-used
	eb = uint(distExtra[dsym])
	if nb < eb {
		return false, nil
	}
	dist := int(distBase[dsym]) + int(b&(1<<eb-1))
	nb -= eb
	if !r.filled && dist > r.wpos {
		return false, fmt.Errorf("%w: distance %d before the start", ErrCorrupt, dist)
	}
	r.drop(r.nbits - nb)
	r.copyN, r.copyD = length, dist
	return true, nil
}
