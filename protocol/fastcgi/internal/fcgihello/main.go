// Command fcgihello serves a small app over FastCGI with gatewayd's FastCGI
// front end and core, for benchmarks and manual tests behind a web server:
//
//	go run ./protocol/fastcgi/internal/fcgihello -addr 127.0.0.1:9000
//	go run ./protocol/fastcgi/internal/fcgihello -addr unix:/tmp/hello.sock -app demo
//	cgi-fcgi -start -connect 127.0.0.1:9000 ./fcgihello
//
// Without -addr it serves the listening socket on fd 0 when it was started
// with one (FCGI_LISTENSOCK_FILENO, as cgi-fcgi -start does), and
// 127.0.0.1:9000 otherwise.
//
// -app hello answers "Hello, world!\n"; -app demo is the environment echo
// app. SIGINT and SIGTERM shut it down gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/listener"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
)

func main() { os.Exit(run()) }

func run() int {
	addr := flag.String("addr", "", `host:port, unix:/path, or fd0 (FCGI_LISTENSOCK_FILENO); default fd0 when it listens, else 127.0.0.1:9000`)
	appName := flag.String("app", "hello", "hello or demo")
	maxConns := flag.Int("max-conns", 0, "max_conns (0: 1024)")
	maxReqs := flag.Int("max-reqs", 0, "max_reqs per connection (0: 64)")
	verbose := flag.Bool("v", false, "log connection events")
	flag.Parse()

	log := zap.NewNop()
	if *verbose {
		log, _ = zap.NewDevelopment()
	}
	var app http.Handler = demo.App{}
	switch *appName {
	case "hello":
		app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "Hello, world!\n")
		})
	case "demo":
	default:
		fmt.Fprintf(os.Stderr, "fcgihello: unknown -app %q\n", *appName)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var l net.Listener
	var err error
	switch *addr {
	case "":
		// FastCGI's convention: a listening socket on fd 0 when the web
		// server started us with one.
		if l, err = listener.FCGIStdin(); err != nil {
			*addr = "127.0.0.1:9000"
			l, err = listener.Open(ctx, *addr, listener.Options{Log: log})
			break
		}
		*addr = "fd0"
	case "fd0":
		l, err = listener.FCGIStdin()
	default:
		l, err = listener.Open(ctx, *addr, listener.Options{Log: log})
	}
	if err == nil && *addr == "fd0" {
		allowed, perr := listener.ParseWebServerAddrs(os.Getenv("FCGI_WEB_SERVER_ADDRS"))
		l, err = listener.AllowOnly(l, allowed, log), perr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fcgihello: %v\n", err)
		return 1
	}
	s := &fastcgi.Server{
		Handler:  &handler.Handler{App: app, Log: log},
		MaxConns: *maxConns, MaxReqs: *maxReqs, Log: log,
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	if *addr != "fd0" {
		fmt.Fprintf(os.Stderr, "fcgihello: serving %s on %s\n", *appName, l.Addr())
	}
	select {
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "fcgihello: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "fcgihello: shutdown: %v\n", err)
		return 1
	}
	return 0
}
