// The Server's limits: their defaults, the one rule for zero and negative
// values, and what FCGI_GET_VALUES reports of them.

package fastcgi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/internal/spool"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxConns       = 1024
	DefaultMaxReqs        = 64
	DefaultMaxParamsBytes = 65536
	DefaultReadTimeout    = 30 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultBodyBuffer     = 64 << 10
	DefaultMaxSpoolBytes  = spool.DefaultMaxBytes
)

// limits are the Server's limits with defaults applied.
type limits struct {
	maxConns, maxReqs, maxParams, bodyBuffer int
	maxSpool                                 int64
	readTimeout, writeTimeout                time.Duration
}

// limits applies internal/setting's rule to the Server's fields: zero is
// the default; only MaxSpoolBytes can be off (negative: nothing is
// spooled), any other negative value is an error that Serve returns.
func (s *Server) limits() (limits, error) {
	var err error
	if e := setting.Negative(
		setting.N("MaxConns", s.MaxConns), setting.N("MaxReqs", s.MaxReqs),
		setting.N("MaxParamsBytes", s.MaxParamsBytes), setting.N("BodyBuffer", s.BodyBuffer),
		setting.N("ReadTimeout", s.ReadTimeout), setting.N("WriteTimeout", s.WriteTimeout),
	); e != nil {
		err = fmt.Errorf("fastcgi: %w", e)
	}
	return limits{
		maxConns:     setting.Or(s.MaxConns, DefaultMaxConns),
		maxReqs:      min(setting.Or(s.MaxReqs, DefaultMaxReqs), 65535),
		maxParams:    setting.Or(s.MaxParamsBytes, DefaultMaxParamsBytes),
		bodyBuffer:   setting.Or(s.BodyBuffer, DefaultBodyBuffer),
		maxSpool:     setting.Or(s.MaxSpoolBytes, DefaultMaxSpoolBytes),
		readTimeout:  setting.Or(s.ReadTimeout, DefaultReadTimeout),
		writeTimeout: setting.Or(s.WriteTimeout, DefaultWriteTimeout),
	}, err
}

// getValue answers one FCGI_GET_VALUES name; ok is false for names this
// server does not know, which are left out of the answer.
func (s *Server) getValue(name string) (string, bool) {
	switch name {
	case fcgiwire.MaxConns:
		return strconv.Itoa(s.lim.maxConns), true
	case fcgiwire.MaxReqs:
		return strconv.Itoa(s.lim.maxConns * s.lim.maxReqs), true
	case fcgiwire.MpxsConns:
		if s.lim.maxReqs > 1 {
			return "1", true
		}
		return "0", true
	}
	return "", false
}
