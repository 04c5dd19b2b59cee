package fcgiupstream

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestStatsShowAFailingUpstream: what the status page reads of a pool whose
// upstream is not there, without a lock.
func TestStatsShowAFailingUpstream(t *testing.T) {
	root := peertest.Dir(t)
	peertest.WriteFile(t, root, "x.php", "<?php\n")
	upstream := "unix:" + filepath.Join(root, "nobody.sock")
	up, err := New(Config{Upstream: upstream, Root: root, MaxConns: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if s := up.Stats(); s != (Stats{Upstream: upstream, MaxConns: 3, QueueSize: DefaultQueueSize, Health: HealthUnknown}) {
		t.Errorf("before any request: %+v", s)
	}
	before := time.Now()
	if r := serve(t, up, reqEnv("GET", "/x.php"), nil); r.status != 502 {
		t.Fatalf("status %d", r.status)
	}
	s := up.Stats()
	if s.Health != HealthDown || s.Health.String() != "down" || s.InUse != 0 || s.Waiting != 0 ||
		!strings.Contains(s.LastError, "connect") || s.LastErrorAt.Before(before) {
		t.Errorf("after a failed connect: %+v", s)
	}
}
