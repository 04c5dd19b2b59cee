package status

import (
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
)

// Snapshot is what the page shows, as /status?format=json sends it. Every
// duration is in seconds; every time is RFC 3339 with nanoseconds, UTC.
// docs/status.md is the schema's reference.
type Snapshot struct {
	Version       string     `json:"version"`
	GoVersion     string     `json:"go_version"`
	PID           int        `json:"pid"`
	Now           time.Time  `json:"now"`
	Started       time.Time  `json:"started"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	Config        ConfigInfo `json:"config"`
	// InFlight counts every request in flight; Requests lists the oldest
	// MaxRequests of them, oldest first.
	InFlight  int               `json:"in_flight"`
	Listeners []ListenerStatus  `json:"listeners"`
	Routes    []RouteStatus     `json:"routes"`
	Upstreams []UpstreamStatus  `json:"upstreams"`
	Requests  []RequestInFlight `json:"requests"`
	// SlowRequestSeconds is log.slow_request, 0 when off.
	SlowRequestSeconds float64 `json:"slow_request_seconds"`
}

// ConfigInfo is the config in use.
type ConfigInfo struct {
	// File is the config file; "" when running on defaults.
	File string `json:"file"`
	// Loaded is when the running config was loaded (at start or by the
	// last successful reload).
	Loaded time.Time `json:"loaded"`
	// Reloads counts reload attempts; LastReload is the last one's time.
	Reloads    int        `json:"reloads"`
	LastReload *time.Time `json:"last_reload,omitempty"`
	// LastReloadError is why the last failed reload failed, with its time.
	LastReloadError   string     `json:"last_reload_error,omitempty"`
	LastReloadErrorAt *time.Time `json:"last_reload_error_at,omitempty"`
}

// ListenerStatus is one listener.
type ListenerStatus struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	// Connections is the connections open now (http, scgi, fastcgi).
	Connections int64 `json:"connections"`
	InFlight    int   `json:"in_flight"`
	// Requests counts the requests finished since start.
	Requests uint64 `json:"requests"`
}

// RouteStatus is one route.
type RouteStatus struct {
	Prefix   string `json:"prefix"`
	App      string `json:"app"`
	InFlight int    `json:"in_flight"`
	// Requests counts finished requests by status class: "1xx" … "5xx",
	// "other"; classes with none are left out.
	Requests map[string]uint64 `json:"requests"`
	// Pool is set for cgi and fastcgi routes.
	Pool *PoolStatus `json:"pool,omitempty"`
}

// PoolStatus is a cgi route's slots and queue, or a fastcgi route's
// upstream connections.
type PoolStatus struct {
	Limit     int `json:"limit"`
	Busy      int `json:"busy"`
	QueueSize int `json:"queue_size"`
	Waiting   int `json:"waiting"`
}

// UpstreamStatus is a fastcgi route's upstream.
type UpstreamStatus struct {
	Route       string     `json:"route"`
	Address     string     `json:"address"`
	MaxConns    int        `json:"max_conns"`
	InUse       int        `json:"in_use"`
	Waiting     int        `json:"waiting"`
	Health      string     `json:"health"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// RequestInFlight is one request in flight.
type RequestInFlight struct {
	ID       string `json:"id"`
	Listener string `json:"listener"`
	Protocol string `json:"protocol"`
	Method   string `json:"method"`
	// Path never has the query string.
	Path  string `json:"path"`
	Route string `json:"route"`
	App   string `json:"app"`
	// Phase is where the request waits: app, queued, script or upstream.
	Phase      string    `json:"phase"`
	Started    time.Time `json:"started"`
	AgeSeconds float64   `json:"age_seconds"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
	Script     string    `json:"script,omitempty"`
	PID        int       `json:"pid,omitempty"`
	Upstream   string    `json:"upstream,omitempty"`
	// The phases so far; absent until known.
	QueueWaitSeconds *float64 `json:"queue_wait_seconds,omitempty"`
	ConnectSeconds   *float64 `json:"upstream_connect_seconds,omitempty"`
	FirstByteSeconds *float64 `json:"first_byte_seconds,omitempty"`
}

// Snapshot takes the page's data. It holds each shard's lock only to copy
// pointers, and calls the routes' Pool and Upstream functions, which do not
// block: it never waits on an app.
func (r *Registry) Snapshot() Snapshot {
	now := time.Now()
	type inflight struct {
		info *handler.Info
		l    *Listener
		m, p string
	}
	var all []inflight
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for info, e := range s.m {
			all = append(all, inflight{info, e.l, e.method, e.path})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(all, func(a, b inflight) int { return a.info.Start.Compare(b.info.Start) })

	r.mu.Lock()
	cfg := r.config
	listeners := slices.Clone(r.listeners)
	routes := slices.Clone(r.routes)
	r.mu.Unlock()

	snap := Snapshot{
		Version: r.version, GoVersion: runtime.Version(), PID: os.Getpid(),
		Now: now.UTC(), Started: r.started.UTC(), UptimeSeconds: now.Sub(r.started).Seconds(),
		Config:             ConfigInfo{File: cfg.file, Loaded: cfg.loaded.UTC(), Reloads: cfg.reloads, LastReloadError: cfg.lastErr},
		InFlight:           len(all),
		SlowRequestSeconds: max(time.Duration(r.slow.Load()), 0).Seconds(),
		Listeners:          []ListenerStatus{},
		Routes:             []RouteStatus{},
		Upstreams:          []UpstreamStatus{},
		Requests:           []RequestInFlight{},
	}
	if !cfg.lastReload.IsZero() {
		t := cfg.lastReload.UTC()
		snap.Config.LastReload = &t
	}
	if !cfg.lastErrAt.IsZero() {
		t := cfg.lastErrAt.UTC()
		snap.Config.LastReloadErrorAt = &t
	}

	byListener := map[*Listener]int{}
	byRoute := map[string]int{}
	for i, f := range all {
		byListener[f.l]++
		lv := f.info.Live()
		byRoute[lv.Route]++
		if i >= MaxRequests {
			continue
		}
		rq := RequestInFlight{
			ID: f.info.ID, Listener: f.l.name, Protocol: f.info.Protocol, Method: f.m, Path: f.p,
			Route: lv.Route, App: lv.App, Phase: lv.Phase.String(),
			Started: f.info.Start.UTC(), AgeSeconds: now.Sub(f.info.Start).Seconds(),
			BytesIn: lv.BytesIn, BytesOut: lv.BytesOut,
			Script: lv.Script, PID: lv.Pid, Upstream: lv.Upstream,
		}
		if lv.QueueWait >= 0 {
			rq.QueueWaitSeconds = seconds(lv.QueueWait)
		}
		if lv.Connect >= 0 {
			rq.ConnectSeconds = seconds(lv.Connect)
		}
		if lv.FirstByte > 0 {
			rq.FirstByteSeconds = seconds(lv.FirstByte)
		}
		snap.Requests = append(snap.Requests, rq)
	}
	for _, l := range listeners {
		ls := ListenerStatus{Name: l.name, Protocol: l.protocol, Connections: l.conns.Load(),
			InFlight: byListener[l], Requests: l.total.Load()}
		if a := l.address.Load(); a != nil {
			ls.Address = *a
		}
		snap.Listeners = append(snap.Listeners, ls)
	}
	for _, rt := range routes {
		rs := RouteStatus{Prefix: rt.Prefix, App: rt.App, InFlight: byRoute[rt.Prefix], Requests: map[string]uint64{}}
		for c := range rt.classes {
			if n := rt.classes[c].Load(); n > 0 {
				rs.Requests[classNames[c]] = n
			}
		}
		if rt.Pool != nil {
			p := rt.Pool()
			rs.Pool = &PoolStatus{Limit: p.Limit, Busy: p.Busy, QueueSize: p.QueueSize, Waiting: p.Waiting}
		}
		snap.Routes = append(snap.Routes, rs)
		if rt.Upstream != nil {
			u := rt.Upstream()
			us := UpstreamStatus{Route: rt.Prefix, Address: u.Address, MaxConns: u.MaxConns, InUse: u.InUse,
				Waiting: u.Waiting, Health: u.Health, LastError: u.LastError}
			if !u.LastErrorAt.IsZero() {
				t := u.LastErrorAt.UTC()
				us.LastErrorAt = &t
			}
			snap.Upstreams = append(snap.Upstreams, us)
		}
	}
	return snap
}

var classNames = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
