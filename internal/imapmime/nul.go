package imapmime

import (
	"bytes"
	"encoding/base64"
	"io"
)

// NUL octets may travel in IMAP only inside literal8, which only APPEND
// and the BINARY fetch items use (RFC 9051 §4.3.1, RFC 3516 §4.2): a
// BODY[] or RFC822 response is a plain literal, where NUL is not allowed
// (RFC 9051 §9: CHAR8 excludes %x00). A message appended with literal8
// may hold NULs in a part sent with Content-Transfer-Encoding: binary;
// RFC 3516 §4.4 lets the server change a part's transfer encoding as long
// as nothing is lost, and §6 wants BODY and BODYSTRUCTURE to show such a
// part in an encoding IMAP4 can carry. So the part is stored base64: BODY
// returns valid IMAP, BINARY decodes it back to the octets appended.

// EncodeNULParts returns msg with every leaf part whose content holds a
// NUL octet re-encoded in base64: its Content-Transfer-Encoding fields
// are replaced by "Content-Transfer-Encoding: base64" and its body by the
// base64 (RFC 2045 §6.8, lines of 76 characters) of its decoded content.
// root is msg's parsed structure. It reports whether anything changed;
// the result must be parsed again. A part in an unknown transfer encoding
// is left as it is, as is a NUL in a header: there is no lossless way to
// re-encode them.
func EncodeNULParts(msg []byte, root *Part) ([]byte, bool) {
	var leaves []*Part
	var walk func(p *Part)
	walk = func(p *Part) {
		switch {
		case p.isMultipart():
			for _, c := range p.Parts {
				walk(c)
			}
		case p.Message != nil:
			walk(p.Message)
		default:
			leaves = append(leaves, p)
		}
	}
	walk(root)
	n := int64(len(msg))
	var out []byte
	pos := int64(0)
	for _, p := range leaves {
		if p.HeaderStart < pos || p.BodyStart < p.HeaderStart || p.End < p.BodyStart || p.End > n {
			continue // offsets that do not fit msg: leave the part alone
		}
		body := msg[p.BodyStart:p.End]
		if bytes.IndexByte(body, 0) < 0 {
			continue
		}
		dec, err := decodeStream(bytes.NewReader(body), p.Encoding)
		if err != nil {
			continue // unknown transfer encoding
		}
		content, err := io.ReadAll(dec)
		if err != nil {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(msg)+len(msg)/3+64)
		}
		out = append(out, msg[pos:p.HeaderStart]...)
		out = appendHeaderWithoutCTE(out, msg[p.HeaderStart:p.BodyStart])
		out = append(out, "Content-Transfer-Encoding: base64\r\n\r\n"...)
		out = appendBase64Lines(out, content)
		if p.End == n {
			// The end of the message: the last line gets its line break.
			// Inside a multipart the break before the boundary follows.
			out = append(out, "\r\n"...)
		}
		pos = p.End
	}
	if out == nil {
		return msg, false
	}
	return append(out, msg[pos:]...), true
}

// appendHeaderWithoutCTE appends the fields of header (up to and without
// its blank line) other than Content-Transfer-Encoding, each ending in
// CRLF.
func appendHeaderWithoutCTE(dst, header []byte) []byte {
	const cte = "content-transfer-encoding"
	skip := false
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i+1], header[i+1:]
		} else {
			header = nil
		}
		text := bytes.TrimRight(line, "\r\n")
		switch {
		case len(text) == 0:
			continue // the blank line that ends the header
		case text[0] == ' ' || text[0] == '\t':
			// A continuation line goes with its field.
		default:
			name, _, _ := bytes.Cut(text, []byte(":"))
			skip = bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte(cte))
		}
		if !skip {
			dst = append(dst, text...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst
}

// appendBase64Lines appends the base64 of b in lines of 76 characters
// separated by CRLF, without a final line break.
func appendBase64Lines(dst, b []byte) []byte {
	const perLine = 57 // input octets per 76-character line
	for i := 0; i < len(b); i += perLine {
		if i > 0 {
			dst = append(dst, "\r\n"...)
		}
		dst = base64.StdEncoding.AppendEncode(dst, b[i:min(i+perLine, len(b))])
	}
	return dst
}
