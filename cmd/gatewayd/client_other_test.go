//go:build !unix

package main

import "testing"

func permissionDenied(t *testing.T, _ string) {
	t.Skip("unix sockets with permissions are a unix test")
}
