package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	const m = "measurements:\n  - handle: ssh_probe\n    path: /var/log/auth.log\n    select_line_matching: .*x.*\n"
	tests := []struct {
		name string
		src  string
		want []string // Warning.String()
	}{
		{"none", m + "commands:\n  - if: ssh_probe_high_anomaly|nothing|any\n    command: [x]\n", nil},
		{"relative path", "measurements:\n  - handle: a\n    path: log/x.log\n    select_line_matching: .*x.*\n",
			[]string{`w.yaml:3:11: warning: measurements[0].path: relative path "log/x.log" resolves against the daemon's working directory`}},
		{"shell", m + "commands:\n  - if: any\n    shell: true\n    command: ['service x restart']\n",
			[]string{"w.yaml:7:12: warning: commands[0].shell: runs through /bin/sh -c; an argv list without shell is safer"}},
		{"unknown class", m + "reports:\n  - if: ssh_probe_hihg.linux\n    message: x\n",
			[]string{
				"w.yaml:6:9: warning: reports[0].if: class linux is not set by any measurement or class",
				"w.yaml:6:9: warning: reports[0].if: class ssh_probe_hihg is not set by any measurement or class (did you mean ssh_probe_high?)",
			}},
		{"entropy only with a key", m + "classes:\n  c: entropy_ssh_probe_low\n",
			[]string{"w.yaml:6:6: warning: classes.c: class entropy_ssh_probe_low is not set by any measurement or class"}},
		{"scalar sets no class", "measurements:\n  - handle: a\n    path: /x\n    select_line_matching: .*x.*\n    history_type: scalar\nclasses:\n  c:\n    expression: a_high\n",
			[]string{"w.yaml:8:17: warning: classes.c.expression: class a_high is not set by any measurement or class"}},
		{"network with host bits", m + "    key: 'from (\\S+)'\n    ignore_keys: [10.1.2.3/8]\n",
			[]string{`w.yaml:6:19: warning: measurements[0].ignore_keys[0]: "10.1.2.3/8" has host bits set: it means 10.0.0.0/8`}},
		{"literal key that key_type ip refuses", m + "    key: 'from (\\S+)'\n    key_type: ip\n    ignore_keys: [10.0.0.0/8, nagios-host]\n",
			[]string{`w.yaml:7:31: warning: measurements[0].ignore_keys[1]: "nagios-host" is not an address: key_type ip refuses every key that is not one (a key reject, its line counted), so it never matches`}},
		{"literal key of any key_type", m + "    key: 'from (\\S+)'\n    ignore_keys: [nagios-host]\n", nil},
		{"comparisons", m + "  - handle: q\n    path: /q\n    select_line_matching: .*q.*\n    history_type: scalar\nclasses:\n  c: value_q > 5.z_q > 1|entropy_ssh_probe < 0.3|value_ssh_prob > 1\n",
			[]string{
				"w.yaml:10:6: warning: classes.c: variable entropy_ssh_probe never has a value (measurement ssh_probe has no key), so the comparison is always false",
				"w.yaml:10:6: warning: classes.c: variable value_ssh_prob is not a number any measurement has, so the comparison is always false (did you mean value_ssh_probe?)",
				"w.yaml:10:6: warning: classes.c: variable z_q never has a value (measurement q is history_type scalar, without a baseline), so the comparison is always false",
			}},
		{"key without per", m + "reports:\n  - message: $(key)\n",
			[]string{"w.yaml:6:14: warning: reports[0].message: $(key) is always empty without per: key"}},
		{"hard classes are known", m + "reports:\n  - if: ssh_probe_high.Hr14.Min55_00.Monday.GMT_Q3.December.Yr2026.Day6.Evening.myhost\n    message: x\nsettings:\n  host: myhost.example.net\n",
			nil},
		{"variables", m + "reports:\n  - message: $(top_ssh_probe) $(value_ssh_prob) $(host)\n",
			[]string{
				"w.yaml:6:14: warning: reports[0].message: $(top_ssh_probe) is always empty: measurement ssh_probe has no key",
				"w.yaml:6:14: warning: reports[0].message: $(value_ssh_prob) refers to no measurement ssh_prob (did you mean value_ssh_probe?)",
			}},
		{"handle canonified", "measurements:\n  - handle: mail_sm-mta\n    path: /x\n    select_line_matching: .*x.*\nreports:\n  - if: mail_sm_mta_high\n    message: $(mon.value_mail_sm_mta) $(average_mail_sm_mta) $(stddev_mail_sm_mta) $(sys.host) $(env_time)\n",
			[]string{`w.yaml:2:13: warning: measurements[0].handle: handle "mail_sm-mta" is canonified to mail_sm_mta, the name of its classes and variables`}},
		{"cfengine names checked", m + "reports:\n  - message: $(mon.top_ssh_probe) $(average_ssh_prob)\n",
			[]string{
				"w.yaml:6:14: warning: reports[0].message: $(average_ssh_prob) refers to no measurement ssh_prob (did you mean av_ssh_probe?)",
				"w.yaml:6:14: warning: reports[0].message: $(mon.top_ssh_probe) is always empty: measurement ssh_probe has no key",
			}},
		// What the expander writes as it is: a $( that opens no
		// reference, a name that is no variable, ${name} for $(name).
		{"unclosed $( in a report", m + "reports:\n  - if: ssh_probe_high\n    message: \"value $(value_ssh_probe and more\"\n",
			[]string{`w.yaml:7:14: warning: reports[0].message: $( is not closed by ), so "$(value_ssh_probe and more" is written as it is (did you mean $(value_ssh_probe)?)`}},
		{"bad references in a command", m + "commands:\n  - if: any\n    command: [/bin/echo, '$()', '$(bad name)', '${value_ssh_probe}', '$(nosuch)', '$(m', '${HOME} $$(x', '$(valu_ssh_probe)', 'a$(b$(host))']\n    env: {X: '$(z_ssh_probe'}\n",
			[]string{
				"w.yaml:7:26: warning: commands[0].command[1]: $() names no variable and is written as it is",
				`w.yaml:7:33: warning: commands[0].command[2]: "$(bad name)" is not a variable: a name is letters, digits, '_' and '.', so it is written as it is`,
				"w.yaml:7:48: warning: commands[0].command[3]: ${value_ssh_probe} is written as it is: variables are written $(value_ssh_probe)",
				"w.yaml:7:70: warning: commands[0].command[4]: $(nosuch) is not a variable, so it is written as it is",
				`w.yaml:7:83: warning: commands[0].command[5]: $( is not closed by ), so "$(m" is written as it is`,
				`w.yaml:7:90: warning: commands[0].command[6]: $( is not closed by ), so "$(x" is written as it is`,
				"w.yaml:7:106: warning: commands[0].command[7]: $(valu_ssh_probe) is not a variable, so it is written as it is (did you mean $(value_ssh_probe)?)",
				`w.yaml:7:127: warning: commands[0].command[8]: "$(b$(host)" is not a variable: a name is letters, digits, '_' and '.', so it is written as it is`,
				`w.yaml:8:14: warning: commands[0].env.X: $( is not closed by ), so "$(z_ssh_probe" is written as it is (did you mean $(z_ssh_probe)?)`,
			}},
		{"references of a notice policy", m + "policy:\n  - action: page\n    command: [/usr/local/bin/page, '$(notice)', '$(priority)', '$(message)', '$(key)', '$(noticee']\n    message: '$(notice) $(mesage)'\n  - action: alarm\n    message: '$(notice'\n",
			[]string{
				`w.yaml:7:88: warning: policy[0].command[5]: $( is not closed by ), so "$(noticee" is written as it is`,
				"w.yaml:8:14: warning: policy[0].message: $(mesage) is not a variable, so it is written as it is (did you mean $(message)?)",
				`w.yaml:10:14: warning: policy[1].message: $( is not closed by ), so "$(notice" is written as it is (did you mean $(notice)?)`,
			}},
		{"notice variables only in a notice policy", m + "reports:\n  - message: '$(notice) $(classes) $(host) $(env_time) $(sys.host)'\n",
			[]string{"w.yaml:6:14: warning: reports[0].message: $(notice) is not a variable, so it is written as it is"}},
		{"for: expands before the check", m + "commands:\n  - if: any\n    for: {m: [a, b]}\n    command: [/bin/echo, '$(m) $(value_ssh_probe)', '$(mm)']\n",
			[]string{"w.yaml:8:53: warning: commands[0].command[2]: $(mm) is not a variable, so it is written as it is"}},
		{"$( left in a watch and a policy's class", "watch_files:\n  - handle: etc_$(d)\n    for: {d: [ssh]}\n    paths: [/etc/$(d, /etc/$(e)]\npolicy:\n  - class: milter_$(m_errors\n    action: log\n",
			[]string{
				`w.yaml:4:13: warning: watch_files[0].paths[0]: $( is not closed by ) in "$(d" and watches are not expanded at run time`,
				"w.yaml:4:23: warning: watch_files[0].paths[1]: $(e) is not defined in for: and watches are not expanded at run time",
				`w.yaml:6:12: warning: policy[0].class: $( is not closed by ) in "$(m_errors", and no class name has one, so the entry matches no notice`,
			}},
		{"unclosed $( in a measurement", "measurements:\n  - handle: a\n    path: /var/log/$(m.log\n    select_line_matching: .*x.*\n",
			[]string{`w.yaml:3:11: warning: measurements[0].path: $( is not closed by ) in "$(m.log" and measurements are not expanded at run time`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := LoadBytes("w.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range set.Warnings {
				got = append(got, w.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestKnownClasses(t *testing.T) {
	set, err := LoadBytes("k.yaml", []byte(`measurements:
  - handle: a
    path: /x
    select_line_matching: .*x.*
    key: '(\S+)'
  - handle: s
    path: /x
    select_line_matching: .*x.*
    history_type: log
classes:
  c: a_high
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a_high", "a_high_anomaly", "a_high_dev1", "a_high_dev2", "a_high_microanomaly",
		"a_learning", "a_low", "a_low_anomaly", "a_low_dev1", "a_low_dev2", "a_low_microanomaly",
		"a_normal", "a_unavailable", "any", "c", "entropy_a_high", "entropy_a_low", "entropy_a_medium",
		"s_unavailable",
	}
	if got := set.KnownClasses(); !reflect.DeepEqual(got, want) {
		t.Errorf("KnownClasses\n got %q\nwant %q", got, want)
	}
}

// TestLookaroundWarnings: catastrophic backtracking inside a lookaround
// is reported at the pattern's file:line:col with its key, like any other
// risky pattern.
func TestLookaroundWarnings(t *testing.T) {
	src := `measurements:
  - handle: a
    path: /x
    select_line_matching: '(?=(a+)+b)a.*'
  - handle: b
    path: /x
    select_line_matching: '(?!(a+)+b).*'
    extraction_regex: '(?<=^(a|aa)+)(\d+)'
`
	set, err := LoadBytes("w.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`w.yaml:4:27: warning: measurements[0].select_line_matching: inside the lookahead "(?=(a+)+b)": nested quantifier in "(a+)+"`,
		`w.yaml:7:27: warning: measurements[1].select_line_matching: inside the negative lookahead "(?!(a+)+b)": nested quantifier in "(a+)+"`,
		`w.yaml:8:23: warning: measurements[1].extraction_regex: inside the lookbehind "(?<=^(a|aa)+)": alternation in "(a|aa)+"`,
	}
	var got []string
	for _, w := range set.Warnings {
		got = append(got, w.String())
	}
	if len(got) != len(want) {
		t.Fatalf("warnings\n got %q\nwant %q", got, want)
	}
	slices.Sort(got)
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d\n got %q\nwant %q...", i, got[i], want[i])
		}
	}
}
