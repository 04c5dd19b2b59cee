package listener

import "golang.org/x/sys/unix"

func acceptsConns(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v == 1
}

func dup2(from, to int) error { return unix.Dup3(from, to, 0) }
