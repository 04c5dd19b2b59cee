//go:build unix && !linux

package listener

import "golang.org/x/sys/unix"

// acceptsConns cannot ask every system; getpeername's ENOTCONN and the
// socket type have been checked, and net.FileListener fails on the rest.
func acceptsConns(int) bool { return true }

func dup2(from, to int) error { return unix.Dup2(from, to) }
