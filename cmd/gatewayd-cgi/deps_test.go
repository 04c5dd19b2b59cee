package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies holds gatewayd-cgi's dependency list: a web server
// starts it for every request, and every package linked in runs its
// initialisation each time (the Prometheus client and its protobuf
// descriptors took about 1 ms of it). Nothing that only the daemon needs
// may come in through the packages the CGI mode shares with it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %q", out)
	}
	forbidden := []string{
		"github.com/prometheus/",       // metrics: client_golang, client_model, common, procfs
		"google.golang.org/protobuf/",  // the metrics' wire format
		"github.com/spf13/cobra",       // the daemon's command tree
		"github.com/coreos/go-systemd", // socket activation and notification
		"github.com/gatewayd/gatewayd/daemon",
		"github.com/gatewayd/gatewayd/observe/",
		// The gofast transport is the gatewayd binary's (routes.WithGofast):
		// gofast brings net/http/httptest, go/build and go/parser with it.
		"github.com/yookoala/gofast",
		"github.com/gatewayd/gatewayd/app/fcgiupstream/gofastclient",
		"net/http/httptest",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("gatewayd-cgi links %s", d)
			}
		}
	}
}
