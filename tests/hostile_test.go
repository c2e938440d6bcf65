package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/logtally/logtally/internal/testutil"
)

// hostileCase is a key of key_type any taken from a log line, and the one
// argv element it must reach a command as.
type hostileCase struct {
	name string
	key  string // as written in the log line
	want string // the argv element; "" when the command must be refused
}

func hostileCases(dir string) []hostileCase {
	long := strings.Repeat("$(reboot)`;|&", 800) // 10,400 bytes
	return []hostileCase{
		{"subst", "$(touch " + dir + "/pwned-subst)", "$(touch " + dir + "/pwned-subst)"},
		{"backquote", "`touch " + dir + "/pwned-backquote`", "`touch " + dir + "/pwned-backquote`"},
		{"semicolon", "x; touch " + dir + "/pwned-semicolon; echo", "x; touch " + dir + "/pwned-semicolon; echo"},
		{"pipe", "a | touch " + dir + "/pwned-pipe && b || c > /dev/null", "a | touch " + dir + "/pwned-pipe && b || c > /dev/null"},
		{"cr", "root\rfake prompt$ ", "root\rfake prompt$ "},
		{"escape", "\x1b[2J\x1b]0;owned\x07\x1b[31mred\x08\x7f", "\x1b[2J\x1b]0;owned\x07\x1b[31mred\x08\x7f"},
		{"quotes", `'"\'\\" $HOME ${IFS} * ? ~ %s %n`, `'"\'\\" $HOME ${IFS} * ? ~ %s %n`},
		{"variable", "$(value_probe) $(classes) $(top_subst)", "$(value_probe) $(classes) $(top_subst)"},
		{"separators", "a\u2028b\u2029c\u202eevil\u0085", "a\u2028b\u2029c\u202eevil\u0085"},
		{"dash", "--output=/etc/passwd", "--output=/etc/passwd"},
		// A 10 KB username is cut to 256 bytes.
		{"long", long, long[:256]},
		// Cut on a character boundary: 1 + 127×2 bytes, not 256.
		{"utf8cut", "x" + strings.Repeat("é", 5000), "x" + strings.Repeat("é", 127)},
		// Invalid UTF-8 becomes U+FFFD.
		{"invalid", "\xff\xfeok\xc3", "\uFFFD\uFFFDok\uFFFD"},
		// A NUL byte cannot be an argv element: the command is refused.
		{"nul", "a\x00b", ""},
	}
}

// TestHostileKeys: keys carrying shell syntax, control characters,
// invalid UTF-8, a NUL byte or 10 KB reach a command only as exactly one
// argv element (and environment value), byte for byte as validated;
// nothing runs a shell; reports stay one line; the line protocol stays one
// valid point per line; the daemon's log one line per event. A key_type: ip
// measurement refuses what is not an address, and counts it.
func TestHostileKeys(t *testing.T) {
	r := newRig(t, "")
	log, ipLog := r.path("app.log"), r.path("ip.log")
	argvLog, reports := r.path("argv.log"), r.path("reports.log")
	bin := yamlQuote(testBinary(t))
	cases := hostileCases(r.dir)

	var rb strings.Builder
	rb.WriteString("measurements:\n")
	for _, c := range cases {
		fmt.Fprintf(&rb, `  - handle: %[1]s
    path: %[2]s
    select_line_matching: 'app\[7\]: %[1]s user=.*'
    key: '%[1]s user=(.*)'
`, c.name, log)
	}
	fmt.Fprintf(&rb, `  - handle: ipcase
    path: %s
    track_growing_file: false
    select_line_matching: '.*ipcase from .*'
    key: 'from (\S+)'
    key_type: ip
commands:
`, ipLog)
	for _, c := range append(cases, hostileCase{name: "ipcase"}) {
		fmt.Fprintf(&rb, `  - handle: run_%[1]s
    if: entropy_%[1]s_low
    command: [%[2]s, %[3]s, %[1]s, "$(top_%[1]s)", "<$(top_%[1]s)>"]
    env: {%[4]s: record, LOGTALLY_E2E_KEY: "$(top_%[1]s)"}
`, c.name, bin, yamlQuote(argvLog), helperEnv)
	}
	rb.WriteString("reports:\n")
	for _, c := range cases {
		fmt.Fprintf(&rb, `  - handle: report_%[1]s
    if: entropy_%[1]s_low
    message: "%[1]s top $(top_%[1]s) end"
    to: %[2]s
`, c.name, reports)
	}
	writeFile(t, r.rules, rb.String())
	if res := run(t, "", "check", "--rules", r.rules); res.code != 0 {
		t.Fatalf("rules do not check: %s", res.stderr)
	}
	// The same key in a shell command line is refused when the rules load.
	shellRules := r.path("shell.yaml")
	writeFile(t, shellRules, fmt.Sprintf(`measurements:
  - handle: subst
    path: %s
    select_line_matching: '.*'
    key: 'user=(.*)'
commands:
  - if: entropy_subst_low
    shell: true
    command: ["echo $(top_subst)"]
`, log))
	if res := run(t, "", "check", "--rules", shellRules); res.code != 2 || !strings.Contains(res.stderr, "must never reach a shell") {
		t.Errorf("check of a shell command with $(top_...): exit %d, want 2 and why\n%s", res.code, res.stderr)
	}

	// Seven lines of which three hold an address (one IPv4-mapped) and four
	// do not; read whole each interval, so every sample counts them.
	writeFile(t, ipLog, strings.Join([]string{
		"app[7]: ipcase from 192.0.2.7",
		"app[7]: ipcase from $(reboot)",
		"app[7]: ipcase from ::ffff:192.0.2.7",
		"app[7]: ipcase from 192.0.2.7;reboot",
		"app[7]: ipcase from fe80::1%eth0",
		"app[7]: ipcase from `id`",
		"app[7]: ipcase from 192.0.2.7",
	}, "\n")+"\n")
	writeFile(t, log, "")

	d := r.start("inotify", 0, "--listen", "127.0.0.1:0")
	addr := d.webAddr()
	d.waitLog(`event=open `, 1)
	// app.log's first interval is observed only in part, and not scored.
	d.waitLog(`msg=committed `, 1)
	var lines strings.Builder
	for _, c := range cases {
		lines.WriteString("app[7]: " + c.name + " user=" + c.key + "\n")
	}
	appendString(t, log, lines.String())

	runs := len(cases) // all but nul, plus ipcase
	testutil.WaitForWhy(t, waitTimeout, "the commands to run", func() (bool, string) {
		n := len(readRecords(t, argvLog))
		return n >= runs, fmt.Sprintf("%d of %d", n, runs)
	})
	testutil.WaitForWhy(t, waitTimeout, "the reports", func() (bool, string) {
		b, _ := os.ReadFile(reports)
		n := countLines(string(b))
		return n >= len(cases), fmt.Sprintf("%d of %d", n, len(cases))
	})
	d.waitLog(`msg="actions: command refused" handle=run_nul guard=entropy_nul_low reason="argv\[3\] contains a NUL byte"`, 1)
	// ipcase: the last committed sample counts the refused keys; /metrics
	// has their running total (4 per sample).
	testutil.WaitForWhy(t, waitTimeout, "a sample of ipcase", func() (bool, string) {
		m, _ := readStatus(t, r.state).measurement("ipcase")
		return m.Last != nil && !m.Last.Partial && m.Last.Selected == 7, fmt.Sprintf("%+v", m.Last)
	})
	if m, _ := readStatus(t, r.state).measurement("ipcase"); m.Last.KeyRejects != 4 || m.Last.TopKey != "192.0.2.7" {
		t.Errorf("ipcase: last sample key_rejects %d, top key %q; want 4 and 192.0.2.7", m.Last.KeyRejects, m.Last.TopKey)
	}
	fams := scrape(t, addr)
	if v, ok := metricValue(fams, "logtally_measurement_key_rejects_total", "handle", "ipcase"); !ok || v < 4 || int(v)%4 != 0 {
		t.Errorf("logtally_measurement_key_rejects_total{handle=ipcase} = %v (present %v), want a positive multiple of 4", v, ok)
	}
	if v, ok := metricValue(fams, "logtally_measurement_key_rejects_total", "handle", "subst"); !ok || v != 0 {
		t.Errorf("logtally_measurement_key_rejects_total{handle=subst} = %v (present %v), want 0: key_type any refuses nothing", v, ok)
	}
	d.stop()

	// Every command got its key as exactly one argv element (alone, and
	// inside another), and in its environment, byte for byte; its parent
	// is the daemon, not a shell.
	byName := map[string]helperRecord{}
	for _, rec := range readRecords(t, argvLog) {
		a := rec.args()
		if len(a) == 0 {
			t.Fatalf("a command ran without arguments")
		}
		if _, dup := byName[a[0]]; dup {
			t.Errorf("%s: ran twice", a[0])
		}
		byName[a[0]] = rec
	}
	for _, c := range append(cases, hostileCase{"ipcase", "", "192.0.2.7"}) {
		rec, ok := byName[c.name]
		switch {
		case c.want == "" && ok:
			t.Errorf("%s: the command ran with %q; want it refused", c.name, rec.args())
			continue
		case c.want == "":
			continue
		case !ok:
			t.Errorf("%s: the command did not run", c.name)
			continue
		}
		want := []string{c.name, c.want, "<" + c.want + ">"}
		if got := rec.args(); !equalStrings(got, want) {
			t.Errorf("%s: argv %q, want %q", c.name, got, want)
		}
		for _, k := range []string{"LOGTALLY_TOP_" + c.name, "LOGTALLY_E2E_KEY"} {
			if got := string(rec.Env[k]); got != c.want {
				t.Errorf("%s: environment %s=%q, want %q", c.name, k, got, c.want)
			}
		}
		if rec.PPID != d.pid() {
			t.Errorf("%s: the command's parent is %d, not the daemon (%d)", c.name, rec.PPID, d.pid())
		}
	}
	if m, _ := filepath.Glob(filepath.Join(r.dir, "pwned*")); len(m) > 0 {
		t.Errorf("a shell ran text from a log line: %v exist", m)
	}

	// Reports: one line each, nothing raw that a terminal or a log reader
	// would interpret, the key escaped and cut.
	b, err := os.ReadFile(reports)
	if err != nil {
		t.Fatal(err)
	}
	reportLines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(reportLines) != len(cases) {
		t.Errorf("%d report lines, want %d (one per report):\n%q", len(reportLines), len(cases), b)
	}
	seen := map[string]bool{}
	for _, l := range reportLines {
		if bad := unsafeRune(l); bad != "" {
			t.Errorf("report line holds %s: %q", bad, l)
		}
		for _, c := range cases {
			if strings.Contains(l, " report_"+c.name+": "+c.name+" top ") && strings.HasSuffix(l, " end") {
				seen[c.name] = true
			}
		}
		if len(l) > 4096+200 {
			t.Errorf("report line of %d bytes: not cut", len(l))
		}
	}
	for _, c := range cases {
		if !seen[c.name] {
			t.Errorf("no report line for %s", c.name)
		}
	}
	for _, want := range []string{`root\rfake prompt$ `, `\x1b[2J\x1b]0;owned\x07\x1b[31mred\x08\x7f`, `a\u2028b\u2029c\u202eevil\u0085`, `nul top a\x00b end`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reports do not show %q escaped:\n%s", want, b)
		}
	}

	// The line protocol: one valid point per line (decodeLP fails
	// otherwise), a sample of every measurement.
	got := map[string]bool{}
	for _, p := range decodeLPFile(t, r.outLP) {
		got[p.measurement] = true
	}
	for _, c := range append(cases, hostileCase{name: "ipcase"}) {
		if !got[c.name] {
			t.Errorf("no point for %s in the line protocol", c.name)
		}
	}
	// The daemon's log: one line per event.
	for _, l := range strings.Split(strings.TrimSuffix(d.log(), "\n"), "\n") {
		if !strings.HasPrefix(l, "time=") {
			t.Errorf("log line not of the daemon's form (text from a log line broke it): %q", l)
		}
	}
}

// unsafeRune describes the first character of s that a report line must
// not hold raw, or returns "".
func unsafeRune(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("%U", r)
		}
	}
	return ""
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHostileRegexTime: `logtally test` charges a rule the time its
// timed-out line took, once: within the one pass that holds it, and at
// least the line's limit. It used to scale that line's time to the
// rule's other lines as if it were a sample of them: twice the limit
// with one other line.
func TestHostileRegexTime(t *testing.T) {
	dir := t.TempDir()
	rulesPath, logPath := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "app.log")
	writeFile(t, rulesPath, `settings:
  regex_timeout: 50ms
measurements:
  - handle: hostile
    path: `+logPath+`
    select_line_matching: '(?=(a+)+b)a.*'
`)
	writeFile(t, logPath, strings.Repeat("a", 5000)+"c\nab\n")
	r := run(t, "", "test", "--rules", rulesPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Measurements []struct {
			Timeouts int     `json:"timeouts"`
			TimeMS   float64 `json:"time_ms"`
		} `json:"measurements"`
		Streams []struct {
			PassMS float64 `json:"pass_ms"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Measurements) != 1 || len(out.Streams) != 1 {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	m, pass := out.Measurements[0], out.Streams[0].PassMS
	if m.Timeouts != 1 || m.TimeMS < 50 || m.TimeMS > pass {
		t.Errorf("%d timeouts, the rule's time %.1f ms; want 1, at least the limit (50 ms) and at most the pass's %.1f ms", m.Timeouts, m.TimeMS, pass)
	}
}

// TestHostileRegex: lines on which rules backtrack catastrophically cost
// the line's time limit, counted once per measurement as a timeout: the
// rule that spends the limit and the rule left undecided by it both count
// each such line, a rule on a linear engine still counts every line, and
// the other lines are matched as usual.
func TestHostileRegex(t *testing.T) {
	dir := t.TempDir()
	rulesPath, logPath := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "app.log")
	rules := `settings:
  regex_timeout: 10ms
measurements:
  - handle: hostile_select
    path: ` + logPath + `
    select_line_matching: '(?=(a+)+b)a.*'
  - handle: hostile_extract
    path: ` + logPath + `
    select_line_matching: 'a.*'
    extraction_regex: '(?=a)((a|aa)+)b'
  - handle: every_line
    path: ` + logPath + `
    select_line_matching: '.*'
`
	hostile := strings.Repeat("a", 5000) + "c\n"
	log := hostile + "hello\n" + hostile + "ab\n" + hostile + "world\n"
	if err := os.WriteFile(rulesPath, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "test", "--rules", rulesPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out testOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	want := map[string]map[string]float64{
		// "ab" matches both; the hostile lines time out in the first,
		// are selected by the second, and their extraction is a timeout
		// and a miss.
		"hostile_select":  {"lines": 6, "selected": 1, "timeouts": 3, "extract_misses": 0, "value": 1},
		"hostile_extract": {"lines": 6, "selected": 4, "timeouts": 3, "extract_misses": 3, "value": 1},
		"every_line":      {"lines": 6, "selected": 6, "timeouts": 0, "extract_misses": 0, "value": 6},
	}
	if len(out.Measurements) != len(want) {
		t.Fatalf("%d measurements, want %d: %s", len(out.Measurements), len(want), r.stdout)
	}
	for _, m := range out.Measurements {
		h := m["handle"].(string)
		for k, v := range want[h] {
			if got, _ := m[k].(float64); got != v {
				t.Errorf("%s: %s = %v, want %v", h, k, m[k], v)
			}
		}
	}
}
