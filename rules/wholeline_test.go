package rules

import (
	"strings"
	"testing"
)

func TestWholeLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Invalid user`, `.*Invalid user.*`},
		{`.*Invalid user`, `.*Invalid user.*`},
		{`Invalid user .*`, `.*Invalid user .*`},
		{`.*Invalid user.*`, `.*Invalid user.*`},
		{`^Invalid user$`, `.*Invalid user.*`},
		{`price \$`, `.*price \$.*`},
		{`a\.*`, `.*a\.*.*`},
		{`Invalid|Failed`, `.*(?:Invalid|Failed).*`},
		{`(Invalid|Failed) user`, `.*(Invalid|Failed) user.*`},
		{`^`, `^`},
	} {
		if got := WholeLine(tc.in); got != tc.want {
			t.Errorf("WholeLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWholeLineWarning: check warns about a file measurement whose pattern
// can only match lines that begin with a word, and about no other.
func TestWholeLineWarning(t *testing.T) {
	for _, tc := range []struct {
		sel, stream string
		warn        bool
	}{
		{`Invalid user`, "file", true},
		{`Invalid user .*`, "file", true},
		{`^sshd\[\d+\]: Invalid user .*`, "file", true},
		{`(Invalid|Failed) user .*`, "file", false}, // begins with a group: cannot tell
		{`.*Invalid user.*`, "file", false},
		{`.*sshd\[\d+\]: Invalid user .*`, "file", false},
		{`Dec \d+ .*Invalid user.*`, "file", false}, // a syslog month
		{`Mon .*`, "file", false},                   // a ctime weekday
		{`\w+ +\d+ .*`, "file", false},
		{`\d{4}-\d\d-\d\d.*`, "file", false},
		{`2024-.*`, "file", false},
		{`LISTEN .*`, "pipe", false},   // command output has no timestamp
		{`MemFree:.*`, "whole", false}, // nor a file read whole: /proc/meminfo
		{`MemFree:.*`, "file", true},   // a followed file is a log
	} {
		path := "path: /var/log/auth.log"
		switch tc.stream {
		case "pipe":
			path = "stream_type: pipe\n    path: [ss, -ltnH]"
		case "whole":
			path = "path: /proc/meminfo\n    track_growing_file: false"
		}
		set, err := LoadBytes("w.yaml", []byte("measurements:\n  - handle: h\n    "+path+"\n    select_line_matching: '"+tc.sel+"'\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.sel, err)
		}
		var got []Warning
		for _, w := range set.Warnings {
			if w.Key == "measurements[0].select_line_matching" {
				got = append(got, w)
			}
		}
		if (len(got) > 0) != tc.warn {
			t.Errorf("%q (%s): warnings %v, want a warning: %v", tc.sel, tc.stream, got, tc.warn)
		}
		if tc.warn && len(got) > 0 && !containsAll(got[0].Msg, "whole line", "did you mean", ".*") {
			t.Errorf("%q: warning %q lacks the reason or the fix", tc.sel, got[0].Msg)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
