package rules

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestQuoteArgv: a command line as a person reads it, which a shell
// splits back into the same argv (so that it can name and key a stream).
func TestQuoteArgv(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"ss", "-ltnH"}, "ss -ltnH"},
		{[]string{"/bin/sh", "-c", "sleep 300; echo 1"}, "/bin/sh -c 'sleep 300; echo 1'"},
		{[]string{"echo", ""}, "echo ''"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"printf", "%s\n", "a b"}, "printf '%s\n' 'a b'"},
		{[]string{"x", "$HOME", "*", "a\\b"}, `x '$HOME' '*' 'a\b'`},
	} {
		got := QuoteArgv(tc.argv)
		if got != tc.want {
			t.Errorf("QuoteArgv(%q) = %q, want %q", tc.argv, got, tc.want)
		}
		if strings.ContainsRune(got, 0) {
			t.Errorf("QuoteArgv(%q) holds a NUL", tc.argv)
		}
		// The shell reads it back as the same argv.
		out, err := exec.Command("/bin/sh", "-c", "set -- "+got+"; shift; for a in \"$@\"; do printf '%s\\0' \"$a\"; done").Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		back := strings.Split(string(out), "\x00")
		back = back[:len(back)-1]
		if !slices.Equal(back, tc.argv[1:]) {
			t.Errorf("a shell splits %q into %q, want %q", got, back, tc.argv[1:])
		}
	}
}
