//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// A wrk 4.1 report with --latency, every unit wrk prints, errors and
// non-2xx answers.
const wrkFull = `Running 8s test @ http://127.0.0.1:8080/hello
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms  456.00us  12.34ms   89.00%
    Req/Sec    25.00k     1.23k   27.00k    80.00%
  Latency Distribution
     50%  812.00us
     75%    1.30ms
     90%    1.60ms
     99%    3.20ms
  200123 requests in 8.00s, 30.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  25015.37
Transfer/sec:      3.75MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want wrkResult
		err  error
	}{
		{"full", wrkFull, wrkResult{
			Requests: 200123, ReqPerSec: 25015.37, P50: 812 * time.Microsecond, P99: 3200 * time.Microsecond,
			Non2xx: 12, SocketErrors: 10,
		}, nil},
		{"clean, seconds", `  Latency Distribution
     50%    1.50s
     75%    1.90s
     90%    2.00s
     99%    2.10s
  40 requests in 10.00s, 3.00KB read
Requests/sec:      4.00
`, wrkResult{Requests: 40, ReqPerSec: 4, P50: 1500 * time.Millisecond, P99: 2100 * time.Millisecond}, nil},
		{"minutes", "     99%    1.50m\n  1 requests in 2.00m, 1KB read\nRequests/sec: 0.01\n",
			wrkResult{Requests: 1, ReqPerSec: 0.01, P99: 90 * time.Second}, nil},
		{"no --latency", strings.Replace(wrkFull, "     99%    3.20ms\n", "", 1), wrkResult{}, errWrkOutput},
		{"no rate", strings.Replace(wrkFull, "Requests/sec:  25015.37\n", "", 1), wrkResult{}, errWrkOutput},
		{"no count", strings.Replace(wrkFull, "  200123 requests in 8.00s, 30.00MB read\n", "", 1), wrkResult{}, errWrkOutput},
		{"bad rate", strings.Replace(wrkFull, "25015.37", "lots", 1), wrkResult{}, errWrkOutput},
		{"bad unit", strings.Replace(wrkFull, "3.20ms", "3.20xs", 1), wrkResult{}, errWrkOutput},
		{"negative", strings.Replace(wrkFull, "3.20ms", "-3.20ms", 1), wrkResult{}, errWrkOutput},
		{"bad socket errors", strings.Replace(wrkFull, "read 2,", "read x,", 1), wrkResult{}, errWrkOutput},
		{"empty", "", wrkResult{}, errWrkOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if tt.err == nil && got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestWrkResultErrors(t *testing.T) {
	r, err := parseWrk(wrkFull)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors() != 22 {
		t.Fatalf("Errors() = %d, want 22", r.Errors())
	}
}

// Trimmed from hyperfine 1.15's --export-json.
const hyperfineJSON = `{
  "results": [
    {
      "command": "net/http/cgi",
      "mean": 0.0018512,
      "stddev": 0.000112,
      "median": 0.00182,
      "user": 0.0011,
      "system": 0.0006,
      "min": 0.00172,
      "max": 0.0031,
      "times": [0.0018, 0.0019, 0.00172],
      "exit_codes": [0, 0, 0]
    },
    {
      "command": "gatewayd",
      "mean": 0.003317,
      "stddev": null,
      "median": 0.00326,
      "user": 0.002,
      "system": 0.001,
      "min": 0.00292,
      "max": 0.0051,
      "times": [0.0033],
      "exit_codes": [0]
    }
  ]
}`

func TestParseHyperfine(t *testing.T) {
	got, err := parseHyperfine([]byte(hyperfineJSON))
	if err != nil {
		t.Fatal(err)
	}
	us := time.Microsecond
	want := []hyperfineResult{
		{Command: "net/http/cgi", Mean: 1851200 * time.Nanosecond, Stddev: 112 * us, Median: 1820 * us, Min: 1720 * us, Max: 3100 * us, Runs: 3,
			Times: []time.Duration{1800 * us, 1900 * us, 1720 * us}},
		{Command: "gatewayd", Mean: 3317 * us, Median: 3260 * us, Min: 2920 * us, Max: 5100 * us, Runs: 1,
			Times: []time.Duration{3300 * us}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range want {
		// Float seconds to nanoseconds may be off by one.
		d := got[i].Mean - want[i].Mean
		if d < -1 || d > 1 {
			t.Errorf("%d: mean %v, want %v", i, got[i].Mean, want[i].Mean)
		}
		got[i].Mean = want[i].Mean
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%d: got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestMergeRuns(t *testing.T) {
	ms := time.Millisecond
	m := mergeRuns([]hyperfineResult{
		{Command: "x", Times: []time.Duration{2 * ms, 4 * ms}},
		{Command: "x", Times: []time.Duration{6 * ms, 8 * ms}},
	})
	// Sample standard deviation of 2, 4, 6, 8 ms: sqrt(20/3) ms.
	want := hyperfineResult{Command: "x", Mean: 5 * ms, Stddev: 2581988, Median: 5 * ms, Min: 2 * ms, Max: 8 * ms, Runs: 4,
		Times: []time.Duration{2 * ms, 4 * ms, 6 * ms, 8 * ms}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	if odd := mergeRuns([]hyperfineResult{{Times: []time.Duration{3, 1, 2}}}); odd.Median != 2 || odd.Stddev != 1 {
		t.Fatalf("odd: %+v", odd)
	}
	if empty := mergeRuns(nil); empty.Runs != 0 || empty.Mean != 0 {
		t.Fatalf("empty: %+v", empty)
	}
}

func TestParseHyperfineErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":   "Benchmark 1: x",
		"no results": `{"results": []}`,
		"no mean":    `{"results": [{"command": "x", "times": [1], "exit_codes": [0]}]}`,
		"failed run": `{"results": [{"command": "x", "mean": 1, "times": [1, 1], "exit_codes": [0, 1]}]}`,
		"null code":  `{"results": [{"command": "x", "mean": 1, "times": [1], "exit_codes": [null]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseHyperfine([]byte(in)); !errors.Is(err, errHyperfineOutput) {
				t.Fatalf("error %v, want %v", err, errHyperfineOutput)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// A process name with spaces and parentheses, as /proc allows.
	stat := "4242 (nginx: (worker) x) S 4240 4240 4240 0 -1 4194624 100 0 0 0 150 50 7 3 20 0 1 0 123 0 0"
	pgrp, ticks, ok := parseStat(stat)
	if !ok || pgrp != 4240 || ticks != 210 {
		t.Fatalf("got %d %d %v, want 4240 210 true", pgrp, ticks, ok)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 x 3 0 0 0 0 0 0 0 1 1 1 1", "1 (x) S 1 2 3"} {
		if _, _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) ok", bad)
		}
	}
}

func TestCoreTimes(t *testing.T) {
	stat := "cpu  300 0 60 600 10 0 5 0 0 0\ncpu0 100 0 20 200 4 0 2 1 0 0\ncpu1 200 0 40 400 6 0 3 0 0 0\nintr 1 2\n"
	want0, _ := parseCPUList("0")
	got, ok := parseCoreTimes(stat, want0)
	if !ok || got != (coreTimes{busy: 123, total: 327}) {
		t.Fatalf("cpu0: got %+v %v", got, ok)
	}
	both, _ := parseCPUList("0-1")
	if got, ok := parseCoreTimes(stat, both); !ok || got.busy != 366 || got.total != 976 {
		t.Fatalf("cpu0-1: got %+v %v", got, ok)
	}
	three, _ := parseCPUList("0,2")
	if _, ok := parseCoreTimes(stat, three); ok {
		t.Fatal("cpu2 is missing but parseCoreTimes succeeded")
	}
	for _, bad := range []string{"", "x", "2-1", "-1", "0,"} {
		if _, ok := parseCPUList(bad); ok {
			t.Errorf("parseCPUList(%q) ok", bad)
		}
	}
	// 100 ticks passed, 60 busy, of which our peers used 0.2 s = 20 ticks.
	if f := foreignLoad(coreTimes{0, 0}, coreTimes{60, 100}, 200*time.Millisecond); f < 0.399 || f > 0.401 {
		t.Fatalf("foreignLoad = %v, want 0.4", f)
	}
	if f := foreignLoad(coreTimes{0, 0}, coreTimes{10, 100}, time.Second); f != 0 {
		t.Fatalf("foreignLoad = %v, want 0 (clamped)", f)
	}
}

func TestCombine(t *testing.T) {
	ms := time.Millisecond
	row := combine([]sample{
		{res: wrkResult{Requests: 100, ReqPerSec: 10, P99: 9 * ms, Non2xx: 1}, cpu: cpuSplit{App: 10 * time.Microsecond}, foreign: 0.3},
		{res: wrkResult{Requests: 300, ReqPerSec: 30, P99: 2 * ms, SocketErrors: 2}, cpu: cpuSplit{App: 30 * time.Microsecond}},
		{res: wrkResult{Requests: 200, ReqPerSec: 20, P99: 300 * ms}, cpu: cpuSplit{Nginx: 6 * time.Microsecond, App: 20 * time.Microsecond, PHP: 3 * time.Microsecond}},
	})
	want := wrkResult{Requests: 600, ReqPerSec: 20, P99: 9 * ms, Non2xx: 1, SocketErrors: 2}
	if row.Res != want {
		t.Fatalf("got %+v\nwant %+v", row.Res, want)
	}
	// CPU per request over all rounds: (1000 + 9000 + 4000) µs / 600.
	if row.CPU.App != 14000*time.Microsecond/600 || row.CPU.Nginx != 1200*time.Microsecond/600 || row.CPU.PHP != 600*time.Microsecond/600 {
		t.Fatalf("CPU %+v", row.CPU)
	}
	if row.Spread != 0.5 || row.Foreign < 0.0999 || row.Foreign > 0.1001 {
		t.Fatalf("spread %v foreign %v", row.Spread, row.Foreign)
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 || median(nil) != 0 {
		t.Fatal("median")
	}
}

func TestSpread(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 0}, {[]float64{90, 110}, 0.1}, {[]float64{0, 0}, 0}} {
		if got := spread(tt.in); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("spread(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]processKind{
		"nginx-php": kindNginx, "nginx-gatewayd": kindNginx, "php-fpm-gatewayd": kindPHP,
		"gatewayd-php-native": kindApp, "nethttp": kindApp, "uwsgi": kindApp, "fcgiwrap": kindApp,
	} {
		if got := kindOf(name); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPerRequest(t *testing.T) {
	before := cpuSplit{Nginx: time.Second, App: 2 * time.Second, PHP: 3 * time.Second}
	after := cpuSplit{Nginx: 2 * time.Second, App: 4 * time.Second, PHP: 6 * time.Second}
	if got, want := after.perRequest(before, 1000), (cpuSplit{Nginx: time.Millisecond, App: 2 * time.Millisecond, PHP: 3 * time.Millisecond}); got != want {
		t.Errorf("perRequest = %+v, want %+v", got, want)
	}
	if got := after.perRequest(before, 0); got != (cpuSplit{}) {
		t.Errorf("perRequest of no requests = %+v", got)
	}
}

func TestMarkdown(t *testing.T) {
	r := report{
		machine: "test box",
		opt:     options{conns: 32, warmup: 2 * time.Second, duration: 6 * time.Second, rounds: 2, workers: 4, serverCPU: "0", clientCPU: "1"},
		when:    time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Load: []loadRow{
			{Group: "g", Setup: "base", Res: wrkResult{ReqPerSec: 1000, P99: 4 * time.Millisecond}, CPU: cpuSplit{Nginx: 30 * time.Microsecond, App: 60 * time.Microsecond}},
			{Group: "g", Setup: "ours", Res: wrkResult{ReqPerSec: 2500, P99: 2 * time.Millisecond}, Spread: 0.03, Foreign: 0.25, CPU: cpuSplit{Nginx: 20 * time.Microsecond, App: 25 * time.Microsecond}, Ref: "base", Target: target{MinRate: 2, MaxP99: 1}},
			{Group: "p", Setup: "nginx", Res: wrkResult{ReqPerSec: 1000, P99: time.Millisecond}, CPU: cpuSplit{Nginx: 60 * time.Microsecond, App: time.Microsecond / 4, PHP: 100 * time.Microsecond}},
			{Group: "p", Setup: "gw", Res: wrkResult{ReqPerSec: 1000, P99: time.Millisecond}, CPU: cpuSplit{Nginx: time.Microsecond / 4, App: 80 * time.Microsecond, PHP: 90 * time.Microsecond}, Ref: "nginx"},
			{Group: "q", Setup: "alone", Res: wrkResult{ReqPerSec: 1000, P99: time.Millisecond}, CPU: cpuSplit{App: 27500 * time.Nanosecond}},
			{Group: "h", Setup: "base", Res: wrkResult{ReqPerSec: 1000, P99: time.Millisecond}},
			{Group: "h", Setup: "ours", Res: wrkResult{ReqPerSec: 1100, P99: time.Millisecond, Non2xx: 1}, Foreign: -1, Ref: "base", Target: target{MinRate: 1}},
		},
		Start: []startRow{
			{Setup: "std", Res: hyperfineResult{Mean: 2 * time.Millisecond, Median: 2 * time.Millisecond, Runs: 300}},
			{Setup: "gw", Res: hyperfineResult{Mean: 4 * time.Millisecond, Median: 4 * time.Millisecond, Runs: 300}, Ref: "std", MaxRatio: 1.5},
		},
		Mem: []memRow{{Setup: "sw", Idle: 10 << 10, After: 30 << 10, Peak: 50 << 10, MaxIdleMB: 15, MaxPeakMB: 40}},
	}
	md := r.markdown()
	for _, want := range []string{
		"Measured 2026-01-02 on test box.",
		"servers and nginx on CPU 0, wrk on CPU 1",
		"| g | base | 1000 | 4.00 | 0 | nginx 30 + app 60 | 0% |  |  |  |  |  |",
		"| g | ours | 2500 ±3% | 2.00 | 0 | nginx 20 + app 25 | 25% | 2.50× | 0.50× | 2.00× | ≥ 2.0× req/s, p99 ≤ 1× | yes |",
		// php-fpm's part stands beside the server's; an idle peer's
		// quarter microsecond is left out of the text, not of the ratio.
		"| p | nginx | 1000 | 1.00 | 0 | nginx 60 + php-fpm 100 | 0% |",
		"| p | gw | 1000 | 1.00 | 0 | app 80 + php-fpm 90 | 0% | 1.00× | 1.00× | 0.94× |",
		"| q | alone | 1000 | 1.00 | 0 | 27.5 | 0% |",
		"| h | ours | 1100 | 1.00 | 1 | — | — | 1.10× | 1.00× |  | ≥ 1.0× req/s | **no** |", // an error fails the target
		"| gw | 4.00 | 0.00 | 4.00 | 0.00 | 2.00× | ≤ 1.5× | **no** |",
		"| sw | 10.0 | 30.0 | 50.0 | idle ≤ 15 MB, peak ≤ 40 MB | **no** |", // the peak is over
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	page := "# P\n\nintro\n" + markStart + "\nold table\n" + markEnd + "\nafter\n"
	got, err := replaceBetweenMarkers(page, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# P\n\nintro\n" + markStart + "\nnew table\n" + markEnd + "\nafter\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, err := replaceBetweenMarkers("no markers", "x"); !errors.Is(err, errMarkers) {
		t.Fatalf("error %v, want %v", err, errMarkers)
	}
	// Markers mentioned inside a line are text, not markers.
	mentioned := "Between `" + markStart + "` and `" + markEnd + "`.\n" + page
	got, err = replaceBetweenMarkers(mentioned, "new table\n")
	if err != nil || got != "Between `"+markStart+"` and `"+markEnd+"`.\n"+want {
		t.Fatalf("mentioned markers: got %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"reversed":   markEnd + "\n" + markStart + "\n",
		"two starts": markStart + "\n" + markStart + "\n" + markEnd + "\n",
		"inline":     "x " + markStart + " " + markEnd + "\n",
	} {
		if _, err := replaceBetweenMarkers(bad, "x"); !errors.Is(err, errMarkers) {
			t.Errorf("%s: error %v, want %v", name, err, errMarkers)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-only", "http,scgi"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 2*time.Second || o.rounds != 1 || len(o.only) != 2 {
		t.Fatalf("got %+v", o)
	}
	for _, bad := range [][]string{
		{"-only", "nope"}, {"-write", "-quick"}, {"-write", "-only", "http"}, {"-c", "0"}, {"-rounds", "11"}, {"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// TestQuickHTTP runs the harness for real, in -quick mode, on the one
// scenario that needs no web server: gatewayd's HTTP front end against
// net/http. It puts load on the machine, so it runs only when asked.
func TestQuickHTTP(t *testing.T) {
	if os.Getenv("GATEWAYD_BENCH") != "1" {
		t.Skip("a load benchmark: set GATEWAYD_BENCH=1 to run the harness (or: go run ./bench -quick)")
	}
	opt, err := parseFlags([]string{"-quick", "-only", "http"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := runHarness(ctx, opt, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(rep.Failures) > 0 {
		t.Fatalf("failures: %v\n%s", rep.Failures, progress.String())
	}
	if len(rep.Load) != 2 {
		t.Fatalf("%d rows, want 2:\n%s", len(rep.Load), rep.markdown())
	}
	for _, row := range rep.Load {
		if row.Res.ReqPerSec <= 0 || row.Res.P99 <= 0 || row.Res.Requests <= 0 || row.Res.Errors() != 0 {
			t.Errorf("%s: implausible result %+v", row.Setup, row.Res)
		}
		if row.CPU.App <= 0 {
			t.Errorf("%s: no server CPU time measured", row.Setup)
		}
	}
	if md := rep.markdown(); !strings.Contains(md, "| HTTP, no nginx | gatewayd HTTP front end |") || !strings.Contains(md, "×") {
		t.Errorf("table lacks the gatewayd row or its ratio:\n%s", md)
	}
	t.Logf("\n%s", rep.markdown())
}

// The page -write updates must keep its markers.
func TestDocHasMarkers(t *testing.T) {
	b, err := os.ReadFile("../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := replaceBetweenMarkers(string(b), "table\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, markStart+"\ntable\n"+markEnd) {
		t.Fatalf("table not between the markers")
	}
}

// The proxy's keepalive pool is read from the FastCGI recipe, so that both
// sides keep as many connections; a recipe without a pool is an error, not
// a zero.
func TestRecipeKeepalive(t *testing.T) {
	n, err := recipeKeepalive("nginx-fastcgi-keepalive.conf")
	if err != nil || n < 1 {
		t.Fatalf("keepalive recipe: %d, %v", n, err)
	}
	if n, err := recipeKeepalive("nginx-fastcgi.conf"); err == nil {
		t.Errorf("a recipe without an upstream pool gave %d", n)
	}
}

// Every nginx recipe that keeps upstream connections sizes its pool by the
// keep-alive recipe's rule (its comment): a fleet recipe left at a pool
// much smaller than the load opened and closed a connection for most
// requests, which cost gatewayd about a third of its throughput.
func TestRecipePoolsAgree(t *testing.T) {
	want, err := recipeKeepalive("nginx-fastcgi-keepalive.conf")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(peertest.ModuleRoot(), "docs", "recipes"))
	if err != nil {
		t.Fatal(err)
	}
	pools := 0
	for _, e := range entries {
		text, err := peertest.RecipeText(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Name(), "nginx") || !strings.Contains(text, "upstream ") {
			continue
		}
		n, err := recipeKeepalive(e.Name())
		if err != nil {
			continue // an upstream without a pool: a connection per request
		}
		pools++
		if n != want {
			t.Errorf("%s: keepalive %d, the keep-alive recipe's is %d", e.Name(), n, want)
		}
	}
	if pools < 3 {
		t.Errorf("found %d recipes with a keepalive pool; the keep-alive and two fleet recipes have one", pools)
	}
}
