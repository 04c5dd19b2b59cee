// Package metrics is gatewayd's Prometheus instrumentation: request metrics
// through a core handler.Observer, connection and refusal counts per
// listener, CGI script and FastCGI upstream metrics per route, config reload
// results, build info, the Go runtime and process collectors, and the HTTP
// handler of the metrics listener (the exposition plus /healthz and /readyz).
//
// Everything is registered on the registry passed to [New], never on the
// global one. Names follow gatewayd_<subsystem>_<name>_<unit>; every label
// has a bounded set of values (protocol, listener, route, app, code class,
// and fixed reason or kind words): never a raw path, script name or status
// text. docs/metrics.md lists every metric.
//
// The package imports only core/*: [Listener], [CGI] and [Upstream] are the
// Observers of the FastCGI front end, app/cgiscript and app/fcgiupstream as
// they are, because both sides speak the words of core/event (the label
// values of refusals, exits, rejections and outcomes), and neither imports
// the other. The daemon hands them over without adapters.
//
// Not supported: native (sparse) histograms, exemplars, per-script or
// per-path series (by design: they are unbounded), and pushing to a
// Pushgateway.
package metrics
