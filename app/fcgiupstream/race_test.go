//go:build race

package fcgiupstream

// raceEnabled: the race detector changes what allocates.
const raceEnabled = true
