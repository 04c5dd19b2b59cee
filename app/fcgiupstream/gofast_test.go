package fcgiupstream

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/gatewayd/gatewayd/app/fcgiupstream/gofastclient"
)

// withGofast gives a config that asks for the gofast transport the client
// the gatewayd binary links.
func withGofast(cfg Config) Config {
	if cfg.Transport == TransportGofast && cfg.Gofast == nil {
		cfg.Gofast = func(c net.Conn) Client { return gofastclient.New(c) }
	}
	return cfg
}

// TestGofastNeedsClient: the package does not link gofast itself, so
// transport gofast without Config.Gofast is an error at New, not a nil
// call at the first request.
func TestGofastNeedsClient(t *testing.T) {
	_, err := New(Config{Upstream: "unix:/nonexistent", Root: t.TempDir(), Transport: TransportGofast}, nil)
	if !errors.Is(err, ErrNoGofast) {
		t.Fatalf("New with transport gofast and no Gofast: %v, want ErrNoGofast", err)
	}
}

// TestProtocolCauses: the causes made without fmt at initialisation read
// and match as the fmt.Errorf("%w: ...") they replaced.
func TestProtocolCauses(t *testing.T) {
	for err, want := range map[error]string{
		errHeadTooLarge: fmt.Sprintf("%v: response head over %d bytes", ErrProtocol, maxHeadBytes),
		errRequestID:    ErrProtocol.Error() + ": unexpected FastCGI request id",
		errRecordType:   ErrProtocol.Error() + ": unexpected record type",
		errNoEnd:        ErrProtocol.Error() + ": connection closed before FCGI_END_REQUEST",
	} {
		wrapped := fmt.Errorf("reading: %w", err)
		if err.Error() != want || !errors.Is(wrapped, ErrProtocol) || !errors.Is(wrapped, err) {
			t.Errorf("%q: want %q, matching ErrProtocol and itself", err, want)
		}
	}
}
