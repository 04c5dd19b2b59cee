// Command hello serves bench/internal/hello's handler on one socket, through
// gatewayd's protocol front ends or through Go's standard library, for the
// benchmark harness (go run ./bench):
//
//	hello -serve gatewayd-fastcgi -listen unix:/tmp/x.sock   protocol/fastcgi + core/handler
//	hello -serve nethttp-fcgi     -listen unix:/tmp/y.sock   net/http/fcgi
//	hello -serve gatewayd-scgi    -listen unix:/tmp/z.sock   protocol/scgi + core/handler
//	hello -serve gatewayd-http    -listen 127.0.0.1:8001     protocol/httpfront + core/handler
//	hello -serve nethttp          -listen 127.0.0.1:8002     net/http
//	hello -serve servewith-fastcgi -listen … -config FILE    gatewayd.ServeWith (also -scgi, -http)
//
// The servewith modes are the daemon path a library user runs: the config
// file's metrics listener, status registry and log settings, the hello
// handler as the app, the listener from -listen.
//
// It runs until SIGTERM or SIGINT. -cpuprofile FILE writes a CPU profile of
// the whole run (go run ./bench -profile DIR sets it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gatewayd/gatewayd"
	"github.com/gatewayd/gatewayd/bench/internal/hello"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
	"github.com/gatewayd/gatewayd/protocol/httpfront"
	"github.com/gatewayd/gatewayd/protocol/scgi"
)

func main() { os.Exit(run()) }

// server is what every mode offers: serve until the listener closes, stop.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// fcgiServer is net/http/fcgi, which has no Shutdown: closing the listener
// (set before Serve runs) ends Serve.
type fcgiServer struct{ l net.Listener }

func (s *fcgiServer) Serve(l net.Listener) error { return fcgi.Serve(l, hello.App{}) }

func (s *fcgiServer) Shutdown(context.Context) error { return s.l.Close() }

func run() int {
	mode := flag.String("serve", "", "gatewayd-fastcgi, nethttp-fcgi, gatewayd-scgi, gatewayd-http or nethttp")
	addr := flag.String("listen", "", "unix:/path or host:port")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	conf := flag.String("config", "", "gatewayd config file of the servewith modes")
	flag.Parse()
	if p, ok := strings.CutPrefix(*mode, "servewith-"); ok {
		return serveWith(p, *addr, *conf, *profile)
	}

	var s server
	switch *mode {
	case "gatewayd-fastcgi":
		s = &fastcgi.Server{Handler: &handler.Handler{App: hello.App{}}}
	case "nethttp-fcgi":
		s = &fcgiServer{}
	case "gatewayd-scgi":
		s = &scgi.Server{Handler: &handler.Handler{App: hello.App{}}}
	case "gatewayd-http":
		s = &httpfront.Server{Handler: &handler.Handler{App: hello.App{}}}
	case "nethttp":
		s = &http.Server{Handler: hello.App{}, ReadHeaderTimeout: 10 * time.Second}
	default:
		fmt.Fprintf(os.Stderr, "hello: unknown -serve %q\n", *mode)
		return 2
	}
	network, a := "tcp", *addr
	if p, ok := strings.CutPrefix(*addr, "unix:"); ok {
		network, a = "unix", p
		_ = os.Remove(p)
	}
	l, err := net.Listen(network, a)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		return 1
	}
	stopProfile, err := startProfile(*profile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		return 1
	}
	defer stopProfile()
	if fs, ok := s.(*fcgiServer); ok {
		fs.l = l
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.Shutdown(sctx)
		cancel()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) &&
		!errors.Is(err, fastcgi.ErrServerClosed) && !errors.Is(err, scgi.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		return 1
	}
	return 0
}

// serveWith serves the hello app with gatewayd.ServeWith, which returns on
// SIGTERM once in-flight requests are done.
func serveWith(protocol, addr, conf, profile string) int {
	stopProfile, err := startProfile(profile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		return 1
	}
	defer stopProfile()
	err = gatewayd.ServeWith(hello.App{}, gatewayd.Options{
		Config:    conf,
		Listeners: []config.Listener{{Name: "hello", Protocol: protocol, Address: addr}},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		return 1
	}
	return 0
}

// startProfile writes a CPU profile to path until the returned stop is
// called; with no path it does nothing.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
