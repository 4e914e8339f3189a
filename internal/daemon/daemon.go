// Package daemon wires the configured listeners to the store, router and
// MDA and runs them until told to stop: SIGTERM/SIGINT stop accepting, let
// transactions in flight finish (bounded) and close the store cleanly;
// SIGHUP reloads the TLS certificate.
package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/buildinfo"
	"github.com/yizhan-mail/yizhan/internal/config"
	"github.com/yizhan-mail/yizhan/internal/connlimit"
	"github.com/yizhan-mail/yizhan/internal/delivery"
	"github.com/yizhan-mail/yizhan/internal/dsn"
	"github.com/yizhan-mail/yizhan/internal/fulltext"
	"github.com/yizhan-mail/yizhan/internal/imapserver"
	"github.com/yizhan-mail/yizhan/internal/pop3server"
	"github.com/yizhan-mail/yizhan/internal/queue"
	"github.com/yizhan-mail/yizhan/internal/remote"
	"github.com/yizhan-mail/yizhan/internal/router"
	"github.com/yizhan-mail/yizhan/internal/smtpserver"
	"github.com/yizhan-mail/yizhan/internal/srs"
	"github.com/yizhan-mail/yizhan/internal/store"
	"github.com/yizhan-mail/yizhan/internal/tlsutil"
)

// ShutdownGrace bounds how long transactions in flight may take to finish
// after SIGTERM.
const ShutdownGrace = 30 * time.Second

// server is one protocol server with its listeners.
type server interface {
	Shutdown(ctx context.Context) error
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives. It prints where the
// data lives and which addresses it listens on to out.
func Run(ctx context.Context, cfg config.Config, src config.Source, out io.Writer, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	release, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()
	tlsm, err := tlsutil.New(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.DataDir, cfg.Hostname, log)
	if err != nil {
		return err
	}
	tlsConf := tlsm.ServerConfig()

	authLim := authlimit.New(authlimit.Config{
		Failures: cfg.Limits.AuthFailures,
		Window:   cfg.Limits.AuthWindow.D(),
		Penalty:  cfg.Limits.AuthPenalty.D(),
		Exempt:   cfg.Limits.AuthExemptNetworks(),
	})
	// Admin commands reach what lives in this process's memory (the
	// limiter's blocks) through the control socket.
	stopControl, err := serveControl(cfg.DataDir, authLim, log)
	if err != nil {
		return err
	}
	defer stopControl()
	connLim := connlimit.New(connlimit.Config{
		MaxTotal:    cfg.Limits.MaxConnections,
		PerListener: cfg.Limits.MaxConnectionsPerListener,
		PerAddr:     cfg.Limits.MaxConnectionsPerIP,
		PerNetwork:  cfg.Limits.MaxConnectionsPerNetwork,
	})
	// Recipient lookups are cached until the directory changes (admin
	// commands in other processes included).
	srsKey, err := loadSecret(filepath.Join(cfg.DataDir, "srs.key"))
	if err != nil {
		return err
	}
	srsCodec := srs.New(srsKey)
	rt := router.New(router.NewCache(st, st.DirectoryVersion), cfg.Hostname).WithSRS(srsCodec)
	mda := delivery.New(st, log)
	lang, err := dsn.ParseLanguage(cfg.DSN.Language)
	if err != nil {
		return fmt.Errorf("dsn.language: %w", err)
	}
	smtpBack := &smtpBackend{st: st, rt: rt, mda: mda, log: log, hostname: cfg.Hostname, srs: srsCodec, language: lang}

	var servers []server
	var wg sync.WaitGroup
	listening := 0
	errc := make(chan error, 8)
	serve := func(name, addr string, run func(net.Listener) error) error {
		if addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
		// On stdout only: the log gets one "started" record, not a
		// second copy of every line.
		fmt.Fprintf(out, "listening %s %s\n", name, ln.Addr())
		listening++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ln); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
		return nil
	}
	smtpModes := []struct {
		name string
		addr string
		mode smtpserver.Mode
	}{
		{"smtp", cfg.Listen.SMTP, smtpserver.ModeInbound},
		{"submission", cfg.Listen.Submission, smtpserver.ModeSubmission},
		{"submissions", cfg.Listen.Submissions, smtpserver.ModeSubmissions},
	}
	fail := func(err error) error {
		shutdownAll(servers, log)
		wg.Wait()
		return err
	}
	for _, m := range smtpModes {
		if m.addr == "" {
			continue
		}
		srv := smtpserver.New(smtpserver.Config{
			Mode:             m.mode,
			Hostname:         cfg.Hostname,
			TLSConfig:        tlsConf,
			MaxMessageSize:   int64(cfg.Limits.MaxMessageSize),
			MaxRecipients:    cfg.Limits.MaxRecipients,
			MaxHeaderSize:    int64(cfg.Limits.MaxHeaderSize),
			MaxReceived:      cfg.Limits.MaxReceived,
			MaxErrors:        cfg.Limits.MaxErrors,
			CommandTimeout:   cfg.Limits.CommandTimeout.D(),
			DataBlockTimeout: cfg.Limits.DataBlockTimeout.D(),
			DataEndTimeout:   cfg.Limits.DataEndTimeout.D(),
			MinDataRate:      int64(cfg.Limits.MinDataRate),
			WriteTimeout:     cfg.Limits.WriteTimeout.D(),
			LoginTimeout:     cfg.Limits.LoginTimeout.D(),
			AuthLimiter:      authLim,
			ConnLimiter:      connLim,
			Logger:           log.With("listener", m.name),
		}, smtpBack)
		servers = append(servers, srv)
		if err := serve(m.name, m.addr, func(ln net.Listener) error { return srv.Serve(ctx, ln) }); err != nil {
			return fail(err)
		}
	}
	if cfg.Listen.POP3 != "" || cfg.Listen.POP3S != "" {
		pop := pop3server.New(pop3server.Config{
			Hostname:     cfg.Hostname,
			TLSConfig:    tlsConf,
			AuthLimiter:  authLim,
			ConnLimiter:  connLim,
			IdleTimeout:  cfg.Limits.POP3IdleTimeout.D(),
			LoginTimeout: cfg.Limits.LoginTimeout.D(),
			WriteTimeout: cfg.Limits.WriteTimeout.D(),
			MinDataRate:  int64(cfg.Limits.MinDataRate),
			MaxErrors:    cfg.Limits.MaxErrors,
			Logger:       log, // sessions say pop3 or pop3s
		}, &pop3Backend{st: st})
		servers = append(servers, pop)
		if err := serve("pop3", cfg.Listen.POP3, func(ln net.Listener) error { return pop.Serve(ctx, ln) }); err != nil {
			return fail(err)
		}
		if err := serve("pop3s", cfg.Listen.POP3S, func(ln net.Listener) error { return pop.ServeTLS(ctx, ln) }); err != nil {
			return fail(err)
		}
	}
	// The full-text indexer runs beside the listeners, off the SMTP path.
	ixCtx, stopIndexer := context.WithCancel(context.Background())
	ix := fulltext.New(st, log.With("component", "fulltext"))
	ixDone := make(chan struct{})
	go func() { defer close(ixDone); ix.Run(ixCtx) }()
	defer func() { stopIndexer(); <-ixDone }()
	// The outbound queue runner: relays what waits for other servers.
	runner, err := newRunner(cfg, st, smtpBack, log)
	if err != nil {
		return fail(err)
	}
	qCtx, stopQueue := context.WithCancel(context.Background())
	qDone := make(chan struct{})
	go func() { defer close(qDone); runner.Run(qCtx) }()
	defer func() { stopQueue(); <-qDone }()
	// Tracking events are kept for [tracking] keep.
	go pruneEvents(qCtx, st, cfg.Tracking.Keep.D(), log)
	if cfg.Listen.IMAP != "" || cfg.Listen.IMAPS != "" {
		imap := imapserver.New(imapserver.Config{
			Hostname:       cfg.Hostname,
			TLSConfig:      tlsConf,
			AuthLimiter:    authLim,
			ConnLimiter:    connLim,
			AppendLimit:    int64(cfg.Limits.MaxMessageSize),
			LoginTimeout:   cfg.Limits.LoginTimeout.D(),
			CommandTimeout: cfg.Limits.CommandTimeout.D(),
			MinDataRate:    int64(cfg.Limits.MinDataRate),
			WriteTimeout:   cfg.Limits.WriteTimeout.D(),
			MaxErrors:      cfg.Limits.MaxErrors,
			Indexer:        ix,
			Logger:         log, // sessions say imap or imaps
		}, st)
		servers = append(servers, imap)
		if err := serve("imap", cfg.Listen.IMAP, func(ln net.Listener) error { return imap.Serve(ctx, ln) }); err != nil {
			return fail(err)
		}
		if err := serve("imaps", cfg.Listen.IMAPS, func(ln net.Listener) error { return imap.ServeTLS(ctx, ln) }); err != nil {
			return fail(err)
		}
	}
	if cfg.Listen.HTTP != "" {
		log.Warn("listener configured but not implemented in this version", "listener", "http", "addr", cfg.Listen.HTTP)
	}
	// Catch SIGHUP before announcing readiness: a reload requested right
	// after the banner must not hit the default action (terminate).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bi := buildinfo.Read()
	log.Info("started", "version", bi.Version, "commit", bi.Commit, "go", bi.GoVersion, "hostname", cfg.Hostname,
		"data_dir", cfg.DataDir, "listeners", listening)
	if !config.FullyQualified(cfg.Hostname) {
		log.Warn("hostname is not a fully qualified domain name; other mail servers may refuse or distrust mail from it: set hostname in the config",
			"hostname", cfg.Hostname)
	}
	if l := cfg.Limits; l.MaxConnections > 0 && (l.MaxConnectionsPerListener == 0 || listening*l.MaxConnectionsPerListener >= l.MaxConnections) {
		log.Warn("max_connections leaves no room for logged-in sessions when every listener is flooded: keep it above the listeners times max_connections_per_listener",
			"max_connections", l.MaxConnections, "listeners", listening, "max_connections_per_listener", l.MaxConnectionsPerListener)
	}
	printBanner(out, cfg, src)

	var runErr error
loop:
	for {
		select {
		case <-hup:
			_ = tlsm.Reload() // it logs the outcome itself, once
		case err := <-errc:
			runErr = err
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	log.Info("shutting down", "grace", ShutdownGrace)
	shutdownAll(servers, log)
	wg.Wait()
	log.Info("stopped")
	return runErr
}

func shutdownAll(servers []server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("shutdown", "err", err)
			}
		}()
	}
	wg.Wait()
}

func printBanner(out io.Writer, cfg config.Config, src config.Source) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dir = cfg.DataDir
	}
	how := "config " + src.Path
	if src.Embedded {
		how = "embedded defaults (no config file)"
	}
	// The admin commands as this binary was run, and with the config file
	// unless the same directory finds it anyway (./yizhan.toml).
	cmd := buildinfo.Command()
	if !src.Embedded && src.Path != "" && filepath.Clean(src.Path) != "yizhan.toml" {
		cmd += " --config " + buildinfo.Quote(src.Path)
	}
	fmt.Fprintf(out, "Yizhan serving as %s with %s\ndata in %s\n", cfg.Hostname, how, dir)
	fmt.Fprintf(out, "add a first domain and user (in another terminal, same directory):\n"+
		"  %[1]s domain add example.com\n  %[1]s user add you@example.com\n", cmd)
}

// newRunner configures the outbound queue runner from the config.
func newRunner(cfg config.Config, st *store.Store, b *smtpBackend, log *slog.Logger) (*queue.Runner, error) {
	res := &remote.Resolver{}
	if cfg.DNS.Nameserver != "" {
		res.Nameservers = []string{cfg.DNS.Nameserver}
	}
	qc := queue.Config{
		Hostname:             cfg.Hostname,
		GiveUpAfter:          cfg.Queue.GiveUpAfter.D(),
		DelayWarningAfter:    cfg.Queue.DelayWarningAfter.D(),
		RemotePort:           cfg.Delivery.RemotePort,
		Smarthost:            cfg.Delivery.Smarthost,
		SmarthostImplicitTLS: cfg.Delivery.SmarthostTLS == "implicit",
		SmarthostNoTLS:       cfg.Delivery.SmarthostTLS == "none",
		MaxConnections:       cfg.Delivery.MaxConnections,
		MaxPerHost:           cfg.Delivery.MaxPerHost,
		Resolver:             res,
		Logger:               log,
		Bounce:               b.injectNotification,
		Language:             b.language,
	}
	for _, d := range cfg.Queue.RetrySchedule {
		qc.RetrySchedule = append(qc.RetrySchedule, d.D())
	}
	if cfg.Delivery.SourceIP != "" {
		ip, err := netip.ParseAddr(cfg.Delivery.SourceIP)
		if err != nil {
			return nil, fmt.Errorf("delivery.source_ip: %w", err)
		}
		qc.SourceIP = ip
	}
	if cfg.Delivery.SmarthostUser != "" {
		qc.SmarthostAuth = &remote.ClientAuth{Username: cfg.Delivery.SmarthostUser, Password: cfg.Delivery.SmarthostPassword}
	}
	return queue.New(st, qc), nil
}

// pruneEvents deletes tracking events older than keep, at start and then
// hourly, until ctx ends.
func pruneEvents(ctx context.Context, st *store.Store, keep time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := st.PruneEvents(ctx, time.Now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("pruning tracking events", "err", err)
		case n > 0:
			log.Info("pruned tracking events", "count", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loadSecret reads a 32-byte secret from path, creating it on first use.
// It signs SRS addresses, which must stay valid across restarts.
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return b, nil
}
