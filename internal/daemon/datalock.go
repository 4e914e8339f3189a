package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockName is the file in data_dir a running serve holds locked. On SQLite
// only one serve may use a data directory (DESIGN §2): a second one would
// share the database but not the change feed, so IMAP IDLE on one would
// never hear of deliveries through the other. Admin commands do not take
// the lock; SQLite serialises their writes with the server's.
const lockName = "serve.lock"

// errLocked is returned by tryLock when another process holds the lock.
var errLocked = errors.New("locked")

// lockDataDir takes the data directory's serve lock for the life of the
// process (release undoes it) or says who holds it. The lock is the
// kernel's (flock), so it dies with its process: a kill -9 leaves no stale
// lock behind.
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data_dir lock: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("data_dir lock %s: %w", path, err)
		}
		abs, aerr := filepath.Abs(dir)
		if aerr != nil {
			abs = dir
		}
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		return nil, fmt.Errorf("data directory %s is in use by another yizhan serve%s: stop it first, or give this one another data_dir", abs, holder)
	}
	// The pid is for the message above only; the lock is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = f.Truncate(0)
		_ = unlock(f)
		f.Close()
	}, nil
}
