package actions

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func reportRules(t *testing.T, to string) string {
	t.Helper()
	return measurementKey + fmt.Sprintf(`
reports:
  - handle: probe
    if: h_high
    message: "probes $(value_h) (normal $(av_h)), top source $(top_h)"
    to: '%s'
`, to)
}

// TestReportToFile: reports are appended to a file created with mode
// 0640, reopened for each report (rotation needs no signal), one line
// each whatever the log text.
func TestReportToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.log")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	h := newHarness(t, loadRules(t, reportRules(t, path)), Options{})
	h.vars = map[string]float64{"value_h": 120, "av_h": 4.5}
	h.keys = map[string]string{"top_h": hostileKey}
	h.next("h_high")
	h.wait()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	h.keys = map[string]string{"top_h": "192.0.2.1"}
	h.next()
	h.next("h_high")
	h.wait()
	rotated, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rotated), "\n"); n != 1 {
		t.Fatalf("the hostile report is %d lines:\n%q", n, rotated)
	}
	line := string(rotated)
	for _, want := range []string{
		"2025-03-10T12:05:00Z probe: probes 120 (normal 4.5), top source $(reboot) `reboot` ; reboot",
		`\n'single' "double" \back $(value_h) \r\x1b[31m\xff\u2028AAA`,
		"more bytes]",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("report lacks %q:\n%q", want, line)
		}
	}
	if len(line) > MaxReportLen+100 {
		t.Errorf("report is %d bytes", len(line))
	}
	fresh, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2025-03-10T12:15:00Z probe: probes 120 (normal 4.5), top source 192.0.2.1\n"; string(fresh) != want {
		t.Errorf("after rotation: %q, want %q", fresh, want)
	}
	if st := h.e.Stats(); st.Reports != 2 || st.ReportErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestReportFileErrors: a FIFO or a missing directory is an error that is
// counted, never a hang or a crash.
func TestReportFileErrors(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{fifo, filepath.Join(dir, "missing", "r.log")} {
		h := newHarness(t, loadRules(t, reportRules(t, to)), Options{})
		h.next("h_high")
		h.wait()
		if st := h.e.Stats(); st.ReportErrors != 1 || st.Reports != 0 {
			t.Errorf("%s: stats %+v", to, st)
		}
		if rec, _ := lastRecord(h.e, "probe", ""); rec.Outcome != OutcomeFailed || rec.Err == "" {
			t.Errorf("%s: %+v", to, rec)
		}
	}
}

// TestReportToStderr: one line on stderr.
func TestReportToStderr(t *testing.T) {
	h := newHarness(t, loadRules(t, reportRules(t, "stderr")), Options{})
	h.vars = map[string]float64{"value_h": 3}
	h.keys = map[string]string{"top_h": "a\nb"}
	h.next("h_high")
	h.wait()
	if got, want := h.stderr.String(), "2025-03-10T12:05:00Z probe: probes 3 (normal ), top source a\\nb\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// TestReportToSyslog: reports reach a syslog socket; when none answers
// they go to stderr and the error is counted.
func TestReportToSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := newHarness(t, loadRules(t, reportRules(t, "syslog")), Options{SyslogNetwork: "unixgram", SyslogAddr: sock})
	h.vars = map[string]float64{"value_h": 9}
	h.keys = map[string]string{"top_h": "x\ny"}
	h.next("h_high")
	h.wait()
	buf := make([]byte, 8192)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	// <28>: daemon (3) * 8 + warning (4).
	if !strings.HasPrefix(msg, "<28>") || !strings.Contains(msg, "logtally[") ||
		!strings.HasSuffix(msg, "probe: probes 9 (normal ), top source x\\ny\n") {
		t.Errorf("syslog message %q", msg)
	}
	if st := h.e.Stats(); st.Reports != 1 || st.ReportErrors != 0 {
		t.Errorf("stats %+v", st)
	}

	// Nobody listens: the report goes to stderr and is counted as an error.
	conn.Close()
	os.Remove(sock)
	h.next()
	h.next("h_high")
	h.wait()
	if got := h.stderr.String(); !strings.Contains(got, "probe: probes 9 (normal ), top source x\\ny\n") {
		t.Errorf("stderr after syslog failure: %q", got)
	}
	if st := h.e.Stats(); st.Reports != 1 || st.ReportErrors != 1 {
		t.Errorf("stats %+v", st)
	}
	if rec, _ := lastRecord(h.e, "probe", ""); rec.Outcome != OutcomeFailed || !strings.Contains(rec.Err, "stderr instead") {
		t.Errorf("%+v", rec)
	}
	// Again: still on stderr, and the outage is one warning, no error.
	h.next()
	h.next("h_high")
	h.wait()
	if got := strings.Count(h.stderr.String(), "probe: probes 9"); got != 2 {
		t.Errorf("%d reports on stderr, want 2:\n%s", got, h.stderr.String())
	}
	log := h.log.String()
	if strings.Contains(log, "level=ERROR") || strings.Count(log, "level=WARN") != 1 || !strings.Contains(log, "syslog cannot be reached") {
		t.Errorf("log of two reports that fell back to stderr, want one warning and no error:\n%s", log)
	}
}
