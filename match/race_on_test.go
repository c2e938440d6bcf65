//go:build race

package match

// raceEnabled is set when the race detector is on: it makes sync.Pool drop
// entries at random, so allocation counts mean nothing.
const raceEnabled = true
