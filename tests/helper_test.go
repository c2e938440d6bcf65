package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/logtally/logtally/internal/testutil"
)

// This file holds what the tests of commands, outputs and the web
// endpoints share: the test binary re-executed as the command a rule runs
// (so that what reaches a command is recorded byte for byte, by a program
// that is certainly not a shell), a line-protocol decoder, and an HTTP
// client for the daemon's status endpoints.

// helperEnv selects the helper mode when the test binary is run as a
// command of a rule (the rule's env: sets it).
const helperEnv = "LOGTALLY_E2E_HELPER"

// helperMain runs the test binary as a helper command, and returns its
// exit status:
//
//	record FILE ARG...   appends one JSON record (its argv after FILE, its
//	                     LOGTALLY_* environment, pid, parent, process group
//	                     and time) to FILE
//	hang FILE            starts a child in its own process group, writes
//	                     "pid pgid child" to FILE and hangs, ignoring
//	                     SIGTERM (so only SIGKILL ends it)
//	sleep                hangs, ignoring SIGTERM
//	files                holds its limit of open files, writes how many,
//	                     and exits at the end of its input
func helperMain(mode string, args []string) int {
	switch mode {
	case "record":
		if len(args) < 1 {
			fmt.Fprintln(os.Stderr, "helper record: no file")
			return 2
		}
		rec := helperRecord{PID: os.Getpid(), PPID: os.Getppid(), PGID: syscall.Getpgrp(), Time: time.Now(),
			Env: map[string][]byte{}}
		for _, a := range args[1:] {
			rec.Argv = append(rec.Argv, []byte(a))
		}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "LOGTALLY_") {
				rec.Env[k] = []byte(v)
			}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper record:", err)
			return 1
		}
		if err := appendLine(args[0], append(b, '\n')); err != nil {
			fmt.Fprintln(os.Stderr, "helper record:", err)
			return 1
		}
		fmt.Println("recorded") // captured by the daemon, as a command's output is
		return 0
	case "hang":
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "helper hang: want one file")
			return 2
		}
		signal.Ignore(syscall.SIGTERM)
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper hang:", err)
			return 1
		}
		child := exec.Command(exe)
		child.Env = append(os.Environ(), helperEnv+"=sleep")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "helper hang:", err)
			return 1
		}
		line := fmt.Sprintf("%d %d %d\n", os.Getpid(), syscall.Getpgrp(), child.Process.Pid)
		if err := appendLine(args[0], []byte(line)); err != nil {
			fmt.Fprintln(os.Stderr, "helper hang:", err)
			return 1
		}
		hang()
		return 0
	case "sleep":
		signal.Ignore(syscall.SIGTERM)
		hang()
		return 0
	case "files":
		return holdFiles()
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// hang blocks until the process is killed.
func hang() {
	never := make(chan os.Signal, 1)
	signal.Notify(never, syscall.SIGUSR2)
	for range never {
	}
}

// appendLine appends b to a file in one write.
func appendLine(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// helperRecord is one run of the record helper. Byte slices keep every
// byte of the arguments (JSON strings would replace invalid UTF-8).
type helperRecord struct {
	Argv [][]byte          `json:"argv"`
	Env  map[string][]byte `json:"env"`
	PID  int               `json:"pid"`
	PPID int               `json:"ppid"`
	PGID int               `json:"pgid"`
	Time time.Time         `json:"time"`
}

// args returns the recorded argv as strings.
func (r helperRecord) args() []string {
	out := make([]string, len(r.Argv))
	for i, a := range r.Argv {
		out[i] = string(a)
	}
	return out
}

// readIfAny returns the content of a file, or nil when it does not exist
// (yet).
func readIfAny(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// readRecords reads the complete records of a record helper's file (none
// when it does not exist yet).
func readRecords(t testing.TB, path string) []helperRecord {
	t.Helper()
	b := readIfAny(t, path)
	var out []helperRecord
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasSuffix(l, []byte("\n")) {
			continue // being written (a long record takes more than one write)
		}
		var r helperRecord
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("%s: %v: %q", path, err, l)
		}
		out = append(out, r)
	}
	return out
}

// testBinary is the path of this test binary, which rules run as a helper
// command.
func testBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// yamlQuote quotes s as a YAML single-quoted scalar.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// lpPoint is one decoded line-protocol point.
type lpPoint struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
	ts          time.Time
	line        string
}

// decodeLP decodes line protocol at the default precision (seconds) with
// InfluxData's own decoder, failing the test on anything that is not one
// valid point with a time per line.
func decodeLP(t testing.TB, data []byte) []lpPoint {
	t.Helper()
	var out []lpPoint
	for _, p := range testutil.DecodeLP(t, data, lineprotocol.Second) {
		if p.Time.IsZero() {
			t.Fatalf("a line-protocol point without a time: %q", p.Line)
		}
		out = append(out, lpPoint{measurement: p.Measurement, tags: p.Tags, fields: p.Fields, ts: p.Time, line: p.Line})
	}
	return out
}

// decodeLPFile decodes a line-protocol file.
func decodeLPFile(t testing.TB, path string) []lpPoint {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeLP(t, b)
}

// sumOnce adds up the value fields of a measurement's points, and fails
// the test for a second point of one interval or a point without a
// numeric value: a consumer that sums a stream output must count every
// line once.
func sumOnce(t testing.TB, pts []lpPoint, measurement string) float64 {
	t.Helper()
	sum, seen := 0.0, map[int64]bool{}
	for _, p := range pts {
		if p.measurement != measurement {
			continue
		}
		if seen[p.ts.Unix()] {
			t.Errorf("two points of %s for the interval ending %v", measurement, p.ts)
		}
		seen[p.ts.Unix()] = true
		switch v := p.fields["value"].(type) {
		case float64:
			sum += v
		case int64:
			sum += float64(v)
		default:
			t.Errorf("a point without a numeric value: %q", p.line)
		}
	}
	return sum
}

// classRises counts the points that say a class became set.
func classRises(pts []lpPoint, class string) int {
	n := 0
	for _, p := range pts {
		if p.measurement == "logtally_class" && p.tags["class"] == class && p.fields["state"] == int64(1) {
			n++
		}
	}
	return n
}

// webAddr waits for the daemon to log the address its status page listens
// on (start it with --listen 127.0.0.1:0).
func (d *daemonProc) webAddr() string {
	d.t.Helper()
	d.waitLog(`msg="web listening" addr=`, 1)
	m := regexp.MustCompile(`msg="web listening" addr=(\S+)`).FindStringSubmatch(d.log())
	if m == nil {
		d.t.Fatalf("no web address in the log")
	}
	return m[1]
}

// httpGet fetches a URL of the daemon, failing the test unless it answers
// 200.
func httpGet(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return resp, body
}

// scrape fetches /metrics and parses it as the Prometheus text format.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := httpGet(t, "http://"+addr+"/metrics")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// metricValue returns the value of the series of a family whose label has
// the given value (the first series when label is ""), and whether there is
// one.
func metricValue(fams map[string]*dto.MetricFamily, family, label, value string) (float64, bool) {
	f := fams[family]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		match := label == ""
		for _, l := range m.GetLabel() {
			match = match || l.GetName() == label && l.GetValue() == value
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// syslogLines writes lines dated by syslog timestamps (local time, second
// resolution) from "from" to "to": at is called for each second and
// returns the lines of that second.
func syslogLines(w *bufio.Writer, from, to time.Time, at func(t time.Time) []string) error {
	for ts := from.Truncate(time.Second); ts.Before(to); ts = ts.Add(time.Second) {
		for _, l := range at(ts) {
			if _, err := w.WriteString(ts.Local().Format(time.Stamp) + " host " + l + "\n"); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// writeSyslog creates a log of syslog-dated lines (see syslogLines).
func writeSyslog(t testing.TB, path string, from, to time.Time, at func(t time.Time) []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syslogLines(bufio.NewWriterSize(f, 1<<16), from, to, at); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// probeRule returns the rules of probe, the sshd "Invalid user" lines of
// log keyed by their source address, with more of its keys (each "name:
// value").
func probeRule(log string, keys ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    key: 'from (\S+) port'
    key_type: ip
`, log)
	for _, k := range keys {
		b.WriteString("    " + k + "\n")
	}
	return b.String()
}
