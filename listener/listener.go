package listener

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/sockaddr"
)

// DefaultSocketMode is the mode of a unix socket file when none is given.
const DefaultSocketMode fs.FileMode = 0o660

// Errors callers test with errors.Is.
var (
	// ErrInUse: a live server listens on the unix socket's path.
	ErrInUse = errors.New("listener: a live server listens on the socket")
	// ErrNotSocket: the unix socket's path holds something else.
	ErrNotSocket = errors.New("listener: the path exists and is not a socket")
	// ErrNotListening: fd 0 is not a listening stream socket.
	ErrNotListening = errors.New("listener: fd 0 is not a listening socket")
	// ErrUnsupported: not available on this system.
	ErrUnsupported = errors.New("listener: not supported on this system")
	// ErrAddress: the address string is malformed.
	ErrAddress = errors.New("listener: bad address")
	// ErrSocketMode: the socket mode is not an octal file mode.
	ErrSocketMode = errors.New("listener: bad socket_mode")
)

// Options says how Open opens a listener. The zero value is ready to use.
type Options struct {
	// SocketMode is the file mode of a unix socket. Zero means
	// DefaultSocketMode (0660). Parse listeners[].socket_mode with
	// ParseSocketMode.
	SocketMode fs.FileMode
	// Owner is the user a unix socket file is given, a name or a number
	// (listeners[].socket_owner); only root may give a file away. Empty:
	// the process's user.
	Owner string
	// Group is the group a unix socket file is given, a name or a number
	// (listeners[].socket_group), e.g. the web server's www-data. Empty: the
	// process's group, or the directory's when the directory is setgid.
	Group string
	// Log receives the replacement of a stale socket file. Nil means none.
	Log *zap.Logger
}

// ErrOwner: socket_owner or socket_group names no user or group, or the
// process may not give the socket to them.
var ErrOwner = errors.New("listener: cannot give the socket its owner")

// LookupOwner resolves a user and a group, names or numbers, to ids; -1
// stands for an empty one. gatewayd check runs it too, so that a misspelt
// group fails before serve.
func LookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil && isID(owner) {
			u, err = user.LookupId(owner)
		}
		if err != nil {
			return -1, -1, fmt.Errorf("%w: socket_owner %q: no such user", ErrOwner, owner)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil && isID(group) {
			g, err = user.LookupGroupId(group)
		}
		if err != nil {
			return -1, -1, fmt.Errorf("%w: socket_group %q: no such group", ErrOwner, group)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// isID reports whether s is a user or group id: a number that fits the
// kernel's 32 bits. os/user's cgo lookup truncates a larger one, and
// 4294967296 would name root.
func isID(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// ParseSocketMode parses an octal file mode such as "0660", "660" or
// "0o660"; "" is DefaultSocketMode.
func ParseSocketMode(s string) (fs.FileMode, error) {
	if s == "" {
		return DefaultSocketMode, nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("%w %q: want an octal mode such as 0660", ErrSocketMode, s)
	}
	return fs.FileMode(n), nil
}

// Open opens a listener on address: "host:port" for TCP, "unix:/path" for a
// unix socket file, "unix:@name" for a Linux abstract socket.
func Open(ctx context.Context, address string, o Options) (net.Listener, error) {
	a, err := sockaddr.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAddress, err)
	}
	path := a.Address
	if a.Network == "tcp" {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", address)
		if err != nil {
			return nil, fmt.Errorf("listener: %w", err)
		}
		return draining(l), nil
	}
	if strings.HasPrefix(path, "@") {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("listener: %w", err)
		}
		return draining(l), nil
	}
	mode := o.SocketMode
	if mode == 0 {
		mode = DefaultSocketMode
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	uid, gid, err := LookupOwner(o.Owner, o.Group)
	if err != nil {
		return nil, err
	}
	if err := clearStale(ctx, path, log); err != nil {
		return nil, err
	}
	return listenUnix(ctx, path, perm{mode: mode, uid: uid, gid: gid, owner: o.Owner, group: o.Group})
}

// perm is what a socket file is given before it appears at its path.
type perm struct {
	mode         fs.FileMode
	uid, gid     int // -1: leave as created
	owner, group string
}

// apply gives the socket file at p its owner, group and mode. The owner
// goes first: chown clears nothing on a socket, but chmod must be last so
// that the mode is exactly the one asked for.
func (pm perm) apply(p string) error {
	if pm.uid >= 0 || pm.gid >= 0 {
		if err := os.Lchown(p, pm.uid, pm.gid); err != nil {
			who := strings.Trim(pm.owner+":"+pm.group, ":")
			hint := "only root may give a file to another user, and a process only to a group it is in (or the group a setgid directory gives)"
			return fmt.Errorf("%w %s: %w; %s", ErrOwner, who, err, hint)
		}
	}
	if err := os.Chmod(p, pm.mode); err != nil {
		return fmt.Errorf("listener: setting socket mode: %w", err)
	}
	return nil
}

// clearStale removes a socket file nobody listens on and refuses a live one.
func clearStale(ctx context.Context, path string, log *zap.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%w: unix:%s (%v)", ErrNotSocket, path, fi.Mode().Type())
	}
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "unix", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: unix:%s; stop it or choose another path", ErrInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// EAGAIN (a full backlog), EACCES and the like: someone may be there.
		return fmt.Errorf("%w: unix:%s: %w", ErrInUse, path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("listener: removing stale socket: %w", err)
	}
	log.Warn("listener: removed a stale socket file left by an earlier run", zap.String("path", path))
	return nil
}

// maxSunPath is the shortest sun_path of the systems we run on, less the NUL.
const maxSunPath = 103

// listenUnix listens on path with mode. The socket is made in a private
// directory beside path, given its mode there, and renamed into place, so
// that it never exists at path with the umask's looser mode. When that
// longer path does not fit in a socket address, it listens at path and
// changes the mode at once.
func listenUnix(ctx context.Context, path string, pm perm) (net.Listener, error) {
	var lc net.ListenConfig
	dir, err := os.MkdirTemp(filepath.Dir(path), ".gatewayd-sock-")
	if err == nil {
		defer os.RemoveAll(dir)
		tmp := filepath.Join(dir, "s")
		if len(tmp) <= maxSunPath {
			l, err := lc.Listen(ctx, "unix", tmp)
			if err != nil {
				return nil, fmt.Errorf("listener: %w", err)
			}
			ul := l.(*net.UnixListener)
			ul.SetUnlinkOnClose(false)
			if err := pm.apply(tmp); err != nil {
				l.Close()
				return nil, err
			}
			if err := os.Rename(tmp, path); err != nil {
				l.Close()
				return nil, fmt.Errorf("listener: %w", err)
			}
			return newUnixListener(ul, path), nil
		}
	}
	l, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := pm.apply(path); err != nil {
		l.Close()
		os.Remove(path)
		return nil, err
	}
	return newUnixListener(ul, path), nil
}

// unixListener removes its socket file on Close, unless another file has
// taken its place. It removes it first, so that a web server's new
// connections fail at once (nginx logs connect() failed, ENOENT) while the
// ones already queued are taken and served (see backlog).
type unixListener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	b    backlog
}

func newUnixListener(l *net.UnixListener, path string) *unixListener {
	fi, _ := os.Lstat(path)
	return &unixListener{UnixListener: l, path: path, fi: fi}
}

func (l *unixListener) Accept() (net.Conn, error) { return l.b.accept(l.UnixListener) }

func (l *unixListener) Close() error {
	return l.b.close(l.UnixListener, func() {
		if fi, err := os.Lstat(l.path); err == nil && l.fi != nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
}

// Addr is the socket's path: the socket may have been bound under a
// temporary name and renamed into place.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

var _ net.Listener = (*unixListener)(nil)
