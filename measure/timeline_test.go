package measure

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

func TestTimeline(t *testing.T) {
	m := meas("p", rules.Counter, "", ".*Invalid user.*", "", "", "")
	g, err := interval.NewGroup("x", []*rules.Measurement{m}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tl := g.NewFold(5 * time.Minute)
	log := strings.Join([]string{
		"Dec 31 23:58:00 h sshd[1]: Invalid user a from 1.2.3.4",
		"Dec 31 23:59:59 h sshd[1]: Invalid user b from 1.2.3.4",
		"Jan  1 00:03:00 h sshd[1]: Accepted",
		"Jan  1 00:12:00 h sshd[1]: Invalid user c from 1.2.3.4",
		"no timestamp: Invalid user d",
	}, "\n") + "\n"
	ref := time.Date(2027, 1, 1, 1, 0, 0, 0, time.Local)
	if err := Replay(tl, Input{Name: "auth.log", R: io.NopCloser(strings.NewReader(log)), ModTime: ref}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if tl.Lines != 5 || tl.Undated != 1 {
		t.Fatalf("lines %d undated %d, want 5 and 1", tl.Lines, tl.Undated)
	}
	iv := tl.Intervals()
	if len(iv) != 4 {
		t.Fatalf("%d intervals from %v to %v, want 4 (23:55 .. 00:10 across the new year)", len(iv), tl.First, tl.Last)
	}
	var got []string
	for _, s := range iv {
		v, _ := tl.At(s, 0).Value()
		got = append(got, s.Format("2006-01-02T15:04")+"="+formatCount(v))
	}
	want := "2026-12-31T23:55=2 2027-01-01T00:00=0 2027-01-01T00:05=0 2027-01-01T00:10=1"
	if strings.Join(got, " ") != want {
		t.Fatalf("timeline %v, want %s", got, want)
	}
}

func formatCount(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestRotatedSiblings(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"auth.log", "auth.log.1", "auth.log.2.gz", "auth.log.10.gz", "auth.log.swp", "auth.logger", "other.log.1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RotatedSiblings(filepath.Join(dir, "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "auth.log.10.gz auth.log.2.gz auth.log.1 auth.log" {
		t.Fatalf("siblings %v", names)
	}
	dated := t.TempDir()
	for _, n := range []string{"mail.log", "mail.log-20240102", "mail.log-20240101.gz", "mail.log-20231231"} {
		if err := os.WriteFile(filepath.Join(dated, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = RotatedSiblings(filepath.Join(dated, "mail.log"))
	names = nil
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "mail.log-20231231 mail.log-20240101.gz mail.log-20240102 mail.log" {
		t.Fatalf("dated siblings %v", names)
	}
}
