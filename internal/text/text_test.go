package text

import (
	"testing"
	"unicode/utf8"
)

func TestPrefix(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is 2 bytes: not split
		{"aéb", 3, "aé"},
		{"€x", 2, ""}, // € is 3 bytes
		{"", 0, ""},
		{"ab", 0, ""},
	}
	for _, tt := range tests {
		if got := Prefix(tt.s, tt.max); got != tt.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

// FuzzPrefix: the prefix is one of s, within max bytes, and valid UTF-8
// when s is.
func FuzzPrefix(f *testing.F) {
	f.Add("aéb€", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 {
			max = -max
		}
		p := Prefix(s, max)
		if len(p) > max && len(p) != len(s) || s[:len(p)] != p || utf8.ValidString(s) && !utf8.ValidString(p) {
			t.Fatalf("Prefix(%q, %d) = %q", s, max, p)
		}
	})
}
