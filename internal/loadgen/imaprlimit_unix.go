//go:build unix

package loadgen

import "syscall"

// raiseFileLimit raises the soft limit on open files (RLIMIT_NOFILE) to the
// hard limit, since every held connection is a descriptor, and returns the
// limit in force. Go's os package already does this at start-up on most
// Unix systems (Go 1.19+); doing it here makes the limit known and keeps
// it true where that did not happen.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return uint64(lim.Cur), nil
}
