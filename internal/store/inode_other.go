//go:build !unix

package store

import "io/fs"

// inode is unknown here; modification time and size remain.
func inode(fs.FileInfo) uint64 { return 0 }
