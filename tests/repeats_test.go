package tests

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repeatRules counts sshd's failed passwords in log twice: as a sysadmin
// reads the log (a line in which syslog says the message was repeated N
// times is N lines), and with syslog_repeats: off.
func repeatRules(log string) string {
	const m = `
  - handle: %s
    path: %q
    select_line_matching: '.*sshd(?:-session)?\[\d+\]: Failed password for .*'
    key: 'from (\S+) port \d+'
    key_type: ip
    history_type: scalar
`
	return "settings: {timezone: UTC}\nmeasurements:" +
		strings.ReplaceAll(strings.ReplaceAll(m, "%s", "failed"), "%q", strconv.Quote(log)) +
		strings.ReplaceAll(strings.ReplaceAll(m, "%s", "failed_raw"), "%q", strconv.Quote(log)) + "    syslog_repeats: off\n"
}

// TestSyslogRepeats: on the real sshd sample (two rsyslog lines "message
// repeated 5 times: [ Failed password ...]") and lines appended after it
// — a BSD "last message repeated 4 times" in a write of its own, so that
// it starts a batch, and a user name holding the wrapper — the daemon
// commits each failed password as a sysadmin counts them, and test and
// backtest count the same.
func TestSyslogRepeats(t *testing.T) {
	sample, err := os.ReadFile(repo("examples", "testdata", "ssh", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "")
	log := r.path("auth.log")
	writeFile(t, r.rules, repeatRules(log))
	writeFile(t, log, "")
	d := r.start("", 0)
	d.waitLog(`event=open `, 1)

	appendString(t, log, string(sample))
	waitTotal(t, r.state, "failed", 528) // 518 lines, two of which stand for 5
	waitTotal(t, r.state, "failed_raw", 518)

	appendString(t, log, "Dec 10 11:40:00 LabSZ sshd[30001]: Failed password for root from 192.0.2.7 port 4000 ssh2\n")
	waitTotal(t, r.state, "failed", 529)
	appendString(t, log, "Dec 10 11:40:30 LabSZ last message repeated 4 times\n")
	waitTotal(t, r.state, "failed", 533)
	appendString(t, log, "Dec 10 11:41:00 LabSZ sshd[30002]: Failed password for invalid user message repeated 999999 times: [ x from 192.0.2.8 port 4001 ssh2\n"+
		"Dec 10 11:41:01 LabSZ sshd[30003]: message repeated 1000001 times: [ Failed password for root from 192.0.2.9 port 4002 ssh2]\n")
	waitTotal(t, r.state, "failed", 534)
	waitTotal(t, r.state, "failed_raw", 520)
	d.stop()
	wantTotal(t, r.state, "failed", 534)
	wantTotal(t, r.state, "failed_raw", 520)

	// test, on the file as the daemon read it.
	res := run(t, "", "test", "--rules", r.rules, "--format", "json")
	if res.code != 0 {
		t.Fatalf("test: exit %d: %s", res.code, res.stderr)
	}
	var out struct {
		Measurements []struct {
			Handle   string  `json:"handle"`
			Selected float64 `json:"selected"`
			TopKey   string  `json:"top_key"`
			TopCount float64 `json:"top_count"`
		} `json:"measurements"`
		Streams []struct {
			Repeats float64 `json:"repeats"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("test output: %v\n%s", err, res.stdout)
	}
	got := map[string]float64{}
	for _, m := range out.Measurements {
		got[m.Handle] = m.Selected
		if m.Handle == "failed" && (m.TopKey != "183.62.140.253" || m.TopCount != 286) {
			t.Errorf("top source %s (%v), want 183.62.140.253 (286)", m.TopKey, m.TopCount)
		}
	}
	if got["failed"] != 534 || got["failed_raw"] != 520 {
		t.Errorf("test counts %v, want failed 534 and failed_raw 520 as the daemon", got)
	}
	if len(out.Streams) != 1 || out.Streams[0].Repeats != 3 {
		t.Errorf("test streams %+v, want one with 3 repeat lines", out.Streams)
	}

	// backtest replays the file by the lines' timestamps: its samples add
	// up to the same.
	res = run(t, "", "backtest", "--rules", r.rules, "--interval", "1h", "--all", log)
	if res.code != 0 {
		t.Fatalf("backtest: exit %d: %s", res.code, res.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("backtest CSV: %v\n%s", err, res.stdout)
	}
	sums := map[string]float64{}
	for _, row := range rows[1:] {
		v, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatalf("backtest row %q: %v", row, err)
		}
		sums[row[1]] += v
	}
	if sums["failed"] != 534 || sums["failed_raw"] != 520 {
		t.Errorf("backtest sums %v, want failed 534 and failed_raw 520", sums)
	}
}

// syslogTime is the time of a syslog line as rsyslog and BSD syslogd
// write it.
const syslogTime = `(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[\d.+\-:Z]*)`

var (
	rsyslogRepeat = regexp.MustCompile(`^(` + syslogTime + ` \S+ [^\s\[\]:]+(?:\[\d+\])?: )message repeated ([1-9]\d{0,6}) times: \[ ?(.+)\]$`)
	bareRepeat    = regexp.MustCompile(`^()message repeated ([1-9]\d{0,6}) times: \[ ?(.+)\]$`)
	bsdRepeat     = regexp.MustCompile(`^` + syslogTime + ` \S+ last message repeated ([1-9]\d{0,6}) times?$`)
)

// expandRepeats writes the syslog log at path with its repeat lines
// written out, as a sysadmin reads them: rsyslog's "message repeated N
// times: [ MSG]" as N lines of MSG after the header, BSD syslogd's "last
// message repeated N times" as N more of the line before. It returns the
// path of the copy. With bare, the lines are a journal entry's MESSAGE:
// rsyslog's form is recognised from the line's start, and BSD syslogd's
// not at all. An implementation of its own, by regular expressions, for
// comparisons with tools that know nothing of repeats (grep, Perl).
func expandRepeats(t *testing.T, path string, bare bool) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	prev := ""
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" {
			continue
		}
		line := strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
		wrapped := rsyslogRepeat
		if bare {
			wrapped = bareRepeat
		}
		if m := wrapped.FindStringSubmatch(line); m != nil && atMost(m[2], 1000000) {
			line = m[1] + m[3]
			n, _ := strconv.Atoi(m[2])
			b.WriteString(strings.Repeat(line+"\n", n))
			prev = line
			continue
		}
		if m := bsdRepeat.FindStringSubmatch(line); m != nil && !bare && atMost(m[1], 1000000) {
			if prev != "" {
				n, _ := strconv.Atoi(m[1])
				b.WriteString(strings.Repeat(prev+"\n", n))
			}
			continue
		}
		b.WriteString(line + "\n")
		prev = line
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	writeFile(t, out, b.String())
	return out
}

// atMost reports whether the decimal s is at most n.
func atMost(s string, n int) bool {
	v, err := strconv.Atoi(s)
	return err == nil && v <= n
}

// TestSyslogRepeatsGlob: in a stream of several files (a glob), BSD
// syslogd's "last message repeated N times" repeats the line before it in
// its own file, whatever was read of the other files in between.
func TestSyslogRepeatsGlob(t *testing.T) {
	r := newRig(t, "")
	a, b := r.path("a.log"), r.path("b.log")
	writeFile(t, r.rules, repeatRules(r.path("*.log")))
	writeFile(t, a, "")
	writeFile(t, b, "")
	d := r.start("", 0)
	d.waitLog(`event=open `, 2)
	appendString(t, a, "Dec 10 11:40:00 hosta sshd[1]: Failed password for root from 192.0.2.7 port 4000 ssh2\n")
	waitTotal(t, r.state, "failed", 1)
	appendString(t, b, "Dec 10 11:40:10 hostb sshd[2]: Accepted password for alice from 192.0.2.8 port 4001 ssh2\n")
	appendString(t, b, "Dec 10 11:40:20 hostb last message repeated 5 times\n") // Accepted: not counted
	appendString(t, a, "Dec 10 11:40:30 hosta last message repeated 3 times\n")
	waitTotal(t, r.state, "failed", 4)
	appendString(t, b, "Dec 10 11:41:00 hostb sshd[3]: Failed password for root from 192.0.2.9 port 4002 ssh2\n")
	waitTotal(t, r.state, "failed", 5)
	d.stop()
	wantTotal(t, r.state, "failed", 5)
	wantTotal(t, r.state, "failed_raw", 2)
}
