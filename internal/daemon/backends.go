package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/yizhan-mail/yizhan/internal/address"
	"github.com/yizhan-mail/yizhan/internal/delivery"
	"github.com/yizhan-mail/yizhan/internal/dsn"
	"github.com/yizhan-mail/yizhan/internal/pop3server"
	"github.com/yizhan-mail/yizhan/internal/router"
	"github.com/yizhan-mail/yizhan/internal/smtpserver"
	"github.com/yizhan-mail/yizhan/internal/srs"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tracking"
)

// smtpBackend answers the SMTP listeners' questions from the router and
// hands accepted messages to the MDA.
type smtpBackend struct {
	st       *store.Store
	rt       *router.Router
	mda      *delivery.Agent
	log      *slog.Logger
	routes   routeCache // RCPT-time resolutions, reused at delivery
	hostname string
	srs      *srs.Codec   // rewrites the sender of forwarded mail
	language dsn.Language // of the notifications ([dsn] language)
}

// routeTTL bounds how long an accepted recipient's resolution is reused.
// It only saves resolving each recipient a second time when its message
// arrives; refusals are never cached, so a user added by an admin command
// is reachable at once.
const routeTTL = 2 * time.Second

type routeCache struct {
	mu sync.Mutex
	m  map[string]routeEntry
}

type routeEntry struct {
	res     router.Result
	expires time.Time
}

func (c *routeCache) get(rcpt string) (router.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[rcpt]
	if !ok || time.Now().After(e.expires) {
		return router.Result{}, false
	}
	return e.res, true
}

func (c *routeCache) put(rcpt string, res router.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]routeEntry{}
	}
	c.m[rcpt] = routeEntry{res: res, expires: time.Now().Add(routeTTL)}
}

func (b *smtpBackend) Authenticate(ctx context.Context, username, password string) (string, error) {
	acct, err := b.st.Authenticate(ctx, username, password)
	if errors.Is(err, store.ErrAuthFailed) {
		return "", smtpserver.ErrAuthFailed
	}
	if err != nil {
		return "", err
	}
	return acct.Address, nil
}

func (b *smtpBackend) CheckSender(ctx context.Context, s *smtpserver.Session, addr, field string) error {
	if addr == "" && field == "" {
		return nil // <>: bounces and notifications carry no sender
	}
	acct, err := b.st.AccountByAddress(ctx, s.AuthAccount)
	if err != nil {
		return fmt.Errorf("sender check: %w", err)
	}
	ok, err := b.rt.MaySendAs(ctx, acct.ID, addr)
	if err != nil {
		return fmt.Errorf("sender check: %w", err)
	}
	if !ok {
		where := "MAIL FROM"
		if field != "" {
			where = field + ": header"
		}
		return &smtpserver.Reply{Code: 553, Enhanced: "5.7.1",
			Text: fmt.Sprintf("<%s> in %s is not an address of %s", addr, where, acct.Display)}
	}
	return nil
}

func (b *smtpBackend) CheckRecipient(ctx context.Context, s *smtpserver.Session, from, rcpt string) error {
	res, err := b.rt.Resolve(ctx, rcpt)
	switch {
	case errors.Is(err, router.ErrUnknownUser):
		return &smtpserver.Reply{Code: 550, Enhanced: "5.1.1", Text: fmt.Sprintf("<%s>: no such user here", rcpt)}
	case errors.Is(err, router.ErrNoPostmaster):
		return &smtpserver.Reply{Code: 451, Enhanced: "4.3.0", Text: "no account exists yet to receive postmaster mail"}
	case err != nil:
		return err
	}
	if len(res.Remote) > 0 {
		local, err := b.rt.IsLocal(ctx, rcpt)
		if err != nil {
			return err
		}
		if !local && (s.Mode == smtpserver.ModeInbound || s.AuthAccount == "") {
			// RFC 5321 §3.6.2: never relay for strangers. Remote
			// addresses reached through a local alias (forwarding) are
			// ours to deliver.
			return &smtpserver.Reply{Code: 554, Enhanced: "5.7.1", Text: fmt.Sprintf("<%s>: relay access denied", rcpt)}
		}
	}
	for _, t := range res.Local {
		if t.Quota == 0 {
			continue // no limit: no need to add up the mailboxes
		}
		used, limit, err := b.st.Quota(ctx, t.AccountID)
		if err != nil {
			return err
		}
		if limit > 0 && used >= limit {
			// RFC 3463 §3.3: X.2.2 mailbox full, temporary so the
			// sender retries once the user has made room.
			return &smtpserver.Reply{Code: 452, Enhanced: "4.2.2", Text: fmt.Sprintf("<%s>: mailbox full", rcpt)}
		}
	}
	b.routes.put(rcpt, res)
	return nil
}

func (b *smtpBackend) NewMessage(ctx context.Context) (smtpserver.MessageWriter, error) {
	return b.st.NewBlob()
}

func (b *smtpBackend) Deliver(ctx context.Context, env *smtpserver.Envelope, msg smtpserver.MessageWriter) error {
	blob, ok := msg.(*store.Blob)
	if !ok {
		msg.Abort()
		return fmt.Errorf("deliver: unexpected message writer %T", msg)
	}
	var targets []router.Target
	var remote []delivery.RemoteRcpt
	seen := map[string]bool{}
	forwardedBy := "" // the local domain whose alias forwards elsewhere
	var delivered []dsn.Recipient
	for _, rcpt := range env.Recipients {
		res, ok := b.routes.get(rcpt)
		var err error
		if !ok {
			res, err = b.rt.Resolve(ctx, rcpt)
		}
		if err != nil {
			blob.Abort()
			return fmt.Errorf("deliver: resolve %s: %w", rcpt, err)
		}
		targets = append(targets, res.Local...)
		if d := env.DSN[rcpt]; len(res.Local) > 0 && env.From != "" && strings.Contains(d.Notify, "SUCCESS") {
			// RFC 3461 §6.2.1: delivered here, so we report it.
			delivered = append(delivered, dsn.Recipient{Address: rcpt, OriginalRcpt: d.ORcpt, Action: dsn.Delivered, Status: "2.0.0",
				LastAttempt: time.Now(), Reason: dsn.Reason{Kind: dsn.ReasonDeliveredMailbox}})
		}
		for _, r := range res.Remote {
			if k := strings.ToLower(r); !seen[k] {
				seen[k] = true
				// The DSN parameters of the recipient as given go on with
				// the address it leads to (RFC 3461 §6.2).
				d := env.DSN[rcpt]
				remote = append(remote, delivery.RemoteRcpt{Addr: r, Notify: d.Notify, ORcpt: d.ORcpt})
				if forwardedBy == "" {
					if a, err := address.Parse(rcpt); err == nil {
						if local, _ := b.rt.IsLocal(ctx, rcpt); local {
							forwardedBy = a.Domain
						}
					}
				}
			}
		}
	}
	s := env.Session
	detail := map[string]any{
		"listener": s.Mode.String(), "session": s.ID, "client_ip": s.RemoteIP.String(), "helo": s.Helo,
		"from": env.From, "rcpt": env.Recipients, "size": env.Size, "message_id": env.MessageID,
	}
	if s.TLS != nil {
		detail["tls"] = tls.VersionName(s.TLS.Version) + " " + tls.CipherSuiteName(s.TLS.CipherSuite)
	}
	if s.AuthAccount != "" {
		detail["auth"] = s.AuthAccount
	}
	// Forwarding a stranger's message: the copy leaves from an SRS
	// address of ours, so SPF at the next hop checks our domain, and a
	// bounce finds its way back through us (RFC 7208 §11.3 discusses why).
	remoteFrom := ""
	if forwardedBy != "" && env.From != "" && s.AuthAccount == "" && b.srs != nil {
		if local, err := b.rt.IsLocal(ctx, env.From); err == nil && !local {
			if rw, err := b.srs.Rewrite(env.From, forwardedBy); err == nil {
				remoteFrom = rw
			}
		}
	}
	var header []byte
	if len(delivered) > 0 {
		header = readHeader(blob.Reader(), 256<<10)
	}
	err := b.mda.Deliver(ctx, &delivery.Message{
		RemoteFrom: remoteFrom,
		Blob:       blob,
		TrackingID: env.TrackingID,
		MessageID:  env.MessageID,
		From:       env.From,
		Received:   env.Received,
		Arrived:    env.Arrived,
		Recipients: targets,
		Remote:     remote,
		SMTPUTF8:   env.SMTPUTF8,
		Body8Bit:   env.Body8Bit,
		Ret:        env.Ret,
		EnvID:      env.EnvID,
		Detail:     detail,
	})
	if err == nil && len(delivered) > 0 {
		b.notifyDelivered(context.WithoutCancel(ctx), env, delivered, header)
	}
	return err
}

// notifyDelivered sends a success notification (RFC 3461 NOTIFY=SUCCESS)
// for recipients delivered here, with the message's header.
func (b *smtpBackend) notifyDelivered(ctx context.Context, env *smtpserver.Envelope, rcpts []dsn.Recipient, header []byte) {
	msg, err := dsn.Build(&dsn.Report{
		ReportingMTA: b.hostname, ArrivalDate: env.Arrived, EnvelopeID: env.EnvID,
		From: "MAILER-DAEMON@" + b.hostname, To: env.From, Recipients: rcpts,
		Original: bytes.NewReader(header), ReturnHeadersOnly: true, Date: time.Now(),
		Language: b.language,
	})
	if err == nil {
		err = b.injectNotification(ctx, env.From, msg, env.TrackingID)
	}
	if err != nil {
		b.log.Error("success notification", "id", env.TrackingID, "to", env.From, "err", err)
	}
}

// readHeader returns the header section of a message (up to the blank
// line, at most limit bytes).
func readHeader(r io.Reader, limit int64) []byte {
	var out bytes.Buffer
	br := bufio.NewReader(io.LimitReader(r, limit))
	for {
		line, err := br.ReadBytes('\n')
		out.Write(line)
		if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
			return out.Bytes()
		}
	}
}

// pop3Backend serves an account's INBOX as a POP3 maildrop.
type pop3Backend struct {
	st *store.Store
}

func (b *pop3Backend) Authenticate(ctx context.Context, username, password string) (string, error) {
	acct, err := b.st.Authenticate(ctx, username, password)
	if errors.Is(err, store.ErrAuthFailed) {
		return "", pop3server.ErrAuthFailed
	}
	if err != nil {
		return "", err
	}
	return acct.Address, nil
}

func (b *pop3Backend) OpenMaildrop(ctx context.Context, account string) (pop3server.Maildrop, error) {
	acct, err := b.st.AccountByAddress(ctx, account)
	if err != nil {
		return nil, err
	}
	mb, err := b.st.MailboxByName(ctx, acct.ID, "INBOX")
	if err != nil {
		return nil, err
	}
	msgs, err := b.st.Messages(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	info := make([]pop3server.MessageInfo, len(msgs))
	for i, m := range msgs {
		// UIDVALIDITY.UID is unique for the life of the mailbox and
		// survives restarts (RFC 1939 §7 UIDL).
		info[i] = pop3server.MessageInfo{UIDL: fmt.Sprintf("%d.%d", mb.UIDValidity, m.UID), Size: m.Size}
	}
	return &maildrop{st: b.st, mailbox: mb, msgs: msgs, info: info}, nil
}

type maildrop struct {
	st      *store.Store
	mailbox store.Mailbox
	msgs    []store.Message
	info    []pop3server.MessageInfo
}

func (m *maildrop) Messages() []pop3server.MessageInfo { return m.info }

func (m *maildrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(m.msgs) {
		return nil, fmt.Errorf("maildrop: no message %d", i+1)
	}
	return m.st.OpenMessage(ctx, m.msgs[i])
}

// Expunge deletes for good; IMAP sessions see the expunges through the
// change feed.
func (m *maildrop) Expunge(ctx context.Context, idx []int) error {
	uids := make([]uint32, 0, len(idx))
	for _, i := range idx {
		if i >= 0 && i < len(m.msgs) {
			uids = append(uids, m.msgs[i].UID)
		}
	}
	return m.st.Expunge(ctx, m.mailbox.ID, uids)
}

func (m *maildrop) Close() error { return nil }

// injectNotification delivers a delivery status notification the queue
// runner built: from <>, to the original envelope sender, local or remote.
// It gets its own tracking id; its received event names the message it
// reports on.
func (b *smtpBackend) injectNotification(ctx context.Context, rcpt string, msg []byte, about string) error {
	res, err := b.rt.Resolve(ctx, rcpt)
	if errors.Is(err, router.ErrUnknownUser) {
		// The sender's local mailbox is gone: nobody to tell.
		b.log.Warn("notification dropped: sender unknown", "about", about, "to", rcpt)
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification to %s: %w", rcpt, err)
	}
	blob, err := b.st.NewBlob()
	if err != nil {
		return err
	}
	if _, err := blob.Write(msg); err != nil {
		blob.Abort()
		return err
	}
	id := tracking.NewID()
	now := time.Now()
	received := fmt.Sprintf("Received: by %s (Yizhan) id %s;\r\n\t%s\r\n", b.hostname, id, now.Format(time.RFC1123Z))
	return b.mda.Deliver(ctx, &delivery.Message{
		Blob: blob, TrackingID: id, From: "", Received: received, Arrived: now,
		Recipients: res.Local, Remote: remoteOnly(res.Remote),
		Detail: map[string]any{"listener": "dsn", "about": about, "rcpt": []string{rcpt}},
	})
}

// remoteOnly wraps addresses without DSN parameters.
func remoteOnly(addrs []string) []delivery.RemoteRcpt {
	out := make([]delivery.RemoteRcpt, len(addrs))
	for i, a := range addrs {
		out[i] = delivery.RemoteRcpt{Addr: a}
	}
	return out
}
