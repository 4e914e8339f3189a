//go:build !unix

package daemon

import "os"

// tryLock is a no-op where flock does not exist: one serve per data
// directory is then the operator's to ensure.
func tryLock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
