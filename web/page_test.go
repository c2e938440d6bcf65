package web

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtally/logtally/history"
)

func TestPageShowsView(t *testing.T) {
	v := fixture(t)
	rec := getOK(t, v, "/")
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	body := rec.Body.String()
	// Names are broken into <wbr>-separated parts; compare the text.
	text := strings.ReplaceAll(body, "<wbr>", "")
	want := []string{
		"mx1.example.net", "1.2.0", "3d 4h", "/var/lib/logtally/state.db", "/etc/logtally/rules.d",
		"2025-03-12 14:35:00 UTC", "2m 39s left",
		// Measurements, their numbers and graphs.
		"ssh_username_probe", "postfix_reject", "milter_errors", "smtp_delay",
		"sshd logins for users that do not exist", ">42<", "11.4", "oracle", "1\u202f204\u202f331",
		`src="graph/ssh_username_probe.svg"`, `src="graph/postfix_reject.svg"`,
		"No week learned yet.", "keeps no weekly baseline", "3 regex timeouts · 12 extraction misses",
		// Classes with their remaining time.
		"ssh_username_probe_high_anomaly", "9m 30s", "probe_storm", "55m", "this interval",
		// Runs.
		"restart_milter", "systemctl restart opendkim.service", "exit status 1", "Job for opendkim.service failed",
		"1.5s", "2h ago", "dry run", `nft add element inet filter blocked &#34;{ 203.0.113.7 }&#34;`,
		// Streams, files, positions.
		"/var/log/mail.log.1", "402\u202f117\u202f793", "ino 1402", "ss -ltnH", "479.8 MiB",
		// Outputs.
		"influxdb", "connection refused", ">42<",
		// Daemon counters.
		">913<",
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if err := markupError(body); err != nil {
		t.Error(err)
	}
	// Classes are listed the most alarming first.
	order := []string{">ssh_username_probe_high_anomaly<", ">ssh_username_probe_high_dev2<", ">entropy_ssh_username_probe_low<", ">probe_storm<", ">postfix_reject_normal<"}
	for i := 1; i < len(order); i++ {
		if a, b := strings.Index(text, order[i-1]), strings.Index(text, order[i]); a < 0 || b < 0 || a > b {
			t.Errorf("class %s not listed before %s", order[i-1], order[i])
		}
	}
	if n := strings.Count(body, `<img src="graph/`); n != 2 {
		t.Errorf("%d graphs, want 2", n)
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="30">`) {
		t.Error("no meta refresh")
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("page has a script")
	}
}

// TestPageHostile puts markup, quotes, control characters, invalid UTF-8
// and bidirectional overrides everywhere a log or a command could put text,
// and checks none of it reaches the page as markup or raw bytes.
func TestPageHostile(t *testing.T) {
	v := hostile(t)
	rec := getOK(t, v, "/")
	body := rec.Body.String()
	lower := strings.ToLower(body)
	for _, bad := range []string{"<script", "</script", "<svg", "</svg", "<img src=x"} {
		if strings.Contains(lower, bad) {
			i := strings.Index(lower, bad)
			t.Errorf("page contains %q unescaped: …%s…", bad, body[max(i-60, 0):min(i+60, len(body))])
		}
	}
	// Every tag and attribute on the page is one the template writes: no
	// quote or bracket from hostile text opened a tag or an attribute.
	if err := markupError(body); err != nil {
		t.Error(err)
	}
	if !utf8.ValidString(body) {
		t.Error("page is not valid UTF-8")
	}
	for i, r := range body {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Errorf("page has control character %U at byte %d", r, i)
			break
		}
		if r == '\u202e' || r == '\u2066' {
			t.Errorf("page has bidirectional control %U at byte %d", r, i)
			break
		}
	}
	// The hostile text is shown, as text.
	text := strings.ReplaceAll(body, "<wbr>", "")
	for _, w := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;/svg&gt;", "esc\u241b[31mred\u2400nul\u2407bel\u2421", "bad\uFFFDutf8\uFFFD", "user\uFFFDtxt.exe"} {
		if !strings.Contains(text, w) {
			t.Errorf("page does not show %q", w)
		}
	}
	// The graph of the hostile handle is linked with its name escaped.
	if !strings.Contains(body, `src="graph/ssh%22%3E%3Cimg%20src=x%20onerror=alert%282%29%3E%27.svg"`) {
		t.Error("hostile handle's graph link is not path-escaped")
	}
}

func TestPageCapsText(t *testing.T) {
	v := fixture(t)
	v.Measurements[0].TopKey = strings.Repeat("k", 10<<10)
	v.Runs[1].Output = strings.Repeat("o", 1<<20)
	body := get(t, New(staticSource{v}, nil).Handler(), "/").Body.String()
	if strings.Contains(body, strings.Repeat("k", maxKey+1)) || !strings.Contains(body, strings.Repeat("k", maxKey)+"…") {
		t.Error("top key not capped")
	}
	if strings.Contains(body, strings.Repeat("o", maxOutput+1)) || !strings.Contains(body, strings.Repeat("o", maxOutput)+"…") {
		t.Error("run output not capped")
	}
}

func TestPageEmptyView(t *testing.T) {
	rec := getOK(t, View{}, "/")
	for _, w := range []string{"No class is set.", "No measurement.", "No command or report has run.", "No stream.", "No output."} {
		if !strings.Contains(rec.Body.String(), w) {
			t.Errorf("empty page lacks %q", w)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := New(staticSource{fixture(t)}, nil).Handler()
	for _, path := range []string{"/", "/metrics", "/status.json", "/graph/ssh_username_probe.svg", "/graph/ssh_username_probe.csv", "/nope"} {
		rec := get(t, h, path)
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, rec.Header())
		}
	}
}

func TestRoutes(t *testing.T) {
	h := New(staticSource{fixture(t)}, nil).Handler()
	tests := []struct {
		method, path string
		code         int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/status.json", 200, "application/json"},
		{"GET", "/graph/ssh_username_probe.svg", 200, "image/svg+xml"},
		{"GET", "/graph/ssh_username_probe.csv", 200, "text/csv; charset=utf-8"},
		{"GET", "/graph/milter_errors.svg", 404, ""},
		{"GET", "/graph/smtp_delay.csv", 404, ""},
		{"GET", "/graph/unknown.svg", 404, ""},
		{"GET", "/graph/ssh_username_probe.png", 404, ""},
		{"GET", "/graph/ssh_username_probe", 404, ""},
		{"GET", "/index.html", 404, ""},
		{"POST", "/", 405, ""},
		{"DELETE", "/metrics", 405, ""},
	}
	for _, tt := range tests {
		rec := httptestDo(h, tt.method, tt.path)
		if rec.Code != tt.code {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.code)
		}
		if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
			t.Errorf("%s %s: content type %q, want %q", tt.method, tt.path, rec.Header().Get("Content-Type"), tt.ctype)
		}
	}
}

func TestFailingSource(t *testing.T) {
	h := New(panicSource{}, nil).Handler()
	for _, path := range []string{"/", "/status.json", "/graph/x.svg"} {
		if rec := get(t, h, path); rec.Code != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", path, rec.Code)
		}
	}
	if rec := get(t, New(nil, nil).Handler(), "/"); rec.Code != http.StatusInternalServerError {
		t.Errorf("nil source: status %d, want 500", rec.Code)
	}
}

// wellFormedSVG parses an SVG document and returns its root element's name
// and every element name seen.
func wellFormedSVG(t *testing.T, body string) (string, map[string]bool) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(body))
	dec.Strict = true
	names := map[string]bool{}
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			names[strings.ToLower(se.Name.Local)] = true
		}
	}
	return root, names
}

func TestGraphSVG(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    View
		path string
	}{
		{"fixture", fixture(t), "/graph/ssh_username_probe.svg"},
		{"hostile", hostile(t), "/graph/ssh%22%3E%3Cimg%20src=x%20onerror=alert%282%29%3E%27.svg"},
		{"slash in handle", withHandle(fixture(t), "web/probe?x#y"), "/graph/web%2Fprobe%3Fx%23y.svg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := getOK(t, tt.v, tt.path)
			body := rec.Body.String()
			root, names := wellFormedSVG(t, body)
			if root != "svg" {
				t.Errorf("root element %q", root)
			}
			for _, el := range []string{"polygon", "polyline", "circle"} {
				if !names[el] {
					t.Errorf("no %s: the week or the samples are missing", el)
				}
			}
			for _, el := range []string{"script", "img", "foreignobject"} {
				if names[el] {
					t.Errorf("svg has a %s element", el)
				}
			}
			if !utf8.ValidString(body) {
				t.Error("svg is not valid UTF-8")
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "sandbox") {
				t.Error("svg is not sandboxed")
			}
		})
	}
}

// TestGraphSamePicture checks that the page serves exactly what
// history.WriteWeekSVG draws for the measurement.
func TestGraphSamePicture(t *testing.T) {
	v := fixture(t)
	m := &v.Measurements[0]
	var want strings.Builder
	if err := history.WriteWeekSVG(&want, graphTitle(m), m.Week, m.Recent); err != nil {
		t.Fatal(err)
	}
	got := get(t, New(staticSource{v}, nil).Handler(), "/graph/ssh_username_probe.svg").Body.String()
	if got != want.String() {
		t.Error("served SVG differs from history.WriteWeekSVG")
	}
	if !strings.Contains(got, "ssh_username_probe — sshd logins for users that do not exist (lines)") {
		t.Error("graph title lacks handle, description and units")
	}
	var csv strings.Builder
	if err := history.WriteWeekCSV(&csv, m.Week); err != nil {
		t.Fatal(err)
	}
	if got := get(t, New(staticSource{v}, nil).Handler(), "/graph/ssh_username_probe.csv").Body.String(); got != csv.String() {
		t.Error("served CSV differs from history.WriteWeekCSV")
	}
}

func withHandle(v View, h string) View {
	v.Measurements[0].Handle = h
	return v
}

func TestStatusJSON(t *testing.T) {
	v := fixture(t)
	v.Measurements[1].Z = f64(nanValue())
	rec := getOK(t, v, "/status.json")
	var got struct {
		Host            string  `json:"host"`
		IntervalSeconds float64 `json:"interval_seconds"`
		UptimeSeconds   float64 `json:"uptime_seconds"`
		Measurements    []struct {
			Handle   string   `json:"handle"`
			Value    *float64 `json:"value"`
			Z        *float64 `json:"z"`
			Classes  []string `json:"classes"`
			GraphSVG string   `json:"graph_svg"`
			GraphCSV string   `json:"graph_csv"`
			Week     any      `json:"week"`
		} `json:"measurements"`
		Classes []struct {
			Name      string     `json:"name"`
			Until     *time.Time `json:"until"`
			Remaining *float64   `json:"remaining_seconds"`
		} `json:"classes"`
		Runs []struct {
			Argv     []string `json:"argv"`
			Exit     int      `json:"exit"`
			Duration float64  `json:"duration_seconds"`
		} `json:"runs"`
		Streams []struct {
			Files []struct {
				Offset int64 `json:"offset"`
			} `json:"files"`
		} `json:"streams"`
		Outputs []struct {
			SpoolDepth uint64 `json:"spool_depth"`
		} `json:"outputs"`
		Self struct {
			Commits uint64 `json:"commits"`
		} `json:"self"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"host", got.Host == "mx1.example.net"},
		{"interval", got.IntervalSeconds == 300},
		{"uptime", got.UptimeSeconds == (76*time.Hour + 12*time.Minute).Seconds()},
		{"measurements", len(got.Measurements) == 4},
		{"value", got.Measurements[0].Value != nil && *got.Measurements[0].Value == 42},
		{"absent value is null", got.Measurements[2].Value == nil},
		{"NaN is null", got.Measurements[1].Z == nil},
		{"classes", len(got.Measurements[0].Classes) == 5},
		{"graph links", got.Measurements[0].GraphSVG == "graph/ssh_username_probe.svg" && got.Measurements[0].GraphCSV == "graph/ssh_username_probe.csv"},
		{"no week inline", got.Measurements[0].Week == nil},
		{"no graph without a week", got.Measurements[3].GraphSVG == ""},
		{"class remaining", got.Classes[0].Remaining != nil && *got.Classes[0].Remaining == 570},
		{"class without until", got.Classes[1].Until == nil && got.Classes[1].Remaining == nil},
		{"runs", len(got.Runs) == 3 && got.Runs[1].Exit == 1 && got.Runs[1].Duration == 1.52 && got.Runs[1].Argv[0] == "systemctl"},
		{"file offset", got.Streams[1].Files[1].Offset == 402117793},
		{"spool depth", got.Outputs[0].SpoolDepth == 42},
		{"self", got.Self.Commits == 913},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("status.json: %s wrong:\n%s", c.what, rec.Body.String()[:min(rec.Body.Len(), 2000)])
		}
	}
}

func TestStatusJSONHostile(t *testing.T) {
	v := hostile(t)
	rec := getOK(t, v, "/status.json")
	body := rec.Body.String()
	if strings.ContainsAny(body, "<>\x00\x1b\x07") || !utf8.ValidString(body) {
		t.Error("status.json carries raw markup, control bytes or invalid UTF-8")
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("hostile status.json does not parse: %v", err)
	}
	if got["host"] != hScript {
		t.Errorf("host = %q, want the text as it was", got["host"])
	}
}

// markupError scans an HTML page and reports any tag or attribute the
// status page template does not write. Attribute values must be double
// quoted (html/template writes a quote inside a value as &#34;).
func markupError(body string) error {
	tags := map[string]bool{}
	for _, n := range strings.Fields(`html head meta title style body header h1 small dl div dt dd nav a main
		section h2 span table thead tbody tr th td h3 p code br pre ul li img footer wbr`) {
		tags[n] = true
	}
	attrs := map[string]bool{}
	for _, n := range strings.Fields("lang charset name content http-equiv class id href src width height alt title") {
		attrs[n] = true
	}
	isName := func(c byte) bool {
		return c == '-' || c == '!' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	ntags := 0
	body = strings.TrimPrefix(body, "<!DOCTYPE html>")
	for i := 0; i < len(body); {
		j := strings.IndexByte(body[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		if i < len(body) && body[i] == '/' {
			i++
		}
		k := i
		for k < len(body) && isName(body[k]) {
			k++
		}
		name := strings.ToLower(body[i:k])
		if !tags[name] {
			return fmt.Errorf("unexpected tag <%s at byte %d: …%s…", name, i, body[max(i-40, 0):min(i+40, len(body))])
		}
		ntags++
		i = k
		if name == "style" { // skip the stylesheet: it has no '<'
			if e := strings.Index(body[i:], "</style>"); e >= 0 {
				i += e + len("</style>")
			}
			continue
		}
		for {
			for i < len(body) && body[i] == ' ' {
				i++
			}
			if i >= len(body) {
				return errors.New("unterminated tag")
			}
			if body[i] == '>' {
				i++
				break
			}
			k = i
			for k < len(body) && isName(body[k]) {
				k++
			}
			attr := strings.ToLower(body[i:k])
			if !attrs[attr] {
				return fmt.Errorf("unexpected attribute %q in <%s> at byte %d: …%s…", attr, name, i, body[max(i-40, 0):min(i+40, len(body))])
			}
			i = k
			if i < len(body) && body[i] == '=' {
				if i+1 >= len(body) || body[i+1] != '"' {
					return fmt.Errorf("unquoted value of %s in <%s> at byte %d", attr, name, i)
				}
				e := strings.IndexByte(body[i+2:], '"')
				if e < 0 {
					return errors.New("unterminated attribute value")
				}
				if v := body[i+2 : i+2+e]; strings.ContainsAny(v, "<>'") {
					return fmt.Errorf("raw markup in the value of %s in <%s>: %q", attr, name, v)
				}
				i += 2 + e + 1
			}
		}
	}
	if ntags < 10 {
		return fmt.Errorf("only %d tags seen", ntags)
	}
	return nil
}

func TestMarkupError(t *testing.T) {
	page := strings.Repeat("<p>x</p>", 10)
	tests := []struct {
		body string
		ok   bool
	}{
		{page, true},
		{page + `<a href="x" class="y">t</a>`, true},
		{page + `<img src="x" onerror="alert(1)">`, false},
		{page + `<script>alert(1)</script>`, false},
		{page + `<a href="x"><svg>`, false},
		{page + `<a href=x>`, false},
		{page + `<a title="a'b">`, false},
	}
	for _, tt := range tests {
		if err := markupError(tt.body); (err == nil) != tt.ok {
			t.Errorf("markupError(…%q) = %v", tt.body[len(page):], err)
		}
	}
}

// TestGraphOnlyWhenDrawn: a measurement's week given as Graph is computed
// for its graph only, never for /metrics, the page or status.json (with
// 1000 weekly measurements each would be 2016 forecasts a measurement on
// every scrape), and draws what Week and Recent draw.
func TestGraphOnlyWhenDrawn(t *testing.T) {
	v := fixture(t)
	m := &v.Measurements[0]
	week, recent := m.Week, m.Recent
	var calls atomic.Int64
	m.Week, m.Recent = nil, nil
	m.Graph = func() ([]history.SlotStat, []history.Sample) { calls.Add(1); return week, recent }
	h := New(staticSource{v}, nil).Handler()
	for _, path := range []string{"/metrics", "/", "/status.json"} {
		get(t, h, path)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the week was computed %d times without a graph", n)
	}
	page := get(t, h, "/").Body.String()
	if !strings.Contains(page, "graph/ssh_username_probe.svg") {
		t.Error("the page does not link the graph of a measurement with a Graph")
	}
	var want strings.Builder
	if err := history.WriteWeekSVG(&want, graphTitle(m), week, recent); err != nil {
		t.Fatal(err)
	}
	if got := get(t, h, "/graph/ssh_username_probe.svg").Body.String(); got != want.String() {
		t.Error("the graph drawn from Graph differs from the one drawn from Week and Recent")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("one graph computed the week %d times", n)
	}
}
