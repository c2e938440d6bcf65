package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// bigView is fixture grown to 100 measurements with their classes.
func bigView(b *testing.B) View {
	v := fixture(b)
	base := v.Measurements
	v.Measurements = nil
	for i := 0; i < 100; i++ {
		m := base[i%len(base)]
		m.Handle += "_" + strconv.Itoa(i)
		v.Measurements = append(v.Measurements, m)
		for _, c := range m.Classes {
			v.Classes = append(v.Classes, ClassView{Name: c + "_" + strconv.Itoa(i)})
		}
	}
	return v
}

func benchEndpoint(b *testing.B, path string) {
	h := New(staticSource{bigView(b)}, nil).Handler()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: status %d", path, rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}

// The cost of one request with 100 measurements (the View is built once;
// a daemon's cost of building it is its own).
func BenchmarkPage(b *testing.B)       { benchEndpoint(b, "/") }
func BenchmarkMetrics(b *testing.B)    { benchEndpoint(b, "/metrics") }
func BenchmarkStatusJSON(b *testing.B) { benchEndpoint(b, "/status.json") }
func BenchmarkGraphSVG(b *testing.B)   { benchEndpoint(b, "/graph/ssh_username_probe_0.svg") }
