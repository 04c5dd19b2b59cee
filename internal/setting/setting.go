// Package setting is the one rule every limit and timeout of gatewayd
// follows, in the config file and in the Go API alike: zero (or unset) means
// the package's default, and a negative value means off — no limit, no
// queue, no cache — for the settings where off has a meaning, and is refused
// for the others (a limit whose absence would leave memory, file
// descriptors or waiting unbounded).
//
// The defaults themselves are not here: each package owns its own, as
// DefaultX constants beside the field they fill. This package holds only
// the rule, so that config, the front ends and the apps read a setting the
// same way. docs/config.md ("Defaults, zero and negative values") is where
// users read it.
package setting

import "fmt"

// Or is v, or def when v is the zero value. A negative v comes back as it
// is: off, which the caller gives its meaning, or refuses with Negative.
func Or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Named is one setting that cannot be off, by the name its caller uses
// for it (a field or a config key).
type Named struct {
	Name     string
	Value    string // as written: "-1", "-5s"
	negative bool
}

// N names a setting for Negative.
func N[T ~int | ~int64](name string, v T) Named {
	return Named{Name: name, Value: fmt.Sprint(v), negative: v < 0}
}

// Negative checks settings that cannot be off: it returns an error naming
// the first that is negative, nil when none is.
func Negative(s ...Named) error {
	for _, n := range s {
		if n.negative {
			return &NegativeError{Name: n.Name, Value: n.Value}
		}
	}
	return nil
}

// NegativeError is a negative value for a setting that cannot be off.
type NegativeError struct {
	Name, Value string
}

func (e *NegativeError) Error() string { return e.Name + ": " + e.Reason() }

// Reason is the error without the name, for callers that name the setting
// their own way (config names the key).
func (e *NegativeError) Reason() string {
	return e.Value + " is negative, and this limit cannot be off (0 means the default)"
}
