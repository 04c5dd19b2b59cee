package peertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// PHPFPMOptions tunes the php-fpm pool [PHPFPMWith] starts.
type PHPFPMOptions struct {
	// Workers is pm.max_children of a static pool. Zero means 2.
	Workers int
	// MaxRequests is pm.max_requests: a worker exits after serving that
	// many requests and the master starts a new one. Zero means never.
	MaxRequests int
	// Env is added to php-fpm's own environment (the recipe clears it for
	// the workers: clear_env = yes).
	Env []string
	// Pool is appended to the pool section of the recipe: more
	// directives, which override the recipe's ("listen.backlog = 0").
	Pool string
}

// PHPFPM starts php-fpm8.2 in the foreground with the pool from
// docs/recipes/php-fpm.conf: workers static workers listening on the unix
// socket dir/php-fpm.sock (mode 0666), the error log in dir/php-fpm.log. It
// waits until the socket accepts connections and returns the process and the
// socket's path. Calling it again with the same dir after the first process
// stopped restarts php-fpm on the same socket.
func PHPFPM(t testing.TB, dir string, workers int) (*Process, string) {
	t.Helper()
	return PHPFPMWith(t, dir, PHPFPMOptions{Workers: workers})
}

// PHPFPMWith is [PHPFPM] with more options.
func PHPFPMWith(t testing.TB, dir string, o PHPFPMOptions) (*Process, string) {
	t.Helper()
	bin := Need(t, "php-fpm8.2", "/usr/sbin/php-fpm8.2")
	if o.Workers <= 0 {
		o.Workers = 2
	}
	socket := filepath.Join(dir, "php-fpm.sock")
	conf := Recipe(t, "php-fpm.conf", map[string]string{
		"DIR":          dir,
		"SOCKET":       socket,
		"WORKERS":      strconv.Itoa(o.Workers),
		"MAX_REQUESTS": strconv.Itoa(o.MaxRequests),
	})
	if o.Pool != "" {
		conf += "\n" + o.Pool + "\n"
	}
	path := WriteFile(t, dir, "php-fpm.conf", conf)
	cmd := exec.Command(bin, "-F", "-R", "-y", path, "-p", dir)
	cmd.Env = append(os.Environ(), o.Env...)
	p := Start(t, cmd)
	WaitReady(t, p, "php-fpm on "+socket, Dial("unix:"+socket))
	return p, socket
}

// PHPFPMErrorLog returns php-fpm's error log from the directory given to
// [PHPFPM].
func PHPFPMErrorLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "php-fpm.log"))
	return string(b)
}
