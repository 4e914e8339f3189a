package smtpserver

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
)

// verb is a recognised SMTP command.
type verb uint8

const (
	verbUnknown verb = iota
	verbHELO
	verbEHLO
	verbMAIL
	verbRCPT
	verbDATA
	verbBDAT
	verbRSET
	verbNOOP
	verbQUIT
	verbVRFY
	verbEXPN
	verbHELP
	verbAUTH
	verbSTARTTLS
)

var verbNames = [...]string{
	verbUnknown:  "?",
	verbHELO:     "HELO",
	verbEHLO:     "EHLO",
	verbMAIL:     "MAIL",
	verbRCPT:     "RCPT",
	verbDATA:     "DATA",
	verbBDAT:     "BDAT",
	verbRSET:     "RSET",
	verbNOOP:     "NOOP",
	verbQUIT:     "QUIT",
	verbVRFY:     "VRFY",
	verbEXPN:     "EXPN",
	verbHELP:     "HELP",
	verbAUTH:     "AUTH",
	verbSTARTTLS: "STARTTLS",
}

func (v verb) String() string { return verbNames[v] }

// parseCommand splits a command line (without CRLF) into its verb and
// argument (RFC 5321 §4.1.1: verb, then SP and arguments). Verbs are
// case-insensitive. The argument aliases line. It does not allocate.
func parseCommand(line []byte) (verb, []byte) {
	var name []byte
	var arg []byte
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		name, arg = line[:i], line[i+1:]
	} else {
		name = line
	}
	if len(name) < 4 || len(name) > 8 {
		return verbUnknown, arg
	}
	var up [8]byte
	for i, c := range name {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	// Trailing spaces after a verb are tolerated (clients send "DATA ").
	arg = bytes.TrimRight(arg, " ")
	switch string(up[:len(name)]) {
	case "HELO":
		return verbHELO, arg
	case "EHLO":
		return verbEHLO, arg
	case "MAIL":
		return verbMAIL, arg
	case "RCPT":
		return verbRCPT, arg
	case "DATA":
		return verbDATA, arg
	case "BDAT":
		return verbBDAT, arg
	case "RSET":
		return verbRSET, arg
	case "NOOP":
		return verbNOOP, arg
	case "QUIT":
		return verbQUIT, arg
	case "VRFY":
		return verbVRFY, arg
	case "EXPN":
		return verbEXPN, arg
	case "HELP":
		return verbHELP, arg
	case "AUTH":
		return verbAUTH, arg
	case "STARTTLS":
		return verbSTARTTLS, arg
	}
	return verbUnknown, arg
}

// param is one ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2
// esmtp-param: keyword ["=" value]).
type param struct {
	Key   string // upper-cased keyword
	Value string // "" when absent
	HasEq bool   // "=" was present
}

// Errors of path parsing.
var (
	errPathSyntax  = errors.New("smtpserver: bad path syntax")
	errParamSyntax = errors.New("smtpserver: bad parameter syntax")
)

// parsePathArg parses the argument of MAIL ("FROM:<path> params") or RCPT
// ("TO:<path> params"); keyword is "FROM:" or "TO:". It returns the path
// between the angle brackets (RFC 5321 §4.1.2 Reverse-path / Forward-path,
// quoted local parts may contain '>') and the parameters. A space after
// the colon is tolerated, as most servers do.
func parsePathArg(arg []byte, keyword string) (path string, params []param, err error) {
	if len(arg) < len(keyword) || !bytes.EqualFold(arg[:len(keyword)], []byte(keyword)) {
		return "", nil, errPathSyntax
	}
	rest := arg[len(keyword):]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0] != '<' {
		return "", nil, errPathSyntax
	}
	end := -1
	quoted := false
scan:
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			end = i
			break scan
		case c < ' ' || c == 127:
			return "", nil, errPathSyntax
		}
	}
	if end < 0 {
		return "", nil, errPathSyntax
	}
	path = string(rest[1:end])
	rest = rest[end+1:]
	if len(rest) > 0 && rest[0] != ' ' {
		return "", nil, errPathSyntax
	}
	params, err = parseParams(rest)
	if err != nil {
		return "", nil, err
	}
	return path, params, nil
}

// parseParams parses space-separated esmtp-params (RFC 5321 §4.1.2; values
// may be UTF-8 per RFC 6531 §3.3).
func parseParams(b []byte) ([]param, error) {
	var ps []param
	for {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			return ps, nil
		}
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			i = len(b)
		}
		tok := b[:i]
		b = b[i:]
		var p param
		key := tok
		if j := bytes.IndexByte(tok, '='); j >= 0 {
			key = tok[:j]
			val := tok[j+1:]
			if len(val) == 0 {
				return nil, errParamSyntax
			}
			for _, c := range val {
				if c < 33 || c == '=' || c == 127 {
					return nil, errParamSyntax
				}
			}
			p.Value = string(val)
			p.HasEq = true
		}
		if len(key) == 0 || !isAlnum(key[0]) {
			return nil, errParamSyntax
		}
		for _, c := range key {
			if !isAlnum(c) && c != '-' {
				return nil, errParamSyntax
			}
		}
		p.Key = string(bytes.ToUpper(key))
		ps = append(ps, p)
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// parseBDAT parses "chunk-size [LAST]" (RFC 3030 §2).
func parseBDAT(arg []byte) (n int64, last bool, ok bool) {
	num := arg
	if i := bytes.IndexByte(arg, ' '); i >= 0 {
		num = arg[:i]
		rest := bytes.TrimLeft(arg[i:], " ")
		if !bytes.EqualFold(rest, []byte("LAST")) {
			return 0, false, false
		}
		last = true
	}
	if len(num) == 0 || len(num) > 18 {
		return 0, false, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, last, true
}

// validHelo reports whether arg is a domain or an address literal as EHLO
// and HELO require (RFC 5321 §4.1.1.1, §4.1.3). Underscores are tolerated
// in labels because Windows host names carry them; U-labels are allowed
// (RFC 6531 §3.7.1).
func validHelo(arg string) bool {
	if arg == "" || len(arg) > 255 {
		return false
	}
	if arg[0] == '[' {
		if arg[len(arg)-1] != ']' {
			return false
		}
		lit := arg[1 : len(arg)-1]
		if len(lit) > 5 && (lit[:5] == "IPv6:" || lit[:5] == "ipv6:") {
			a, err := netip.ParseAddr(lit[5:])
			return err == nil && a.Is6() && a.Zone() == ""
		}
		a, err := netip.ParseAddr(lit)
		return err == nil && a.Is4()
	}
	if arg[len(arg)-1] == '.' {
		arg = arg[:len(arg)-1]
	}
	label := 0
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		switch {
		case c == '.':
			if label == 0 || arg[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case isAlnum(c), c == '_', c >= 0x80:
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && arg[len(arg)-1] != '-'
}
