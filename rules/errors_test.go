package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// wantErr is an expected error: its line:col, its key, and substrings of
// its message and hint ("" matches anything, "-" requires no hint).
type wantErr struct {
	pos, key, msg, hint string
}

// checkErrs asserts that err is an ErrorList holding exactly want, in order.
func checkErrs(t *testing.T, err error, file string, want []wantErr) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got error %v (%T), want an ErrorList", err, err)
	}
	if len(list) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i := range min(len(list), len(want)) {
		got, w := list[i], want[i]
		wantPos := file
		if w.pos != "" {
			wantPos += ":" + w.pos
		}
		if got.Pos.String() != wantPos {
			t.Errorf("error %d at %s, want %s: %v", i, got.Pos, wantPos, got)
		}
		if got.Key != w.key {
			t.Errorf("error %d key %q, want %q: %v", i, got.Key, w.key, got)
		}
		if !strings.Contains(got.Msg, w.msg) {
			t.Errorf("error %d message %q, want it to contain %q", i, got.Msg, w.msg)
		}
		if w.hint == "-" && got.Hint != "" || w.hint != "-" && !strings.Contains(got.Hint, w.hint) {
			t.Errorf("error %d hint %q, want %q", i, got.Hint, w.hint)
		}
	}
}

// m0 starts a file with one valid measurement whose item is at line 2.
const m0 = `measurements:
  - handle: h
    path: /var/log/x
    select_line_matching: 'a.*'
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // default e.yaml
		src  string
		want []wantErr
	}{
		// Unknown keys and types.
		{name: "unknown top key", src: "measurments: []\n",
			want: []wantErr{{"1:1", "measurments", `unknown key "measurments"`, "did you mean measurements?"}}},
		{name: "unknown measurement key", src: m0 + "    select_lines_matching: x\n",
			want: []wantErr{{"5:5", "measurements[0].select_lines_matching", "unknown key", "did you mean select_line_matching?"}}},
		{name: "typo of a required key is one error", src: "measurements:\n  - handle: h\n    path: /x\n    select_lines_matching: x\n",
			want: []wantErr{{"4:5", "measurements[0].select_lines_matching", "unknown key", "did you mean select_line_matching?"}}},
		{name: "unknown key far from any", src: "settings:\n  zzzzzzzzzz: 1\n",
			want: []wantErr{{"2:3", "settings.zzzzzzzzzz", "unknown key", "-"}}},
		{name: "string expected", src: "measurements:\n  - handle: 5\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"2:13", "measurements[0].handle", "must be a string, not a number", "quote it"}}},
		{name: "list expected", src: "measurements: {a: 1}\n",
			want: []wantErr{{"1:15", "measurements", "must be a list, not a map", ""}}},
		{name: "item not a map", src: "commands:\n  - restart\n",
			want: []wantErr{{"2:5", "commands[0]", "must be a map, not a string", ""}}},
		{name: "boolean expected", src: m0 + "    track_growing_file: yes\n",
			want: []wantErr{{"5:25", "measurements[0].track_growing_file", "must be a boolean", "true or false"}}},
		{name: "top level list", src: "- a\n- b\n",
			want: []wantErr{{"1:1", "", "top level must be a map", "measurements"}}},

		// per: key and top_keys.
		{name: "per key without a keyed measurement", src: m0 + "commands:\n  - if: h_high\n    per: key\n    command: [x, $(key)]\n",
			want: []wantErr{{"7:10", "commands[0].per", "the guard h_high refers to no measurement with a key", "per: key needs a guard"}}},
		{name: "per typo", src: m0 + "    key: 'from (\\S+)'\nreports:\n  - if: h_high\n    per: keys\n    message: x\n",
			want: []wantErr{{"8:10", "reports[0].per", `unknown value "keys"`, "did you mean key?"}}},
		{name: "key in a shell", src: m0 + "    key: 'from (\\S+)'\ncommands:\n  - if: h_high\n    per: key\n    shell: true\n    command: ['block $(key)']\n",
			want: []wantErr{{"10:15", "commands[0].command[0]", "must never reach a shell", "own argv element"}}},
		{name: "top_keys without key", src: m0 + "    top_keys: 5\n",
			want: []wantErr{{"5:5", "measurements[0].top_keys", "only with key", "add key:"}}},
		{name: "top_keys too many", src: m0 + "    key: 'from (\\S+)'\n    top_keys: 1000\n",
			want: []wantErr{{"6:15", "measurements[0].top_keys", "out of range", ""}}},

		// policy.
		{name: "policy without action", src: "policy:\n  - class: a\n",
			want: []wantErr{{"2:5", "policy[0].action", "required key action is missing", "ignore, log, alarm or page"}}},
		{name: "page without command", src: "policy:\n  - action: page\n",
			want: []wantErr{{"2:5", "policy[0].command", "required key command is missing for action page", "argv list"}}},
		{name: "policy keys of other actions", src: "policy:\n  - action: log\n    to: syslog\n    command: [x]\n",
			want: []wantErr{{"3:5", "policy[0].to", "only with action: alarm", ""}, {"4:5", "policy[0].command", "only with action: page", ""}}},
		{name: "policy priority typo", src: "policy:\n  - action: log\n    priority: warn\n",
			want: []wantErr{{"3:15", "policy[0].priority", `unknown priority "warn"`, "info, notice"}}},
		{name: "policy per without suppress", src: "policy:\n  - action: alarm\n    per: key\n    tally: 1h\n",
			want: []wantErr{{"3:5", "policy[0].per", "scope of suppress:", "add suppress:"}, {"4:5", "policy[0].tally", "add suppress:", "add suppress:"}}},
		{name: "policy bad pattern", src: "policy:\n  - class: 'a['\n    action: log\n",
			want: []wantErr{{"2:12", "policy[0].class", `invalid class pattern "a["`, ""}}},
		{name: "priorities", src: "settings:\n  priorities: {'*_anomaly': severe}\n",
			want: []wantErr{{"2:29", `settings.priorities["*_anomaly"]`, `unknown priority "severe"`, "info, notice"}}},

		// ignore_keys.
		{name: "ignore_keys bad network", src: m0 + "    key: 'from (\\S+)'\n    ignore_keys: [192.0.2.0/24, 10.0.0.0/33, nagios, 2001:db8::/129]\n",
			want: []wantErr{
				{"6:33", "measurements[0].ignore_keys[1]", `invalid network "10.0.0.0/33": prefix length out of range`, "a network (192.0.2.0/24"},
				{"6:54", "measurements[0].ignore_keys[3]", `invalid network "2001:db8::/129"`, "literal key"},
			}},
		{name: "ignore_keys block list", src: m0 + "    key: 'from (\\S+)'\n    ignore_keys:\n      - 192.0.2.0/24\n      - 300.1.2.0/24\n",
			want: []wantErr{{"8:9", "measurements[0].ignore_keys[1]", `invalid network "300.1.2.0/24"`, ""}}},
		{name: "ignore_keys without key", src: m0 + "    ignore_keys: [192.0.2.0/24]\n",
			want: []wantErr{{"5:5", "measurements[0].ignore_keys", "only with key", "add key:"}}},
		{name: "ignore_keys not a list", src: m0 + "    key: 'from (\\S+)'\n    ignore_keys: 192.0.2.0/24\n",
			want: []wantErr{{"6:18", "measurements[0].ignore_keys", "must be a list", ""}}},

		// Measurements.
		{name: "missing handle", src: "measurements:\n  - path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"2:5", "measurements[0].handle", "required key handle is missing", "identifier"}}},
		{name: "invalid handle", src: "measurements:\n  - handle: 2nd-probe\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"2:13", "measurements[0].handle", `invalid handle "2nd-probe"`, "e.g. m_2nd_probe"}}},
		{name: "canonified handles collide", src: "measurements:\n  - handle: a-b\n    path: /x\n    select_line_matching: x\n  - handle: a_b\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"5:13", "measurements[1].handle", "handle a_b already defined at e.yaml:2:13", ""}}},
		{name: "long handle", src: "measurements:\n  - handle: " + strings.Repeat("a", 101) + "\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"2:13", "measurements[0].handle", "longer than 100", ""}}},
		{name: "enum typo", src: m0 + "    stream_type: pip\n",
			want: []wantErr{{"5:18", "measurements[0].stream_type", `unknown value "pip"`, "did you mean pipe?"}}},
		{name: "syslog_repeats typo", src: m0 + "    syslog_repeats: expnd\n",
			want: []wantErr{{"5:21", "measurements[0].syslog_repeats", `unknown value "expnd"`, "did you mean expand?"}}},
		{name: "syslog_repeats not a string", src: m0 + "    syslog_repeats: false\n",
			want: []wantErr{{"5:21", "measurements[0].syslog_repeats", "must be a string", ""}}},
		{name: "syslog_repeats with a line number", src: "measurements:\n  - handle: l\n    stream_type: pipe\n    path: [cat, /proc/loadavg]\n    pipe_mode: interval\n    select_line_number: 1\n    syslog_repeats: off\n",
			want: []wantErr{{"7:5", "measurements[0].syslog_repeats", "a line selected by its number is taken as it is", "remove it"}}},
		{name: "pipe path string", src: "measurements:\n  - handle: j\n    stream_type: pipe\n    path: journalctl -f\n    select_line_matching: x\n",
			want: []wantErr{{"4:11", "measurements[0].path", "must be an argv list", "argv list, no shell: path: [journalctl, -f, -o, short-iso]"}}},
		{name: "pipe path empty", src: "measurements:\n  - handle: j\n    stream_type: pipe\n    path: []\n    select_line_matching: x\n",
			want: []wantErr{{"4:11", "measurements[0].path", "must not be empty", "argv list"}}},
		{name: "pipe argv0 empty", src: "measurements:\n  - handle: j\n    stream_type: pipe\n    path: ['', -f]\n    select_line_matching: x\n",
			want: []wantErr{{"4:11", "measurements[0].path", "program name", "argv list"}}},
		{name: "pipe argv number", src: "measurements:\n  - handle: j\n    stream_type: pipe\n    path: [sleep, 5]\n    select_line_matching: x\n",
			want: []wantErr{{"4:19", "measurements[0].path[1]", "must be a string, not a number", "quote it"}}},
		{name: "file path list", src: "measurements:\n  - handle: j\n    path: [ss, -l]\n    select_line_matching: x\n",
			want: []wantErr{{"3:11", "measurements[0].path", "not a list", "stream_type: pipe"}}},
		{name: "bad glob", src: "measurements:\n  - handle: j\n    path: /var/log/[a\n    select_line_matching: x\n",
			want: []wantErr{{"3:11", "measurements[0].path", "invalid glob", ""}}},
		{name: "pipe keys on a file", src: m0 + "    pipe_mode: interval\n    timeout: 5s\n",
			want: []wantErr{
				{"5:5", "measurements[0].pipe_mode", "only for pipe streams", "stream_type: pipe"},
				{"6:5", "measurements[0].timeout", "only for pipe streams", "stream_type: pipe"}}},
		{name: "file keys on a pipe", src: "measurements:\n  - handle: j\n    stream_type: pipe\n    path: [ss]\n    select_line_matching: x\n    start: beginning\n    timeout: 5s\n",
			want: []wantErr{
				{"6:5", "measurements[0].start", "only for file streams", ""},
				{"7:5", "measurements[0].timeout", "only for pipe_mode: interval", "pipe_mode: interval"}}},
		{name: "int without extraction", src: m0 + "    data_type: int\n",
			want: []wantErr{{"2:5", "measurements[0].extraction_regex", "missing for data_type int", "first group"}}},
		{name: "key_type without key", src: m0 + "    key_type: ip\n",
			want: []wantErr{{"5:5", "measurements[0].key_type", "only with key", ""}}},
		{name: "bad regex", src: "measurements:\n  - handle: h\n    path: /x\n    select_line_matching: '.*sshd[(.*'\n",
			want: []wantErr{{"4:27", "measurements[0].select_line_matching", "invalid regex", ""}}},
		{name: "missing capture group", src: m0 + "    key: 'from \\S+'\n    extraction_regex: '\\d+'\n",
			want: []wantErr{
				{"5:10", "measurements[0].key", "missing capture group", "the key is the first group"},
				{"6:23", "measurements[0].extraction_regex", "missing capture group", "the value is the first group"}}},
		{name: "empty select", src: "measurements:\n  - handle: h\n    path: /x\n    select_line_matching: ''\n",
			want: []wantErr{{"4:27", "measurements[0].select_line_matching", "must not be empty", ""}}},
		{name: "strftime verb", src: m0 + "    timestamp: '%Y %Q'\n",
			want: []wantErr{{"5:16", "measurements[0].timestamp", "unsupported strftime conversion %Q", "strftime"}}},
		{name: "layout without time", src: m0 + "    timestamp: hello\n",
			want: []wantErr{{"5:16", "measurements[0].timestamp", "no date or time element", "Go layout"}}},
		{name: "time zone", src: m0 + "    timestamp: '%H:%M'\n    timezone: Mars/Olympus\n",
			want: []wantErr{{"6:15", "measurements[0].timezone", `unknown time zone "Mars/Olympus"`, "IANA"}}},
		{name: "time zone without timestamp", src: m0 + "    timezone: UTC\n",
			want: []wantErr{{"5:5", "measurements[0].timezone", "only with timestamp", ""}}},
		{name: "host tag", src: m0 + "    tags: {host: a, role: ''}\n",
			want: []wantErr{
				{"5:12", "measurements[0].tags.host", "host tag is set by settings.host", ""},
				{"5:27", "measurements[0].tags.role", "tag value must be non-empty", ""}}},
		{name: "duration", src: m0 + "    persist: 10 minutes\n",
			want: []wantErr{{"5:14", "measurements[0].persist", `invalid duration "10 minutes"`, "30s, 5m"}}},
		{name: "duration number", src: m0 + "    persist: 30\n",
			want: []wantErr{{"5:14", "measurements[0].persist", "must be a duration with a unit, not a number", ""}}},
		{name: "duplicate handle", src: m0 + "  - handle: h\n    path: /y\n    select_line_matching: b\n",
			want: []wantErr{{"5:13", "measurements[1].handle", "handle h already defined at e.yaml:2:13", ""}}},

		// Classes.
		{name: "class expression column", src: "classes:\n  a: 'b . (c | '\n",
			want: []wantErr{{"2:16", "classes.a", "invalid class expression: expression ends", "CFEngine syntax"}}},
		{name: "class expression plain column", src: "classes:\n  a: b.c)\n",
			want: []wantErr{{"2:9", "classes.a", `unexpected ')'`, ""}}},
		{name: "time class name", src: "classes:\n  Hr14: c\n",
			want: []wantErr{{"2:3", "classes.Hr14", "Hr14 is a time class, set by the clock", "choose another name"}}},
		{name: "comparison error column", src: "classes:\n  a: 'b.value_h = 5'\n",
			want: []wantErr{{"2:17", "classes.a", "write == for equality", "value_h > 50"}}},
		{name: "class name", src: "classes:\n  a-b: c\n  any: c\n",
			want: []wantErr{
				{"2:3", "classes.a-b", `invalid class name "a-b"`, "a_b"},
				{"3:3", "classes.any", "reserved", ""}}},
		{name: "class map", src: "classes:\n  a:\n    persist: 1h\n    policy: keep\n    expresion: b\n",
			want: []wantErr{
				{"4:13", "classes.a.policy", `unknown value "keep"`, "preserve, reset"},
				{"5:5", "classes.a.expresion", "unknown key", "did you mean expression?"}}},
		{name: "class map missing expression", src: "classes:\n  a:\n    persist: 1h\n",
			want: []wantErr{{"3:5", "classes.a.expression", "required key expression is missing", ""}}},
		{name: "class wrong type", src: "classes:\n  a: [b]\n",
			want: []wantErr{{"2:6", "classes.a", "must be a class expression or a map", ""}}},
		{name: "class named like a measurement class", src: m0 + "classes:\n  h_high: any\n",
			want: []wantErr{{"6:3", "classes.h_high", "class h_high is set by measurement h (e.yaml:2:13)", ""}}},

		// Commands.
		{name: "command missing keys", src: "commands:\n  - ifelapsed: 1m\n",
			want: []wantErr{
				{"2:5", "commands[0].if", "required key if is missing", ""},
				{"2:5", "commands[0].command", "required key command is missing", "argv list"}}},
		{name: "command string", src: "commands:\n  - if: any\n    command: service x restart\n",
			want: []wantErr{{"3:14", "commands[0].command", "must be an argv list, not a string", "argv list, no shell"}}},
		{name: "command empty", src: "commands:\n  - if: any\n    command: []\n",
			want: []wantErr{{"3:14", "commands[0].command", "must not be empty", ""}}},
		{name: "shell with log text", src: "commands:\n  - if: any\n    shell: true\n    command: ['block $(top_h)']\n",
			want: []wantErr{{"4:15", "commands[0].command[0]", "must never reach a shell", "remove shell: true"}}},
		{name: "log text chooses the program", src: m0 + "    key: 'from (\\S+)'\ncommands:\n  - if: any\n    command: ['/usr/local/sbin/$(top_h)', x]\n  - if: h_high\n    command: ['$(mon.top_h)']\n    per: key\n  - if: h_high\n    command: ['$(key)']\n    per: key\n",
			want: []wantErr{
				{"8:15", "commands[0].command[0]", "$(top_...) is text from a log line and must never choose the program", "pass the text as an argument"},
				{"10:15", "commands[1].command[0]", "$(top_...) is text from a log line", ""},
				{"13:15", "commands[2].command[0]", "$(key...) is text from a log line", ""}}},
		{name: "notice text chooses the program", src: "policy:\n  - action: page\n    command: ['/usr/local/bin/page-$(message)']\n",
			want: []wantErr{{"3:15", "policy[0].command[0]", "$(message...) is text from a log line and must never choose the program", ""}}},
		{name: "unclosed $( in a handle and a guard", src: "measurements:\n  - handle: h_$(m\n    path: /x\n    select_line_matching: a\ncommands:\n  - if: h_$(m\n    command: [x]\n",
			want: []wantErr{
				{"2:13", "measurements[0].handle", `$( is not closed by ) in "$(m"`, "close it: $(m)"},
				{"6:9", "commands[0].if", `$( is not closed by ) in "$(m"`, "close it: $(m)"}}},
		{name: "command timeout and expireafter", src: "commands:\n  - if: any\n    command: [x]\n    timeout: 0\n  - if: any\n    command: [x]\n    expireafter: 2m\n",
			want: []wantErr{
				{"4:14", "commands[0].timeout", "must be longer than 0", ""},
				{"7:18", "commands[1].expireafter", "expireafter 2m has no effect: timeout 1m kills the command first", "shorter than timeout"}}},
		{name: "env name", src: "commands:\n  - if: any\n    command: [x]\n    env: {1X: a, OK: [b]}\n",
			want: []wantErr{
				{"4:11", "commands[0].env.1X", "invalid environment variable name", ""},
				{"4:22", "commands[0].env.OK", "must be a string, not a list", ""}}},
		{name: "command handles", src: "commands:\n  - if: any\n    command: [x]\n    handle: r\n  - if: any\n    command: [y]\n    handle: r\n",
			want: []wantErr{{"7:13", "commands[1].handle", "handle r already defined at e.yaml:4:13", ""}}},
		{name: "guard syntax", src: "commands:\n  - if: a..b\n    command: [x]\n",
			want: []wantErr{{"2:11", "commands[0].if", "invalid class expression", ""}}},

		// Reports.
		{name: "report", src: "reports:\n  - to: alerts.log\n",
			want: []wantErr{
				{"2:5", "reports[0].message", "required key message is missing", ""},
				{"2:9", "reports[0].to", `invalid destination "alerts.log"`, "absolute file path"}}},

		// Settings.
		{name: "interval", src: "settings:\n  interval: 11m\n",
			want: []wantErr{{"2:13", "settings.interval", "11m does not divide a week", "5m"}}},
		{name: "short interval", src: "settings:\n  interval: 500ms\n",
			want: []wantErr{{"2:13", "settings.interval", "at least 1s", ""}}},
		{name: "sizes and limits", src: "settings:\n  max_line_length: 100\n  regex_timeout: 0\n  max_concurrent_commands: 0\n  half_life: 0s\n",
			want: []wantErr{
				{"2:20", "settings.max_line_length", "100 bytes is out of range [256, 64MiB]", "64KiB"},
				{"3:18", "settings.regex_timeout", "must be at least 10ms", ""},
				{"4:28", "settings.max_concurrent_commands", "out of range [1, 1024]", ""},
				{"5:14", "settings.half_life", "must be longer than 0", ""}}},
		{name: "size unit", src: "settings:\n  max_line_length: 64x\n",
			want: []wantErr{{"2:20", "settings.max_line_length", `invalid size "64x"`, "64KiB"}}},
		{name: "host and tags", src: "settings:\n  host: 'a b'\n  tags: {host: x}\n",
			want: []wantErr{
				{"2:9", "settings.host", "invalid host name", ""},
				{"3:10", "settings.tags.host", "host tag", ""}}},
		{name: "outputs", src: `settings:
  outputs:
    - url: ftp://x
    - url: udp://x
    - url: file://log/x.lp
    - url: http://db:8086/api/v2/write
    - url: http://db:8086
    - url: http://db:8086/api/v2/write
      api: v1
      token: t
      org: o
      bucket: b
    - url: udp://x:8089
      database: d
    - url: '-'
      gzip: true
      precision: sec
    - 5
`,
			want: []wantErr{
				{"3:12", "settings.outputs[0].url", `unknown scheme "ftp"`, "udp://host:port"},
				{"4:12", "settings.outputs[1].url", "needs host:port", ""},
				{"5:12", "settings.outputs[2].url", "absolute path", "three slashes"},
				{"6:7", "settings.outputs[3].token", "required key token is missing for api v2", ""},
				{"6:7", "settings.outputs[3].org", "required key org is missing", ""},
				{"6:7", "settings.outputs[3].bucket", "required key bucket is missing", ""},
				{"7:7", "settings.outputs[4].database", "required key database is missing for api v1", ""},
				{"9:12", "settings.outputs[5].api", "api v1 with a /api/v2/write URL", ""},
				{"14:7", "settings.outputs[6].database", "only for http(s) outputs", ""},
				{"16:13", "settings.outputs[7].gzip", "only for http(s) outputs", ""},
				{"17:18", "settings.outputs[7].precision", `unknown value "sec"`, "ns, us, ms, s"},
				{"18:7", "settings.outputs[8]", "must be a map, not a number", ""}}},

		// for: expansion.
		{name: "undefined variable in handle", src: "measurements:\n  - handle: m_$(mm)\n    for: {m: [a]}\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{{"2:13", "measurements[0].handle", "$(mm) is not defined in for:", ""}}},
		{name: "for errors", src: "measurements:\n  - handle: m_$(m)\n    for: {m: [], 'n-1': [a], o: [true], p: [a, a], q: x}\n    path: /x\n    select_line_matching: x\n",
			want: []wantErr{
				{"3:14", "measurements[0].for.m", "empty list", ""},
				{"3:18", "measurements[0].for.n-1", "invalid variable name", ""},
				{"3:34", "measurements[0].for.o[0]", "must be a string or a number, not a boolean", ""},
				{"3:44", "measurements[0].for.p", `value "a" is listed twice`, ""},
				{"3:55", "measurements[0].for.q", "must be a list, not a string", ""}}},
		{name: "for not a map", src: "commands:\n  - for: [a]\n    if: any\n    command: [x]\n",
			want: []wantErr{{"2:10", "commands[0].for", "must be a map, not a list", ""}}},
		{name: "same handle in every expansion", src: "commands:\n  - for: {m: [a, b, c]}\n    if: any\n    command: [x, $(m)]\n    handle: restart\n",
			want: []wantErr{{"5:13", "commands[0].handle", "same for every combination of for:", "restart_$(x)"}}},
		{name: "error in one expansion", src: "measurements:\n  - for: {m: [1, 2]}\n    handle: h_$(m)\n    path: /x\n    select_line_matching: 'x{$(m),1}'\n",
			want: []wantErr{{"5:27", "measurements[0].select_line_matching", "invalid regex", ""}}},

		// Syntax.
		{name: "yaml syntax", src: "measurements:\n  - handle: a\n   path: x\n",
			want: []wantErr{{"3", "", "syntax error", ""}}},
		{name: "yaml duplicate key", src: "settings:\n  host: a\n  host: b\n",
			want: []wantErr{{"3:3", "", `key "host" already defined at e.yaml:2:3`, ""}}},
		{name: "yaml two documents", src: "settings: {}\n---\nsettings: {}\n",
			want: []wantErr{{"2:1", "", "a second YAML document", ""}}},
		{name: "toml syntax", file: "e.toml", src: "[settings]\nhost = \"a\"\ninterval = 5m\n",
			want: []wantErr{{"3:13", "", "syntax error", ""}}},
		{name: "toml duplicate table", file: "e.toml", src: "[settings]\nhost = \"a\"\n[settings]\n",
			want: []wantErr{{"3:2", "", "syntax error", ""}}},
		{name: "json syntax", file: "e.json", src: "{\n  \"settings\": {\n    \"host\": \"a\",\n  }\n}\n",
			want: []wantErr{{"4:3", "", "syntax error: invalid character '}'", ""}}},
		{name: "json duplicate key", file: "e.json", src: "{\"settings\": {\"host\": \"a\",\n \"host\": \"b\"}}\n",
			want: []wantErr{{"2:2", "", `key "host" already defined at e.json:1:15`, ""}}},

		{name: "yaml merge keys", src: `measurements:
  - &base
    handle: a
    path: /var/log/auth.log
    select_line_matching: x
    persist: soon
  - <<: *base
    handle: b
    select_line_matching: '(('
`,
			want: []wantErr{
				{"6:14", "measurements[0].persist", "invalid duration", ""},
				{"6:14", "measurements[1].persist", "invalid duration", ""},
				{"9:27", "measurements[1].select_line_matching", "invalid regex", ""}}},

		// Positions in TOML and JSON.
		{name: "toml inline tables", file: "e.toml", src: `measurements = [
  {handle = "a", path = "/x", select_line_matching = "x"},
  {handle = "b", path = "/x", select_line_matching = "x", persist = 5},
]
`,
			want: []wantErr{{"3:69", "measurements[1].persist", "must be a duration with a unit", ""}}},
		{name: "toml positions", file: "e.toml", src: `[[measurements]]
handle = "a"
path = "/x"
select_line_matching = "x"

[[measurements]]
handle = "b"
path = "/x"
select_line_matching = "x"
persist = 5
tags = { host = "h" }
[measurements.typo]
[classes]
c = "a_high . (b"
[[commands]]
if = "any"
command = ["x", 1]
`,
			want: []wantErr{
				{"10:11", "measurements[1].persist", "must be a duration with a unit", ""},
				{"11:10", "measurements[1].tags.host", "host tag", ""},
				{"12:15", "measurements[1].typo", "unknown key", "-"},
				{"14:15", "classes.c", "unclosed parenthesis", ""},
				{"17:17", "commands[0].command[1]", "must be a string, not a number", ""}}},
		{name: "json positions", file: "e.json", src: `{
  "measurements": [
    {"handle": "a", "path": "/x", "select_line_matching": "x"},
    {"handle": "b", "path": "/x", "select_line_matching": "x",
     "pesist": "5m", "key": "\\d+"}
  ],
  "classes": {"c": "a_high . (b"}
}
`,
			want: []wantErr{
				{"5:6", "measurements[1].pesist", "unknown key", "did you mean persist?"},
				{"5:29", "measurements[1].key", "missing capture group", ""},
				{"7:30", "classes.c", "unclosed parenthesis", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "e.yaml"
			}
			set, err := LoadBytes(file, []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; warnings %v", set.Warnings)
			}
			checkErrs(t, err, file, tt.want)
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Pos: Pos{File: "a.yaml", Line: 3, Col: 5}, Key: "measurements[0].x", Msg: `unknown key "x"`, Hint: "did you mean y?"},
			`a.yaml:3:5: measurements[0].x: unknown key "x" (did you mean y?)`},
		{Error{Pos: Pos{File: "a.yaml", Line: 3}, Msg: "syntax error"}, "a.yaml:3: syntax error"},
		{Error{Pos: Pos{File: "a.yaml"}, Msg: "not found"}, "a.yaml: not found"},
		{Error{Pos: Pos{File: "a.yaml", Line: 1, Col: 2}, Key: "k", Msg: "bad", Expansion: "m=dcc"}, "a.yaml:1:2: k: bad, with m=dcc"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	l := ErrorList{&tests[0].e, &tests[1].e}
	if got, want := l.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(error(l), &e) || e != &tests[0].e {
		t.Errorf("errors.As(ErrorList) did not find the first *Error")
	}
	_ = fmt.Sprint()
}
