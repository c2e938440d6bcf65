package rules

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantFull is the Set that testdata/full/full.{yaml,toml,json} load to,
// without positions, locations and parsed expressions (checked apart).
func wantFull() *Set {
	return &Set{
		Settings: Settings{
			Interval:              time.Minute,
			MaxLineLength:         1 << 20,
			RegexTimeout:          50 * time.Millisecond,
			Host:                  "web1",
			Tags:                  map[string]string{"dc": "par1"},
			HalfLife:              14 * 24 * time.Hour,
			MaxConcurrentCommands: 2,
			Outputs: []Output{
				{URL: "-", Precision: "ns", BatchSize: 1000, FlushInterval: 10 * time.Second, SpoolSize: 100000},
				{URL: "http://influx:8086/api/v2/write", API: "v2", Token: "secret", Org: "ops", Bucket: "logs",
					Precision: "s", BatchSize: 500, FlushInterval: 5 * time.Second, Gzip: false, SpoolSize: 1000},
				{URL: "https://influx1:8086", API: "v1", Database: "logtally", RetentionPolicy: "autogen",
					Username: "lt", Password: "pw", Precision: "s", BatchSize: 1000, FlushInterval: 10 * time.Second,
					Gzip: true, SpoolSize: 100000},
			},
		},
		Measurements: []*Measurement{
			{
				Handle: "ssh_username_probe", StreamType: StreamFile, Path: "/var/log/auth.log",
				DataType: Counter, Select: `.*sshd\[.*Invalid user.*`, Key: `from (\S+)`, KeyType: KeyIP, TopKeys: DefaultTopKeys,
				Policy: PolicyLast, SyslogRepeats: RepeatsExpand, TrackGrowing: false, HistoryType: HistoryWeekly, Start: StartBeginning,
				Timestamp: "Jan _2 15:04:05", Units: "probes", Description: "invalid users tried over ssh",
				Tags: map[string]string{"service": "sshd"}, Persist: 20 * time.Minute, PersistPolicy: PersistReset,
			},
			{
				Handle: "ftp_bytes_get", StreamType: StreamFile, Path: "/var/log/xferlog", DataType: Int,
				Select: `.* get .*`, Extract: `(\d+) bytes`, KeyType: KeyAny, Policy: PolicySum, SyslogRepeats: RepeatsExpand, TrackGrowing: true,
				HistoryType: HistoryWeekly, Start: StartEnd, Persist: 10 * time.Minute, PersistPolicy: PersistPreserve,
			},
			{
				Handle: "ftp_bytes_put", StreamType: StreamFile, Path: "/var/log/xferlog", DataType: Int,
				Select: `.* put .*`, Extract: `(\d+) bytes`, KeyType: KeyAny, Policy: PolicySum, SyslogRepeats: RepeatsExpand, TrackGrowing: true,
				HistoryType: HistoryWeekly, Start: StartEnd, Persist: 10 * time.Minute, PersistPolicy: PersistPreserve,
			},
			{
				Handle: "listening_ports", StreamType: StreamPipe, Command: []string{"ss", "-ltnH"},
				PipeMode: PipeInterval, Timeout: 10 * time.Second, DataType: Real, Select: `LISTEN.*`,
				Extract: `(\d+)`, KeyType: KeyAny, Policy: PolicyAverage, SyslogRepeats: RepeatsExpand, HistoryType: HistoryScalar,
				Persist: 10 * time.Minute, PersistPolicy: PersistPreserve,
			},
		},
		Classes: []*Class{
			{Name: "probe_storm", Persist: 10 * time.Minute, PersistPolicy: PersistPreserve},
			{Name: "ftp_busy", Persist: time.Hour, PersistPolicy: PersistReset, Description: "a lot of ftp traffic"},
		},
		Commands: []*Command{
			{Handle: "block_prober", Argv: []string{"/usr/sbin/nft", "add", "element", "inet", "filter", "blocked", "{ $(top_ssh_username_probe) }"},
				IfElapsed: 30 * time.Minute, Timeout: 2 * time.Minute, ExpireAfter: 90 * time.Second,
				Env: map[string]string{"REASON": "probe storm"}},
			{Argv: []string{"/usr/local/bin/ftp-alert get"}, Shell: true, Timeout: time.Minute},
			{Argv: []string{"/usr/local/bin/ftp-alert put"}, Shell: true, Timeout: time.Minute},
		},
		Reports: []*Report{
			{Handle: "probe_report", Message: "ssh probes $(value_ssh_username_probe), top source $(top_ssh_username_probe)",
				To: "/var/log/logtally/alerts.log", IfElapsed: time.Hour},
			{Message: "logtally started", To: "syslog"},
		},
	}
}

func TestLoadFull(t *testing.T) {
	tests := []struct {
		file string
		// positions of the first measurement, the second class and the
		// second output, as each format writes them
		m0, c1, out1 string
	}{
		{"full.yaml", "3:5", "39:3", "76:7"},
		{"full.toml", "2:3", "45:10", "91:12"},
		{"full.json", "3:3", "56:3", "126:4"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", "full", tt.file)
			set, err := Load(name)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := set.Measurements[0].Pos.String(); got != name+":"+tt.m0 {
				t.Errorf("measurement 0 at %s, want %s:%s", got, name, tt.m0)
			}
			if got := set.Classes[1].Pos.String(); got != name+":"+tt.c1 {
				t.Errorf("class 1 at %s, want %s:%s", got, name, tt.c1)
			}
			if got := set.Settings.Outputs[1].Pos.String(); got != name+":"+tt.out1 {
				t.Errorf("output 1 at %s, want %s:%s", got, name, tt.out1)
			}
			if len(set.Warnings) != 1 || !strings.Contains(set.Warnings[0].Msg, "/bin/sh -c") || set.Warnings[0].Key != "commands[1].shell" {
				t.Errorf("warnings = %v, want one about commands[1].shell", set.Warnings)
			}
			if !reflect.DeepEqual(set.Files, []string{name}) {
				t.Errorf("Files = %v", set.Files)
			}
			checkFull(t, set)
		})
	}
}

// checkFull compares set with wantFull, after checking and clearing what
// DeepEqual cannot compare.
func checkFull(t *testing.T, set *Set) {
	t.Helper()
	if loc := set.Settings.Location; loc == nil || loc.String() != "UTC" {
		t.Errorf("settings location = %v, want UTC", loc)
	}
	if loc := set.Measurements[0].Location; loc == nil || loc.String() != "Europe/Paris" {
		t.Errorf("measurement location = %v, want Europe/Paris", loc)
	}
	set.Settings.Location, set.Measurements[0].Location = nil, nil
	wantExprs := []string{
		"ssh_username_probe_high_anomaly.entropy_ssh_username_probe_low",
		"ftp_bytes_get_high_dev2 | ftp_bytes_put_high_dev2",
		"probe_storm", "ftp_bytes_get_high_anomaly", "ftp_bytes_put_high_anomaly",
		"probe_storm", "any",
	}
	var exprs []string
	for _, c := range set.Classes {
		exprs = append(exprs, c.Expr.String())
		c.Expr, c.Pos = nil, Pos{}
	}
	for _, c := range set.Commands {
		exprs = append(exprs, c.If.String())
		c.If, c.Pos = nil, Pos{}
	}
	for _, r := range set.Reports {
		exprs = append(exprs, r.If.String())
		r.If, r.Pos = nil, Pos{}
	}
	if !reflect.DeepEqual(exprs, wantExprs) {
		t.Errorf("expressions = %q, want %q", exprs, wantExprs)
	}
	// Derived handles: stable, distinct per expansion, and of their form.
	if h, h2 := set.Commands[1].Handle, set.Commands[2].Handle; h != "ftp_bytes_get_high_anomaly_command" || h2 != "ftp_bytes_put_high_anomaly_command" {
		t.Errorf("derived command handles %q, %q", h, h2)
	}
	if h := set.Reports[1].Handle; h != "full_report" || !ValidClassName(h) {
		t.Errorf("derived report handle %q, want full_report (the file's name: it has no guard)", h)
	}
	set.Commands[1].Handle, set.Commands[2].Handle, set.Reports[1].Handle = "", "", ""
	for _, m := range set.Measurements {
		m.Pos = Pos{}
	}
	for i := range set.Settings.Outputs {
		set.Settings.Outputs[i].Pos = Pos{}
	}
	var progs []string
	for _, p := range set.Programs {
		progs = append(progs, p.Key+"="+p.Name)
		if p.Pos.Line == 0 {
			t.Errorf("program %s without a position", p.Key)
		}
	}
	if want := []string{"measurements[2].path[0]=ss", "commands[0].command[0]=/usr/sbin/nft"}; !reflect.DeepEqual(progs, want) {
		t.Errorf("programs %q, want %q (not the shell: true commands)", progs, want)
	}
	want := wantFull()
	set.Files, set.Warnings, set.Programs = nil, nil, nil
	if !reflect.DeepEqual(set.Settings, want.Settings) {
		t.Errorf("settings\n got %+v\nwant %+v", set.Settings, want.Settings)
	}
	for i := range max(len(set.Measurements), len(want.Measurements)) {
		if i >= len(set.Measurements) || i >= len(want.Measurements) || !reflect.DeepEqual(set.Measurements[i], want.Measurements[i]) {
			t.Errorf("measurement %d differs", i)
			if i < len(set.Measurements) && i < len(want.Measurements) {
				t.Errorf(" got %+v\nwant %+v", set.Measurements[i], want.Measurements[i])
			}
		}
	}
	if !reflect.DeepEqual(set, want) {
		t.Errorf("set differs:\n got %s\nwant %s", dump(set), dump(want))
	}
}

func dump(s *Set) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", s.Settings)
	for _, m := range s.Measurements {
		fmt.Fprintf(&b, "%+v\n", *m)
	}
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "%+v\n", *c)
	}
	for _, c := range s.Commands {
		fmt.Fprintf(&b, "%+v\n", *c)
	}
	for _, r := range s.Reports {
		fmt.Fprintf(&b, "%+v\n", *r)
	}
	return b.String()
}
