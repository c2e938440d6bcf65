package influxtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServerKeepsDataAcrossRestart writes a point, restarts the server on
// the same directories and ports, and reads the point back.
func TestServerKeepsDataAcrossRestart(t *testing.T) {
	s := New(t, Options{})
	s.CreateDatabase("db")
	resp, err := http.Post(s.URL()+"/write?db=db&precision=s", "text/plain",
		strings.NewReader("m,host=a value=1.5 1700000000\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: http %d", resp.StatusCode)
	}
	url := s.URL()
	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := s.Query("db", "SELECT * FROM m"); err == nil {
		t.Fatal("query succeeded while the server is stopped")
	}
	s.Start()
	if s.URL() != url {
		t.Fatalf("URL changed across restart: %s, then %s", url, s.URL())
	}
	series, err := s.Query("db", "SELECT value, host FROM m")
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || len(series[0].Values) != 1 {
		t.Fatalf("got %+v, want one series with one row", series)
	}
	row := series[0].Values[0]
	if row[0] != json.Number("1700000000000000000") || row[1] != json.Number("1.5") || row[2] != "a" {
		t.Fatalf("row = %v, want [1700000000000000000 1.5 a]", row)
	}
}

func TestQueryError(t *testing.T) {
	s := New(t, Options{})
	if _, err := s.Query("nope", "SELECT * FROM"); err == nil {
		t.Fatal("a malformed query returned no error")
	}
}
