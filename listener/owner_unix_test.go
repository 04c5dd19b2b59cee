//go:build unix

package listener

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenUnixOwnerAndGroup: socket_owner and socket_group give the socket
// file its owner and group before it appears at its path (php-fpm's
// listen.owner and listen.group), and a name that resolves to nobody is an
// error naming it.
func TestOpenUnixOwnerAndGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	path := filepath.Join(t.TempDir(), "g.sock")
	l, err := Open(context.Background(), "unix:"+path, Options{Owner: "nobody", Group: "www-data", SocketMode: 0o660})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	uid, gid, _ := LookupOwner("nobody", "www-data")
	if int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %d:%d %o, want %d:%d 660", st.Uid, st.Gid, fi.Mode().Perm(), uid, gid)
	}
	_, err = Open(context.Background(), "unix:"+filepath.Join(t.TempDir(), "h.sock"), Options{Group: "no-such-group-here"})
	if !errors.Is(err, ErrOwner) || !strings.Contains(err.Error(), `"no-such-group-here"`) {
		t.Errorf("unknown group: %v", err)
	}
}
