package config

import (
	"testing"
	"time"
)

func TestRequestIDAndSlowRequestKeys(t *testing.T) {
	c, err := Parse(`
listeners:
  - {protocol: fastcgi, address: "unix:/run/g.sock", request_id: {trust_header: true, response_header: true}}
  - {protocol: http, address: "127.0.0.1:8000"}
log: {slow_request: 2s}
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listeners[0].RequestID != (RequestID{TrustHeader: true, ResponseHeader: true}) || c.Listeners[1].RequestID != (RequestID{}) {
		t.Errorf("request_id: %+v, %+v", c.Listeners[0].RequestID, c.Listeners[1].RequestID)
	}
	if c.Log.SlowRequest != 2*time.Second {
		t.Errorf("log.slow_request = %v", c.Log.SlowRequest)
	}
	t.Setenv("GATEWAYD_LOG_SLOW_REQUEST", "750ms")
	if c, err := Parse(""); err != nil || c.Log.SlowRequest != 750*time.Millisecond {
		t.Errorf("GATEWAYD_LOG_SLOW_REQUEST: %v, %v", c.Log.SlowRequest, err)
	}
	if c, err := Parse(""); err != nil || c.Log.SlowRequest != 750*time.Millisecond || c.Listeners[0].RequestID != (RequestID{}) {
		t.Errorf("defaults: %+v %v", c, err)
	}
}
