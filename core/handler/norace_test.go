//go:build !race

package handler

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts hold only without it.
const raceEnabled = false
