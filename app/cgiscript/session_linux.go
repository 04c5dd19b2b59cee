package cgiscript

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Session mode: where no cgroup holds a script, its tree is read from
// /proc — its descendants, and the orphans it left in its session or
// process group.

// stat is what tree handling reads of /proc/<pid>/stat.
type stat struct {
	state           byte
	ppid, pgrp, sid int
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || f[0] == "" {
		return stat{}, false
	}
	st := stat{state: f[0][0]}
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	st.sid, _ = strconv.Atoi(f[3])
	return st, true
}

func alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z'
}

// sessionTree lists the live processes of a script's tree in session mode:
// the script's descendants, and the orphans gatewayd adopted from it —
// those still in its session or process group, with their descendants.
// Without a subreaper the orphans went to init; then every process in the
// session or group is looked up in /proc.
func (t *tree) sessionTree() []int {
	if !t.c.reaper {
		return sessionMembers(t.pid)
	}
	seen := map[int]bool{t.pid: true}
	pids := descendants(nil, t.pid, seen)
	for _, pid := range children() {
		if seen[pid] {
			continue
		}
		if st, ok := readStat(pid); ok && st.state != 'Z' && (st.sid == t.pid || st.pgrp == t.pid) {
			seen[pid] = true
			pids = descendants(append(pids, pid), pid, seen)
		}
	}
	return pids
}

// descendants appends the descendants of pid.
func descendants(pids []int, pid int, seen map[int]bool) []int {
	queue := []int{pid}
	var kids []int
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, _ = taskChildren(strconv.Itoa(p), kids[:0])
		for _, c := range kids {
			if !seen[c] {
				seen[c] = true
				pids = append(pids, c)
				queue = append(queue, c)
			}
		}
	}
	return pids
}

// sessionMembers lists the live processes in session or process group sid.
func sessionMembers(sid int) []int {
	return scanProc(func(pid int, st stat) bool {
		return pid != sid && st.state != 'Z' && (st.sid == sid || st.pgrp == sid)
	})
}

// scanProc lists the processes in /proc whose stat match accepts: the one
// walk of every process, for what no narrower list in /proc gives.
func scanProc(match func(pid int, st stat) bool) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && match(pid, st) {
			pids = append(pids, pid)
		}
	}
	return pids
}
