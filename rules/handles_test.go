package rules

import (
	"slices"
	"testing"
)

// TestDerivedHandles: a command or report without a handle is named after
// its guard (or its file), and names that come out the same are numbered
// in load order, around the handles written in the files.
func TestDerivedHandles(t *testing.T) {
	set, err := LoadBytes("ssh.yaml", []byte(`
measurements:
  - handle: probe
    path: /var/log/auth.log
    select_line_matching: '.*Invalid user.*'
classes:
  storm: probe_high_anomaly
reports:
  - if: storm
    message: a
  - if: storm
    message: b
  - if: storm
    handle: storm_report_2
    message: c
  - message: started
  - if: probe_high_dev2.!storm
    message: d
commands:
  - if: storm
    command: [/bin/true]
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range set.Reports {
		got = append(got, r.Handle)
	}
	want := []string{"storm_report", "storm_report_3", "storm_report_2", "ssh_report", "probe_high_dev2_storm_report"}
	if !slices.Equal(got, want) {
		t.Errorf("report handles %q, want %q", got, want)
	}
	if h := set.Commands[0].Handle; h != "storm_command" {
		t.Errorf("command handle %q, want storm_command", h)
	}
}
