package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/rules"
)

// exampleLogs maps the log paths of the example rules to the sample logs
// that stand for them.
var exampleLogs = map[string][]string{
	"/var/log/auth.log":            {"ssh/auth.log"},
	"/var/log/maillog":             {"milter/maillog"},
	"/var/log/mail.log":            {"mail/postfix.log", "mail/sendmail.log"},
	"/var/log/xferlog":             {"ftp/xferlog"},
	"/var/log/proftpd/proftpd.log": {"ftp/proftpd.log"},
	"/var/log/named/security.log":  {"dns/named.log"},
}

// exampleRig copies the example rule files into dir/rules with their log
// paths moved under dir/logs (created empty), and returns the new path of
// each log with the sample content it is to receive.
func exampleRig(t *testing.T, dir string) (rulesDir string, logs map[string][]byte) {
	t.Helper()
	rulesDir = filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(repo("examples", "rules", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example rules: %v", err)
	}
	logs = map[string][]byte{}
	pathRe := regexp.MustCompile(`(?m)^(\s+path: )(/\S+)[ \t]*$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out := pathRe.ReplaceAllStringFunc(string(b), func(line string) string {
			m := pathRe.FindStringSubmatch(line)
			samples, ok := exampleLogs[m[2]]
			if !ok {
				t.Fatalf("%s: log %s has no sample log in this test; add it to exampleLogs", f, m[2])
			}
			p := filepath.Join(dir, "logs", m[2])
			if _, done := logs[p]; !done {
				var content []byte
				for _, s := range samples {
					c, err := os.ReadFile(repo("examples", "testdata", s))
					if err != nil {
						t.Fatal(err)
					}
					content = append(content, c...)
				}
				logs[p] = content
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, "")
			}
			return m[1] + p
		})
		writeFile(t, filepath.Join(rulesDir, filepath.Base(f)), out)
	}
	return rulesDir, logs
}

// TestStatusEndpoints follows the example rules while their sample logs
// are appended, and reads the status endpoints with a real HTTP client:
// /metrics parses as the Prometheus text format and has every
// measurement's and stream's series; / is the HTML page naming every
// measurement; /status.json decodes, and its totals are what `logtally
// test` counts in the same logs.
func TestStatusEndpoints(t *testing.T) {
	dir := t.TempDir()
	rulesDir, logs := exampleRig(t, dir)
	set, err := rules.Load(rulesDir)
	if err != nil {
		t.Fatalf("load the example rules: %v", err)
	}
	_, ssErr := exec.LookPath("ss")
	d := startDaemon(t, daemonOpts{rules: rulesDir, state: filepath.Join(dir, "state.db"),
		output: filepath.Join(dir, "out.lp"), extra: []string{"--listen", "127.0.0.1:0"}})
	addr := d.webAddr()
	d.waitLog(`event=open `, len(logs))

	// Append every sample log in rounds, an interval or more apart,
	// scraping /metrics as it goes.
	paths := make([]string, 0, len(logs))
	for p := range logs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	const rounds = 5
	commits := func() float64 {
		v, _ := metricValue(scrape(t, addr), "logtally_commits_total", "", "")
		return v
	}
	for i := range rounds {
		for _, p := range paths {
			content := logs[p]
			lines := bytes.SplitAfter(content, []byte("\n"))
			from, to := len(lines)*i/rounds, len(lines)*(i+1)/rounds
			appendString(t, p, string(bytes.Join(lines[from:to], nil)))
		}
		before := commits()
		testutil.WaitForWhy(t, waitTimeout, "an interval to be committed", func() (bool, string) {
			n := commits()
			return n > before, fmt.Sprintf("%v commits", n)
		})
	}
	// Each file's lines were all read.
	testutil.WaitForWhy(t, waitTimeout, "every line to be read", func() (bool, string) {
		fams := scrape(t, addr)
		for _, p := range paths {
			want := bytes.Count(logs[p], []byte("\n"))
			if got, _ := metricValue(fams, "logtally_stream_lines_total", "source", p); int(got) != want {
				return false, fmt.Sprintf("%s: %v of %d lines", p, got, want)
			}
		}
		return true, ""
	})
	// And committed: wait for one more interval.
	before := commits()
	testutil.WaitForWhy(t, waitTimeout, "an interval to be committed", func() (bool, string) { return commits() > before, "" })

	// Every measurement has its metrics once it has a sample: an
	// observable read late (listening_ports among many open files, on a
	// busy machine) has its first one a few intervals later.
	missing := func(fams map[string]*dto.MetricFamily) []string {
		var out []string
		for _, m := range set.Measurements {
			if m.StreamType == rules.StreamPipe && ssErr != nil {
				continue // ss is not installed: its command fails, and is retried
			}
			sum := "logtally_measurement_accumulated"
			if m.DataType == rules.Counter {
				sum = "logtally_measurement_value_total" // it only grows
			}
			fs := []string{"logtally_measurement_value", sum, "logtally_measurement_lines_total"}
			if m.HistoryType == rules.HistoryWeekly {
				fs = append(fs, "logtally_measurement_average")
			}
			for _, fam := range fs {
				if _, ok := metricValue(fams, fam, "handle", m.Handle); !ok {
					out = append(out, fmt.Sprintf("%s{handle=%q}", fam, m.Handle))
				}
			}
		}
		return out
	}
	var fams map[string]*dto.MetricFamily
	testutil.WaitForWhy(t, waitTimeout, "every measurement's metrics", func() (bool, string) {
		fams = scrape(t, addr)
		m := missing(fams)
		return len(m) == 0, fmt.Sprintf("/metrics: no %v", m)
	})
	for _, p := range paths {
		if _, ok := metricValue(fams, "logtally_stream_bytes_total", "source", p); !ok {
			t.Errorf("/metrics: no logtally_stream_bytes_total{source=%q}", p)
		}
	}
	for _, fam := range []string{"logtally_build_info", "logtally_interval_seconds", "logtally_commits_total", "logtally_output_spool_points", "logtally_command_runs_total"} {
		if fams[fam] == nil {
			t.Errorf("/metrics: no %s", fam)
		}
	}

	// logtally_build_info names the build the toolchain recorded.
	bi := readBuiltInfo(t, bin)
	if f := fams["logtally_build_info"]; f != nil && len(f.GetMetric()) == 1 {
		labels := map[string]string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		want := map[string]string{"version": bi.version, "revision": bi.revision, "modified": fmt.Sprint(bi.modified)}
		for k, v := range want {
			if labels[k] != v {
				t.Errorf("logtally_build_info{%s=%q}, the binary records %q", k, labels[k], v)
			}
		}
	} else {
		t.Errorf("/metrics: logtally_build_info is not one series: %v", f)
	}

	resp, page := httpGet(t, "http://"+addr+"/")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/: Content-Type %q, want text/html", ct)
	}
	if !bytes.Contains(page, []byte("<html")) || !bytes.Contains(page, []byte("</html>")) {
		t.Errorf("/ is not an HTML page:\n%.500s", page)
	}
	if bytes.Contains(bytes.ToLower(page), []byte("<script")) {
		t.Errorf("/ holds a script")
	}
	// Long names are shown with <wbr> break opportunities.
	text := bytes.ReplaceAll(page, []byte("<wbr>"), nil)
	for _, m := range set.Measurements {
		if !bytes.Contains(text, []byte("<h3>"+m.Handle+"</h3>")) {
			t.Errorf("/ does not show measurement %s", m.Handle)
		}
	}

	resp, body := httpGet(t, "http://"+addr+"/status.json")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("/status.json: Content-Type %q", ct)
	}
	var st struct {
		Measurements []struct {
			Handle string   `json:"handle"`
			Total  *float64 `json:"total"`
		} `json:"measurements"`
		Streams []struct {
			Source string `json:"source"`
			Lines  uint64 `json:"lines"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/status.json does not decode: %v\n%.500s", err, body)
	}
	totals := map[string]float64{}
	for _, m := range st.Measurements {
		if m.Total != nil {
			totals[m.Handle] = *m.Total
		}
	}
	// What `logtally test` counts in each whole log is what the daemon
	// committed, interval by interval.
	for _, p := range paths {
		res := run(t, "", "test", "--rules", rulesDir, "--log", p, "--format", "json")
		if res.code != 0 {
			t.Fatalf("logtally test --log %s: exit %d\n%s", p, res.code, res.stderr)
		}
		var out struct {
			Measurements []struct {
				Handle string  `json:"handle"`
				Value  float64 `json:"value"`
			} `json:"measurements"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatalf("logtally test output: %v", err)
		}
		want := map[string]float64{}
		for _, m := range out.Measurements {
			want[m.Handle] = m.Value
		}
		for _, m := range set.Measurements {
			if m.StreamType != rules.StreamFile || m.Path != p {
				continue
			}
			if got, ok := totals[m.Handle]; !ok || got != want[m.Handle] {
				t.Errorf("%s: /status.json total %v (present %v), logtally test counts %v", m.Handle, got, ok, want[m.Handle])
			}
		}
	}
	d.stop()
}
