// Package daemon wires a configuration into a running gatewayd: it opens the
// listeners, puts a front end on each, builds the routes and their apps, and
// handles reload and shutdown. It is the only package that knows every front
// end and every app; cmd/gatewayd stays a thin main around it.
package daemon
