package buildinfo_test

import (
	"runtime/debug"
	"testing"

	"github.com/logtally/logtally/internal/buildinfo"
)

func TestFromBuildInfo(t *testing.T) {
	const rev = "4ddfd7e0123456789abcdef0123456789abcdef0"
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		bi    debug.BuildInfo
		want  buildinfo.Info
		str   string
		short string
	}{
		{
			name: "tagged release",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
				Settings: settings("vcs.revision", rev, "vcs.time", "2025-12-06T04:34:00Z", "vcs.modified", "false")},
			want:  buildinfo.Info{Version: "v1.2.3", Revision: rev, Time: "2025-12-06T04:34:00Z", GoVersion: "go1.26.8"},
			str:   "v1.2.3 (revision " + rev + ", 2025-12-06T04:34:00Z; go1.26.8)",
			short: "v1.2.3",
		},
		{
			name: "modified checkout",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20251206043400-4ddfd7e01234+dirty"},
				Settings: settings("vcs.revision", rev, "vcs.modified", "true")},
			want:  buildinfo.Info{Version: "v0.0.0-20251206043400-4ddfd7e01234+dirty", Revision: rev, Modified: true, GoVersion: "go1.26.8"},
			str:   "v0.0.0-20251206043400-4ddfd7e01234+dirty (revision " + rev + ", modified; go1.26.8)",
			short: "4ddfd7e01234+dirty",
		},
		{
			name:  "no version control",
			bi:    debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want:  buildinfo.Info{Version: "(devel)", GoVersion: "go1.26.8"},
			str:   "(devel) (no revision recorded: built without version control information; go1.26.8)",
			short: "(devel)",
		},
		{
			name:  "empty main version",
			bi:    debug.BuildInfo{},
			want:  buildinfo.Info{Version: "(devel)"},
			str:   "(devel) (no revision recorded: built without version control information)",
			short: "(devel)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := buildinfo.FromBuildInfo(&tc.bi)
			if got != tc.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String = %q, want %q", s, tc.str)
			}
			if s := got.Short(); s != tc.short {
				t.Errorf("Short = %q, want %q", s, tc.short)
			}
		})
	}
}
