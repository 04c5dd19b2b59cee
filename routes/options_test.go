package routes

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/config"
)

// TestGofastNeedsWithGofast: a program that did not link the gofast
// transport refuses a route that asks for it when the table is built, by
// its key; one that did builds it.
func TestGofastNeedsWithGofast(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("routes:\n  - prefix: /\n    app: demo\n  - prefix: /php\n    app: fastcgi\n    transport: gofast\n" +
		"    upstream: unix:" + dir + "/php.sock\n    root: " + dir + "\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, zap.NewNop(), nil)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "routes[1].transport: gofast is not in this program") {
		t.Errorf("Build without WithGofast: %v", err)
	}
	tbl, err := Build(cfg, zap.NewNop(), nil, WithGofast(func(net.Conn) fcgiupstream.Client { return nil }))
	if err != nil {
		t.Fatalf("Build with WithGofast: %v", err)
	}
	_ = tbl.Close(context.Background())
}
