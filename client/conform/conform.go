// Package conform is a conformance suite for FastCGI 1.0 and SCGI
// applications: it speaks to a running application as a web server would,
// and in the corners where web servers differ, and reports clause by clause
// what the application does. It is the library behind `gatewayd conform`.
//
// Every check opens its own connections and is bounded by its own deadline:
// an application that hangs fails that check, and the suite goes on.
// Results are PASS, FAIL (a MUST of the specification broken) and WARN (a
// SHOULD, or a choice the specification leaves open, made the uncommon
// way). The FastCGI checks cite the sections of the FastCGI 1.0
// specification (Open Market, 1996); the SCGI checks the SCGI protocol
// specification (Neil Schemenauer, 2008).
package conform

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/client"
)

// Level is how binding a clause is.
type Level string

// Levels of a clause.
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
	// May is a choice the specification leaves open; the check reports
	// which one the application made.
	May Level = "MAY"
)

// Verdict is a check's outcome.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "PASS"
	Fail Verdict = "FAIL"
	Warn Verdict = "WARN"
)

// DefaultTimeout bounds each check.
const DefaultTimeout = 2 * time.Second

// Options configure a run.
type Options struct {
	// Path is what the application is asked for. Default "/".
	Path string
	// Root, Index and Extensions look the script up under a document root,
	// as `gatewayd request --root` does.
	Root       string
	Index      string
	Extensions []string
	// Params set or override CGI variables in every request.
	Params map[string]string
	// Timeout bounds each check. Default 2s.
	Timeout time.Duration
	// Only, when set, runs the checks whose ID it holds.
	Only map[string]bool
}

// Result is one check's outcome.
type Result struct {
	ID      string  `json:"id"`
	Clause  string  `json:"clause"`
	Level   Level   `json:"level"`
	Title   string  `json:"title"`
	Verdict Verdict `json:"verdict"`
	// Detail says what was sent and what came back, when it matters.
	Detail string `json:"detail,omitempty"`
	// Millis is how long the check took.
	Millis float64 `json:"ms"`
}

// Line is the result as one line of text.
func (r Result) Line() string {
	s := fmt.Sprintf("%-4s %-6s %-10s %-28s %s", r.Verdict, r.Level, r.Clause, r.ID, r.Title)
	if r.Detail != "" {
		s += "\n     " + strings.ReplaceAll(r.Detail, "\n", "\n     ")
	}
	return s
}

// MustFailed reports whether a MUST failed among results.
func MustFailed(results []Result) bool {
	for _, r := range results {
		if r.Verdict == Fail && r.Level == Must {
			return true
		}
	}
	return false
}

// check is one entry of a suite. run returns the verdict for the level
// (Pass, or Fail which becomes Warn below MUST) and a detail.
type check struct {
	id, clause string
	level      Level
	title      string
	run        func(ctx context.Context, s *suite) (Verdict, string)
}

// suite is the state checks share: the target and the base request.
type suite struct {
	t    client.Target
	opts Options
	env  map[string]string
	// values is the FCGI_GET_VALUES answer, fetched once.
	values map[string]string
}

// Run runs the suite for t's protocol (FastCGI or SCGI) and returns one
// result a check, in the suite's order.
func Run(ctx context.Context, t client.Target, opts Options) ([]Result, error) {
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	var checks []check
	switch t.Scheme {
	case client.FastCGI:
		checks = fastcgiChecks
	case client.SCGI:
		checks = scgiChecks
	default:
		return nil, fmt.Errorf("conform: %s: only fastcgi and scgi targets have a suite", t)
	}
	for id := range opts.Only {
		if !slices.ContainsFunc(checks, func(c check) bool { return c.id == id }) {
			// A misspelt id would otherwise run nothing and pass.
			return nil, &client.Error{Kind: client.Usage,
				Err: fmt.Errorf("conform: no %s check %q", t.Scheme, id)}
		}
	}
	env, err := client.Env(t, client.Request{Path: opts.Path, Root: opts.Root, Index: opts.Index,
		Extensions: opts.Extensions, Params: opts.Params})
	if err != nil {
		return nil, err
	}
	s := &suite{t: t, opts: opts, env: env}
	if t.Scheme == client.FastCGI {
		vctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		s.values, _ = client.GetValues(vctx, t)
		cancel()
	}
	var out []Result
	for _, c := range checks {
		if opts.Only != nil && !opts.Only[c.id] {
			continue
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		v, detail := c.run(cctx, s)
		cancel()
		if v == Fail && c.level != Must {
			v = Warn
		}
		out = append(out, Result{ID: c.id, Clause: c.clause, Level: c.level, Title: c.title, Verdict: v,
			Detail: detail, Millis: float64(time.Since(start).Microseconds()) / 1000})
	}
	return out, nil
}

// IDs lists the checks of a scheme, for docs and flags.
func IDs(scheme string) []string {
	var ids []string
	cs := fastcgiChecks
	if scheme == client.SCGI {
		cs = scgiChecks
	}
	for _, c := range cs {
		ids = append(ids, c.id)
	}
	return ids
}

// Markdown writes results as a table under a heading.
func Markdown(w io.Writer, title string, results []Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
	pass, fail, warn := 0, 0, 0
	for _, r := range results {
		switch r.Verdict {
		case Pass:
			pass++
		case Fail:
			fail++
		case Warn:
			warn++
		}
	}
	fmt.Fprintf(&b, "%d PASS, %d FAIL, %d WARN.\n\n", pass, fail, warn)
	b.WriteString("| clause | level | check | result | what happened |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		d := strings.ReplaceAll(r.Detail, "|", "\\|")
		d = strings.ReplaceAll(d, "\n", "<br>")
		fmt.Fprintf(&b, "| %s | %s | `%s` %s | %s | %s |\n", r.Clause, r.Level, r.ID, r.Title, r.Verdict, d)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sortedEnv is the environment as sorted pairs, so requests are the same
// bytes every run.
func sortedEnv(env map[string]string) [][2]string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([][2]string, len(names))
	for i, k := range names {
		out[i] = [2]string{k, env[k]}
	}
	return out
}

// quote shortens bytes for a detail.
func quote(b []byte) string {
	if len(b) > 120 {
		return fmt.Sprintf("%q…(%d bytes)", b[:120], len(b))
	}
	return fmt.Sprintf("%q", b)
}
