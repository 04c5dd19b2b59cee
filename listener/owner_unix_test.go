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

// TestLookupOwner: socket_owner and socket_group are names or numbers,
// empty is -1 (left as created), and one that resolves to nobody is
// ErrOwner naming the key and the value; no root needed, so that every run
// checks it (gatewayd check relies on it).
func TestLookupOwner(t *testing.T) {
	for _, tc := range []struct {
		owner, group string
		uid, gid     int
	}{
		{"", "", -1, -1},
		{"root", "", 0, -1},
		{"0", "0", 0, 0},
		{"", "0", -1, 0},
	} {
		uid, gid, err := LookupOwner(tc.owner, tc.group)
		if err != nil || uid != tc.uid || gid != tc.gid {
			t.Errorf("LookupOwner(%q, %q) = %d, %d, %v; want %d, %d", tc.owner, tc.group, uid, gid, err, tc.uid, tc.gid)
		}
	}
	for _, tc := range []struct{ owner, group, want string }{
		{"no-such-user-here", "", `socket_owner "no-such-user-here"`},
		{"", "no-such-group-here", `socket_group "no-such-group-here"`},
		{"root", "no-such-group-here", `socket_group "no-such-group-here"`},
		// Past 32 bits: os/user's cgo lookup wraps these to root.
		{"", "4294967296", `socket_group "4294967296"`},
		{"4294967296", "", `socket_owner "4294967296"`},
		{"-1", "", `socket_owner "-1"`},
	} {
		uid, gid, err := LookupOwner(tc.owner, tc.group)
		if !errors.Is(err, ErrOwner) || !strings.Contains(err.Error(), tc.want) || uid != -1 || gid != -1 {
			t.Errorf("LookupOwner(%q, %q) = %d, %d, %v; want ErrOwner naming %s", tc.owner, tc.group, uid, gid, err, tc.want)
		}
	}
}
