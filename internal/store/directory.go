package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// The directory (domains, accounts, aliases, quotas) changes rarely and is
// read on every RCPT, so the server caches what it reads from it. Admin
// commands change it from other processes, so the cache needs a signal that
// crosses processes: after every committed directory change the writer
// replaces the file directory.version with a fresh random token, and a
// cache is valid while the token it was filled under is still the one in
// the file. Checking it is one stat instead of the several queries a
// recipient lookup makes. (A PostgreSQL back end would use
// LISTEN/NOTIFY for the same signal.)
const directoryVersionFile = "directory.version"

// writeDirectory is write for changes to the directory: the version token
// is replaced once the change is committed.
func (s *Store) writeDirectory(ctx context.Context, fn writeFunc) error {
	return s.write(ctx, func(ctx context.Context, tx dbtx, eff *batchEffects) error {
		eff.directory = true
		return fn(ctx, tx, eff)
	})
}

// bumpDirectory publishes a new directory version token. It runs after
// the commit, so a reader that sees the new token also sees the change.
func (s *Store) bumpDirectory() {
	var b [16]byte
	_, _ = rand.Read(b[:])
	path := filepath.Join(s.dir, directoryVersionFile)
	tmp := path + ".tmp-" + hex.EncodeToString(b[:4])
	token := hex.EncodeToString(b[:])[:16+int(b[15]%16)]
	err := os.WriteFile(tmp, []byte(token), 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		// Caches would keep serving the old directory: say so loudly.
		s.log.Error("store: directory version not updated; restart the server to see the change", "err", err)
	}
}

// DirectoryVersion returns a token that changes whenever the directory
// (domains, accounts, aliases, quotas) changes, in this process or another.
//
// The token is the file's identity, not its content: one stat instead of
// open, read and close (reading it cost 20 µs per lookup under load).
// Every bump creates a new file before the old one goes, so consecutive
// versions always have different inode numbers; the token also carries the
// modification time and the size (the written token has a random length).
func (s *Store) DirectoryVersion(ctx context.Context) (string, error) {
	fi, err := os.Stat(filepath.Join(s.dir, directoryVersionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil // never changed since this feature came in
	}
	if err != nil {
		return "", fmt.Errorf("store: directory version: %w", err)
	}
	return strconv.FormatUint(inode(fi), 36) + "." + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "." + strconv.FormatInt(fi.Size(), 36), nil
}
