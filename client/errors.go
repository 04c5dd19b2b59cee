package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Kind is what went wrong, and the exit code the commands give it.
type Kind int

// Kinds of failure, numbered as the exit codes of gatewayd request and probe.
const (
	// Usage is a bad flag, target or path (exit 1).
	Usage Kind = 1
	// Connect is no connection: refused, no such socket, permission
	// denied, a name that does not resolve (exit 2).
	Connect Kind = 2
	// Timeout is the deadline passing, connection set-up included (exit 3).
	Timeout Kind = 3
	// Status is an answer with an unexpected status (exit 4).
	Status Kind = 4
	// Protocol is a peer that broke its protocol: malformed records or
	// head, a response over MaxBytes (exit 5).
	Protocol Kind = 5
	// Overloaded is FCGI_OVERLOADED, FCGI_CANT_MPX_CONN, a unix socket
	// whose backlog is full, or a 503 where it is checked (exit 6).
	Overloaded Kind = 6
)

func (k Kind) String() string {
	switch k {
	case 0:
		return "ok"
	case Usage:
		return "usage"
	case Connect:
		return "connect"
	case Timeout:
		return "timeout"
	case Status:
		return "status"
	case Protocol:
		return "protocol"
	case Overloaded:
		return "overloaded"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failed exchange.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf is the Kind of err: its *Error's, else Protocol. A nil err has
// kind 0.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if isTimeout(err) {
		return Timeout
	}
	return Protocol
}

func fail(k Kind, format string, a ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, a...)}
}

// ErrTooLarge is a response larger than Request.MaxBytes.
var ErrTooLarge = errors.New("client: response larger than max-bytes")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// dialError classifies a failed dial.
func dialError(t Target, err error) error {
	switch {
	case errors.Is(err, syscall.EAGAIN):
		// A unix socket whose listen backlog is full refuses at once
		// rather than queueing: every worker is busy. (EAGAIN counts as a
		// timeout to net.Error, so it is tested first.)
		return &Error{Kind: Overloaded, Err: fmt.Errorf("connecting to %s: listen backlog full: %w", t, err)}
	case isTimeout(err):
		return &Error{Kind: Timeout, Err: fmt.Errorf("connecting to %s: timed out: %w", t, err)}
	}
	return &Error{Kind: Connect, Err: fmt.Errorf("connecting to %s: %w", t, err)}
}

// ioError classifies a failed read or write on an open connection: the
// deadline is a timeout, anything else (a reset, an early close) breaks the
// protocol.
func ioError(what string, err error) error {
	if isTimeout(err) {
		return &Error{Kind: Timeout, Err: fmt.Errorf("%s: timed out: %w", what, err)}
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: Protocol, Err: fmt.Errorf("%s: %w", what, err)}
}
