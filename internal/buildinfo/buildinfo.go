// Package buildinfo says which build of logtally is running: the module
// version, the VCS revision and whether the tree it was built from had
// uncommitted changes, as the Go toolchain recorded them in the binary.
// Nothing is injected with -ldflags, so every build, from a package or from
// `go build` in a checkout, reports the same thing the same way.
package buildinfo

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// Info is what the binary knows of its own build.
type Info struct {
	// Version is the main module's version: a release tag (v1.2.3), a
	// pseudo-version derived from the commit (v0.0.0-20250101120000-abcdef123456,
	// "+dirty" when the tree was modified), or "(devel)" when the toolchain
	// had no version control information.
	Version string
	// Revision is the full VCS revision (commit id); empty when unknown.
	Revision string
	// Time is the commit time of Revision, RFC 3339; empty when unknown.
	Time string
	// Modified is true when the tree had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns the build information of the running binary.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts an Info from the toolchain's build information.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// pseudo matches the tail of a pseudo-version: a commit time and the
// first 12 hex digits of its revision, then "+dirty" for a modified tree.
var pseudo = regexp.MustCompile(`[.-]\d{14}-([0-9a-f]{12})(\+dirty)?$`)

// Short is the version in few characters, for places with little room
// (a man page's footer): a release tag as it is; for a pseudo-version,
// its revision ("abcdef123456", "+dirty" when modified), which the full
// version adds nothing to but a date and a placeholder.
func (in Info) Short() string {
	if m := pseudo.FindStringSubmatch(in.Version); m != nil {
		return m[1] + m[2]
	}
	return in.Version
}

// String is the one-line description `logtally version` prints: the
// version, then the revision with its time and "modified" when the tree had
// uncommitted changes, then the Go version, for example
//
//	v0.0.0-20250101120000-abcdef123456+dirty (revision abcdef1234567890…, 2025-01-01T12:00:00Z, modified; go1.26.8)
func (in Info) String() string {
	var b strings.Builder
	b.WriteString(in.Version)
	var details []string
	if in.Revision != "" {
		details = append(details, "revision "+in.Revision)
		if in.Time != "" {
			details = append(details, in.Time)
		}
		if in.Modified {
			details = append(details, "modified")
		}
	} else {
		details = append(details, "no revision recorded: built without version control information")
	}
	b.WriteString(" (")
	b.WriteString(strings.Join(details, ", "))
	if in.GoVersion != "" {
		b.WriteString("; ")
		b.WriteString(in.GoVersion)
	}
	b.WriteString(")")
	return b.String()
}
