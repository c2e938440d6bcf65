package match

import "testing"

// CompareSets is compareSets for the external tests: the fast engines, by
// line and by block, against the reference.
func CompareSets(t *testing.T, specs []Spec, lines []string) bool {
	t.Helper()
	return compareSets(t, specs, lines)
}
