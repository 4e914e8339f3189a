// Package store keeps everything Yizhan knows: domains, accounts (argon2id
// hashes), aliases, mailboxes with UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, message
// rows with UID, MODSEQ and flags, expunged UIDs for QRESYNC, and tracking
// events.
//
// On disk, under the data directory:
//
//	yizhan.db (+ -wal, -shm)   SQLite index in WAL mode, synchronous=FULL
//	blobs/ab/…ab               bytes of messages over InlineMax, one file each,
//	                           fsynced before any row refers to it and shared
//	                           by every local recipient of a transaction
//
// Header fields added on receipt (Return-Path, Delivered-To, Received) live
// in the message row ("prefix") and are served before the blob, so a blob is
// never rewritten.
//
// Every write of the serving process goes through one committer goroutine
// that batches concurrent requests into one transaction and one fsync
// (group commit); callers return only after their batch is durable. After
// each commit, the changes are published to watchers (the change feed IMAP
// IDLE and POP3 build on). Admin commands in other processes open the same
// database and write directly; SQLite's locking serialises them.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/yizhan-mail/yizhan/internal/passwd"

	sqlite "modernc.org/sqlite" // registers the "sqlite" driver
)

// Errors callers test for.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrExists      = errors.New("store: already exists")
	ErrAuthFailed  = errors.New("store: authentication failed")
	ErrClosed      = errors.New("store: closed")
	ErrOverQuota   = errors.New("store: over quota")
	ErrInvalidName = errors.New("store: invalid name")
)

// userError is one of the errors above (errors.Is finds it) worded for
// the operator who typed the name: "domain nosuch.example does not exist"
// rather than "store: not found: domain nosuch.example". Admin commands
// print it as it is.
type userError struct {
	msg string
	err error // ErrNotFound, ErrExists or ErrInvalidName
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.err }

// notExist says that a named entry (a domain, an account) does not exist.
func notExist(kind, name string) error {
	return &userError{msg: kind + " " + name + " does not exist", err: ErrNotFound}
}

// alreadyExists says that a named entry exists already.
func alreadyExists(kind, name string) error {
	return &userError{msg: kind + " " + name + " already exists", err: ErrExists}
}

// invalidName wraps a parse error of a name the operator gave.
func invalidName(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...), err: ErrInvalidName}
}

// maxBatch bounds one group commit, so one huge batch cannot delay the
// first caller for long.
const maxBatch = 256

// Store is an open data directory. It is safe for concurrent use.
type Store struct {
	dir    string
	log    *slog.Logger
	rdb    *sql.DB       // readers (WAL allows many alongside the writer)
	wdb    *sql.DB       // the single writer connection
	ckpt   *checkpointer // background WAL checkpoints; nil without a committer
	blobs  *blobDir
	wconn  *sql.Conn // the committer's own connection (nil for admin processes)
	feed   *feed
	auth   *authCache
	writes chan *writeReq
	done   chan struct{} // closed when the committer has stopped

	indexKick chan struct{} // messages wait for the full-text indexer
	queueKick chan struct{} // recipients wait for the outbound queue runner
	idx       indexes       // in-memory mailbox indexes (mbindex.go)
	recent    recentClaims  // \Recent claims (recent.go)

	closeOnce sync.Mutex
	closed    bool

	nCommits atomic.Int64 // group-committed transactions (one WAL fsync each)
	nWrites  atomic.Int64 // write requests they carried
	nExecNs  atomic.Int64 // time spent running batches' statements
	nSyncNs  atomic.Int64 // time spent in COMMIT (WAL writes and fsync)

	textWork textWork // what text searches did (fulltext.go)

	stmts map[string]*sql.Stmt // hot statements prepared at Open (on wconn when there is a committer)
	reads sync.Map             // query -> *sql.Stmt prepared on rdb, see queryRow
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// NoCommitter opens the store for short admin commands: writes go
	// straight to the database without the batching goroutine.
	NoCommitter bool
}

// Open opens (creating if needed) the data directory dir.
func Open(ctx context.Context, dir string, opt Options) (*Store, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, "yizhan.db")
	if err := create(ctx, path); err != nil {
		return nil, err
	}
	// synchronous(FULL): in WAL mode every commit fsyncs the WAL; NORMAL
	// would lose acknowledged mail on power failure.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(15000)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	if !opt.NoCommitter {
		dsn += "&_pragma=wal_autocheckpoint(0)" // checkpoint.go does it
	}
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, err
	}
	rdb, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(15000)&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	blobs, err := openBlobDir(filepath.Join(dir, "blobs"))
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	decoy, err := passwd.Decoy()
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	s := &Store{
		dir:   dir,
		log:   log,
		rdb:   rdb,
		wdb:   wdb,
		blobs: blobs,
		feed:  newFeed(),
		auth:  newAuthCache(decoy),
		done:  make(chan struct{}),
		stmts: map[string]*sql.Stmt{},

		indexKick: make(chan struct{}, 1),
		queueKick: make(chan struct{}, 1),
		idx:       indexes{m: map[int64]*mbIndex{}},
	}
	if !opt.NoCommitter {
		if s.wconn, err = wdb.Conn(ctx); err != nil {
			wdb.Close()
			rdb.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	if err := s.prepareHot(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if opt.NoCommitter {
		close(s.done)
	} else {
		if err := s.startCheckpointer(path); err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		s.writes = make(chan *writeReq, maxBatch)
		go s.committer()
	}
	return s, nil
}

// pageSize is the database page size of a new store. 8 KiB rather than
// SQLite's 4 KiB: a typical message kept inline then spans one or two
// pages instead of three, which halves the WAL frames (two write calls
// each) a delivery costs and the pages its checkpoint copies.
const pageSize = 8192

// create makes an empty database with the store's page size, which can
// only be chosen before the first page is written (and before WAL mode is
// entered, which writes it). An existing database keeps its page size.
func create(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{fmt.Sprintf(`PRAGMA page_size = %d`, pageSize), `PRAGMA journal_mode = WAL`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: create %s: %w", path, err)
		}
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Close stops the committer after the writes already submitted and closes
// the database.
func (s *Store) Close() error {
	s.closeOnce.Lock()
	if s.closed {
		s.closeOnce.Unlock()
		return nil
	}
	s.closed = true
	if s.writes != nil {
		if s.recentDirty() {
			// The last \Recent claims, with the last commit.
			s.writes <- &writeReq{ctx: context.Background(), fn: s.writeRecent, done: make(chan error, 1)}
		}
		close(s.writes)
	}
	s.closeOnce.Unlock()
	<-s.done
	s.ckpt.close()
	if c := s.nCommits.Load(); c > 0 {
		s.log.Info("store: group commit", "commits", c, "writes", s.nWrites.Load(),
			"writes_per_commit", float64(s.nWrites.Load())/float64(c),
			"exec_ms_per_commit", float64(s.nExecNs.Load())/1e6/float64(c),
			"commit_ms_per_commit", float64(s.nSyncNs.Load())/1e6/float64(c))
	}
	for _, st := range s.stmts {
		st.Close()
	}
	s.reads.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return s.closeDBs()
}

// closeDBs checkpoints (so the next start does not replay a long WAL) and
// closes the connections.
func (s *Store) closeDBs() error {
	var err0 error
	if s.wconn != nil {
		err0 = s.wconn.Close() // back to the pool, for the checkpoint
	}
	_, _ = s.wdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	err1 := s.rdb.Close()
	err2 := s.wdb.Close()
	return errors.Join(err0, err1, err2)
}

// dbtx is what a write runs its statements on: the committer's connection
// inside its transaction, or an admin process's *sql.Tx. The committer
// runs its transaction on a plain *sql.Conn, because database/sql starts
// a goroutine for every query in a *sql.Tx (to watch the transaction's
// context), which was a measurable share of the serial committer's time.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writeFunc runs inside a transaction; it returns the changes to publish
// after commit and blob files to remove after commit.
type writeFunc func(ctx context.Context, tx dbtx, w *batchEffects) error

// batchEffects collects what a write wants done after its commit.
type batchEffects struct {
	changes     []Change
	removeBlobs []string
	directory   bool // domains, accounts, aliases or quotas changed
}

type writeReq struct {
	ctx  context.Context
	fn   writeFunc
	done chan error
	eff  batchEffects
}

// write runs fn in a group-committed transaction and returns once it is
// durable. Each request runs under its own savepoint, so one failing
// request does not undo the others in its batch.
func (s *Store) write(ctx context.Context, fn writeFunc) error {
	if s.writes == nil {
		return diskFull(s.writeDirect(ctx, fn))
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.closeOnce.Lock()
	if s.closed {
		s.closeOnce.Unlock()
		return ErrClosed
	}
	// Sent under the lock so Close cannot close the channel under us; the
	// committer never takes this lock, so this cannot deadlock.
	select {
	case s.writes <- req:
	case <-ctx.Done():
		s.closeOnce.Unlock()
		return ctx.Err()
	}
	s.closeOnce.Unlock()
	// Once queued the request will be committed or failed; wait for the
	// verdict even if ctx ends, so the caller never answers "failed" for a
	// write that became durable.
	return diskFull(<-req.done)
}

// sqliteFull is SQLITE_FULL, the primary result code of "database or
// disk is full" (https://sqlite.org/rescode.html#full).
const sqliteFull = 13

// diskFull makes SQLite's "database or disk is full" an ENOSPC as well,
// so that callers tell a full disk from other failures with errors.Is,
// whichever layer (a blob file or the database) hit it.
func diskFull(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull && !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
	}
	return err
}

// writeDirect is the path for admin processes (no committer).
func (s *Store) writeDirect(ctx context.Context, fn writeFunc) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	var eff batchEffects
	if err := fn(ctx, tx, &eff); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	s.blobs.remove(eff.removeBlobs)
	if eff.directory {
		s.bumpDirectory()
	}
	s.applyToIndexes(eff.changes)
	s.feed.publish(eff.changes)
	return nil
}

// committer is the single writer: it takes every request waiting, runs them
// in one transaction and commits once (one WAL fsync for the batch).
func (s *Store) committer() {
	defer close(s.done)
	batch := make([]*writeReq, 0, maxBatch)
	for first := range s.writes {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*writeReq) {
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	// The batch's requests may carry cancelled contexts; the transaction
	// itself must not be cut short by one of them.
	ctx := context.Background()
	t0 := time.Now()
	tx := s.wconn
	rollback := func() { _, _ = s.stmts[sqlRollback].ExecContext(ctx) }
	if _, err := s.stmts[sqlBegin].ExecContext(ctx); err != nil {
		// A transaction left open by a failure that could not even roll
		// back would make every later BEGIN fail: end it and try once more.
		rollback()
		if _, err := s.stmts[sqlBegin].ExecContext(ctx); err != nil {
			fail(fmt.Errorf("store: begin: %w", err))
			return
		}
	}
	errs := make([]error, len(batch))
	for i, r := range batch {
		if r.ctx.Err() != nil {
			errs[i] = r.ctx.Err()
			continue
		}
		if _, err := s.stmt(ctx, tx, sqlSavepoint).ExecContext(ctx); err != nil {
			errs[i] = fmt.Errorf("store: savepoint: %w", err)
			continue
		}
		// The request's own context is checked above; statements run
		// without it, because the SQLite driver starts a goroutine per
		// statement to watch a cancellable context.
		if err := r.fn(context.WithoutCancel(r.ctx), tx, &r.eff); err != nil {
			errs[i] = err
			r.eff = batchEffects{}
			if _, err := s.stmt(ctx, tx, sqlRollbackTo).ExecContext(ctx); err != nil {
				// SQLite ends the whole transaction itself on some
				// errors (a full disk among them): the request's own
				// error is the one to report, to the whole batch.
				rollback()
				fail(fmt.Errorf("%w (store: rollback to savepoint: %w)", errs[i], err))
				return
			}
		}
		if _, err := s.stmt(ctx, tx, sqlRelease).ExecContext(ctx); err != nil {
			rollback()
			fail(fmt.Errorf("store: release savepoint: %w", err))
			return
		}
	}
	t1 := time.Now()
	_, err := s.stmts[sqlCommit].ExecContext(ctx)
	s.nExecNs.Add(int64(t1.Sub(t0)))
	s.nSyncNs.Add(int64(time.Since(t1)))
	if err != nil {
		rollback() // a failed COMMIT leaves the transaction open
		s.log.Error("store: commit failed", "err", err, "batch", len(batch))
		fail(fmt.Errorf("store: commit: %w", err))
		return
	}
	var changes []Change
	var remove []string
	directory := false
	for i, r := range batch {
		if errs[i] == nil {
			changes = append(changes, r.eff.changes...)
			remove = append(remove, r.eff.removeBlobs...)
			directory = directory || r.eff.directory
		}
	}
	if directory {
		s.bumpDirectory()
	}
	s.nCommits.Add(1)
	s.nWrites.Add(int64(len(batch)))
	// Files go before callers hear back, so an expunge is complete when
	// it returns.
	s.blobs.remove(remove)
	s.applyToIndexes(changes)
	s.feed.publish(changes)
	for i, r := range batch {
		r.done <- errs[i]
	}
	s.ckpt.afterCommit(s)
}

// nowUnix is the store's clock in seconds.
func nowUnix() int64 { return time.Now().Unix() }

// Statements on the hot delivery path, prepared once on the writer
// connection instead of on every execution (re-preparing was ~15% of
// server CPU under load).
const (
	sqlInsertBlob    = `INSERT INTO blobs (id, size, refs, data) VALUES (?, ?, ?, ?)`
	sqlAssignUID     = `UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1, messages = messages + 1, size = size + ? WHERE account_id = ? AND name = ? RETURNING id, uidnext - 1, highestmodseq`
	sqlInsertMessage = `INSERT INTO messages (mailbox_id, uid, modseq, blob_id, prefix, size, flags, internal_date, tracking_id, message_id, mime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	sqlInsertPending = `INSERT INTO fts_pending (message_id) VALUES (?)`
	sqlInsertEvent   = `INSERT INTO events (tracking_id, at, kind, detail) VALUES (?, ?, ?, ?)`
	sqlInsertEvents2 = sqlInsertEvent + `, (?, ?, ?, ?)` // a delivery's usual pair: received, delivered
	sqlInsertQueue   = `INSERT INTO queue (tracking_id, blob_id, prefix, mail_from, envid, ret, smtputf8, body8bit, size, arrived)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	sqlInsertQueueRcpt = `INSERT INTO queue_rcpts (queue_id, rcpt, domain, notify, orcpt, next_attempt) VALUES (?, ?, ?, ?, ?, ?)`
	sqlFinishRcpt      = `DELETE FROM queue_rcpts WHERE id = ? RETURNING queue_id`
	sqlFinishQueue     = `DELETE FROM queue WHERE id = ? AND NOT EXISTS (SELECT 1 FROM queue_rcpts WHERE queue_id = ?) RETURNING blob_id`
	sqlBegin           = `BEGIN IMMEDIATE`
	sqlCommit          = `COMMIT`
	sqlRollback        = `ROLLBACK`
	sqlSavepoint       = `SAVEPOINT w`
	sqlRollbackTo      = `ROLLBACK TO w`
	sqlRelease         = `RELEASE w`
)

// prepareHot prepares the hot statements on the writer connection. Done
// at Open, while the connection is free: the writer has exactly one
// connection, so preparing during a transaction would wait on itself.
func (s *Store) prepareHot(ctx context.Context) error {
	qs := []string{sqlInsertBlob, sqlAssignUID, sqlInsertMessage, sqlInsertPending, sqlInsertEvent, sqlInsertEvents2, sqlSavepoint, sqlRollbackTo, sqlRelease,
		sqlInsertQueue, sqlInsertQueueRcpt, sqlFinishRcpt, sqlFinishQueue}
	var prep func(context.Context, string) (*sql.Stmt, error) = s.wdb.PrepareContext
	if s.wconn != nil {
		// Bound to the committer's connection (the pool's only one).
		prep = s.wconn.PrepareContext
		qs = append(qs, sqlBegin, sqlCommit, sqlRollback)
	}
	for _, q := range qs {
		st, err := prep(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// stmt returns the prepared form of a hot query for tx: as it is on the
// committer's connection, bound to the transaction of an admin process.
func (s *Store) stmt(ctx context.Context, tx dbtx, query string) *sql.Stmt {
	if t, ok := tx.(*sql.Tx); ok {
		return t.StmtContext(ctx, s.stmts[query])
	}
	return s.stmts[query]
}

// readStmt returns query prepared on the reader pool, preparing it on
// first use: the router's lookups run for every RCPT, and parsing them
// each time cost more than executing them.
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a read query through its prepared statement.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return s.rdb.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a read query through its prepared statement.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
