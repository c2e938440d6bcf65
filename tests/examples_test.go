package tests

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/logtally/logtally/rules"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of the examples")

// exampleCase is one sample log of one example rule file, or one copy of
// /proc for the observables of one (proc is true).
type exampleCase struct {
	rules, log, golden string
	proc               bool
}

// args are the arguments of logtally test for the case.
func (c exampleCase) args() []string {
	if c.proc {
		return []string{"test", "--rules", c.rules, "--proc", c.log, "--format", "json"}
	}
	return []string{"test", "--rules", c.rules, "--log", c.log, "--format", "json"}
}

func exampleCases(t *testing.T) []exampleCase {
	t.Helper()
	dirs, err := os.ReadDir(repo("examples", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []exampleCase
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		rulesFile := repo("examples", "rules", d.Name()+".yaml")
		if _, err := os.Stat(rulesFile); err != nil {
			t.Fatalf("examples/testdata/%s has no rule file: %v", d.Name(), err)
		}
		files, _ := os.ReadDir(repo("examples", "testdata", d.Name()))
		for _, f := range files {
			if strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			log := repo("examples", "testdata", d.Name(), f.Name())
			cases = append(cases, exampleCase{rules: rulesFile, log: log, golden: log + ".json", proc: f.IsDir() && f.Name() == "proc"})
		}
	}
	if len(cases) < 7 {
		t.Fatalf("found %d example samples, want at least 7", len(cases))
	}
	return cases
}

type testOutput struct {
	Measurements []map[string]any `json:"measurements"`
}

// TestExamplesGolden runs every example rule file over its sample logs and
// compares with the expected output (timing removed).
func TestExamplesGolden(t *testing.T) {
	for _, c := range exampleCases(t) {
		name := strings.TrimPrefix(c.log, repo("examples", "testdata")+"/")
		t.Run(name, func(t *testing.T) {
			r := run(t, "", c.args()...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var out testOutput
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
			}
			for _, m := range out.Measurements {
				delete(m, "time_ms")
			}
			got, _ := json.MarshalIndent(out, "", "  ")
			got = append(got, '\n')
			if *update {
				if err := os.WriteFile(c.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("no expected output (run with -update to create it): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("output differs from %s\ngot:\n%s", c.golden, got)
			}
		})
	}
}

// TestExamplesAgainstPerl checks every example measurement against an
// independent implementation: Perl's regex engine counts the lines that
// match '^(?:SELECT)$' and folds the extracted numbers by the rule's policy,
// on the log with syslog's repeat lines written out (expandRepeats) unless
// the measurement takes them as they are (syslog_repeats: off).
func TestExamplesAgainstPerl(t *testing.T) {
	perl := need(t, "perl")
	for _, c := range exampleCases(t) {
		if c.proc {
			continue // observables select no line
		}
		set, err := rules.Load(c.rules)
		if err != nil {
			t.Fatalf("load %s: %v", c.rules, err)
		}
		r := run(t, "", c.args()...)
		var out testOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%s: output is not JSON: %v", c.log, err)
		}
		got := map[string]map[string]any{}
		for _, m := range out.Measurements {
			got[m["handle"].(string)] = m
		}
		nonzero := 0
		for _, m := range set.Measurements {
			if m.StreamType == rules.StreamObserve {
				continue
			}
			log := c.log
			switch {
			case m.SyslogRepeats == rules.RepeatsOff:
			case m.StreamType == rules.StreamJournal && m.Render != rules.RenderSyslog:
				log = expandRepeats(t, c.log, true) // the entries' MESSAGE
			default:
				log = expandRepeats(t, c.log, false)
			}
			want := perlFold(t, perl, m, log)
			g := got[m.Handle]
			if g == nil {
				t.Errorf("%s: %s missing from the output", c.log, m.Handle)
				continue
			}
			if sel := g["selected"].(float64); sel != want.selected {
				t.Errorf("%s %s: selected %v, perl says %v", filepath.Base(c.log), m.Handle, sel, want.selected)
			}
			if ign, _ := g["ignored"].(float64); ign != want.ignored {
				t.Errorf("%s %s: ignored %v, perl says %v", filepath.Base(c.log), m.Handle, ign, want.ignored)
			}
			v, _ := g["value"].(float64)
			if g["value"] == nil && want.valid || g["value"] != nil && (!want.valid || v != want.value) {
				t.Errorf("%s %s: value %v, perl says %v (valid %v)", filepath.Base(c.log), m.Handle, g["value"], want.value, want.valid)
			}
			if want.selected > 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: no measurement of %s selects any line of its sample", c.log, c.rules)
		}
	}
}

type perlResult struct {
	selected float64
	ignored  float64 // selected lines of an ignore_keys key, not counted
	value    float64
	valid    bool
}

// perlFold computes one measurement over a log with Perl.
func perlFold(t *testing.T, perl string, m *rules.Measurement, log string) perlResult {
	t.Helper()
	script := `
use strict; use warnings;
use Socket qw(inet_pton AF_INET AF_INET6);
my ($sel, $ex, $type, $policy, $file, $key, @ignore) = @ARGV;
# An address as bytes (IPv4-mapped IPv6 as IPv4), or undef.
sub addr { my $s = shift; $s =~ s/^\[(.*)\]$/$1/; $s = $1 if $s =~ /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
  my $b = inet_pton(AF_INET, $s); return defined $b ? $b : inet_pton(AF_INET6, $s); }
sub ignored { my $k = shift; my $a = addr($k);
  for my $i (@ignore) {
    my ($n, $bits) = split m{/}, $i;
    my $nb = addr($n);
    if (defined $nb && defined $a) {
      $bits = 8 * length($nb) unless defined $bits;
      return 1 if length($nb) == length($a) && substr(unpack("B*", $a), 0, $bits) eq substr(unpack("B*", $nb), 0, $bits);
    } elsif (!defined $nb) { return 1 if $k eq $i; }
  }
  return 0; }
open(my $f, '<', $file) or die "$file: $!";
my ($n, $selected, $ignored, $sum, $first, $last) = (0, 0, 0, 0, undef, undef);
while (my $l = <$f>) {
  $l =~ s/\n\z//; $l =~ s/\r\z//;
  next unless $l =~ /^(?:$sel)$/;
  if (@ignore && $l =~ /$key/ && defined $1 && ignored($1)) { $ignored++; next; }
  $selected++;
  if ($ex eq '') { $n++; next; }
  next unless $l =~ /$ex/ && defined $1;
  my $v = $1;
  if ($type eq 'counter') { $n++; next; }
  next unless $v =~ /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/;
  $v = $1 + 0; $v = int($v) if $type eq 'int';
  $first = $v unless defined $first; $last = $v; $sum += $v; $n++;
}
my $value;
if ($type eq 'counter') { $value = $n }
elsif ($policy eq 'sum') { $value = $sum }
elsif ($n == 0) { $value = 'none' }
elsif ($policy eq 'average') { $value = $sum / $n }
elsif ($policy eq 'first') { $value = $first }
else { $value = $last }
print "$selected $value $ignored\n";
`
	out, err := exec.Command(perl, append([]string{"-e", script, m.Select, m.Extract, m.DataType, m.Policy, log, m.Key},
		m.IgnoreKeys.Entries()...)...).Output()
	if err != nil {
		t.Fatalf("perl for %s: %v", m.Handle, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		t.Fatalf("perl for %s printed %q", m.Handle, out)
	}
	sel, _ := strconv.ParseFloat(f[0], 64)
	ign, _ := strconv.ParseFloat(f[2], 64)
	if f[1] == "none" {
		return perlResult{selected: sel, ignored: ign}
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		t.Fatalf("perl for %s printed %q", m.Handle, out)
	}
	return perlResult{selected: sel, ignored: ign, value: v, valid: true}
}

// TestExamplesCheck checks that every shipped rule file is valid on its own
// and as one directory, without warnings.
func TestExamplesCheck(t *testing.T) {
	files, _ := filepath.Glob(repo("examples", "rules", "*.yaml"))
	sort.Strings(files)
	if len(files) < 5 {
		t.Fatalf("found %d example rule files", len(files))
	}
	for _, f := range append(files, repo("examples", "rules")) {
		r := run(t, "", "check", "--rules", f, "--strict")
		if r.code != 0 {
			t.Errorf("check %s: exit %d\n%s%s", f, r.code, r.stdout, r.stderr)
		}
	}
}

// TestSSHSessionLines: OpenSSH 9.8 and later log each connection from an
// sshd-session process; the ssh example counts the real sshd lines the
// same when they are written sshd-session[PID] (it counted none before).
func TestSSHSessionLines(t *testing.T) {
	data, err := os.ReadFile(repo("examples", "testdata", "ssh", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	session := filepath.Join(t.TempDir(), "auth.log")
	writeFile(t, session, strings.ReplaceAll(string(data), " sshd[", " sshd-session["))
	counts := func(log string) map[string]any {
		r := run(t, "", "test", "--rules", repo("examples", "rules", "ssh.yaml"), "--log", log, "--format", "json")
		var out testOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v: %s", r.code, err, r.stderr)
		}
		m := map[string]any{}
		for _, x := range out.Measurements {
			m[x["handle"].(string)] = x["selected"]
		}
		return m
	}
	want, got := counts(repo("examples", "testdata", "ssh", "auth.log")), counts(session)
	if len(want) != 8 {
		t.Fatalf("%d measurements, want the 8 of the ssh example", len(want))
	}
	for h, n := range want {
		if got[h] != n {
			t.Errorf("%s: %v lines as sshd-session[PID], %v as sshd[PID]", h, got[h], n)
		}
	}
}
