package web

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logtally/logtally/internal/num"
)

//go:embed page.html
var pageHTML string

// Display caps, in bytes. Strings longer than this are cut with an ellipsis.
const (
	maxText   = 512     // names, paths, guards, errors
	maxKey    = 160     // a top key: text taken from a log line
	maxOutput = 4 << 10 // a run's output excerpt
	maxRuns   = 100     // runs shown
)

// pageData is the View made ready to show: every string cleaned and capped,
// every number formatted.
type pageData struct {
	Host, Version, Rules, State string
	Now, Started, Uptime        string
	Interval, IntervalStart     string
	IntervalLeft                string
	Refresh                     int
	Classes                     []classRow
	Measurements                []measCard
	Runs                        []runRow
	Streams                     []streamRow
	Outputs                     []outputRow
	Self                        selfRow
}

type chip struct{ Name, Level string }

type classRow struct {
	Name, Level, Remaining, Until string
}

type measCard struct {
	Anchor, Handle, Description, Units, Type string
	Value, Av, Dev, Z, Level, LastEnd        string
	TopKey, Total, Lines, Selected, Problems string
	Classes                                  []chip
	Graph, NoGraph                           string
	Keys                                     []keyRow
	Entropy                                  string
	Threshold                                string // the anomaly threshold, and its alarm budget
}

// keyRow is one row of a measurement's key table.
type keyRow struct {
	Key, Count, Share string
	Other             bool
}

type runRow struct {
	Start, Ago, Handle, Kind, Guard, Argv string
	Exit, Duration, Err, Output           string
	Failed, DryRun                        bool
}

type fileRow struct{ Path, Offset, Dev, Ino string }

type streamRow struct {
	Source, Kind                              string
	Files                                     []fileRow
	Lines, Bytes, Cut, Rotations, Truncations string
	OpenErrors, Restarts, Kills               string
	OpenErrorsBad                             bool
	Down                                      bool
	DownSince, DownWhy, Unavailable           string
}

type outputRow struct {
	Name, Sent, Failures, Invalid, Depth, Dropped, LastError string
	DroppedBad                                               bool
}

type selfRow struct {
	Commits, CommitFailures, Reloads, ReloadFailures string
	CommandRuns, CommandFails, Suppressed            string
}

// newPage parses the status page template.
func newPage() *template.Template {
	funcs := template.FuncMap{"breakable": breakable}
	return template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))
}

// page serves the status page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewFor(w, "status page")
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := s.tmpl.Execute(&buf, newPageData(v)); err != nil {
		s.log.Error("web status page", "err", fmt.Errorf("render page: %w", err))
		http.Error(w, "cannot render the status page", http.StatusInternalServerError)
		return
	}
	writeWhole(w, "text/html; charset=utf-8", &buf)
}

// viewFor builds the status view for a request of what (named in the
// log); when it cannot, it answers 500 and returns false.
func (s *Server) viewFor(w http.ResponseWriter, what string) (View, bool) {
	v, err := s.view()
	if err != nil {
		s.log.Error("web "+what, "err", err)
		http.Error(w, "cannot build the status view", http.StatusInternalServerError)
		return View{}, false
	}
	return v, true
}

// writeWhole writes a response rendered whole: its type, its length and
// its bytes.
func writeWhole(w http.ResponseWriter, contentType string, b *bytes.Buffer) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// newPageData prepares v for the template.
func newPageData(v View) pageData {
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	d := pageData{
		Host:          clean(v.Host, maxText),
		Version:       orDash(clean(v.Build.String(), maxText)),
		Rules:         orDash(clean(v.Rules, maxText)),
		State:         orDash(clean(v.State, maxText)),
		Now:           fmtTime(now),
		Started:       fmtTime(v.Started),
		Uptime:        "—",
		Interval:      "—",
		IntervalStart: fmtTime(v.IntervalStart),
		Refresh:       refresh(v.Interval),
	}
	if !v.Started.IsZero() {
		d.Uptime = fmtDur(now.Sub(v.Started).Truncate(time.Second))
	}
	if v.Interval > 0 {
		d.Interval = fmtDur(v.Interval)
		if !v.IntervalStart.IsZero() {
			if left := v.IntervalStart.Add(v.Interval).Sub(now); left >= 0 {
				d.IntervalLeft = fmtDur(left.Truncate(time.Second))
			}
		}
	}

	classes := slices.Clone(v.Classes)
	// The most alarming first, then by name.
	slices.SortStableFunc(classes, func(a, b ClassView) int {
		if c := levelRank(classLevel(a.Name)) - levelRank(classLevel(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, c := range classes {
		row := classRow{Name: clean(c.Name, maxText), Level: classLevel(c.Name), Remaining: "this interval", Until: ""}
		if !c.Until.IsZero() {
			row.Remaining = fmtDur(max(c.Until.Sub(now), 0).Truncate(time.Second))
			row.Until = fmtTime(c.Until)
		}
		d.Classes = append(d.Classes, row)
	}

	for i, m := range v.Measurements {
		card := measCard{
			Anchor:      "m" + strconv.Itoa(i),
			Handle:      clean(m.Handle, maxText),
			Description: clean(m.Description, maxText),
			Units:       clean(m.Units, maxText),
			Type:        orDash(joinNonEmpty(" · ", clean(m.DataType, maxText), clean(m.HistoryType, maxText))),
			Value:       fmtPtr(m.Value),
			Av:          fmtPtr(m.Av),
			Dev:         fmtPtr(m.Dev),
			Z:           fmtPtr(m.Z),
			LastEnd:     fmtTime(m.LastEnd),
			TopKey:      clean(m.TopKey, maxKey),
			Total:       fmtNum(m.Total),
			Lines:       fmtCount(m.Lines),
			Selected:    fmtCount(m.Selected),
			Problems:    problems(m),
		}
		if m.Z != nil {
			card.Level = zLevel(*m.Z)
		}
		if k := m.Keys; k != nil {
			for _, r := range k.Top {
				card.Keys = append(card.Keys, keyRow{Key: clean(r.Key, maxKey), Count: fmtCount(r.Count), Share: fmtShare(r.Share)})
			}
			if k.OtherKeys > 0 {
				share := 0.0
				if k.Total > 0 {
					share = float64(k.Other) / float64(k.Total)
				}
				card.Keys = append(card.Keys, keyRow{Key: fmtCount(uint64(k.OtherKeys)) + " others", Count: fmtCount(k.Other),
					Share: fmtShare(share), Other: true})
			}
		}
		if m.Entropy != nil {
			card.Entropy = strconv.FormatFloat(*m.Entropy, 'f', 2, 64)
		}
		if m.Threshold != nil {
			card.Threshold = strconv.FormatFloat(*m.Threshold, 'f', 2, 64)
			if m.Budget != "" {
				card.Threshold += " (alarm budget " + clean(m.Budget, maxText) + ")"
			}
		}
		for _, c := range m.Classes {
			card.Classes = append(card.Classes, chip{Name: clean(c, maxText), Level: classLevel(c)})
		}
		switch {
		case m.hasGraph():
			card.Graph = "graph/" + url.PathEscape(m.Handle) + ".svg"
		case m.HistoryType == "weekly":
			card.NoGraph = "No week learned yet."
		default:
			card.NoGraph = "This measurement keeps no weekly baseline."
		}
		d.Measurements = append(d.Measurements, card)
	}

	for i, r := range v.Runs {
		if i == maxRuns {
			break
		}
		row := runRow{
			Start:    fmtTime(r.Start),
			Handle:   clean(r.Handle, maxText),
			Kind:     clean(r.Kind, maxText),
			Guard:    clean(r.Guard, maxText),
			Argv:     clean(argvString(r.Argv), maxText),
			Exit:     strconv.Itoa(r.Exit),
			Duration: fmtDur(r.Duration),
			Err:      clean(r.Err, maxText),
			Output:   cleanBlock(r.Output, maxOutput),
			Failed:   r.Exit != 0 || r.Err != "",
			DryRun:   r.DryRun,
		}
		if r.DryRun {
			row.Exit, row.Duration = "—", "—"
		}
		if !r.Start.IsZero() {
			row.Ago = fmtDur(max(now.Sub(r.Start), 0).Truncate(time.Second)) + " ago"
		}
		d.Runs = append(d.Runs, row)
	}

	for _, st := range v.Streams {
		row := streamRow{
			Source:        clean(st.Source, maxText),
			Kind:          clean(st.Kind, maxText),
			Lines:         fmtCount(st.Lines),
			Bytes:         fmtBytes(st.Bytes),
			Cut:           fmtCount(st.Cut),
			Rotations:     fmtCount(st.Rotations),
			Truncations:   fmtCount(st.Truncations),
			OpenErrors:    fmtCount(st.OpenErrors),
			Restarts:      fmtCount(st.Restarts),
			Kills:         fmtCount(st.Kills),
			OpenErrorsBad: st.OpenErrors > 0,
			Down:          st.Down,
			DownSince:     fmtTime(st.DownSince),
			DownWhy:       clean(st.DownWhy, maxText),
			Unavailable:   fmtCount(st.Unavailable),
		}
		for _, f := range st.Files {
			row.Files = append(row.Files, fileRow{
				Path:   clean(f.Path, maxText),
				Offset: fmtCount(uint64(max(f.Offset, 0))),
				Dev:    strconv.FormatUint(f.Dev, 10),
				Ino:    strconv.FormatUint(f.Ino, 10),
			})
		}
		d.Streams = append(d.Streams, row)
	}

	for _, o := range v.Outputs {
		d.Outputs = append(d.Outputs, outputRow{
			Name:       clean(o.Name, maxText),
			Sent:       fmtCount(o.Sent),
			Failures:   fmtCount(o.Failures),
			Invalid:    fmtCount(o.Invalid),
			Depth:      fmtCount(o.Depth),
			Dropped:    fmtCount(o.DroppedFull),
			LastError:  clean(o.LastError, maxText),
			DroppedBad: o.DroppedFull > 0,
		})
	}

	d.Self = selfRow{
		Commits:        fmtCount(v.Self.Commits),
		CommitFailures: fmtCount(v.Self.CommitFailures),
		Reloads:        fmtCount(v.Self.Reloads),
		ReloadFailures: fmtCount(v.Self.ReloadFailures),
		CommandRuns:    fmtCount(v.Self.CommandRuns),
		CommandFails:   fmtCount(v.Self.CommandFails),
		Suppressed:     fmtCount(v.Self.Suppressed),
	}
	return d
}

// problems summarises a measurement's non-zero error counters.
func problems(m MeasurementView) string {
	var parts []string
	for _, p := range []struct {
		n    uint64
		what string
	}{
		{m.Timeouts, "regex timeouts"},
		{m.ExtractMisses, "extraction misses"},
		{m.KeyRejects, "keys rejected"},
		{m.Ignored, "lines of ignored keys"},
	} {
		if p.n > 0 {
			parts = append(parts, fmtCount(p.n)+" "+p.what)
		}
	}
	return strings.Join(parts, " · ")
}

// refresh is the page's reload period in seconds: half a minute, or the
// interval when that is shorter.
func refresh(interval time.Duration) int {
	s := 30
	if interval > 0 && interval < 30*time.Second {
		s = max(int(interval/time.Second), 5)
	}
	return s
}

// classLevel is the style of a class, from its name.
func classLevel(name string) string {
	switch {
	case strings.HasSuffix(name, "_anomaly") && !strings.HasSuffix(name, "_microanomaly"):
		return "anomaly"
	case strings.HasSuffix(name, "_dev2"):
		return "dev2"
	case strings.HasSuffix(name, "_dev1"), strings.HasSuffix(name, "_microanomaly"):
		return "dev1"
	case strings.HasSuffix(name, "_normal"):
		return "ok"
	case strings.HasSuffix(name, "_learning"):
		return "muted"
	}
	return ""
}

// levelRank orders class levels from the most alarming.
func levelRank(level string) int {
	switch level {
	case "anomaly":
		return 0
	case "dev2":
		return 1
	case "dev1":
		return 2
	case "":
		return 3
	case "ok":
		return 4
	}
	return 5
}

// zLevel is the style of a z score.
func zLevel(z float64) string {
	switch a := math.Abs(z); {
	case a >= 3:
		return "anomaly"
	case a >= 2:
		return "dev2"
	}
	return ""
}

// breakable splits s after the characters where a long name may wrap
// (_ . / - : , = and spaces), so the page can offer line breaks there
// without breaking words elsewhere.
func breakable(s string) []string {
	var parts []string
	start := 0
	for i, r := range s {
		if strings.ContainsRune("_./-:,= ", r) && i+1 < len(s) {
			parts = append(parts, s[start:i+1])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// argvString shows an argv as one line, quoting elements that need it.
func argvString(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\`$;&|<>()*?[]#~") || !utf8.ValidString(a) {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// clean makes s safe and legible as one line of text: invalid UTF-8 and
// bidirectional controls become U+FFFD, control characters their visible
// Unicode pictures (␀, ␛, ␊, …), and text past max bytes is cut with "…".
// HTML escaping is the template's job; this is about what a reader sees.
func clean(s string, max int) string { return cleanText(s, max, false) }

// cleanBlock is clean for a block of text: newlines and tabs are kept.
func cleanBlock(s string, max int) string { return cleanText(s, max, true) }

func cleanText(s string, max int, block bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	cut := false
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s, cut = s[:n], true
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case block && (r == '\n' || r == '\t'):
			return r
		case r < 0x20:
			return 0x2400 + r
		case r == 0x7f:
			return '\u2421'
		case r >= 0x80 && r < 0xa0:
			return '\uFFFD'
		case r == '\u061c', r == '\u200e', r == '\u200f',
			r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			return '\uFFFD'
		}
		return r
	}, s)
	if cut {
		s += "…"
	}
	return s
}

// joinNonEmpty joins the parts that are not empty with sep.
func joinNonEmpty(sep string, parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), sep)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// fmtTime shows t to the second in its own zone; the zero time is a dash.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// fmtDur shows a duration the way a person reads it: "850ms", "4.2s",
// "5m", "4m 30s", "3h 12m", "2d 5h".
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < 10*time.Second && d%time.Second != 0:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	mins, secs := int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	add := func(n int, unit string) {
		if n > 0 {
			parts = append(parts, strconv.Itoa(n)+unit)
		}
	}
	switch {
	case days > 0:
		add(days, "d")
		add(hours, "h")
	case hours > 0:
		add(hours, "h")
		add(mins, "m")
	default:
		add(mins, "m")
		add(secs, "s")
	}
	return strings.Join(parts, " ")
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmtNum(*p)
}

// fmtNum shows a value as a person reads it (num.Human).
func fmtNum(v float64) string { return num.Human(v) }

// fmtCount shows a count with thin spaces between groups of three digits.
// fmtShare formats a share of 0 to 1 as a percentage.
func fmtShare(s float64) string { return strconv.FormatFloat(100*s, 'f', 1, 64) + "%" }

func fmtCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 4 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtBytes shows a byte count in binary units.
func fmtBytes(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}
