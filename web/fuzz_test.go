package web

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/internal/buildinfo"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// textView puts s in every string of a small View.
func textView(s string) View {
	now := fixtureNow()
	return View{
		Now: now, Started: now.Add(-time.Hour), Build: buildinfo.Info{Version: s, Revision: s, GoVersion: s}, Host: s, Rules: s, State: s,
		Interval: 5 * time.Minute, IntervalStart: now.Truncate(5 * time.Minute),
		Measurements: []MeasurementView{{
			Handle: s, Description: s, Units: s, DataType: s, HistoryType: s, TopKey: s,
			Value: f64(1), Classes: []string{s, s + "_anomaly"},
			Week:   []history.SlotStat{{Slot: 0, Weekday: time.Monday, Time: "00:00", Av: 1, Dev: 0.5}, {Slot: 1, Weekday: time.Monday, Time: "00:05", Av: 2, Dev: 0.5}},
			Recent: []history.Sample{{T: now, V: 3}},
		}},
		Classes: []ClassView{{Name: s, Until: now.Add(time.Minute)}},
		Runs:    []RunView{{Handle: s, Kind: s, Guard: s, Argv: []string{s, s}, Err: s, Output: s, Start: now}},
		Streams: []StreamView{{Source: s, Kind: s, Files: []FileView{{Path: s}}}},
		Outputs: []OutputView{{Name: s, LastError: s}},
	}
}

// FuzzEndpoints checks, for any text in a View, that the page has only the
// template's own markup and is clean UTF-8, that status.json is valid JSON
// giving the text back, that /metrics parses, and that the graph is
// well-formed XML.
func FuzzEndpoints(f *testing.F) {
	for _, s := range []string{"", "ssh_probe", hScript, hAttr, hSVG, hCtrl, hUTF8, hBidi, "a&b", "]]>", "<!--", "{{.Host}}", "\u2028\u2029", "%2F..%2F", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := New(staticSource{textView(s)}, nil).Handler()

		page := get(t, h, "/")
		if page.Code != http.StatusOK {
			t.Fatalf("/: status %d", page.Code)
		}
		body := page.Body.String()
		if err := markupError(body); err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(body) {
			t.Fatal("page is not valid UTF-8")
		}
		if i := strings.IndexFunc(body, func(r rune) bool {
			return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e'
		}); i >= 0 {
			t.Fatalf("page has a control character at byte %d", i)
		}

		js := get(t, h, "/status.json")
		var got struct {
			Host string `json:"host"`
		}
		if err := json.Unmarshal(js.Body.Bytes(), &got); err != nil {
			t.Fatalf("status.json: %v", err)
		}
		if want := perByteValid(s); got.Host != want {
			t.Fatalf("status.json host %q, want %q", got.Host, want)
		}

		m := get(t, h, "/metrics")
		p := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(m.Body); err != nil {
			t.Fatalf("/metrics: %v", err)
		}

		g := httptestDo(h, http.MethodGet, "/graph/"+url.PathEscape(s)+".svg")
		if g.Code != http.StatusOK {
			t.Fatalf("graph of %q: status %d", s, g.Code)
		}
		dec := xml.NewDecoder(g.Body)
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("graph: %v", err)
			}
		}
	})
}

// perByteValid replaces each byte of s that is not UTF-8 with U+FFFD, as
// encoding/json does.
func perByteValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
