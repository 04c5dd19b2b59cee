//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The markers between which -write puts the tables.
const (
	markStart = "<!-- bench:start -->"
	markEnd   = "<!-- bench:end -->"
)

// errMarkers is returned when the page lacks the markers.
var errMarkers = errors.New("bench: markers missing")

// target is what a row must reach against its reference row.
type target struct {
	MinRate float64 // req/s ratio at least; 0 for none
	MaxP99  float64 // p99 ratio at most; 0 for none
}

func (t target) String() string {
	var s []string
	if t.MinRate > 0 {
		s = append(s, fmt.Sprintf("≥ %.1f× req/s", t.MinRate))
	}
	if t.MaxP99 > 0 {
		s = append(s, fmt.Sprintf("p99 ≤ %.0f×", t.MaxP99))
	}
	if len(s) == 0 {
		return "—"
	}
	return strings.Join(s, ", ")
}

// loadRow is one wrk measurement.
type loadRow struct {
	Group   string
	Setup   string
	Res     wrkResult
	CPU     cpuSplit // server-side CPU time per request
	Spread  float64  // half the range of the rounds' req/s over their mean
	Foreign float64  // share of the server CPUs other tenants took, mean of the rounds
	Ref     string   // Setup of the row in the same Group this one is compared with
	Target  target
}

// startRow is one program timed by hyperfine.
type startRow struct {
	Setup    string
	Res      hyperfineResult
	Ref      string
	MaxRatio float64 // median time ratio at most; 0 for none
}

// report is what a run measured.
type report struct {
	Load     []loadRow
	Start    []startRow
	Mem      []memRow
	Failures []string

	root    string
	machine string
	opt     options
	when    time.Time
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// markdown renders the tables, with ratios and whether each target is met.
func (r *report) markdown() string {
	var b strings.Builder
	when := r.when
	if when.IsZero() {
		when = time.Now()
	}
	fmt.Fprintf(&b, "Measured %s on %s.\n", when.UTC().Format("2006-01-02"), r.machine)
	if len(r.Load) > 0 {
		pin := "not pinned"
		if r.opt.serverCPU != "" || r.opt.clientCPU != "" {
			pin = fmt.Sprintf("servers and nginx on CPU %s, wrk on CPU %s", or(r.opt.serverCPU, "any"), or(r.opt.clientCPU, "any"))
		}
		fmt.Fprintf(&b, "wrk: 1 thread, %d connections, %v warm-up, then %d × %v per row, interleaved with the other side; "+
			"req/s and p99 are the median of the rounds, ± half their range; %s; pools of %d.\n",
			r.opt.conns, r.opt.warmup, r.opt.rounds, r.opt.duration, pin, r.opt.workers)
		b.WriteString("\n| scenario | setup | req/s | p99 ms | errors | CPU µs/req nginx + app + php-fpm | other load | req/s ratio | p99 ratio | CPU/req ratio | target | met |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
		for _, row := range r.Load {
			rate, p99, cpu, met := "", "", "", ""
			if ref, ok := r.loadRef(row); ok {
				rr := row.Res.ReqPerSec / ref.Res.ReqPerSec
				pr := float64(row.Res.P99) / float64(ref.Res.P99)
				rate, p99 = fmt.Sprintf("%.2f×", rr), fmt.Sprintf("%.2f×", pr)
				// How many of this row's requests fit in the CPU time one
				// of the reference's takes: the throughput ratio a
				// saturated, undisturbed server CPU would show.
				if mine, theirs := row.CPU.total(), ref.CPU.total(); mine > 0 && theirs > 0 {
					cpu = fmt.Sprintf("%.2f×", float64(theirs)/float64(mine))
				}
				ok := (row.Target.MinRate == 0 || rr >= row.Target.MinRate) &&
					(row.Target.MaxP99 == 0 || pr <= row.Target.MaxP99) && row.Res.Errors() == 0 && ref.Res.Errors() == 0
				switch {
				case row.Target == target{}:
					met = "—"
				case ok:
					met = "yes"
				default:
					met = "**no**"
				}
			}
			tgt := ""
			if row.Ref != "" {
				tgt = row.Target.String()
			}
			other := "—"
			if row.Foreign >= 0 {
				other = fmt.Sprintf("%.0f%%", row.Foreign*100)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
				row.Group, row.Setup, reqs(row), ms(row.Res.P99), row.Res.Errors(), row.CPU, other, rate, p99, cpu, tgt, met)
		}
	}
	if len(r.Start) > 0 {
		rounds := "one round"
		if r.opt.rounds > 1 {
			rounds = fmt.Sprintf("%d rounds of rotating order", r.opt.rounds)
		}
		fmt.Fprintf(&b, "\nCGI start-up: hyperfine, %d runs of each program in %s, on the server CPU "+
			"(wall time of one request, process start to exit; ratios of the medians):\n\n", r.Start[0].Res.Runs, rounds)
		b.WriteString("| program | mean ms | σ ms | median ms | min ms | time ratio | target | met |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
		for _, row := range r.Start {
			ratio, tgt, met := "", "", ""
			for _, ref := range r.Start {
				if row.Ref != "" && ref.Setup == row.Ref {
					q := float64(row.Res.Median) / float64(ref.Res.Median)
					ratio = fmt.Sprintf("%.2f×", q)
					if row.MaxRatio == 0 {
						tgt, met = "—", "—"
					} else if tgt, met = fmt.Sprintf("≤ %.1f×", row.MaxRatio), "yes"; q > row.MaxRatio {
						met = "**no**"
					}
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row.Setup,
				ms(row.Res.Mean), ms(row.Res.Stddev), ms(row.Res.Median), ms(row.Res.Min), ratio, tgt, met)
		}
	}
	r.memMarkdown(&b)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\nFAILED: %s\n", strings.SplitN(f, "\n", 2)[0])
	}
	return b.String()
}

// reqs is the row's req/s, with the spread of its rounds when there were
// several.
func reqs(row loadRow) string {
	if row.Spread == 0 {
		return fmt.Sprintf("%.0f", row.Res.ReqPerSec)
	}
	return fmt.Sprintf("%.0f ±%.0f%%", row.Res.ReqPerSec, row.Spread*100)
}

// String is "nginx + app + php-fpm" in microseconds, each part named, and
// only the parts of the row's path: less than half a microsecond is an idle
// peer of another row that woke during the round. A row without nginx and
// php-fpm is the app's number alone.
func (c cpuSplit) String() string {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	const idle = time.Microsecond / 2
	switch {
	case c == cpuSplit{}:
		return "—"
	case c.Nginx < idle && c.PHP < idle:
		return fmt.Sprintf("%.1f", us(c.App))
	}
	var parts []string
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"nginx", c.Nginx}, {"app", c.App}, {"php-fpm", c.PHP}} {
		if p.d >= idle {
			parts = append(parts, fmt.Sprintf("%s %.0f", p.name, us(p.d)))
		}
	}
	return strings.Join(parts, " + ")
}

func (r *report) loadRef(row loadRow) (loadRow, bool) {
	if row.Ref == "" {
		return loadRow{}, false
	}
	for _, o := range r.Load {
		if o.Group == row.Group && o.Setup == row.Ref && o.Res.ReqPerSec > 0 && o.Res.P99 > 0 {
			return o, true
		}
	}
	return loadRow{}, false
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// replaceBetweenMarkers puts table between the markers of page. Each
// marker must stand alone on exactly one line, so that a page may mention
// them in its text.
func replaceBetweenMarkers(page, table string) (string, error) {
	var starts, ends []int // offsets of the lines holding a marker alone
	off := 0
	for _, line := range strings.SplitAfter(page, "\n") {
		switch strings.TrimRight(line, "\r\n") {
		case markStart:
			starts = append(starts, off)
		case markEnd:
			ends = append(ends, off)
		}
		off += len(line)
	}
	if len(starts) != 1 || len(ends) != 1 || ends[0] < starts[0] {
		return "", fmt.Errorf("%w: want one line %s, then one line %s", errMarkers, markStart, markEnd)
	}
	i := starts[0] + len(markStart)
	return page[:i] + "\n" + table + page[ends[0]:], nil
}

// writeDoc replaces the part of the page at path between the markers.
func writeDoc(path, table string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	page, err := replaceBetweenMarkers(string(b), table)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(page), 0o644)
}
