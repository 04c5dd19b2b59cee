package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Expect is a set of statuses a probe accepts: codes ("200") and classes
// ("2xx"), comma-separated. The zero Expect accepts any 2xx.
type Expect string

// Match reports whether code is expected.
func (e Expect) Match(code int) bool {
	if e == "" {
		return code >= 200 && code <= 299
	}
	for _, s := range strings.Split(string(e), ",") {
		s = strings.TrimSpace(s)
		if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '9' {
			if code/100 == int(s[0]-'0') {
				return true
			}
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n == code {
			return true
		}
	}
	return false
}

// Valid reports whether every item of e is a code or a class.
func (e Expect) Valid() bool {
	if e == "" {
		return true
	}
	for _, s := range strings.Split(string(e), ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if len(s) != 3 {
			return false
		}
		if strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '9' {
			continue
		}
		if n, err := strconv.Atoi(s); err != nil || n < 100 || n > 999 {
			return false
		}
	}
	return true
}

// ProbeResult is one health check's outcome, as `gatewayd probe --json`
// prints it.
type ProbeResult struct {
	Target string `json:"target"`
	Path   string `json:"path,omitempty"`
	OK     bool   `json:"ok"`
	// Kind names the failure: connect, timeout, status, protocol,
	// overloaded.
	Kind string `json:"kind,omitempty"`
	// ExitCode is what gatewayd probe exits with.
	ExitCode   int               `json:"exit_code"`
	Error      string            `json:"error,omitempty"`
	Status     int               `json:"status,omitempty"`
	Values     map[string]string `json:"values,omitempty"`
	DurationMS float64           `json:"duration_ms"`
}

// Probe runs one health check of t: FCGI_GET_VALUES for a FastCGI target
// without a path, else a request for path (default "/") whose status must
// match expect; a 503 that is not expected counts as overloaded. req
// supplies Root and the other request settings; its Path is replaced.
func Probe(ctx context.Context, t Target, path string, expect Expect, req Request) ProbeResult {
	start := time.Now()
	res := ProbeResult{Target: t.String(), Path: path}
	var err error
	switch {
	case t.Scheme == CGI:
		err = fail(Usage, "probe does not run CGI scripts; use request")
	case t.Scheme == FastCGI && path == "":
		res.Values, err = GetValues(ctx, t)
	default:
		if path == "" {
			path = "/"
			res.Path = path
		}
		req.Path = path
		var resp *Response
		resp, err = Do(ctx, t, req, io.Discard)
		if resp != nil {
			res.Status = resp.Status
		}
		if err == nil && !expect.Match(resp.Status) {
			k := Status
			if resp.Status == http.StatusServiceUnavailable {
				k = Overloaded
			}
			err = fail(k, "status %d, expected %s", resp.Status, expectText(expect))
		}
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		k := KindOf(err)
		res.Kind, res.ExitCode, res.Error = k.String(), int(k), err.Error()
		return res
	}
	res.OK = true
	return res
}

func expectText(e Expect) string {
	if e == "" {
		return "2xx"
	}
	return string(e)
}

// Line is the result as one line: "ok fastcgi:///run/php.sock 0.8ms", or
// "timeout fastcgi://… 2001.0ms: what failed".
func (r ProbeResult) Line() string {
	where := r.Target
	if r.Path != "" {
		where += " " + r.Path
	}
	if r.OK {
		extra := ""
		if r.Status != 0 {
			extra = fmt.Sprintf(" %d", r.Status)
		}
		return fmt.Sprintf("ok %s%s %.1fms", where, extra, r.DurationMS)
	}
	return fmt.Sprintf("%s %s %.1fms: %s", r.Kind, where, r.DurationMS, r.Error)
}
