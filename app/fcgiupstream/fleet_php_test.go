//go:build unix

package fcgiupstream

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestPHPFleet: two real php-fpm pools behind one route. Under a steady
// load one is stopped: no request fails but those in flight on it; it is
// skipped while down and used again once it is back; no pool ever sees more
// than max_conns connections from gatewayd.
func TestPHPFleet(t *testing.T) {
	root := peertest.Dir(t)
	for name, s := range phpScripts {
		peertest.WriteFile(t, root, name, s)
	}
	dirA, dirB := peertest.Dir(t), peertest.Dir(t)
	procA, sockA := peertest.PHPFPMWith(t, dirA, peertest.PHPFPMOptions{Workers: 2})
	procB, sockB := peertest.PHPFPMWith(t, dirB, peertest.PHPFPMOptions{Workers: 2})
	u := newUpstream(t, Config{Upstreams: []string{"unix:" + sockA, "unix:" + sockB}, Root: root, MaxConns: 2})
	masterB := strconv.Itoa(procB.Cmd.Process.Pid)
	masterA := strconv.Itoa(procA.Cmd.Process.Pid)

	// Every open connection to each pool, counted by the kernel while the
	// load runs: the accepted ends in /proc/net/unix carry the socket's path.
	var maxOpen atomic.Int64
	sample := func() {
		for _, sock := range []string{sockA, sockB} {
			if n := int64(unixConns(t, sock)); n > maxOpen.Load() {
				maxOpen.Store(n)
			}
		}
	}
	var mu sync.Mutex
	served := map[string]int{}
	var failed atomic.Int64
	run := func(n int) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range n {
					r := serve(t, u, reqEnv("GET", "/ppid.php", "QUERY_STRING", "ms=5"), nil)
					sample()
					if r.status != 200 {
						failed.Add(1)
						continue
					}
					mu.Lock()
					served[r.body]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	run(10)
	if served[masterA] == 0 || served[masterB] == 0 {
		t.Errorf("served by pool: %v (a %s, b %s)", served, masterA, masterB)
	}

	// Stop b while the load runs.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := procB.Stop(); err != nil {
			t.Error(err)
		}
	}()
	run(30)
	<-stopped
	if n := failed.Load(); n > 2 {
		t.Errorf("%d requests failed; only the 2 in flight on the stopped pool may", n)
	}

	// b comes back on its socket and gets requests again.
	procB, _ = peertest.PHPFPMWith(t, dirB, peertest.PHPFPMOptions{Workers: 2})
	masterB = strconv.Itoa(procB.Cmd.Process.Pid)
	peertest.WaitReady(t, procB, "the restarted pool to get requests", func() error {
		run(2)
		mu.Lock()
		defer mu.Unlock()
		if served[masterB] == 0 {
			return errNotYet
		}
		return nil
	})
	if m := maxOpen.Load(); m > 2 || m == 0 {
		t.Errorf("%d connections open to one pool at most; max_conns 2 (and some were counted)", m)
	}
}

// unixConns counts the connected sockets of the unix socket path: php-fpm's
// ends of the connections made to it.
func unixConns(t *testing.T, path string) int {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Skipf("no /proc/net/unix: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path; St 03 is connected.
		if len(f) == 8 && f[5] == "03" && f[7] == path {
			n++
		}
	}
	return n
}
