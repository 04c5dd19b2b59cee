//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/bench/internal/hello"
)

// errWrkOutput is returned when wrk's report lacks a line the harness needs.
var errWrkOutput = errors.New("bench: unexpected wrk output")

// wrkResult is what the harness reads from one `wrk --latency` report.
type wrkResult struct {
	Requests     int64         // "N requests in ..."
	ReqPerSec    float64       // "Requests/sec:"
	P50, P99     time.Duration // "Latency Distribution"
	Non2xx       int64         // "Non-2xx or 3xx responses:"
	SocketErrors int64         // sum of "Socket errors:" counts
}

// Errors is every request that did not get a 2xx or 3xx answer.
func (r wrkResult) Errors() int64 { return r.Non2xx + r.SocketErrors }

// parseWrk reads wrk's text report (wrk 4.x with --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRate, haveP99, haveCount bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q: %v", errWrkOutput, line, err)
			}
			r.ReqPerSec, haveRate = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("%w: %q: %v", errWrkOutput, line, err)
			}
			if f[0] == "50%" {
				r.P50 = d
			} else {
				r.P99, haveP99 = d, true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q: %v", errWrkOutput, line, err)
			}
			r.Requests, haveCount = n, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q: %v", errWrkOutput, line, err)
			}
			r.Non2xx = n
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("%w: %q: %v", errWrkOutput, line, err)
				}
				r.SocketErrors += n
			}
		}
	}
	switch {
	case !haveRate:
		return r, fmt.Errorf("%w: no Requests/sec line", errWrkOutput)
	case !haveP99:
		return r, fmt.Errorf("%w: no 99%% latency line (run with --latency)", errWrkOutput)
	case !haveCount:
		return r, fmt.Errorf("%w: no request count line", errWrkOutput)
	}
	return r, nil
}

// parseWrkDuration reads wrk's latencies: "812.00us", "1.23ms", "2.00s",
// "1.50m", "1.00h".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("bad duration %q", s)
}

// check fetches url once and fails unless it answers 200 with the hello
// body, so that no measurement counts error pages.
func check(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("checking %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("checking %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != hello.Body {
		return fmt.Errorf("checking %s: got %d %q, want 200 %q", url, resp.StatusCode, body, hello.Body)
	}
	return nil
}

// sample is one wrk measurement.
type sample struct {
	res     wrkResult
	cpu     cpuSplit // server side's CPU time per request
	foreign float64  // share of the server CPUs other tenants took meanwhile
}

// load measures url with wrk and conns connections on the client CPU,
// first checking its answer and warming it up when first is set.
func (h *harness) load(ctx context.Context, url string, first bool, conns int) (sample, error) {
	if err := check(ctx, url); err != nil {
		return sample{}, err
	}
	wrk := func(d time.Duration, latency bool) ([]byte, error) {
		argv := []string{"wrk", "-t", "1", "-c", strconv.Itoa(conns),
			"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s"}
		if latency {
			argv = append(argv, "--latency")
		}
		argv = append(argv, url)
		return runBounded(ctx, d+30*time.Second, nil, pinned(h.opt.clientCPU, argv...)...)
	}
	if first && h.opt.warmup > 0 {
		if _, err := wrk(h.opt.warmup, false); err != nil {
			return sample{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, coresBefore := h.cpuNow(), h.coreTimes()
	out, err := wrk(h.opt.duration, true)
	after, coresAfter := h.cpuNow(), h.coreTimes()
	if err != nil {
		return sample{}, err
	}
	h.logf("%s", out)
	res, err := parseWrk(string(out))
	if err != nil {
		return sample{}, err
	}
	ours := after.total() - before.total()
	return sample{
		res:     res,
		cpu:     after.perRequest(before, res.Requests),
		foreign: foreignLoad(coresBefore, coresAfter, ours),
	}, nil
}

// coreTimes reads the server CPUs' times; zero when they are not pinned.
func (h *harness) coreTimes() coreTimes {
	t, _ := readCoreTimes(h.opt.serverCPU)
	return t
}
