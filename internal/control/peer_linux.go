package control

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// allowed admits only the server's own user and root (SO_PEERCRED).
func allowed(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("peer credentials: %w", credErr)
	}
	if uid := os.Getuid(); cred.Uid != 0 && int(cred.Uid) != uid {
		return fmt.Errorf("peer uid %d is neither %d nor root", cred.Uid, uid)
	}
	return nil
}
