//go:build unix

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the harness's flags.
type options struct {
	quick     bool
	only      []string
	write     bool
	doc       string
	duration  time.Duration
	warmup    time.Duration
	conns     int
	workers   int
	uwsgi     int
	runs      int
	rounds    int
	serverCPU string
	clientCPU string
	verbose   bool
	profile   string
}

// harness holds one run: the binaries it built, the peers it started, the
// rows it measured.
type harness struct {
	opt    options
	root   string // module root
	dir    string // temporary directory for sockets, configs, logs
	bins   string // directory of the built binaries
	procs  []*proc
	out    io.Writer // progress
	report report
}

func (h *harness) bin(name string) string { return filepath.Join(h.bins, name) }

func (h *harness) logf(format string, args ...any) {
	if h.opt.verbose {
		fmt.Fprintf(h.out, format, args...)
	}
}

// runLimit bounds a whole run, whatever the flags say.
const runLimit = 20 * time.Minute

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var only string
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1s warm-up, one 2s measurement per setup, 30 CGI runs")
	fs.StringVar(&only, "only", "", "run only these scenarios (comma-separated): "+strings.Join(scenarioNames(), ", "))
	fs.BoolVar(&o.write, "write", false, "write the tables into -doc between the bench markers (full runs only)")
	fs.StringVar(&o.doc, "doc", "docs/performance.md", "the page -write updates, relative to the module root")
	fs.DurationVar(&o.duration, "d", 4*time.Second, "one wrk measurement (whole seconds)")
	fs.IntVar(&o.rounds, "rounds", 4, "measurements per setup, interleaved with the other side's")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "wrk warm-up before each measurement (whole seconds)")
	fs.IntVar(&o.conns, "c", 32, "wrk connections")
	fs.IntVar(&o.workers, "workers", 4, "pool size of process-based peers: fcgiwrap -c, cgi max_concurrency, php-fpm workers and max_conns")
	fs.IntVar(&o.uwsgi, "uwsgi-processes", 1, "uWSGI worker processes (1 is its best on one CPU, and matches gatewayd's one P)")
	fs.IntVar(&o.runs, "runs", 300, "hyperfine runs per CGI program")
	cpus := runtime.NumCPU()
	defServer, defClient := "", ""
	if cpus >= 2 {
		defServer, defClient = "0", "1"
	}
	fs.StringVar(&o.serverCPU, "server-cpu", defServer, "taskset CPU list for nginx and every server (empty: no pinning)")
	fs.StringVar(&o.clientCPU, "client-cpu", defClient, "taskset CPU list for wrk (empty: no pinning)")
	fs.BoolVar(&o.verbose, "v", false, "print every wrk report")
	fs.StringVar(&o.profile, "profile", "", "directory for CPU profiles of the hello programs (hello-MODE.pprof)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		o.duration, o.warmup, o.runs, o.rounds = 2*time.Second, time.Second, 30, 1
	}
	if o.duration < time.Second || o.warmup < 0 || o.conns < 1 || o.workers < 1 || o.uwsgi < 1 || o.runs < 2 || o.rounds < 1 || o.rounds > 10 {
		return o, errors.New("-d must be at least 1s, -warmup at least 0, -c, -workers, -uwsgi-processes and -rounds at least 1 (-rounds at most 10), -runs at least 2")
	}
	if only != "" {
		for _, n := range strings.Split(only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(scenarioNames(), n) {
				return o, fmt.Errorf("unknown scenario %q; have %s", n, strings.Join(scenarioNames(), ", "))
			}
			o.only = append(o.only, n)
		}
	}
	if o.write && (o.quick || len(o.only) > 0) {
		return o, errors.New("-write needs a full run: drop -quick and -only")
	}
	return o, nil
}

// run is main without the exit, for the test.
func run(args []string, stdout, stderr io.Writer) int {
	opt, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runLimit)
	defer cancel()
	rep, err := runHarness(ctx, opt, stdout)
	if rep != nil {
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, rep.markdown())
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	code := 0
	for _, f := range rep.Failures {
		fmt.Fprintf(stderr, "bench: %s\n", f)
		code = 1
	}
	if opt.write {
		if code != 0 {
			fmt.Fprintf(stderr, "bench: not writing %s: a scenario failed\n", opt.doc)
			return code
		}
		path := filepath.Join(rep.root, opt.doc)
		if err := writeDoc(path, rep.markdown()); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", path)
	}
	return code
}

// runHarness builds the binaries, runs the chosen scenarios and returns
// what they measured. Every peer is stopped before it returns.
func runHarness(ctx context.Context, opt options, progress io.Writer) (*report, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if err := needTools(opt); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatewayd-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// php-fpm's workers (www-data) must reach the document root and socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	h := &harness{opt: opt, root: root, dir: dir, bins: filepath.Join(dir, "bin"), out: progress}
	h.report.root = root
	h.report.machine = machine()
	h.report.opt = opt
	defer h.stopAll()

	fmt.Fprintf(progress, "building gatewayd and the hello programs...\n")
	if _, err := runBounded(ctx, 5*time.Minute, nil, "go", "build", "-C", root, "-o", h.bins+"/",
		"./cmd/gatewayd", "./cmd/gatewayd-cgi", "./bench/cmd/hello", "./bench/cmd/hellocgi"); err != nil {
		return nil, err
	}
	for _, s := range scenarios() {
		if len(opt.only) > 0 && !slices.Contains(opt.only, s.name) {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		start := time.Now()
		fmt.Fprintf(progress, "== %s: %s\n", s.name, s.title)
		err := s.run(h, ctx)
		h.stopAll()
		if err != nil {
			h.report.Failures = append(h.report.Failures, fmt.Sprintf("%s: %v", s.name, err))
			fmt.Fprintf(progress, "   FAILED: %v\n", err)
		}
		fmt.Fprintf(progress, "   (%.0fs)\n", time.Since(start).Seconds())
	}
	return &h.report, ctx.Err()
}

// needTools fails early, naming the Debian package, when a tool is missing.
func needTools(opt options) error {
	tools := map[string]string{
		"go": "golang", "wrk": "wrk", "hyperfine": "hyperfine", "nginx": "nginx",
		"fcgiwrap": "fcgiwrap", "uwsgi": "uwsgi-core uwsgi-plugin-python3",
		"php-fpm8.2": "php8.2-fpm", "taskset": "util-linux",
	}
	var missing []string
	for _, s := range scenarios() {
		if len(opt.only) > 0 && !slices.Contains(opt.only, s.name) {
			continue
		}
		for _, t := range append([]string{"go", "taskset"}, s.tools...) {
			if _, err := exec.LookPath(t); err != nil && !slices.Contains(missing, tools[t]) {
				missing = append(missing, tools[t])
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools; apt-get install %s", strings.Join(missing, " "))
	}
	return nil
}

// moduleRoot is the nearest directory upwards holding go.mod.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for i := 0; i < 64; i++ {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", errors.New("no go.mod above the working directory: run from the gatewayd module")
}

// machine describes where the numbers come from.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	nginx := ""
	if out, err := exec.Command("nginx", "-v").CombinedOutput(); err == nil {
		nginx = ", " + strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	return fmt.Sprintf("%d × %s%s, %s%s", runtime.NumCPU(), model, kernel, runtime.Version(), nginx)
}
