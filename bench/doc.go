//go:build unix

// Command bench is gatewayd's end-to-end benchmark harness: it measures
// gatewayd beside the usual way of doing the same job, with real peers, in
// one run, and prints a markdown table of requests per second, p99 latency
// and their ratios. It runs on Linux (unix-only build: /proc, taskset).
//
//	go run ./bench                  the full run (about 4 minutes)
//	go run ./bench -quick           a smoke run (about 1 minute)
//	go run ./bench -only fastcgi    one scenario (also: scgi, cgi-startup,
//	                                cgi-scripts, php-fpm, http; comma-separated)
//	go run ./bench -write           the full run, then the tables go into
//	                                docs/performance.md between its markers
//
// It builds gatewayd and the hello programs of bench/cmd into a temporary
// directory, starts every peer itself (nginx, uWSGI, fcgiwrap, php-fpm) on
// unix sockets and loopback ports in that directory, drives HTTP load with
// wrk and times CGI start-up with hyperfine, and stops every process group
// it started when a scenario ends, when it fails, and on SIGINT or SIGTERM.
// Each pair is measured in interleaved rounds (A B A B …) in the same run.
//
// With two or more CPUs, nginx and every server run on CPU 0 and wrk on CPU
// 1 (taskset -c; -server-cpu and -client-cpu change that): the server side
// of every pair gets the same single core, and load generation never
// competes with it. Go servers there see GOMAXPROCS=1.
//
// The tools come from Debian: wrk, hyperfine, nginx, fcgiwrap, uwsgi-core
// with uwsgi-plugin-python3, php8.2-fpm, and taskset from util-linux. What
// each scenario measures and how to read the numbers is in
// docs/performance.md.
//
// Not measured: TLS, request bodies, large responses, Apache httpd, more
// than one server CPU.
package main
