// Package status is gatewayd's live view of itself: a registry of the
// requests in flight, fed as a core handler.Observer (one per listener),
// the /status page that shows them with the listeners, routes and upstream
// pools (HTML for people, JSON with ?format=json), and the slow-request log
// (log.slow_request).
//
// The request path pays one map insert and one delete under one of 64
// sharded locks; everything else (counting per route and listener, sorting
// by age) happens when the page is asked for. What a request does while it
// runs — its route, its CGI script and pid, its upstream, how long it
// queued — the apps record through the handler.Info of the request, in
// atomics that the page reads without stopping anyone. Pool numbers come
// from functions the daemon gives per route, which read atomics too: the
// page never takes a lock that a stuck app could hold, so it answers when
// everything behind it is stuck. docs/status.md describes the page and its
// JSON schema.
//
// The slow log is one ticker goroutine per Registry that scans the
// requests in flight (not a timer per request): a request older than the
// threshold gets a warn line "slow request still running" once, and every
// request that took longer gets "slow request" when it ends; both carry
// its phases (queue_wait, upstream_connect, first_byte, duration).
package status
