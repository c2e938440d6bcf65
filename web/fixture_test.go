package web

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/internal/buildinfo"
)

// staticSource is a Source that returns one View (data, not a mock: the
// daemon hands the server the same struct).
type staticSource struct{ v View }

func (s staticSource) View() View { return s.v }

// countingSource counts the Views it builds.
type countingSource struct {
	v View
	n atomic.Int64
}

func (s *countingSource) View() View { s.n.Add(1); return s.v }

// panicSource fails the way a buggy daemon would.
type panicSource struct{}

func (panicSource) View() View { panic("view: nil map") }

func f64(v float64) *float64 { return &v }

// fixtureNow is the Now of fixture: a Wednesday afternoon.
func fixtureNow() time.Time { return time.Date(2025, 3, 12, 14, 37, 21, 0, time.UTC) }

// learnedWeek trains a real baseline on three weeks of synthetic counts
// with a daily and weekly rhythm, and returns its week and the last three
// days of samples, the last hour a burst.
func learnedWeek(t testing.TB, now time.Time, level float64) ([]history.SlotStat, []history.Sample) {
	t.Helper()
	b := history.New(history.Config{Interval: 5 * time.Minute, Location: time.UTC, Kind: history.KindCount})
	rng := rand.New(rand.NewPCG(1, uint64(level)))
	rate := func(ts time.Time) float64 {
		h := float64(ts.Hour()) + float64(ts.Minute())/60
		r := level * (1 + 0.8*math.Sin((h-9)/24*2*math.Pi))
		if wd := ts.Weekday(); wd == time.Saturday || wd == time.Sunday {
			r *= 0.5
		}
		return r
	}
	poisson := func(l float64) float64 {
		// Knuth's method is fine for the small rates used here.
		k, p, lim := 0.0, 1.0, math.Exp(-l)
		for {
			p *= rng.Float64()
			if p <= lim {
				return k
			}
			k++
		}
	}
	start := now.Truncate(5 * time.Minute).Add(-3 * history.Week)
	var recent []history.Sample
	for ts := start; ts.Before(now.Truncate(5 * time.Minute)); ts = ts.Add(5 * time.Minute) {
		v := poisson(rate(ts))
		if now.Sub(ts) <= time.Hour {
			v = poisson(10 * rate(ts))
		}
		b.Observe(ts, v)
		if now.Sub(ts) <= 72*time.Hour {
			recent = append(recent, history.Sample{T: ts, V: v})
		}
	}
	return b.Week(), recent
}

// fixture is a View of a daemon following sshd, postfix and a milter.
func fixture(t testing.TB) View {
	t.Helper()
	now := fixtureNow()
	sshWeek, sshRecent := learnedWeek(t, now, 6)
	mailWeek, mailRecent := learnedWeek(t, now, 20)
	return View{
		Now:           now,
		Started:       now.Add(-(76*time.Hour + 12*time.Minute)),
		Build:         buildinfo.Info{Version: "v1.2.0", Revision: "4ddfd7e0123456789abcdef0123456789abcdef0", GoVersion: "go1.26.8"},
		Host:          "mx1.example.net",
		Rules:         "/etc/logtally/rules.d",
		State:         "/var/lib/logtally/state.db",
		Interval:      5 * time.Minute,
		IntervalStart: now.Truncate(5 * time.Minute),
		Measurements: []MeasurementView{
			{
				Handle: "ssh_username_probe", Description: "sshd logins for users that do not exist",
				Units: "lines", DataType: "counter", HistoryType: "weekly",
				LastEnd: now.Truncate(5 * time.Minute), Value: f64(42), Av: f64(6.5), Dev: f64(3.1), Z: f64(11.4),
				Classes: []string{"ssh_username_probe_high", "ssh_username_probe_high_dev1", "ssh_username_probe_high_dev2",
					"ssh_username_probe_high_anomaly", "entropy_ssh_username_probe_low"},
				TopKey: "oracle", Total: 18234, Lines: 1204331, Selected: 18234,
				Week: sshWeek, Recent: sshRecent,
			},
			{
				Handle: "postfix_reject", Description: "postfix NOQUEUE rejects",
				Units: "lines", DataType: "counter", HistoryType: "weekly",
				LastEnd: now.Truncate(5 * time.Minute), Value: f64(17), Av: f64(19.2), Dev: f64(5.5), Z: f64(-0.4),
				Classes: []string{"postfix_reject_normal"}, Total: 99120, Lines: 3300411, Selected: 99120,
				KeyRejects: 2, Week: mailWeek, Recent: mailRecent,
			},
			{
				Handle: "milter_errors", Description: "opendkim errors",
				DataType: "counter", HistoryType: "weekly",
				Classes: []string{"milter_errors_learning"}, Lines: 88123, ExtractMisses: 12, Timeouts: 3,
			},
			{
				Handle: "smtp_delay", Description: "average delivery delay", Units: "s",
				DataType: "average", HistoryType: "none",
				LastEnd: now.Truncate(5 * time.Minute), Value: f64(0.184), Total: 921.5, Lines: 3300411, Selected: 5012,
			},
		},
		Classes: []ClassView{
			{Name: "ssh_username_probe_high_anomaly", Until: now.Add(9*time.Minute + 30*time.Second)},
			{Name: "ssh_username_probe_high"},
			{Name: "ssh_username_probe_high_dev2"},
			{Name: "entropy_ssh_username_probe_low"},
			{Name: "probe_storm", Until: now.Add(55 * time.Minute)},
			{Name: "postfix_reject_normal"},
		},
		// Classes the rules can set: two of them are not set now.
		KnownClasses: []string{"any", "entropy_ssh_username_probe_low", "postfix_reject_normal", "probe_storm",
			"ssh_username_probe_high", "ssh_username_probe_high_anomaly", "ssh_username_probe_high_dev2",
			"ssh_username_probe_low", "postfix_reject_high_anomaly"},
		Runs: []RunView{
			{Handle: "report_probe_storm", Kind: "report", Guard: "ssh_username_probe_high_anomaly.entropy_ssh_username_probe_low",
				Start: now.Add(-4 * time.Minute), Duration: 3 * time.Millisecond},
			{Handle: "restart_milter", Kind: "command", Guard: "milter_errors_high_dev2",
				Argv: []string{"systemctl", "restart", "opendkim.service"}, Start: now.Add(-2 * time.Hour),
				Duration: 1520 * time.Millisecond, Exit: 1, Err: "exit status 1",
				Output: "Job for opendkim.service failed because the control process exited with error code.\nSee \"systemctl status opendkim.service\" and \"journalctl -xeu opendkim.service\" for details."},
			{Handle: "block_probe", Kind: "command", Guard: "probe_storm",
				Argv:  []string{"nft", "add", "element", "inet", "filter", "blocked", "{ 203.0.113.7 }"},
				Start: now.Add(-3 * time.Minute), DryRun: true},
		},
		Streams: []StreamView{
			{Source: "/var/log/auth.log", Kind: "file",
				Files: []FileView{{Path: "/var/log/auth.log", Dev: 2049, Ino: 1311, Offset: 18443201}},
				Lines: 1204331, Bytes: 151022313, Rotations: 3},
			{Source: "/var/log/mail.log", Kind: "file",
				Files: []FileView{{Path: "/var/log/mail.log", Dev: 2049, Ino: 1402, Offset: 881230}, {Path: "/var/log/mail.log.1", Dev: 2049, Ino: 1377, Offset: 402117793}},
				Lines: 3300411, Bytes: 503117011, Rotations: 1, Truncations: 1, Cut: 4},
			{Source: "ss -ltnH", Kind: "pipe", Lines: 8841, Bytes: 650121, Restarts: 2, Kills: 1, OpenErrors: 1},
		},
		Outputs: []OutputView{
			{Name: "influxdb", Sent: 120345, Failures: 3, Depth: 42, LastError: "post http://127.0.0.1:8086/write: connection refused"},
			{Name: "stdout", Sent: 120387},
		},
		Self: SelfView{Commits: 913, Reloads: 2, ReloadFailures: 1, CommandRuns: 7, CommandFails: 1, Suppressed: 4},
	}
}

// Hostile strings: markup, attribute breaks, an SVG end tag, control
// characters, invalid UTF-8 and a bidirectional override.
const (
	hScript = "<script>alert(1)</script>"
	hAttr   = `"><img src=x onerror=alert(2)>'`
	hSVG    = "</svg><script>alert(3)</script><svg>"
	hCtrl   = "esc\x1b[31mred\x00nul\x07bel\x7f"
	hUTF8   = "bad\xff\xfeutf8\xc3"
	hBidi   = "user\u202etxt.exe"
)

// hostile is fixture with every string a log or a command could have
// chosen replaced by attacker text.
func hostile(t testing.TB) View {
	v := fixture(t)
	all := hScript + hAttr + hSVG + hCtrl + hUTF8 + hBidi
	v.Host, v.Build.Version, v.Rules, v.State = hScript, hAttr, hSVG, hCtrl
	for i := range v.Measurements {
		m := &v.Measurements[i]
		m.Description = all
		m.Units = hAttr
		m.TopKey = all
		m.Classes = append(m.Classes, hSVG, hUTF8)
	}
	v.Measurements[0].Handle = "ssh" + hAttr
	v.Classes = append(v.Classes, ClassView{Name: hScript, Until: fixtureNow().Add(time.Minute)}, ClassView{Name: hCtrl + hUTF8})
	for i := range v.Runs {
		r := &v.Runs[i]
		r.Guard, r.Err, r.Output = hSVG, hAttr, all+"\n"+all
		r.Argv = append(r.Argv, hScript, hCtrl)
	}
	v.Streams[0].Source = hSVG + hUTF8
	v.Streams[0].Files[0].Path = all
	v.Outputs[0].Name = hScript
	v.Outputs[0].LastError = all
	return v
}

// get serves one request from h and returns the recorded response.
func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// getOK gets path from a server of the view v, and fails the test unless
// it answers 200.
func getOK(t *testing.T, v View, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := get(t, New(staticSource{v}, nil).Handler(), path)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
	}
	return rec
}
