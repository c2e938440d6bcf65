package rules

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30s", 30 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"100ms", 100 * time.Millisecond, ""},
		{"1d", 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"1w2d3h", (7*24 + 2*24 + 3) * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"0", 0, ""},
		{"", 0, "empty"},
		{"-5m", 0, "sign"},
		{"5", 0, "invalid"},
		{"5 m", 0, "invalid"},
		{"m", 0, "invalid"},
		{"5y", 0, "invalid"},
		{"1000000w", 0, "too long"},
		{"100000000000h", 0, "invalid"},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"65536", 65536, true},
		{"64k", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"64KiB", 64 << 10, true},
		{"64KB", 64 << 10, true},
		{"1MiB", 1 << 20, true},
		{"1M", 1 << 20, true},
		{"2G", 2 << 30, true},
		{"64 KiB", 64 << 10, true},
		{"", 0, false},
		{"KiB", 0, false},
		{"64x", 0, false},
		{"-1", 0, false},
		{"1.5M", 0, false},
		{"99999999999999999G", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestStrftime(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"%b %e %H:%M:%S", "Jan _2 15:04:05", ""},
		{"%Y-%m-%dT%H:%M:%S%z", "2006-01-02T15:04:05-0700", ""},
		{"%d/%b/%Y:%H:%M:%S %z", "02/Jan/2006:15:04:05 -0700", ""},
		{"%a %b %e %T %Y", "Mon Jan _2 15:04:05 2006", ""},
		{"%F %T.%f", "2006-01-02 15:04:05.000000", ""},
		{"%D %R %p %I %y %j %A %B %Z %h %%", "01/02/06 15:04 PM 03 06 002 Monday January MST Jan %", ""},
		{"%s", "", "unsupported strftime conversion %s"},
		{"%H:%M %", "", "lone %"},
		{"%H%f", "", "%f must follow"},
	}
	for _, tt := range tests {
		got, err := strftimeToGo(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("strftimeToGo(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("strftimeToGo(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err := checkLayout(got); err != nil {
			t.Errorf("checkLayout(%q): %v", got, err)
		}
	}
}

func TestCheckLayout(t *testing.T) {
	tests := []struct {
		layout string
		ok     bool
	}{
		{time.RFC3339, true},
		{time.Stamp, true},
		{"2006-01-02 15:04:05.000", true},
		{"hello", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := checkLayout(tt.layout); (err == nil) != tt.ok {
			t.Errorf("checkLayout(%q) = %v, want ok=%v", tt.layout, err, tt.ok)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"select_line_matching", "extraction_regex", "key", "key_type", "timeout", "persist"}
	tests := []struct{ in, want string }{
		{"select_lines_matching", "select_line_matching"},
		{"Select_Line_Matching", "select_line_matching"},
		{"extraction_regexp", "extraction_regex"},
		{"keytype", "key_type"},
		{"pesist", "persist"},
		{"to", ""},
		{"zzzzzzz", ""},
		{strings.Repeat("x", 200), ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ got, want string }{
		{child("", "measurements"), "measurements"},
		{elem("measurements", 3), "measurements[3]"},
		{child(elem("measurements", 3), "select_line_matching"), "measurements[3].select_line_matching"},
		{child("tags", "app.name"), `tags["app.name"]`},
		{child("env", ""), `env[""]`},
		{child("for", "n-1"), "for.n-1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestNoiseThreshold: noise_threshold is a non-negative number in the
// measurement's units; absent is the default (0), 0 is "none" (negative),
// anything else is an error naming the file, line and key.
func TestNoiseThreshold(t *testing.T) {
	for _, tc := range []struct {
		val  string // "" = absent
		want float64
		err  string
	}{
		{"", 0, ""},
		{"5", 5, ""},
		{"2.5", 2.5, ""},
		{"0", -1, ""},
		{"-3", 0, "must be a number of at least 0"},
		{"lots", 0, "must be a number, not a string"},
	} {
		doc := "measurements:\n  - handle: h\n    path: /var/log/x\n    select_line_matching: '.*'\n"
		if tc.val != "" {
			doc += "    noise_threshold: " + tc.val + "\n"
		}
		set, err := LoadBytes("r.yaml", []byte(doc))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "r.yaml:5:") || !strings.Contains(err.Error(), "noise_threshold") {
				t.Errorf("noise_threshold %s: error %v, want %q at r.yaml:5", tc.val, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("noise_threshold %s: %v", tc.val, err)
		}
		if got := set.Measurements[0].Noise; got != tc.want {
			t.Errorf("noise_threshold %q: %v, want %v", tc.val, got, tc.want)
		}
	}
}
