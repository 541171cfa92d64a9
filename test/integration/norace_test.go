//go:build !race

package integration

// raceEnabled is true when the tests run under the race detector; vios is
// then built with -race too.
const raceEnabled = false
