package accesslog_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/accesslog"
)

func ExampleNew() {
	// In the daemon this is the configured logger; an in-memory one here.
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)

	h := &handler.Handler{
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello\n")
		}),
		Observer: accesslog.New(log.With(zap.String("listener", "main"))),
	}
	env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/hello",
		"QUERY_STRING": "token=never-logged", "REMOTE_ADDR": "192.0.2.7",
		"HTTP_COOKIE": "never=logged"}
	environ.SetupTestingDefaults(env)
	h.Serve(context.Background(), &handler.Request{Env: env, Protocol: "scgi"}, io.Discard)

	line := logs.AllUntimed()[0]
	fields := line.ContextMap()
	fmt.Println(line.Message)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if k == "request_id" || k == "duration" { // they vary
			continue
		}
		fmt.Printf("%s=%v\n", k, fields[k])
	}
	// Output:
	// request
	// app=
	// bytes_in=0
	// bytes_out=6
	// listener=main
	// method=GET
	// path=/hello
	// protocol=scgi
	// remote=192.0.2.7
	// route=
	// status=200
}
