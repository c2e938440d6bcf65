package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/logtally/logtally/internal/num"
)

// The JSON form of a View. Field names are snake_case, durations are
// seconds, times RFC 3339, and a value that is absent or not finite is
// null. The learned weeks are left out (2016 slots per measurement); they
// are at the graph_csv address of each measurement.
type jsonView struct {
	Now             *time.Time        `json:"now"`
	Started         *time.Time        `json:"started"`
	UptimeSeconds   *float64          `json:"uptime_seconds"`
	Version         string            `json:"version"`
	Revision        string            `json:"revision"`
	Modified        bool              `json:"modified"`
	Host            string            `json:"host"`
	Rules           string            `json:"rules"`
	State           string            `json:"state"`
	IntervalSeconds float64           `json:"interval_seconds"`
	IntervalStart   *time.Time        `json:"interval_start"`
	Measurements    []jsonMeasurement `json:"measurements"`
	Classes         []jsonClass       `json:"classes"`
	Runs            []jsonRun         `json:"runs"`
	Streams         []jsonStream      `json:"streams"`
	Outputs         []jsonOutput      `json:"outputs"`
	Self            jsonSelf          `json:"self"`
}

// jsonKeys is a measurement's key table.
type jsonKeys struct {
	Top       []jsonKeyRow `json:"top"`
	Other     uint64       `json:"other"`
	OtherKeys int          `json:"other_keys"`
	Total     uint64       `json:"total"`
}

type jsonKeyRow struct {
	Key   string  `json:"key"`
	Count uint64  `json:"count"`
	Share float64 `json:"share"`
}

type jsonMeasurement struct {
	Handle        string     `json:"handle"`
	Description   string     `json:"description"`
	Units         string     `json:"units"`
	DataType      string     `json:"data_type"`
	HistoryType   string     `json:"history_type"`
	LastEnd       *time.Time `json:"last_end"`
	Value         *float64   `json:"value"`
	Av            *float64   `json:"av"`
	Dev           *float64   `json:"dev"`
	Z             *float64   `json:"z"`
	Classes       []string   `json:"classes"`
	TopKey        string     `json:"top_key"`
	Total         *float64   `json:"total"`
	Lines         uint64     `json:"lines"`
	Selected      uint64     `json:"selected"`
	ExtractMisses uint64     `json:"extract_misses"`
	Timeouts      uint64     `json:"regex_timeouts"`
	KeyRejects    uint64     `json:"key_rejects"`
	Ignored       uint64     `json:"ignored"`
	Entropy       *float64   `json:"entropy,omitempty"`
	Keys          *jsonKeys  `json:"keys,omitempty"`
	Threshold     *float64   `json:"anomaly_threshold,omitempty"`
	Budget        string     `json:"alarm_budget,omitempty"`
	GraphSVG      string     `json:"graph_svg,omitempty"`
	GraphCSV      string     `json:"graph_csv,omitempty"`
}

type jsonClass struct {
	Name             string     `json:"name"`
	Until            *time.Time `json:"until"`
	RemainingSeconds *float64   `json:"remaining_seconds"`
}

type jsonRun struct {
	Handle          string     `json:"handle"`
	Kind            string     `json:"kind"`
	Guard           string     `json:"guard"`
	Argv            []string   `json:"argv"`
	Start           *time.Time `json:"start"`
	DurationSeconds float64    `json:"duration_seconds"`
	Exit            int        `json:"exit"`
	Error           string     `json:"error"`
	Output          string     `json:"output"`
	DryRun          bool       `json:"dry_run"`
}

type jsonFile struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

type jsonStream struct {
	Source      string     `json:"source"`
	Kind        string     `json:"kind"`
	Files       []jsonFile `json:"files"`
	Lines       uint64     `json:"lines"`
	Bytes       uint64     `json:"bytes"`
	Cut         uint64     `json:"cut"`
	Rotations   uint64     `json:"rotations"`
	Truncations uint64     `json:"truncations"`
	OpenErrors  uint64     `json:"open_errors"`
	Restarts    uint64     `json:"restarts"`
	Kills       uint64     `json:"kills"`
	Down        bool       `json:"down"`
	DownSince   *time.Time `json:"down_since,omitempty"`
	DownWhy     string     `json:"down_why,omitempty"`
	Unavailable uint64     `json:"unavailable_intervals"`
}

type jsonOutput struct {
	Name        string `json:"name"`
	Sent        uint64 `json:"sent"`
	Failures    uint64 `json:"failures"`
	Invalid     uint64 `json:"invalid"`
	SpoolDepth  uint64 `json:"spool_depth"`
	DroppedFull uint64 `json:"dropped_full"`
	LastError   string `json:"last_error"`
}

type jsonSelf struct {
	Commits        uint64 `json:"commits"`
	CommitFailures uint64 `json:"commit_failures"`
	Reloads        uint64 `json:"reloads"`
	ReloadFailures uint64 `json:"reload_failures"`
	CommandRuns    uint64 `json:"command_runs"`
	CommandFails   uint64 `json:"command_failures"`
	Suppressed     uint64 `json:"suppressed"`
}

// statusJSON serves /status.json.
func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewFor(w, "status.json")
	if !ok {
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newJSONView(v)); err != nil {
		s.log.Error("web status.json", "err", fmt.Errorf("encode status: %w", err))
		http.Error(w, "cannot encode the status", http.StatusInternalServerError)
		return
	}
	writeWhole(w, "application/json", &buf)
}

// newJSONView converts v. Strings are kept as they are: the JSON encoder
// escapes control characters and <, > and &, and turns invalid UTF-8 into
// U+FFFD.
func newJSONView(v View) jsonView {
	j := jsonView{
		Now:             jtime(v.Now),
		Started:         jtime(v.Started),
		Version:         v.Build.Version,
		Revision:        v.Build.Revision,
		Modified:        v.Build.Modified,
		Host:            v.Host,
		Rules:           v.Rules,
		State:           v.State,
		IntervalSeconds: v.Interval.Seconds(),
		IntervalStart:   jtime(v.IntervalStart),
		Measurements:    make([]jsonMeasurement, 0, len(v.Measurements)),
		Classes:         make([]jsonClass, 0, len(v.Classes)),
		Runs:            make([]jsonRun, 0, len(v.Runs)),
		Streams:         make([]jsonStream, 0, len(v.Streams)),
		Outputs:         make([]jsonOutput, 0, len(v.Outputs)),
		Self: jsonSelf{
			Commits:        v.Self.Commits,
			CommitFailures: v.Self.CommitFailures,
			Reloads:        v.Self.Reloads,
			ReloadFailures: v.Self.ReloadFailures,
			CommandRuns:    v.Self.CommandRuns,
			CommandFails:   v.Self.CommandFails,
			Suppressed:     v.Self.Suppressed,
		},
	}
	if !v.Now.IsZero() && !v.Started.IsZero() {
		j.UptimeSeconds = jfloat(v.Now.Sub(v.Started).Seconds())
	}
	for _, m := range v.Measurements {
		jm := jsonMeasurement{
			Handle:        m.Handle,
			Description:   m.Description,
			Units:         m.Units,
			DataType:      m.DataType,
			HistoryType:   m.HistoryType,
			LastEnd:       jtime(m.LastEnd),
			Value:         jptr(m.Value),
			Av:            jptr(m.Av),
			Dev:           jptr(m.Dev),
			Z:             jptr(m.Z),
			Classes:       append(make([]string, 0, len(m.Classes)), m.Classes...),
			TopKey:        m.TopKey,
			Total:         jfloat(m.Total),
			Lines:         m.Lines,
			Selected:      m.Selected,
			ExtractMisses: m.ExtractMisses,
			Timeouts:      m.Timeouts,
			KeyRejects:    m.KeyRejects,
			Ignored:       m.Ignored,
			Entropy:       jptr(m.Entropy),
			Threshold:     jptr(m.Threshold),
			Budget:        m.Budget,
		}
		if k := m.Keys; k != nil {
			jk := &jsonKeys{Other: k.Other, OtherKeys: k.OtherKeys, Total: k.Total}
			for _, r := range k.Top {
				jk.Top = append(jk.Top, jsonKeyRow{r.Key, r.Count, r.Share})
			}
			jm.Keys = jk
		}
		if m.hasGraph() {
			jm.GraphSVG = "graph/" + url.PathEscape(m.Handle) + ".svg"
		}
		if m.Graph != nil || len(m.Week) > 0 {
			jm.GraphCSV = "graph/" + url.PathEscape(m.Handle) + ".csv"
		}
		j.Measurements = append(j.Measurements, jm)
	}
	for _, c := range v.Classes {
		jc := jsonClass{Name: c.Name, Until: jtime(c.Until)}
		if !c.Until.IsZero() && !v.Now.IsZero() {
			jc.RemainingSeconds = jfloat(max(c.Until.Sub(v.Now), 0).Seconds())
		}
		j.Classes = append(j.Classes, jc)
	}
	for _, r := range v.Runs {
		j.Runs = append(j.Runs, jsonRun{
			Handle:          r.Handle,
			Kind:            r.Kind,
			Guard:           r.Guard,
			Argv:            append(make([]string, 0, len(r.Argv)), r.Argv...),
			Start:           jtime(r.Start),
			DurationSeconds: r.Duration.Seconds(),
			Exit:            r.Exit,
			Error:           r.Err,
			Output:          r.Output,
			DryRun:          r.DryRun,
		})
	}
	for _, st := range v.Streams {
		js := jsonStream{
			Source:      st.Source,
			Kind:        st.Kind,
			Files:       make([]jsonFile, 0, len(st.Files)),
			Lines:       st.Lines,
			Bytes:       st.Bytes,
			Cut:         st.Cut,
			Rotations:   st.Rotations,
			Truncations: st.Truncations,
			OpenErrors:  st.OpenErrors,
			Restarts:    st.Restarts,
			Kills:       st.Kills,
			Down:        st.Down,
			DownWhy:     st.DownWhy,
			Unavailable: st.Unavailable,
		}
		if st.Down {
			since := st.DownSince
			js.DownSince = &since
		}
		for _, f := range st.Files {
			js.Files = append(js.Files, jsonFile(f))
		}
		j.Streams = append(j.Streams, js)
	}
	for _, o := range v.Outputs {
		j.Outputs = append(j.Outputs, jsonOutput{
			Name:        o.Name,
			Sent:        o.Sent,
			Failures:    o.Failures,
			Invalid:     o.Invalid,
			SpoolDepth:  o.Depth,
			DroppedFull: o.DroppedFull,
			LastError:   o.LastError,
		})
	}
	return j
}

// jtime is t, or nil for the zero time and for a year JSON's RFC 3339
// cannot carry.
func jtime(t time.Time) *time.Time {
	if t.IsZero() || t.Year() < 0 || t.Year() > 9999 {
		return nil
	}
	return &t
}

// jfloat is f (num.Round), or nil when f is not finite (JSON has no NaN
// or infinity).
func jfloat(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	f = num.Round(f, num.Digits)
	return &f
}

func jptr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	return jfloat(*p)
}
