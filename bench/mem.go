//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// memRow is the memory of one server on the daemon path: resident when
// idle (ready, before any load) and after its scenario's runs, and the
// peak, in KiB as /proc/PID/status gives them.
type memRow struct {
	Setup                string
	Idle, After, Peak    int64
	MaxIdleMB, MaxPeakMB float64
}

// memory reads VmRSS and VmHWM of pid.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb
		case "VmHWM":
			peak = kb
		}
	}
	return rss, peak, nil
}

// watchMemory notes p's idle memory now and returns a function that adds
// its row once the scenario's runs are done.
func (h *harness) watchMemory(setup string, p *proc) (func(), error) {
	idle, _, err := memory(p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	return func() {
		rss, peak, err := memory(p.cmd.Process.Pid)
		if err != nil {
			return
		}
		h.report.Mem = append(h.report.Mem, memRow{Setup: setup, Idle: idle, After: rss, Peak: peak, MaxIdleMB: 15, MaxPeakMB: 40})
	}, nil
}

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

// memMarkdown renders the memory rows.
func (r *report) memMarkdown(b *strings.Builder) {
	if len(r.Mem) == 0 {
		return
	}
	b.WriteString("\nMemory of the daemon path (the ServeWith servers above, metrics on), from /proc/PID/status:\n\n")
	b.WriteString("| server | idle RSS MB | RSS after its runs MB | peak RSS MB | target | met |\n")
	b.WriteString("| --- | ---: | ---: | ---: | --- | --- |\n")
	for _, m := range r.Mem {
		met := "yes"
		if float64(m.Idle)/1024 > m.MaxIdleMB || float64(m.Peak)/1024 > m.MaxPeakMB {
			met = "**no**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | idle ≤ %.0f MB, peak ≤ %.0f MB | %s |\n",
			m.Setup, mb(m.Idle), mb(m.After), mb(m.Peak), m.MaxIdleMB, m.MaxPeakMB, met)
	}
}
