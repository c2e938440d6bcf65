package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cfPattern is a select_line_matching of the import-cf test policy as
// CFEngine reads it (its string with the escapes undone and its variables
// expanded, written out here by hand), and the sample log it is counted
// on.
type cfPattern struct {
	handle, log, pattern string
	extract              string // the extraction_regex of an int measurement, summed
}

var cfPatterns = []cfPattern{
	{"ssh_username_probe", "ssh/auth.log", `.*sshd\[\d+\]: Invalid user .*`, ""},
	{"ssh_breakin_attempt", "ssh/auth.log", `.*POSSIBLE BREAK-IN ATTEMPT!`, ""},
	{"ssh_failed_ports", "ssh/auth.log", `.*sshd\[\d+\]: Failed password for .*`, `port (\d+)`},
	{"dns_denied_NS", "dns/named.log", `.*client .*: (query(?: \(cache\))?|zone transfer) '[^']+/NS/IN' denied.*`, ""},
	{"dns_denied_A", "dns/named.log", `.*client .*: (query(?: \(cache\))?|zone transfer) '[^']+/A/IN' denied.*`, ""},
	{"dns_denied_ANY", "dns/named.log", `.*client .*: (query(?: \(cache\))?|zone transfer) '[^']+/ANY/IN' denied.*`, ""},
	{"dns_denied_AXFR", "dns/named.log", `.*client .*: (query(?: \(cache\))?|zone transfer) '[^']+/AXFR/IN' denied.*`, ""},
	{"mail_rejected", "mail/sendmail.log", `.*(sendmail|sm-[\w-]+)\[\d+\]: (\w+: )?ruleset=check_(mail|rcpt|relay), .*`, ""},
	{"milter_dcc_errors", "milter/maillog", `.*(sendmail|sm-[\w-]+)\[\d+\]: \w+: Milter \(dcc\): to error state`, ""},
	{"milter_greylist_errors", "milter/maillog", `.*(sendmail|sm-[\w-]+)\[\d+\]: \w+: Milter \(greylist\): to error state`, ""},
	{"milter_spamassassin_errors", "milter/maillog", `.*(sendmail|sm-[\w-]+)\[\d+\]: \w+: Milter \(spamassassin\): to error state`, ""},
	{"ftp_bytes_in", "ftp/xferlog", `.* i [agr] .*`, `^\w{3} \w{3} [ \d]\d [\d:]{8} \d{4} \d+ \S+ (\d+) `},
	{"ftp_failed_login", "ftp/proftpd.log", `.*proftpd\[\d+\] .*\(Login failed\).*`, ""},
}

// TestImportCF: import-cf converts the test policy, lists what it does
// not convert with file:line:col and why, logtally check accepts its
// output, and each converted measurement counts on the sample logs
// exactly the lines that its CFEngine pattern selects as CFEngine does
// (a whole-line PCRE match: grep -cxP), with the same sum for the values
// it extracts; syslog's repeat lines count as the lines they stand for
// (syslog_repeats: grep reads the log with them written out).
func TestImportCF(t *testing.T) {
	grep := need(t, "grep")
	dir := t.TempDir()
	out := filepath.Join(dir, "cfengine.yaml")
	policy := func(name string) string { return repo("cfimport", "testdata", name) }
	r := run(t, "", "import-cf", policy("watch.cf"), policy("actions.cf"), policy("lib.cf"), "--output", out)
	if r.code != 1 {
		t.Fatalf("import-cf: exit %d, want 1 (some of it listed); stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		`watch.cf:102:9: measurement "auth_second_line": not converted: select_line_number 2 of a followed file (track_growing_file true): a line number needs a stream read whole each time`,
		`actions.cf:18:22: class "have_proftpd": not converted: expression: fileexists() is evaluated by a running agent on its host`,
		`actions.cf:32:7: report "DNS zone transfers refused: $(mon.value_...": not converted: its guard dns_denied_AXFR_high uses dns_denied_AXFR_high, a class of measurement dns_denied_AXFR, whose history_type log`,
		`actions.cf:44:7: report "Checked at $(sys.date)": not converted: it is not guarded by a class`,
		`converted 16 measurements, 6 classes, 4 commands, 5 reports, with 2 observables`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("import-cf's list lacks %q:\n%s", want, r.stderr)
		}
	}
	// A file with a syntax error is named with its line; the others are
	// still converted.
	broken := run(t, "", "import-cf", policy("broken.cf"), policy("watch.cf"), policy("lib.cf"))
	if want := `broken.cf:6:21: expected "," or ")", found =>: the file is not converted`; broken.code != 2 || !strings.Contains(broken.stderr, want) {
		t.Errorf("import-cf with broken.cf: exit %d, want 2 and %q:\n%s", broken.code, want, broken.stderr)
	}
	if !strings.Contains(broken.stdout, "handle: ssh_username_probe") {
		t.Errorf("import-cf with broken.cf did not convert the other files:\n%s", broken.stdout)
	}
	if c := run(t, "", "check", "--rules", out); c.code != 0 {
		t.Fatalf("check refuses the converted rules: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}

	byLog := map[string][]cfPattern{}
	for _, p := range cfPatterns {
		byLog[p.log] = append(byLog[p.log], p)
	}
	for log, pats := range byLog {
		path := repo("examples", "testdata", log)
		r := run(t, "", "test", "--rules", out, "--log", path, "--format", "json")
		if r.code != 0 {
			t.Fatalf("test --log %s: exit %d: %s", log, r.code, r.stderr)
		}
		var res testOutput
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]any{}
		for _, m := range res.Measurements {
			got[m["handle"].(string)] = m
		}
		expanded := expandRepeats(t, path, false)
		for _, p := range pats {
			lines := grepLines(t, grep, p.pattern, expanded)
			if len(lines) == 0 {
				t.Errorf("%s: grep -xP selects no line of %s, so the comparison proves nothing", p.handle, log)
			}
			m := got[p.handle]
			if m == nil {
				t.Errorf("%s: not converted", p.handle)
				continue
			}
			if sel, _ := m["selected"].(float64); int(sel) != len(lines) {
				t.Errorf("%s on %s: selected %v lines, grep -xP selects %d", p.handle, log, m["selected"], len(lines))
			}
			if p.extract != "" {
				want := sumFirstGroup(t, p.extract, lines)
				if v, _ := m["value"].(float64); v != want {
					t.Errorf("%s on %s: value %v, want the sum %v", p.handle, log, m["value"], want)
				}
			}
		}
	}
}

// grepLines returns the lines of path that pattern matches whole, as
// PCRE reads it.
func grepLines(t *testing.T, grep, pattern, path string) []string {
	t.Helper()
	out, err := exec.Command(grep, "-xP", "--", pattern, path).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return nil // no line
	} else if err != nil {
		t.Fatalf("grep -xP %q %s: %v", pattern, path, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// sumFirstGroup sums the first group of the leftmost match of re in each
// line.
func sumFirstGroup(t *testing.T, re string, lines []string) float64 {
	t.Helper()
	rx := regexp.MustCompile(re)
	sum := 0.0
	for _, l := range lines {
		m := rx.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

// TestImportCFReferenceExamples: the examples of CFEngine's measurements
// reference (df as an slist with action => sample_min(10,15), bare words
// as CFEngine allows; /proc/meminfo's MemFree; a followed log counted with
// scan_log) and a class comparing a value, converted as a whole: nothing
// is refused, the action body's minutes become ifelapsed and expireafter,
// the summary counts with the right plurals, and check accepts the result.
func TestImportCFReferenceExamples(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "reference.cf")
	writeFile(t, policy, `bundle monitor watch_diskspace
{
  measurements:
    "/bin/df"
      handle => "free_diskspace_watch",
      stream_type => "pipe",
      data_type => "slist",
      history_type => "static",
      units => "device",
      match_value => file_systems,
      action => sample_min(10,15);

    "/proc/meminfo"
      handle => "free_memory_watch",
      stream_type => "file",
      data_type => "int",
      history_type => "weekly",
      units => "kB",
      match_value => free_memory;

    "/var/log/app.log"
      handle => "line_counter",
      stream_type => "file",
      data_type => "counter",
      match_value => scan_log("MYLINE.*"),
      history_type => "weekly";
}
body match_value file_systems
{
  select_line_matching => "/.*";
  extraction_regex => "(.*)";
}
body match_value free_memory
{
  select_line_matching => "MemFree:.*";
  extraction_regex => "MemFree:\s+([0-9]+).*";
}
body match_value scan_log(x)
{
  select_line_matching => "^$(x)$";
  track_growing_file => "true";
}
body action sample_min(x,y)
{
  ifelapsed => "$(x)";
  expireafter => "$(y)";
}
bundle agent react
{
  classes:
    "low_memory" expression => islessthan("$(mon.value_free_memory_watch)", "100000");
  reports:
    low_memory::
      "$(sys.host): $(mon.value_free_memory_watch) kB free";
}
`)
	out := filepath.Join(dir, "reference.yaml")
	r := run(t, "", "import-cf", policy, "--output", out)
	if want := "converted 3 measurements, 1 class, 0 commands, 1 report; listed: 0 not converted, 0 converted in part, 0 assumed\n"; r.code != 0 || r.stderr != want {
		t.Errorf("import-cf: exit %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ifelapsed: 10m\n", "expireafter: 15m\n", "expression: value_free_memory_watch < 100000\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the rules lack %q:\n%s", want, b)
		}
	}
	if c := run(t, "", "check", "--rules", out); c.code != 0 {
		t.Errorf("check refuses the converted rules: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}
}
