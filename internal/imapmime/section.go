package imapmime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Section is a FETCH BODY[section] (RFC 9051 §6.4.5).
type Section struct {
	Path      []int    // numeric part path; nil is the whole message
	Specifier string   // "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME"
	Fields    []string // field names for HEADER.FIELDS and HEADER.FIELDS.NOT, any case
}

// Extract returns the bytes of section s of the message read through r,
// whose structure is root, with their length. Big parts are streamed from
// r. A section that does not exist yields an empty result, not an error,
// as RFC 9051 §6.4.5 has the server return an empty string; an unknown
// specifier is an error.
func Extract(r io.ReaderAt, root *Part, s Section) (io.Reader, int64, error) {
	part, ok := root.Find(s.Path)
	if !ok {
		return empty(), 0, nil
	}
	spec := strings.ToUpper(s.Specifier)
	// HEADER, HEADER.FIELDS[.NOT] and TEXT of a numbered part refer to the
	// message it encapsulates, so the part must be message/rfc822 (RFC
	// 9051 §6.4.5); without a path they refer to the message itself.
	msg := part
	if len(s.Path) > 0 {
		msg = part.Message
	}
	switch spec {
	case "":
		if len(s.Path) == 0 {
			return byteRange(r, part.HeaderStart, part.End)
		}
		return byteRange(r, part.BodyStart, part.End)
	case "MIME":
		// RFC 9051 §6.4.5: the MIME header of a numbered part; the whole
		// message has none.
		if len(s.Path) == 0 {
			return empty(), 0, nil
		}
		return byteRange(r, part.HeaderStart, part.BodyStart)
	case "HEADER":
		if msg == nil {
			return empty(), 0, nil
		}
		return byteRange(r, msg.HeaderStart, msg.BodyStart)
	case "TEXT":
		if msg == nil {
			return empty(), 0, nil
		}
		return byteRange(r, msg.BodyStart, msg.End)
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if msg == nil {
			return empty(), 0, nil
		}
		b, err := headerFields(r, msg.HeaderStart, msg.BodyStart, s.Fields, spec == "HEADER.FIELDS.NOT")
		if err != nil {
			return nil, 0, err
		}
		return bytes.NewReader(b), int64(len(b)), nil
	}
	return nil, 0, fmt.Errorf("imapmime: unknown section specifier %q", s.Specifier)
}

func empty() io.Reader { return bytes.NewReader(nil) }

// byteRange returns the byte range [start, end) of r; an inverted range (only
// possible with a hand-made or corrupt structure) is empty.
func byteRange(r io.ReaderAt, start, end int64) (io.Reader, int64, error) {
	if start < 0 || end <= start {
		return empty(), 0, nil
	}
	return io.NewSectionReader(r, start, end-start), end - start, nil
}

// headerFields returns the header fields in [start, end) whose names are
// (not, when exclude is set) among names, in message order, each with its
// continuation lines, followed by the blank line that ends a header (RFC
// 9051 §6.4.5: "the subset of the header ... and the blank line").
func headerFields(r io.ReaderAt, start, end int64, names []string, exclude bool) ([]byte, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	var out []byte
	if end > start && start >= 0 {
		br := bufio.NewReaderSize(io.NewSectionReader(r, start, end-start), readBufSize)
		keep := false // the current field is copied
		for {
			l, err := br.ReadSlice('\n')
			if len(l) > 0 {
				if l[0] == ' ' || l[0] == '\t' {
					// A continuation line goes with its field.
				} else if len(bytes.TrimRight(l, "\r\n")) == 0 {
					break // the blank line: written below
				} else {
					keep = false
					if colon := bytes.IndexByte(l, ':'); colon > 0 {
						name := strings.ToLower(string(bytes.TrimRight(l[:colon], " \t")))
						keep = want[name] != exclude
					}
				}
				if keep {
					out = append(out, l...)
				}
			}
			if err == bufio.ErrBufferFull {
				// The rest of a long line: same field, same choice. Read
				// it as continuation bytes by looping without the
				// field-start check.
				for err == bufio.ErrBufferFull {
					l, err = br.ReadSlice('\n')
					if keep {
						out = append(out, l...)
					}
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("imapmime: read header: %w", err)
			}
		}
		if n := len(out); n > 0 && out[n-1] != '\n' {
			// The last field of a header without a blank line has no line
			// break of its own.
			out = append(out, "\r\n"...)
		}
	}
	return append(out, "\r\n"...), nil
}

// Decode returns the body of the part at path with its
// Content-Transfer-Encoding removed, for BINARY[path] (RFC 3516 §4.2):
// base64 and quoted-printable are decoded, 7bit, 8bit and binary are
// returned as they are; another encoding is ErrUnknownCTE. A nil path is
// the whole message, undecoded. A part that does not exist yields an empty
// result. Decoding is lenient and never fails on bad input, so the size
// from DecodedSize is what the reader yields.
func Decode(r io.ReaderAt, root *Part, path []int) (io.Reader, error) {
	if len(path) == 0 {
		sr, _, err := byteRange(r, root.HeaderStart, root.End)
		return sr, err
	}
	part, ok := root.Find(path)
	if !ok {
		return empty(), nil
	}
	d, err := decodeBody(r, part)
	if err != nil {
		return nil, fmt.Errorf("%w in part %v", err, path)
	}
	return d, nil
}

// decodeBody returns the body of part with its transfer encoding removed.
func decodeBody(r io.ReaderAt, part *Part) (io.Reader, error) {
	body, _, err := byteRange(r, part.BodyStart, part.End)
	if err != nil {
		return nil, err
	}
	return decodeStream(body, part.Encoding)
}

// decodeStream removes transfer encoding enc from body.
func decodeStream(body io.Reader, enc string) (io.Reader, error) {
	switch strings.ToUpper(enc) {
	case "", "7BIT", "8BIT", "BINARY":
		return body, nil
	case "BASE64":
		return newBase64Reader(body), nil
	case "QUOTED-PRINTABLE":
		return newQPReader(body), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCTE, enc)
}

// DecodedSize returns the length of what Decode yields, for BINARY.SIZE
// (RFC 3516 §4.2). Encoded parts are decoded to count; identity ones are
// not read.
func DecodedSize(r io.ReaderAt, root *Part, path []int) (int64, error) {
	if len(path) == 0 {
		return max(root.End-root.HeaderStart, 0), nil
	}
	part, ok := root.Find(path)
	if !ok {
		return 0, nil
	}
	switch strings.ToUpper(part.Encoding) {
	case "", "7BIT", "8BIT", "BINARY":
		return max(part.End-part.BodyStart, 0), nil
	}
	d, err := Decode(r, root, path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, d)
	if err != nil {
		return 0, fmt.Errorf("imapmime: decode part %v: %w", path, err)
	}
	return n, nil
}
