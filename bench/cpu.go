//go:build unix

package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux the harness runs on (it is fixed by the kernel ABI for x86 and arm).
const clockTick = 10 * time.Millisecond

// cpuSplit is CPU time the server side spent, split by process: nginx,
// php-fpm, and the rest (App: the server a row measures, gatewayd,
// net/http, uWSGI or fcgiwrap, with the scripts it runs). php-fpm has a part
// of its own so that gatewayd's time in front of it is read beside nginx's.
type cpuSplit struct {
	Nginx, App, PHP time.Duration
}

// total is the whole server side's time.
func (s cpuSplit) total() time.Duration { return s.Nginx + s.App + s.PHP }

// plus adds o times n to s: combine's sum over rounds, weighted by requests.
func (s cpuSplit) plus(o cpuSplit, n time.Duration) cpuSplit {
	return cpuSplit{Nginx: s.Nginx + o.Nginx*n, App: s.App + o.App*n, PHP: s.PHP + o.PHP*n}
}

// div divides every part by n.
func (s cpuSplit) div(n time.Duration) cpuSplit {
	return cpuSplit{Nginx: s.Nginx / n, App: s.App / n, PHP: s.PHP / n}
}

// processKind is the part of a cpuSplit a peer's time goes to, by the name
// the harness started it under.
type processKind int

const (
	kindApp processKind = iota
	kindNginx
	kindPHP
)

func kindOf(name string) processKind {
	switch {
	case strings.HasPrefix(name, "nginx"):
		return kindNginx
	case strings.HasPrefix(name, "php-fpm"):
		return kindPHP
	}
	return kindApp
}

// cpuNow sums user and system time, including reaped children's, of every
// process in the groups of the peers started so far.
func (h *harness) cpuNow() cpuSplit {
	groups := map[int]processKind{} // pgid → kind
	for _, p := range h.procs {
		groups[p.cmd.Process.Pid] = kindOf(p.name)
	}
	var s cpuSplit
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return s
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone already
		}
		pgrp, ticks, ok := parseStat(string(b))
		if !ok {
			continue
		}
		kind, ours := groups[pgrp]
		if !ours {
			continue
		}
		t := time.Duration(ticks) * clockTick
		switch kind {
		case kindNginx:
			s.Nginx += t
		case kindPHP:
			s.PHP += t
		default:
			s.App += t
		}
	}
	return s
}

// parseStat reads a /proc/PID/stat line: the process group and utime +
// stime + cutime + cstime in clock ticks.
func parseStat(stat string) (pgrp int, ticks int64, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(stat[i+1:])
	// f[0] state, f[1] ppid, f[2] pgrp, … f[11] utime, f[12] stime,
	// f[13] cutime, f[14] cstime.
	if len(f) < 15 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	for _, k := range f[11:15] {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		ticks += n
	}
	return pgrp, ticks, true
}

// perRequest divides the CPU spent between two snapshots by n requests.
func (s cpuSplit) perRequest(before cpuSplit, n int64) cpuSplit {
	if n <= 0 {
		return cpuSplit{}
	}
	return s.plus(before, -1).div(time.Duration(n))
}

// coreTimes is what /proc/stat says of a set of CPUs: ticks spent busy
// (anything but idle and iowait) and in all.
type coreTimes struct{ busy, total int64 }

// readCoreTimes sums /proc/stat's lines for cpus (a taskset list such as
// "0" or "0,2-3"). /proc/stat counts every process of the machine, also
// those of other containers that share its cores.
func readCoreTimes(cpus string) (coreTimes, bool) {
	want, ok := parseCPUList(cpus)
	if !ok {
		return coreTimes{}, false
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return coreTimes{}, false
	}
	return parseCoreTimes(string(b), want)
}

func parseCoreTimes(stat string, want map[int]bool) (coreTimes, bool) {
	var t coreTimes
	found := 0
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil || !want[n] {
			continue
		}
		// user nice system idle iowait irq softirq steal (guest time is
		// already in user).
		for i, v := range f[1:min(len(f), 9)] {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return coreTimes{}, false
			}
			t.total += x
			if i != 3 && i != 4 {
				t.busy += x
			}
		}
		found++
	}
	return t, found == len(want)
}

// parseCPUList reads a taskset CPU list: "0", "1,3", "0-2".
func parseCPUList(s string) (map[int]bool, bool) {
	if s == "" {
		return nil, false
	}
	m := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1024 {
				return nil, false
			}
		}
		for i := a; i <= b; i++ {
			m[i] = true
		}
	}
	return m, true
}

// foreignLoad is the share of the server CPUs' time that went to processes
// other than the harness's peers between two readings: another tenant of
// the machine, which makes that measurement less trustworthy. ours is the
// CPU time the peers used meanwhile.
func foreignLoad(before, after coreTimes, ours time.Duration) float64 {
	total := after.total - before.total
	if total <= 0 {
		return 0
	}
	busy := float64(after.busy-before.busy) - float64(ours)/float64(clockTick)
	return max(0, busy/float64(total))
}
