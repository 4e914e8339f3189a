package smtpserver

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/sasl"
)

// errAuthAborted ends an AUTH exchange whose reply was already sent.
var errAuthAborted = errors.New("smtpserver: authentication aborted")

// cmdAuth implements AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
// mechanisms, offered only on submission listeners and only over TLS
// (RFC 8314 §3, RFC 4954 §4).
func (s *session) cmdAuth(arg []byte) error {
	mech, initial, hasInitial := bytes.Cut(arg, []byte{' '})
	s.cmdArg = string(mech)
	switch {
	case !s.authOffered():
		return s.fail(502, "5.5.1", "AUTH not available")
	case s.info.TLS == nil:
		return s.fail(530, "5.7.0", "Must issue STARTTLS first")
	case !s.esmtp:
		return s.fail(503, "5.5.1", "Send EHLO first")
	case s.info.AuthAccount != "":
		// RFC 4954 §4: no second AUTH after success.
		return s.fail(503, "5.5.1", "Already authenticated")
	case s.txn.active:
		// RFC 4954 §4: not during a mail transaction.
		return s.fail(503, "5.5.1", "AUTH not permitted during a mail transaction")
	case len(mech) == 0:
		return s.fail(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
	}
	var authz, user, pass string
	switch strings.ToUpper(string(mech)) {
	case "PLAIN":
		var resp []byte
		var err error
		if hasInitial {
			resp, err = s.decodeResponse(initial)
		} else {
			resp, err = s.challenge("")
		}
		if err != nil {
			return authErr(err)
		}
		p, err := sasl.ParsePlain(resp)
		if err != nil {
			return s.fail(501, "5.5.2", "Malformed PLAIN response")
		}
		authz, user, pass = p.Authz, p.Authc, p.Passwd
	case "LOGIN":
		var u, p []byte
		var err error
		if hasInitial {
			u, err = s.decodeResponse(initial)
		} else {
			u, err = s.challenge("VXNlcm5hbWU6") // "Username:"
		}
		if err == nil {
			p, err = s.challenge("UGFzc3dvcmQ6") // "Password:"
		}
		if err != nil {
			return authErr(err)
		}
		user, pass = string(u), string(p)
	default:
		return s.fail(504, "5.5.4", "Unrecognized authentication mechanism")
	}
	return s.verify(authz, user, pass)
}

// authErr turns the end of an aborted exchange into the session's error:
// nil when a reply was sent and the session goes on.
func authErr(err error) error {
	if errors.Is(err, errAuthAborted) {
		return nil
	}
	return err
}

// challenge sends "334 text" and reads and decodes the client's response
// (RFC 4954 §4). A "*" response cancels with 501 5.0.0.
func (s *session) challenge(text string) ([]byte, error) {
	s.replyLine("334 " + text)
	line, err := s.readLine()
	if err == errLineTooLong {
		if err := s.fail(500, "5.5.2", "Line too long"); err != nil {
			return nil, err
		}
		return nil, errAuthAborted
	}
	if err != nil {
		return nil, err
	}
	if len(line) == 1 && line[0] == '*' {
		if err := s.fail(501, "5.0.0", "Authentication cancelled"); err != nil {
			return nil, err
		}
		return nil, errAuthAborted
	}
	return s.decodeResponse(line)
}

// decodeResponse decodes a base64 SASL response; "=" is the empty one.
func (s *session) decodeResponse(b []byte) ([]byte, error) {
	out, err := sasl.DecodeResponse(b)
	if err != nil {
		if err := s.fail(501, "5.5.2", "Cannot decode response"); err != nil {
			return nil, err
		}
		return nil, errAuthAborted
	}
	return out, nil
}

// verify checks credentials with the Backend, throttled by AuthLimiter:
// failures are answered late, and a login the limiter holds back gets
// RFC 4954 §6's 454 4.7.0 (temporary: the client must not take it for a
// wrong password).
func (s *session) verify(authz, user, pass string) error {
	att, err := s.cfg.AuthLimiter.Begin(s.ctx, s.ip, user)
	if err != nil {
		var r *authlimit.Refused
		if !errors.As(err, &r) {
			return err // the session is ending
		}
		s.log.Warn("authentication throttled", "user", user, "limit", r.Reason.String(), "until", r.Until)
		return s.fail(454, "4.7.0", throttledText(r.Reason))
	}
	defer att.Abandon()
	failed := func(reason string) error {
		blocked := att.Fail(s.ctx, pass)
		s.log.Warn("authentication failed", "user", user, "reason", reason, "blocked", blocked)
		return s.fail(535, "5.7.8", "Authentication credentials invalid")
	}
	// RFC 4616 §2: we do not let one user act as another.
	if authz != "" && authz != user {
		return failed("authorization identity differs")
	}
	if user == "" {
		return failed("empty user name")
	}
	account, err := s.srv.backend.Authenticate(s.ctx, user, pass)
	if errors.Is(err, ErrAuthFailed) {
		return failed("bad credentials")
	}
	if err != nil {
		var r *Reply
		if errors.As(err, &r) {
			return s.sendReply(r, errFull)
		}
		// RFC 4954 §6: 454 4.7.0 temporary authentication failure.
		s.log.Error("authentication backend error", "user", user, "err", err)
		s.refuse(454, "4.7.0", "Temporary authentication failure")
		return nil
	}
	att.Succeed()
	s.info.AuthAccount = account
	s.timer.SetLimit(time.Time{}) // the login deadline is met
	s.slot.LoggedIn()             // and the connection no longer counts as a stranger's
	s.log.Info("authenticated", "user", user, "account", account)
	s.reply(235, "2.7.0", "Authentication successful")
	return nil
}

// throttledText tells the client which limit it met, so its user knows
// that the password was not even checked.
func throttledText(r authlimit.Reason) string {
	switch r {
	case authlimit.ReasonLogin:
		return "Too many failed logins for this account from your address, try again later"
	case authlimit.ReasonClient:
		return "Too many failed logins from your address, try again later"
	default:
		return "Account under attack: logins from new addresses are slowed down, try again later"
	}
}
