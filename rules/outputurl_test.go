package rules

import (
	"strings"
	"testing"
)

func TestParseOutputURL(t *testing.T) {
	tests := []struct {
		in, token string
		check     func(o Output) bool
		err       string
	}{
		{"-", "", func(o Output) bool { return o.URL == "-" && o.Precision == "s" }, ""},
		{"/var/lib/x.lp", "", func(o Output) bool { return o.URL == "file:///var/lib/x.lp" }, ""},
		{"http://127.0.0.1:8086/write?db=logtally&precision=ms", "", func(o Output) bool {
			return o.URL == "http://127.0.0.1:8086/write" && o.API == "v1" && o.Database == "logtally" && o.Precision == "ms" && o.Gzip
		}, ""},
		{"https://influx:8086/api/v2/write?org=o&bucket=b", "secret", func(o Output) bool {
			return o.API == "v2" && o.Org == "o" && o.Bucket == "b" && o.Token == "secret"
		}, ""},
		{"udp://127.0.0.1:8089", "", func(o Output) bool { return o.URL == "udp://127.0.0.1:8089" && o.Precision == "ns" }, ""},
		{"udp://127.0.0.1:8089?precision=s", "", func(o Output) bool { return o.Precision == "s" }, ""},
		{"http://127.0.0.1:8086/write", "", nil, "database"},
		{"https://influx:8086/api/v2/write?org=o&bucket=b", "", nil, "token"},
		{"http://h:1/write?db=x&colour=red", "", nil, "unknown parameter"},
		{"ftp://h/x", "", nil, "unknown scheme"},
		{"", "", nil, "empty"},
	}
	for _, tt := range tests {
		o, err := ParseOutputURL(tt.in, tt.token)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseOutputURL(%q) = %+v, %v; want error with %q", tt.in, o, err, tt.err)
			}
			continue
		}
		if err != nil || !tt.check(o) {
			t.Errorf("ParseOutputURL(%q) = %+v, %v", tt.in, o, err)
		}
	}
}
