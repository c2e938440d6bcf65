package web

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/logtally/logtally/history"
)

// graph serves /graph/<handle>.svg, the measurement's learned week as
// history.WriteWeekSVG draws it (the picture of `logtally graph`), and
// /graph/<handle>.csv, the same week as history.WriteWeekCSV writes it.
func (s *Server) graph(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	var handle, ext string
	switch {
	case strings.HasSuffix(file, ".svg"):
		handle, ext = strings.TrimSuffix(file, ".svg"), "svg"
	case strings.HasSuffix(file, ".csv"):
		handle, ext = strings.TrimSuffix(file, ".csv"), "csv"
	default:
		http.NotFound(w, r)
		return
	}
	v, ok := s.viewFor(w, "graph")
	if !ok {
		return
	}
	var m *MeasurementView
	for i := range v.Measurements {
		if v.Measurements[i].Handle == handle {
			m = &v.Measurements[i]
			break
		}
	}
	var week []history.SlotStat
	var recent []history.Sample
	if m != nil {
		week, recent = m.graph()
	}
	if len(week) == 0 && (ext == "csv" || len(recent) == 0) {
		http.Error(w, "no learned week for that measurement", http.StatusNotFound)
		return
	}
	var buf bytes.Buffer
	var err error
	ctype := "text/csv; charset=utf-8"
	if ext == "csv" {
		err = history.WriteWeekCSV(&buf, week)
	} else {
		err = history.WriteWeekSVG(&buf, graphTitle(m), week, recent)
		ctype = "image/svg+xml"
	}
	if err != nil {
		s.log.Error("web graph", "handle", clean(handle, maxText), "err", err)
		http.Error(w, "cannot draw the graph", http.StatusInternalServerError)
		return
	}
	if ext == "svg" {
		// An SVG opened on its own is a document: it gets no script, no
		// fetches and a sandbox, whatever it might contain.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	}
	writeWhole(w, ctype, &buf)
}

// maxTitle caps a graph's title, in bytes, so that it stays clear of the
// legend.
const maxTitle = 72

// graphTitle is the title drawn on a measurement's week graph: its handle,
// then its description and units when the rule gives them.
func graphTitle(m *MeasurementView) string {
	t := m.Handle
	if m.Description != "" {
		t += " — " + m.Description
	}
	if m.Units != "" {
		t += " (" + m.Units + ")"
	}
	return clean(t, maxTitle)
}
