package rules

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/logtally/logtally/observe"
)

func TestObserveList(t *testing.T) {
	set, err := LoadBytes("o.yaml", []byte(`observe:
  - users
  - rootprocs
  - www_in
  - smtp_out
  - diskfree
  - name: listening_ports
    expect: ['22 sshd', '80 httpd', '443 httpd']
  - handle: diskfree_var
    diskfree: /var/
    history_type: static
  - handle: pg_in
    tcp_in: [5432, 5433, 5432]
    persist: 30m
    ifelapsed: 15m
    expireafter: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		handle, dataType, history, keyType string
		spec                               observe.Spec
	}
	want := []got{
		{"users", Int, HistoryWeekly, KeyAny, observe.Spec{Kind: observe.Users}},
		{"rootprocs", Int, HistoryWeekly, KeyAny, observe.Spec{Kind: observe.RootProcs}},
		{"www_in", Int, HistoryWeekly, KeyIP, observe.Spec{Kind: observe.TCPIn, Ports: []uint16{80}}},
		{"smtp_out", Int, HistoryWeekly, KeyIP, observe.Spec{Kind: observe.TCPOut, Ports: []uint16{25}}},
		{"diskfree", Real, HistoryWeekly, KeyAny, observe.Spec{Kind: observe.DiskFree, Path: "/"}},
		{"listening_ports", Slist, HistoryScalar, KeyAny, observe.Spec{Kind: observe.ListeningTCP}},
		{"diskfree_var", Real, HistoryScalar, KeyAny, observe.Spec{Kind: observe.DiskFree, Path: "/var"}},
		{"pg_in", Int, HistoryWeekly, KeyIP, observe.Spec{Kind: observe.TCPIn, Ports: []uint16{5432, 5433}}},
	}
	if len(set.Measurements) != len(want) {
		t.Fatalf("%d measurements, want %d", len(set.Measurements), len(want))
	}
	for i, m := range set.Measurements {
		g := got{m.Handle, m.DataType, m.HistoryType, m.KeyType, *m.Observe}
		if !reflect.DeepEqual(g, want[i]) || m.StreamType != StreamObserve || !m.Snapshot() {
			t.Errorf("measurement %d: %+v (%s), want %+v", i, g, m.StreamType, want[i])
		}
	}
	lp := set.Measurement("listening_ports")
	if !reflect.DeepEqual(lp.Expect, []string{"22 sshd", "80 httpd", "443 httpd"}) || !lp.IsSet() {
		t.Errorf("listening_ports: %+v", lp)
	}
	pg := set.Measurement("pg_in")
	if pg.Persist != 30*time.Minute || pg.IfElapsed != 15*time.Minute || pg.ExpireAfter != time.Minute {
		t.Errorf("pg_in: %+v", pg)
	}
	known := set.KnownClasses()
	for _, c := range []string{"www_in_high_anomaly", "entropy_www_in_low", "smtp_out_high_anomaly", "rootprocs_low_dev2",
		"listening_ports_unexpected", "listening_ports_missing", "diskfree_low"} {
		if !slices.Contains(known, c) {
			t.Errorf("KnownClasses lacks %s", c)
		}
	}
	for _, c := range []string{"entropy_diskfree_low", "diskfree_var_high", "listening_ports_high"} {
		if slices.Contains(known, c) {
			t.Errorf("KnownClasses has %s", c)
		}
	}
}

func TestWatchFilesRules(t *testing.T) {
	set, err := LoadBytes("w.yaml", []byte(`watch_files:
  - handle: etc_ssh
    paths: [/etc/ssh/, '/etc/pam.d/*']
    exclude: ['*.swp', /etc/ssh/moduli]
    hash: best
    report_changes: content
    update_hashes: yes
    max_bytes: 64MiB
    max_files: 5000
  - handle: bin
    paths: [/usr/bin]
settings:
  file_change_log: /var/log/logtally/changes.jsonl
reports:
  - if: etc_ssh_changed|bin_added
    message: "changed: $(changed_etc_ssh) added: $(added_bin) $(value_bin)"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []*Watch{
		{Handle: "etc_ssh", Paths: []string{"/etc/ssh", "/etc/pam.d/*"}, Exclude: []string{"*.swp", "/etc/ssh/moduli"},
			Hash: "best", Report: "content", Update: true, MaxBytes: 64 << 20, MaxFiles: 5000,
			Persist: DefaultPersist, PersistPolicy: PersistPreserve},
		{Handle: "bin", Paths: []string{"/usr/bin"}, Hash: "sha256", Report: "all",
			Persist: DefaultPersist, PersistPolicy: PersistPreserve},
	}
	for _, w := range set.Watches {
		w.Pos = Pos{}
	}
	if !reflect.DeepEqual(set.Watches, want) {
		t.Errorf("watches\n got %+v\nwant %+v", set.Watches, want)
	}
	if set.Settings.FileChangeLog != "/var/log/logtally/changes.jsonl" {
		t.Errorf("file_change_log %q", set.Settings.FileChangeLog)
	}
	if len(set.Warnings) != 0 {
		t.Errorf("warnings %v", set.Warnings)
	}
}

func TestMeasurementVocabulary(t *testing.T) {
	set, err := LoadBytes("v.yaml", []byte(`measurements:
  - handle: second_line
    stream_type: pipe
    path: [df, -P]
    pipe_mode: interval
    select_line_number: 2
    data_type: int
    extraction_regex: '(\d+)%'
    ifelapsed: 1h
    expireafter: 30s
  - handle: mounts
    path: /proc/mounts
    track_growing_file: false
    data_type: slist
    select_line_matching: '/dev/\S+ (\S+) .*'
    extraction_regex: '^\S+ (\S+)'
    key_type: word
    expect: [/, /boot]
  - handle: kernel
    path: /proc/version
    track_growing_file: false
    data_type: string
    select_line_matching: 'Linux version .*'
    extraction_regex: 'version (\S+)'
    history_type: log
`))
	if err != nil {
		t.Fatal(err)
	}
	s := set.Measurement("second_line")
	if s.SelectLine != 2 || s.Select != "" || s.IfElapsed != time.Hour || s.ExpireAfter != 30*time.Second || s.Timeout != 30*time.Second {
		t.Errorf("second_line %+v", s)
	}
	m := set.Measurement("mounts")
	if m.DataType != Slist || m.HistoryType != HistoryScalar || m.KeyType != KeyWord || !m.Keyed() ||
		!reflect.DeepEqual(m.Classes(), []string{"mounts_unavailable", "mounts_unexpected", "mounts_missing"}) {
		t.Errorf("mounts %+v, classes %v", m, m.Classes())
	}
	k := set.Measurement("kernel")
	if k.DataType != String || k.HistoryType != HistoryLog || !reflect.DeepEqual(k.Classes(), []string{"kernel_unavailable"}) {
		t.Errorf("kernel %+v", k)
	}
}

func TestObserveAndVocabularyErrors(t *testing.T) {
	const pipe = "measurements:\n  - handle: p\n    stream_type: pipe\n    path: [x]\n    pipe_mode: interval\n"
	const file = "measurements:\n  - handle: f\n    path: /x\n"
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		{"unknown observable", "observe: [users, www_inn]\n",
			[]wantErr{{"1:18", "observe[1]", `unknown observable "www_inn"`, "did you mean www_in?"}}},
		{"observable not a string", "observe: [5]\n",
			[]wantErr{{"1:11", "observe[0]", "must be a string or a map", ""}}},
		{"name and definition", "observe:\n  - name: users\n    diskfree: /\n    handle: d\n",
			[]wantErr{{"3:5", "observe[0].diskfree", "name: names a built-in one", "not both"}}},
		{"two definitions", "observe:\n  - handle: d\n    diskfree: /\n    tcp_in: [1]\n",
			[]wantErr{{"4:5", "observe[0].tcp_in", "diskfree and tcp_in in one element", ""}}},
		{"definition without handle", "observe:\n  - tcp_in: [5432]\n",
			[]wantErr{{"2:5", "observe[0].handle", "required key handle is missing", ""}}},
		{"relative disk", "observe:\n  - handle: d\n    diskused: var\n",
			[]wantErr{{"3:15", "observe[0].diskused", "must be an absolute path", ""}}},
		{"bad port", "observe:\n  - handle: d\n    tcp_out: [80, 70000]\n",
			[]wantErr{{"3:19", "observe[0].tcp_out[1]", "invalid port 70000", "1 to 65535"}}},
		{"expect on a number", "observe:\n  - name: users\n    expect: [root]\n",
			[]wantErr{{"3:5", "observe[0].expect", "only for a set", ""}}},
		{"weekly set", "observe:\n  - name: listening_ports\n    history_type: weekly\n",
			[]wantErr{{"3:19", "observe[0].history_type", "no weekly baseline", ""}}},
		{"observable twice", "measurements:\n  - handle: users\n    path: /x\n    select_line_matching: x\nobserve: [users]\n",
			[]wantErr{{"5:11", "observe[0].handle", "handle users already defined at e.yaml:2:13", ""}}},
		{"line number and pattern", pipe + "    select_line_number: 2\n    select_line_matching: x\n",
			[]wantErr{{"6:25", "measurements[0].select_line_number", "exclude each other", ""}}},
		{"line number zero", pipe + "    select_line_number: 0\n",
			[]wantErr{{"6:25", "measurements[0].select_line_number", "out of range [1,", ""}}},
		{"line number of a followed file", file + "    select_line_number: 1\n",
			[]wantErr{{"4:25", "measurements[0].select_line_number", "needs a stream read whole", "pipe_mode: interval"}}},
		{"ifelapsed of a followed file", file + "    select_line_matching: x\n    ifelapsed: 1h\n    expireafter: 1m\n",
			[]wantErr{
				{"5:5", "measurements[0].ifelapsed", "only for a stream sampled whole", ""},
				{"6:5", "measurements[0].expireafter", "only for a stream sampled whole", ""}}},
		{"expireafter and timeout", pipe + "    select_line_matching: x\n    timeout: 10s\n    expireafter: 20s\n",
			[]wantErr{{"8:18", "measurements[0].expireafter", "same limit", ""}}},
		{"slist with a key", file + "    track_growing_file: false\n    data_type: slist\n    select_line_matching: x\n    key: '(x)'\n",
			[]wantErr{{"7:10", "measurements[0].key", "no key for data_type slist", "values are the keys"}}},
		{"weekly string", file + "    data_type: string\n    select_line_matching: x\n    history_type: weekly\n",
			[]wantErr{{"6:19", "measurements[0].history_type", "no weekly baseline", ""}}},
		{"expect without slist", file + "    select_line_matching: x\n    expect: [a]\n",
			[]wantErr{{"5:5", "measurements[0].expect", "only for data_type slist", ""}}},
		{"watch paths", "watch_files:\n  - handle: w\n    paths: [etc, '/x/[']\n",
			[]wantErr{
				{"3:12", "watch_files[0].paths", `"etc" is not an absolute path`, ""},
				{"3:12", "watch_files[0].paths", "invalid glob", ""}}},
		{"watch options", "watch_files:\n  - handle: w\n    paths: [/etc]\n    hash: md5\n    report_changes: some\n    update_hashes: maybe\n    max_bytes: 1k\n",
			[]wantErr{
				{"4:11", "watch_files[0].hash", `unknown value "md5"`, ""},
				{"5:21", "watch_files[0].report_changes", `unknown value "some"`, ""},
				{"6:20", "watch_files[0].update_hashes", "must be a boolean", "yes or no"},
				{"7:16", "watch_files[0].max_bytes", "out of range [1MiB, 1TiB]", ""}}},
		{"watch without paths", "watch_files:\n  - handle: w\n",
			[]wantErr{{"2:5", "watch_files[0].paths", "required key paths is missing", ""}}},
		{"watch class taken", "watch_files:\n  - handle: w\n    paths: [/etc]\nclasses:\n  w_changed: any\n",
			[]wantErr{{"5:3", "classes.w_changed", "class w_changed is set by measurement w (e.yaml:2:13)", ""}}},
		{"change log", "settings:\n  file_change_log: changes.jsonl\n",
			[]wantErr{{"2:20", "settings.file_change_log", "must be an absolute path", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := LoadBytes("e.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; warnings %v", set.Warnings)
			}
			checkErrs(t, err, "e.yaml", tt.want)
		})
	}
}

func TestNewVariablesWarnings(t *testing.T) {
	set, err := LoadBytes("w.yaml", []byte(`observe: [users, {name: listening_ports, expect: ['22 sshd']}, loadavg]
watch_files:
  - handle: etc
    paths: [/etc]
reports:
  - message: "$(unexpected_listening_ports) $(missing_users) $(changed_users) $(av_etc) $(top_loadavg) $(top_users) $(removed_etc)"
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range set.Warnings {
		got = append(got, w.Msg)
	}
	want := []string{
		"$(av_etc) is always empty: etc is a watch_files watch",
		"$(changed_users) is always empty: only a watch_files watch has it",
		"$(missing_users) is always empty: measurement users has no expect:",
		"$(top_loadavg) is always empty: measurement loadavg has no key",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n got %q\nwant %q", got, want)
	}
}
