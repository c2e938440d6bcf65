// Package text shortens text for messages, logs and outputs without
// splitting a UTF-8 sequence.
package text

import "unicode/utf8"

// Prefix returns the longest prefix of s of at most max bytes that ends at
// a character boundary: s itself when it is no longer than max.
func Prefix(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
