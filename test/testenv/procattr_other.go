//go:build !linux

package testenv

import "os/exec"

// dieWithParent is a no-op where the kernel has no parent-death signal.
func dieWithParent(cmd *exec.Cmd) {}
