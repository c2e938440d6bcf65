package tests

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// vmRSS returns a process's resident set size and its peak, in KiB.
func vmRSS(pid int) (rss, peak int64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// BenchmarkRunSSH measures how many lines per second `logtally run` keeps
// up with on one followed file with the ssh example rules: b.N lines of
// the ssh sample log are appended as fast as possible (1 MiB writes) to a
// file the daemon follows, and the clock stops when the daemon has
// committed the position of the last one (so it includes up to one 1 s
// interval of commit latency). It reports lines/s and the daemon's RSS.
// For the RSS after 1,000,000 lines:
//
//	go test ./tests -run '^$' -bench RunSSH -benchtime 1000000x
func BenchmarkRunSSH(b *testing.B) {
	rulesText, err := os.ReadFile(repo("examples", "rules", "ssh.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	sample, err := os.ReadFile(repo("examples", "testdata", "ssh", "auth.log"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(sample, []byte("\n")), []byte("\n"))
	for i, l := range lines {
		if !bytes.HasSuffix(l, []byte("\n")) {
			lines[i] = append(l, '\n')
		}
	}

	dir := b.TempDir()
	log := dir + "/auth.log"
	rulesPath, state := dir+"/ssh.yaml", dir+"/state.db"
	if err := os.WriteFile(rulesPath, bytes.ReplaceAll(rulesText, []byte("/var/log/auth.log"), []byte(log)), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	d := startDaemon(b, daemonOpts{rules: rulesPath, state: state, output: dir + "/out.lp"})
	d.waitLog(`event=open `, 1)

	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	var size, bytesOut int64
	b.ResetTimer()
	began := time.Now()
	for i := 0; i < b.N; i++ {
		buf = append(buf, lines[i%len(lines)]...)
		if len(buf) >= 1<<20 || i == b.N-1 {
			n, err := f.Write(buf)
			if err != nil {
				b.Fatal(err)
			}
			size += int64(n)
			buf = buf[:0]
		}
	}
	bytesOut = size
	testutil.WaitForWhy(b, 10*time.Minute, "the last line to be committed", func() (bool, string) {
		st := readStatus(b, state)
		for _, s := range st.Streams {
			if s.Path == log && s.Offset == size {
				return true, ""
			}
		}
		return false, "not yet"
	})
	elapsed := time.Since(began)
	b.StopTimer()
	rss, peak := vmRSS(d.pid())
	d.stop()
	b.SetBytes(bytesOut / int64(b.N))
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(rss), "rss-KiB")
	b.ReportMetric(float64(peak), "peak-rss-KiB")
}
