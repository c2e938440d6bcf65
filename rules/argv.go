package rules

import "strings"

// QuoteArgv writes a command's argv as a person would type it to a POSIX
// shell: words joined by spaces, each word that holds anything but
// letters, digits and @%+=:,./_- in single quotes (an empty word as a
// pair of them, a quote within a word as quote, backslash, quote, quote).
// It names a command stream in logs, `status`, the status page and
// /metrics, and, being reversible (a shell splits it back into the same
// argv), keys it in the state file.
func QuoteArgv(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
