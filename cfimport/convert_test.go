package cfimport

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestConvertGolden")

func parseFiles(t testing.TB, names ...string) *cfengine.Policy {
	t.Helper()
	pol := &cfengine.Policy{}
	for _, n := range names {
		p, err := cfengine.ParseFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		pol.Merge(p)
	}
	return pol
}

// TestConvertGolden converts the test policy and compares the rule file
// and the list of what was not converted with the golden files
// (go test ./cfimport -update rewrites them); the rule file must load
// without error.
func TestConvertGolden(t *testing.T) {
	res := Convert(parseFiles(t, "watch.cf", "actions.cf", "lib.cf"))
	var items strings.Builder
	for _, it := range res.Items {
		items.WriteString(it.String() + "\n")
	}
	for name, got := range map[string]string{"converted.yaml": string(res.YAML), "converted.items": items.String()} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs; got:\n%s", name, got)
		}
	}
	set, err := rules.LoadBytes("converted.yaml", res.YAML)
	if err != nil {
		t.Fatalf("the rule file does not load: %v", err)
	}
	if len(set.Measurements) != res.Measurements+res.Observables || len(set.Classes) != res.Classes ||
		len(set.Commands) != res.Commands || len(set.Reports) != res.Reports {
		t.Errorf("loaded %d measurements and observables, %d classes, %d commands, %d reports; Convert counted %d+%d, %d, %d, %d",
			len(set.Measurements), len(set.Classes), len(set.Commands), len(set.Reports),
			res.Measurements, res.Observables, res.Classes, res.Commands, res.Reports)
	}
	if res.Observables != 2 {
		t.Errorf("%d observables, want 2 (www_in and rootprocs, whose classes the test policy uses)", res.Observables)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		parts    []string
		op, want string
	}{
		{[]string{"a|b"}, ".", "a|b"},
		{[]string{"a|b", "c"}, ".", "(a|b).c"},
		{[]string{"(a|b)", "c.d"}, ".", "(a|b).c.d"},
		{[]string{"a.b", "c"}, "|", "a.b|c"},
		{[]string{"x", "!y"}, ".", "x.!y"},
	}
	for _, tt := range tests {
		if got := join(tt.parts, tt.op); got != tt.want {
			t.Errorf("join(%q, %q) = %q, want %q", tt.parts, tt.op, got, tt.want)
		}
	}
	if got := "!" + group("a.b", "!"); got != "!(a.b)" {
		t.Errorf("not of a.b = %q", got)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/usr/sbin/service  dccm restart", []string{"/usr/sbin/service", "dccm", "restart"}},
		{`/bin/echo "two words" 'and more' x"y z"`, []string{"/bin/echo", "two words", "and more", "xy z"}},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if err != nil || strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "  ", `/bin/echo "open`} {
		if _, err := splitCommand(bad); err == nil {
			t.Errorf("splitCommand(%q): no error", bad)
		}
	}
}

// FuzzConvert checks that whatever policy parses converts without
// panicking into a rule file that loads without error, and that every
// item it lists has a position in the policy.
func FuzzConvert(f *testing.F) {
	for _, n := range []string{"watch.cf", "actions.cf", "lib.cf"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("bundle monitor m { vars: \"l\" slist => { \"a-b\", \"c\" }; measurements: \"/x/$(l)\" handle => \"h_$(l)\", stream_type => \"file\", data_type => \"counter\", match_value => mv(\"x$(l)\"); }\nbody match_value mv(p) { select_line_matching => \"$(p)\"; }\nbundle agent a { classes: \"c_$(m.l)\" expression => \"h_$(m.l)_high\"; reports: c_a_b:: \"r $(mon.value_h_a_b)\"; }")
	f.Fuzz(func(t *testing.T, src string) {
		pol, err := cfengine.Parse("f.cf", src)
		if err != nil {
			return
		}
		res := Convert(pol)
		if _, err := rules.LoadBytes("out.yaml", res.YAML); err != nil {
			t.Fatalf("converted rules do not load: %v\n%s", err, res.YAML)
		}
		for _, it := range res.Items {
			if it.Pos.File != "f.cf" || it.Pos.Line < 1 {
				t.Fatalf("item without a position: %v", it)
			}
		}
	})
}

// TestBareWordArguments: CFEngine takes a bare word as a string wherever
// one is expected, so the manual's `action => sample_min(10,15)` (the
// df example of the measurements reference) gives ifelapsed 10 minutes and
// expireafter 15, as sample_min("10","15") does.
func TestBareWordArguments(t *testing.T) {
	pol, err := cfengine.Parse("df.cf", `bundle monitor watch_diskspace
{
  measurements:
    "/bin/df"
      handle => "free_diskspace_watch",
      stream_type => "pipe",
      data_type => "slist",
      history_type => "static",
      match_value => file_systems,
      action => sample_min(10,15);
}
body match_value file_systems
{
  select_line_matching => "/.*";
  extraction_regex => "(.*)";
}
body action sample_min(x,y)
{
  ifelapsed => "$(x)";
  expireafter => "$(y)";
}
`)
	if err != nil {
		t.Fatal(err)
	}
	res := Convert(pol)
	for _, it := range res.Items {
		t.Errorf("listed: %s", it)
	}
	for _, want := range []string{"ifelapsed: 10m\n", "expireafter: 15m\n"} {
		if !strings.Contains(string(res.YAML), want) {
			t.Errorf("no %q in:\n%s", want, res.YAML)
		}
	}
}
