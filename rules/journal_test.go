package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestJournalMeasurement(t *testing.T) {
	set, err := LoadBytes("j.yaml", []byte(`
measurements:
  - handle: probe
    stream_type: journal
    unit: ssh.service
    identifier: [sshd, sshd-session]
    match: {_HOSTNAME: [a, b], PRIORITY: "5"}
    render: syslog
    journal_directory: /var/log/journal/remote
    start: beginning
    select_line_matching: '.*sshd(?:-session)?\[\d+\]: Invalid user .*'
  - handle: all
    stream_type: journal
    select_line_matching: 'Invalid user .*'
`))
	if err != nil {
		t.Fatal(err)
	}
	m := set.Measurements[0]
	if !slices.Equal(m.JournalUnits, []string{"ssh.service"}) || !slices.Equal(m.JournalIdentifiers, []string{"sshd", "sshd-session"}) ||
		!slices.Equal(m.JournalMatches, []string{"PRIORITY=5", "_HOSTNAME=a", "_HOSTNAME=b"}) || m.Render != RenderSyslog ||
		m.JournalDir != "/var/log/journal/remote" || m.Start != StartBeginning || m.Snapshot() {
		t.Errorf("measurement %+v", m)
	}
	a := set.Measurements[1]
	if a.Render != RenderMessage || a.Start != StartEnd || a.Path != "" || a.Snapshot() || a.SyslogRepeats != RepeatsOff {
		t.Errorf("defaults %+v", a)
	}
	// Expanding repeat lines in journal entries is asked for by name.
	x, err := LoadBytes("j.yaml", []byte("measurements:\n  - handle: x\n    stream_type: journal\n    syslog_repeats: expand\n    select_line_matching: '.*'\n"))
	if err != nil || x.Measurements[0].SyslogRepeats != RepeatsExpand {
		t.Errorf("syslog_repeats: expand on a journal stream: %v, %v", err, x)
	}
	// A MESSAGE has no timestamp: a pattern that begins with a word is
	// right there, and check says nothing.
	for _, w := range set.Warnings {
		if strings.Contains(w.Key, "measurements[1]") {
			t.Errorf("warning on a journal message pattern: %v", w)
		}
	}

	for _, tc := range []struct{ name, src, want string }{
		{"path", "stream_type: journal\n    path: /var/log/x", "a journal stream reads the journal, not a path"},
		{"unit on a file", "path: /var/log/x\n    unit: ssh.service", "only for journal streams"},
		{"field name", "stream_type: journal\n    match: {_hostname: x}", "invalid journal field"},
		{"timestamp", "stream_type: journal\n    timestamp: '%Y'", "dated by their __REALTIME_TIMESTAMP"},
		{"relative directory", "stream_type: journal\n    journal_directory: journal", "must be an absolute path"},
		{"empty unit", "stream_type: journal\n    unit: ''", "must not be empty"},
		{"render", "stream_type: journal\n    render: json", "unknown value"},
	} {
		_, err := LoadBytes("j.yaml", []byte("measurements:\n  - handle: h\n    select_line_matching: '.*'\n    "+tc.src+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
