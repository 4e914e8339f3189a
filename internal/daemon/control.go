package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/yizhan-mail/yizhan/internal/authlimit"
	"github.com/yizhan-mail/yizhan/internal/control"
)

// Control commands served to the admin CLI (internal/control).
const (
	// CmdAuthBlocks lists the password-guessing blocks: []authlimit.Block.
	CmdAuthBlocks = "auth.blocks"
	// CmdAuthClear lifts blocks: AuthClearArgs in, AuthClearResult out.
	CmdAuthClear = "auth.clear"
)

// AuthClearArgs names what CmdAuthClear lifts: Target (an IP address, a
// network or a login name), or everything when All.
type AuthClearArgs struct {
	Target string `json:"target,omitempty"`
	All    bool   `json:"all,omitempty"`
}

// AuthClearResult says how many blocks CmdAuthClear lifted.
type AuthClearResult struct {
	Lifted int `json:"lifted"`
}

// serveControl opens the control socket in dataDir with the commands on
// the server's memory; stop closes it and waits for exchanges in flight.
func serveControl(dataDir string, lim *authlimit.Limiter, log *slog.Logger) (stop func(), err error) {
	srv, err := control.Listen(dataDir, log)
	if err != nil {
		return nil, err
	}
	srv.Handle(CmdAuthBlocks, func(context.Context, json.RawMessage) (any, error) {
		b := lim.Blocks()
		if b == nil {
			b = []authlimit.Block{}
		}
		return b, nil
	})
	srv.Handle(CmdAuthClear, func(_ context.Context, raw json.RawMessage) (any, error) {
		var args AuthClearArgs
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("auth.clear: %w", err)
		}
		var n int
		switch {
		case args.All:
			n = lim.ClearAll()
		case args.Target != "":
			n = lim.Clear(args.Target)
		default:
			return nil, errors.New("auth.clear: name an address, a network or an account, or all")
		}
		log.Info("authentication blocks cleared", "target", args.Target, "all", args.All, "lifted", n)
		return AuthClearResult{Lifted: n}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			log.Error("control socket", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
