// Package observe combines the core handler.Observers that gatewayd sets on
// a Handler: the metrics of observe/metrics and the access log of
// observe/accesslog. It holds nothing else.
package observe
