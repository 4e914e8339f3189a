package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// blobDir holds files of messages bigger than InlineMax under
// blobs/<last two hex digits>/<id>.
// A file is written, fsynced and its directory fsynced before any row
// refers to it; a crash in between leaves an orphan file, never a row
// without bytes (orphans are swept by SweepOrphans).
type blobDir struct {
	root   string
	shards sync.Map // shard name -> struct{}: directories known to exist
}

func openBlobDir(root string) (*blobDir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("store: blobs: %w", err)
	}
	return &blobDir{root: root}, nil
}

func (b *blobDir) path(id string) string {
	return filepath.Join(b.root, shardOf(id), id)
}

// shardOf names a blob's directory after the last two hex digits of its id
// (random), so files spread over 256 directories.
func shardOf(id string) string { return id[len(id)-2:] }

// InlineMax is the largest message kept inside the database instead of a
// file of its own. Most mail is smaller; keeping it inline lets it ride the
// batch's single WAL fsync instead of costing a file creation and two
// fsyncs (measured: about half of all server CPU at 32 connections went
// to creating and syncing per-message files). Bigger messages spill to a
// file so they are never held in memory whole.
const InlineMax = 64 << 10

// Blob is a message being written: bytes are buffered in memory up to
// InlineMax, then spilled to a file. Write the bytes, then hand it to
// Deliver (which makes it durable), or Abort it.
type Blob struct {
	dir  *blobDir
	id   string
	buf  []byte   // the bytes while inline
	f    *os.File // the file once spilled
	size int64
	err  error // first write error
	done bool
}

// NewBlob starts a new message blob.
func (s *Store) NewBlob() (*Blob, error) {
	// Time first, then randomness: ids grow with time, so inserts into the
	// blobs key append to its right-most B-tree pages instead of dirtying a
	// random page per message (fewer WAL frames per commit). Shard
	// directories use the random tail.
	var r [16]byte
	binary.BigEndian.PutUint64(r[:8], uint64(time.Now().UnixNano()))
	if _, err := rand.Read(r[8:]); err != nil {
		return nil, fmt.Errorf("store: blob id: %w", err)
	}
	return &Blob{dir: s.blobs, id: hex.EncodeToString(r[:])}, nil
}

// ID returns the blob's id.
func (b *Blob) ID() string { return b.id }

// Reader reads back the bytes written so far (to parse the message
// without holding a second copy).
func (b *Blob) Reader() io.Reader {
	if b.f != nil {
		return io.NewSectionReader(b.f, 0, b.size)
	}
	return bytes.NewReader(b.buf)
}

// Size returns the bytes written so far.
func (b *Blob) Size() int64 { return b.size }

// inline reports whether the blob lives in the database.
func (b *Blob) inline() bool { return b.f == nil }

// Write appends message bytes.
func (b *Blob) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.f == nil && len(b.buf)+len(p) <= InlineMax {
		b.buf = append(b.buf, p...)
		b.size += int64(len(p))
		return len(p), nil
	}
	if b.f == nil {
		if err := b.spill(); err != nil {
			b.err = err
			return 0, err
		}
	}
	n, err := b.f.Write(p)
	b.size += int64(n)
	if err != nil {
		b.err = fmt.Errorf("store: write blob: %w", err)
		return n, b.err
	}
	return n, nil
}

// spill moves the buffered bytes to a new file.
func (b *Blob) spill() error {
	shard := shardOf(b.id)
	if _, ok := b.dir.shards.Load(shard); !ok {
		if err := os.MkdirAll(filepath.Join(b.dir.root, shard), 0o700); err != nil {
			return fmt.Errorf("store: blob dir: %w", err)
		}
		// The new shard directory's own entry must be durable too.
		if err := syncDir(b.dir.root); err != nil {
			return err
		}
		b.dir.shards.Store(shard, struct{}{})
	}
	// Read-write: Reader reads the file back before Deliver (delivery
	// parses the MIME structure, DSNs quote the header).
	f, err := os.OpenFile(b.dir.path(b.id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: create blob: %w", err)
	}
	b.f = f
	if _, err := f.Write(b.buf); err != nil {
		return fmt.Errorf("store: write blob: %w", err)
	}
	b.buf = nil
	return nil
}

// sync makes a spilled blob durable: file data, then its directory entry.
// Called in the writer's own goroutine, so fsyncs of concurrent deliveries
// overlap. An inline blob becomes durable with its row.
func (b *Blob) sync() error {
	if b.done {
		return fmt.Errorf("store: blob %s already finished", b.id)
	}
	b.done = true
	if b.err != nil {
		b.abort()
		return b.err
	}
	if b.inline() {
		return nil
	}
	if err := b.f.Sync(); err != nil {
		b.abort()
		return fmt.Errorf("store: fsync blob: %w", err)
	}
	if err := b.f.Close(); err != nil {
		_ = os.Remove(b.dir.path(b.id))
		return fmt.Errorf("store: close blob: %w", err)
	}
	if err := syncDir(filepath.Dir(b.dir.path(b.id))); err != nil {
		_ = os.Remove(b.dir.path(b.id))
		return err
	}
	return nil
}

func (b *Blob) abort() {
	b.buf = nil
	if b.f != nil {
		_ = b.f.Close()
		_ = os.Remove(b.dir.path(b.id))
	}
}

// Abort discards the blob.
func (b *Blob) Abort() {
	if b.done {
		return
	}
	b.done = true
	b.abort()
}

// remove deletes blob files no row refers to any more.
func (b *blobDir) remove(ids []string) {
	for _, id := range ids {
		_ = os.Remove(b.path(id))
	}
}

// open opens a blob for reading.
func (b *blobDir) open(id string) (*os.File, error) {
	f, err := os.Open(b.path(id))
	if err != nil {
		return nil, fmt.Errorf("store: open blob %s: %w", id, err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: fsync dir %s: %w", dir, err)
	}
	return nil
}

// messageReader serves a stored message: the row's prefix, then the blob.
type messageReader struct {
	io.Reader
	f *os.File
}

func (m *messageReader) Close() error { return m.f.Close() }
