package cgiscript

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
)

// containments are the ways a tree is held that this machine offers: a
// cgroup per script where cgroup v2 is writable, and the session fallback.
func containments(t *testing.T) []string {
	modes := []string{"session"}
	c := newContainment(true, zap.NewNop())
	defer c.close()
	if c.cgroupBase != "" {
		modes = append(modes, "cgroup")
	} else {
		t.Log("no writable cgroup v2 here: only the session fallback is tested")
	}
	return modes
}

// treeRunner is newRunner in the given containment mode.
func treeRunner(t *testing.T, mode string, cfg Config) (*Runner, string) {
	t.Helper()
	pids := t.TempDir()
	cfg.Env = map[string]string{"PIDDIR": pids}
	cfg.noCgroup = mode != "cgroup"
	rn := newRunner(t, cfg, nil)
	if got := rn.cont.mode(); got != mode {
		t.Fatalf("containment %s, want %s", got, mode)
	}
	return rn, pids
}

// exists reports whether /proc has pid: alive, or a zombie nobody reaped.
func exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// TestTreeEndOfRequest: what a script leaves running is killed and reaped
// by the time its response is complete — a double fork in every mode, and
// a grandchild that also calls setsid where scripts get a cgroup.
func TestTreeEndOfRequest(t *testing.T) {
	for _, mode := range containments(t) {
		for _, q := range []string{"fork", "setsid"} {
			t.Run(mode+"/"+q, func(t *testing.T) {
				rn, pids := treeRunner(t, mode, Config{})
				s := serve(t, context.Background(), rn, cgiEnv("GET", "/escape.cgi", q), nil, nil)
				if s.resp == nil || s.resp.StatusCode != 200 || s.body != "ok\n" {
					t.Fatalf("answer %q", s.raw)
				}
				script, gc := readPid(t, filepath.Join(pids, "script.pid")), readPid(t, filepath.Join(pids, "grandchild.pid"))
				if exists(script) {
					t.Errorf("script %d still in /proc after its response", script)
				}
				if mode == "session" && q == "setsid" {
					// The fallback's documented limit: only Shutdown finds it.
					if !exists(gc) {
						t.Errorf("grandchild %d gone: the session fallback cannot see it, the test is wrong", gc)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := rn.Shutdown(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if exists(gc) {
					t.Errorf("grandchild %d (%s) outlived the request (mode %s)", gc, q, mode)
				}
			})
		}
	}
}

// TestTreeTimeout: at the timeout the whole tree goes, a grandchild in a
// session of its own included (by Shutdown at the latest in the fallback).
func TestTreeTimeout(t *testing.T) {
	for _, mode := range containments(t) {
		t.Run(mode, func(t *testing.T) {
			rn, pids := treeRunner(t, mode, Config{Timeout: 300 * time.Millisecond})
			s := serve(t, context.Background(), rn, cgiEnv("GET", "/escape.cgi", "setsid sleep"), nil, nil)
			if !s.res.Incomplete() && (s.resp == nil || s.resp.StatusCode != http.StatusGatewayTimeout) {
				t.Fatalf("answer %q, want 504 or a cut response", s.raw)
			}
			script, gc := readPid(t, filepath.Join(pids, "script.pid")), readPid(t, filepath.Join(pids, "grandchild.pid"))
			if exists(script) {
				t.Errorf("script %d still in /proc after the timeout", script)
			}
			if mode == "session" {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := rn.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if exists(gc) {
				t.Errorf("grandchild %d outlived the timeout (mode %s)", gc, mode)
			}
		})
	}
}

// TestTreeShutdown: Shutdown kills and reaps the whole tree of a running
// script, setsid grandchild included.
func TestTreeShutdown(t *testing.T) {
	for _, mode := range containments(t) {
		t.Run(mode, func(t *testing.T) {
			rn, pids := treeRunner(t, mode, Config{KillGrace: 200 * time.Millisecond})
			done := make(chan served, 1)
			go func() {
				done <- serve(t, context.Background(), rn, cgiEnv("GET", "/escape.cgi", "setsid sleep"), nil, nil)
			}()
			gc := readPid(t, filepath.Join(pids, "grandchild.pid"))
			script := readPid(t, filepath.Join(pids, "script.pid"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := rn.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			<-done
			for _, pid := range []int{script, gc} {
				if exists(pid) {
					t.Errorf("process %d outlived Shutdown (mode %s)", pid, mode)
				}
			}
		})
	}
}

// TestTreeHeldStdout: a descendant that keeps the script's stdout open
// does not hold the response: it ends when the script has exited.
func TestTreeHeldStdout(t *testing.T) {
	for _, mode := range containments(t) {
		t.Run(mode, func(t *testing.T) {
			ev := newEvents()
			rn, pids := treeRunner(t, mode, Config{Timeout: 20 * time.Second, Observer: ev})
			s := serve(t, context.Background(), rn, cgiEnv("GET", "/escape.cgi", "setsid hold"), nil, nil)
			if s.resp == nil || s.resp.StatusCode != 200 || s.body != "ok\n" || s.res.Incomplete() {
				t.Fatalf("answer %q (result %+v)", s.raw, s.res)
			}
			if !ev.has("ended escape.cgi ok") || ev.has("timeout escape.cgi") {
				t.Errorf("events %v: the script's end did not end the response", ev.list)
			}
			_ = readPid(t, filepath.Join(pids, "grandchild.pid"))
		})
	}
}

// TestReaperLeavesOthersChildren: gatewayd reaps orphans it adopted, never
// a child that os/exec started elsewhere in the process and will Wait for.
func TestReaperLeavesOthersChildren(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	if !rn.cont.reaper {
		t.Skip("no pidfd here: gatewayd does not become a subreaper")
	}
	cmd := exec.Command("sh", "-c", "exit 7")
	must(t, cmd.Start())
	waitFor(t, "the child to exit", func() bool {
		st, ok := readStat(cmd.Process.Pid)
		return ok && st.state == 'Z'
	})
	rn.cont.sweep()
	s := get(t, rn, "GET /hello.cgi HTTP/1.0\r\n\r\n") // sweeps at its end
	if s.resp.StatusCode != 200 {
		t.Fatalf("answer %q", s.raw)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("Wait of another's child: %v, want exit status 7 (the reaper took it)", err)
	}
}

// BenchmarkTree is the cost of holding a script's tree, by containment
// mode, for the smallest script.
func BenchmarkTree(b *testing.B) {
	modes := []string{"session"}
	c := newContainment(true, zap.NewNop())
	c.close()
	if c.cgroupBase != "" {
		modes = append(modes, "cgroup")
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			rn := newRunner(b, Config{noCgroup: mode != "cgroup"}, zap.NewNop())
			b.ReportAllocs()
			for b.Loop() {
				s := serve(b, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil)
				if s.resp == nil || s.resp.StatusCode != 200 {
					b.Fatalf("answer %q", s.raw)
				}
			}
		})
	}
}

// TestReaperReapsOrphansAnytime: an orphan gatewayd adopted is reaped when
// it dies, also between requests — here the orphan of a command the test
// itself ran, as a library user's would be.
func TestReaperReapsOrphansAnytime(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	if !rn.cont.reaper {
		t.Skip("no pidfd here: gatewayd does not become a subreaper")
	}
	pidfile := filepath.Join(t.TempDir(), "orphan.pid")
	r, w, err := os.Pipe()
	must(t, err)
	defer w.Close()
	// An asynchronous list gets /dev/null as stdin unless redirected.
	cmd := exec.Command("sh", "-c", `exec 3<&0; sh -c 'echo $$ > "$PIDF.tmp"; mv "$PIDF.tmp" "$PIDF"; exec cat >/dev/null' <&3 &`)
	cmd.Env = append(os.Environ(), "PIDF="+pidfile)
	cmd.Stdin = r
	must(t, cmd.Run())
	r.Close()
	pid := readPid(t, pidfile)
	if st, ok := readStat(pid); !ok || st.ppid != os.Getpid() {
		t.Fatalf("orphan %d not adopted by the test process: %+v", pid, st)
	}
	w.Close() // the orphan's cat reads EOF and exits
	waitFor(t, "the dead orphan to be reaped", func() bool { return !exists(pid) })
}
