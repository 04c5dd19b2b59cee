package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/core/handler"
)

// Observer returns the handler.Observer of the listener named listener: set
// it as the core Handler's Observer (with handler.MultiObserver to add the
// access log). Begin counts the request in flight; End counts it by status class,
// observes its duration and adds its body bytes. The protocol label is
// Info.Protocol; route and app are Info.Route and Info.App as the router left
// them, "none" when no route took the request.
func (m *Metrics) Observer(listener string) handler.Observer {
	return &requestObserver{m: m, listener: orNone(listener)}
}

type requestObserver struct {
	m        *Metrics
	listener string
	last     atomic.Pointer[protoSeries] // the protocol seen last: one listener, one protocol
	protos   sync.Map                    // protocol → *protoSeries
}

var _ handler.Observer = (*requestObserver)(nil)

// protoSeries are the series of one (listener, protocol).
type protoSeries struct {
	protocol                     string
	inFlight                     prometheus.Gauge
	bytesIn, bytesOut, truncated prometheus.Counter
}

// requestKey names the series of one (listener, protocol, route, app).
type requestKey struct{ listener, protocol, route, app string }

type requestSeries struct {
	key      requestKey
	duration prometheus.Observer
	codes    [4]prometheus.Counter // 2xx to 5xx; 1xx and others are rare and made on demand
}

func (o *requestObserver) proto(protocol string) *protoSeries {
	if p := o.last.Load(); p != nil && p.protocol == protocol {
		return p
	}
	if p, ok := o.protos.Load(protocol); ok {
		ps := p.(*protoSeries)
		o.last.Store(ps)
		return ps
	}
	label := orNone(protocol)
	m := o.m
	ps := &protoSeries{
		protocol:  protocol,
		inFlight:  m.inFlight.WithLabelValues(label, o.listener),
		bytesIn:   m.bytesIn.WithLabelValues(label, o.listener),
		bytesOut:  m.bytesOut.WithLabelValues(label, o.listener),
		truncated: m.truncated.WithLabelValues(label, o.listener),
	}
	p, _ := o.protos.LoadOrStore(protocol, ps)
	ps = p.(*protoSeries)
	o.last.Store(ps)
	return ps
}

func protocolOf(req *handler.Request, info *handler.Info) string {
	if info != nil {
		return info.Protocol
	}
	if req != nil {
		return req.Protocol
	}
	return ""
}

// Begin counts the request in flight.
func (o *requestObserver) Begin(req *handler.Request, info *handler.Info) {
	o.proto(protocolOf(req, info)).inFlight.Inc()
}

// End counts the finished request.
func (o *requestObserver) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	protocol := protocolOf(req, info)
	ps := o.proto(protocol)
	ps.inFlight.Dec()
	if res == nil {
		return
	}
	var route, app string
	if info != nil {
		route, app = info.Route, info.App
	}
	s := o.m.series(requestKey{o.listener, protocol, route, app})
	if c := res.Status / 100; c >= 2 && c <= 5 {
		s.codes[c-2].Inc()
	} else {
		k := s.key
		o.m.requests.WithLabelValues(orNone(k.protocol), k.listener, orNone(k.route), orNone(k.app), codeClass(res.Status)).Inc()
	}
	s.duration.Observe(res.Duration.Seconds())
	if res.BytesIn > 0 {
		ps.bytesIn.Add(float64(res.BytesIn))
	}
	if res.BytesOut > 0 {
		ps.bytesOut.Add(float64(res.BytesOut))
	}
	if res.Incomplete() {
		ps.truncated.Inc()
	}
}

// series returns the request series of k, making them on first use, and
// those of route and app "other" once maxRequestSeries keys exist.
func (m *Metrics) series(k requestKey) *requestSeries {
	if s, ok := m.requestSeries.Load(k); ok {
		return s.(*requestSeries)
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	if s, ok := m.requestSeries.Load(k); ok {
		return s.(*requestSeries)
	}
	if m.seriesCount >= maxRequestSeries {
		k.route, k.app = other, other
		if s, ok := m.requestSeries.Load(k); ok {
			return s.(*requestSeries)
		}
	}
	protocol, route, app := orNone(k.protocol), orNone(k.route), orNone(k.app)
	s := &requestSeries{key: k, duration: m.duration.WithLabelValues(protocol, k.listener, route, app)}
	for i := range s.codes {
		s.codes[i] = m.requests.WithLabelValues(protocol, k.listener, route, app, codeClasses[i+1])
	}
	m.requestSeries.Store(k, s)
	m.seriesCount++
	return s
}

var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// codeClass is the status class label: "1xx" to "5xx", "other" outside.
func codeClass(status int) string {
	if c := status / 100; c >= 1 && c <= 5 {
		return codeClasses[c-1]
	}
	return other
}
