package store

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// WAL checkpoints copy committed pages from the write-ahead log into the
// database file. SQLite does it by default in the committing connection,
// right after a commit, which made it part of every delivery's latency
// (7% of server CPU, all of it in the single committer). The serving store
// turns that off and checkpoints from its own connection in the background
// instead.
//
// One catch: the log only starts over from its beginning when a write
// transaction begins with every frame already copied, which a background
// checkpoint racing a busy committer rarely achieves. When the log has
// grown past walRestartFrames, the committer therefore runs one (by then
// small) checkpoint itself after its next commit.

// checkpointEvery spaces background checkpoints: pages written again and
// again (the mailbox row, the last index pages) are copied once per round.
const checkpointEvery = 200 * time.Millisecond

// walRestartFrames is the log size (in pages: 16 MiB with the 8 KiB pages
// of a new store, 8 MiB in an older 4 KiB one) at which the committer
// checkpoints inline so that the log restarts.
const walRestartFrames = 2048

type checkpointer struct {
	db     *sql.DB       // its own connection to the database
	kick   chan struct{} // a commit happened
	stop   chan struct{}
	done   chan struct{}
	inline atomic.Bool // the committer should checkpoint after its next commit
}

func (s *Store) startCheckpointer(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(15000)")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	s.ckpt = &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.ckpt.run(s)
	return nil
}

func (c *checkpointer) run(s *Store) {
	defer close(c.done)
	ctx := context.Background()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		var busy, log, copied int
		err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied)
		if err != nil {
			s.log.Warn("store: background checkpoint", "err", err)
		} else if log >= walRestartFrames {
			c.inline.Store(true)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// afterCommit is called by the committer after each commit.
func (c *checkpointer) afterCommit(s *Store) {
	if c == nil {
		return
	}
	if c.inline.CompareAndSwap(true, false) {
		if _, err := s.wconn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			s.log.Warn("store: checkpoint", "err", err)
		}
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) close() {
	if c == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.db.Close()
}
