//go:build !race

package fcgiupstream

const raceEnabled = false
