package history

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/rules"
)

func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestReadSeries(t *testing.T) {
	t0 := time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, in string
		want     []Sample
		err      string
	}{
		{"header", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2.5\n",
			[]Sample{{t0, 1}, {t0.Add(5 * time.Minute), 2.5}}, ""},
		{"no header, CRLF, blank lines", "2014-04-01 00:00:00,1\r\n\r\n2014-04-01T00:05:00Z,3\r\n",
			[]Sample{{t0, 1}, {t0.Add(5 * time.Minute), 3}}, ""},
		{"RFC 3339 with zone", "2014-04-01T02:00:00+02:00,4\n", []Sample{{t0, 4}}, ""},
		{"fractional seconds, extra column", "2014-04-01 00:00:00.000000,5,x\n", []Sample{{t0, 5}}, ""},
		{"bad timestamp names the line", "timestamp,value\n2014-04-01 00:00:00,1\nyesterday,2\n", nil, "line 3: timestamp"},
		{"bad value names the line", "2014-04-01 00:00:00,1\n2014-04-01 00:05:00,many\n", nil, "line 2: value"},
		{"header only once", "timestamp,value\ntimestamp,value\n", nil, "line 2"},
		{"no comma", "2014-04-01 00:00:00\n", nil, "line 1: want timestamp,value"},
		{"empty", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSeries(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].T.Equal(tc.want[i].T) || got[i].V != tc.want[i].V {
					t.Fatalf("row %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
	long := "2014-04-01 00:00:00," + strings.Repeat("1", maxSeriesLine) + "\n"
	if _, err := ReadSeries(strings.NewReader(long)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("overlong line: %v", err)
	}
}

func TestInferInterval(t *testing.T) {
	t0 := time.Date(2015, 7, 10, 14, 24, 0, 0, time.UTC)
	mk := func(gaps ...time.Duration) []Sample {
		s := []Sample{{T: t0}}
		for _, g := range gaps {
			s = append(s, Sample{T: s[len(s)-1].T.Add(g)})
		}
		return s
	}
	m := time.Minute
	for _, tc := range []struct {
		name string
		s    []Sample
		want time.Duration
	}{
		{"regular", mk(5*m, 5*m, 5*m), 5 * m},
		{"irregular", mk(14*m, 5*m, 5*m, 10*m, 5*m), 5 * m},
		{"tie goes to the shorter", mk(10*m, 5*m), 5 * m},
		{"hourly with a second of jitter", mk(time.Hour+time.Second/3, time.Hour, time.Hour), time.Hour},
		{"single", mk(), 0},
		{"duplicates only", mk(0, 0), 0},
	} {
		if got := InferInterval(tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBacktestRises(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var s []Sample
	for i := 0; i < 4*288; i++ {
		s = append(s, Sample{T: t0.Add(time.Duration(i) * 5 * time.Minute), V: float64(10 + i%3)})
	}
	spike := len(s) - 10
	s[spike].V = 400
	rows := Backtest("h", s, Config{Location: time.UTC}, 10*time.Minute)
	if len(rows) != len(s) {
		t.Fatalf("%d rows for %d samples", len(rows), len(s))
	}
	if !has(rows[spike].Rises, "h_high_anomaly") || !has(rows[spike].Rises, "h_high_dev2") {
		t.Fatalf("spike rises %v", rows[spike].Rises)
	}
	// Persistence keeps the alarm classes one more interval, without a rise.
	if !has(rows[spike+1].Classes, "h_high_anomaly") || has(rows[spike+1].Rises, "h_high_anomaly") {
		t.Fatalf("after the spike: classes %v rises %v", rows[spike+1].Classes, rows[spike+1].Rises)
	}
	if has(rows[spike+2].Classes, "h_high_anomaly") {
		t.Fatalf("anomaly persisted beyond 10 minutes: %v", rows[spike+2].Classes)
	}
	for i, r := range rows[1:] {
		for _, c := range r.Rises {
			if has(rows[i].Classes, c) {
				t.Fatalf("row %d: %s rose but was already set", i+1, c)
			}
		}
	}
}

func TestClasses(t *testing.T) {
	for _, tc := range []struct {
		s    Score
		want string
	}{
		{Score{}, "h_normal"},
		{Score{Level: 1, Z: 1.2}, "h_high h_high_dev1"},
		{Score{Level: -2, Z: -2.5}, "h_low h_low_dev1 h_low_dev2"},
		{Score{Level: 3, Z: 7}, "h_high h_high_dev1 h_high_dev2 h_high_anomaly"},
		{Score{Level: -3, Z: -3, Learning: true}, "h_low h_low_dev1 h_low_dev2 h_low_anomaly h_learning"},
		{Score{Level: 0, Z: 0.5, Micro: true}, "h_high h_high_microanomaly"},
		{Score{Level: 0, Z: -2.5, Micro: true}, "h_low h_low_microanomaly"},
		// A microanomaly is never set with a contradicting class.
		{Score{Level: 2, Z: 2.5, Micro: true}, "h_high h_high_dev1 h_high_dev2"},
	} {
		if got := strings.Join(Classes("h", tc.s), " "); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestEntropy(t *testing.T) {
	even := map[string]uint64{}
	for i := 0; i < 50; i++ {
		even[string(rune('a'+i%26))+string(rune('a'+i/26))] = 1
	}
	for _, tc := range []struct {
		name   string
		counts map[string]uint64
		lo, hi float64
		class  string
	}{
		{"no keys", nil, 0, 0, ""},
		{"zero counts", map[string]uint64{"a": 0}, 0, 0, ""},
		{"one source", map[string]uint64{"10.0.0.1": 500}, 0, 0, "entropy_h_low"},
		{"one dominant source", map[string]uint64{"a": 970, "b": 10, "c": 10, "d": 10}, 0, 0.3, "entropy_h_low"},
		{"every event another source", even, 1, 1, "entropy_h_high"},
		{"a few even sources", map[string]uint64{"a": 10, "b": 10, "c": 10, "d": 10, "e": 10, "f": 10, "g": 10, "h": 10}, 0.45, 0.5, "entropy_h_medium"},
	} {
		e, c := Entropy("h", tc.counts)
		if e < tc.lo-1e-9 || e > tc.hi+1e-9 || c != tc.class || math.IsNaN(e) {
			t.Errorf("%s: %.3f %q, want [%.2f, %.2f] %q", tc.name, e, c, tc.lo, tc.hi, tc.class)
		}
	}
}

func FuzzReadSeries(f *testing.F) {
	f.Add([]byte("timestamp,value\n2014-04-01 00:00:00,1\n"))
	f.Add([]byte("2014-04-01T00:05:00Z,3\r\n\n"))
	f.Add([]byte("\ufefftimestamp,value\nx,y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSeries(strings.NewReader(string(data)))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		rows := Backtest("f", s, Config{Location: time.UTC}, rules.DefaultPersist)
		if len(rows) != len(s) {
			t.Fatalf("%d rows for %d samples", len(rows), len(s))
		}
	})
}

func FuzzDecode(f *testing.F) {
	b := New(Config{Location: time.UTC})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		b.Observe(t0.Add(time.Duration(i)*5*time.Minute), float64(i%7))
	}
	meta, pages := b.Encode(false)
	f.Add(meta, []byte(pages[0]), 0)
	f.Add(b.encodeMeta(5), []byte(flatPages(b)[0]), 0)
	f.Fuzz(func(t *testing.T, meta, page []byte, key int) {
		b, err := Decode(Config{Location: time.UTC}, meta, map[int]string{key: string(page)})
		if err != nil {
			return
		}
		sc := b.Observe(t0, 3)
		if math.IsNaN(sc.Z) {
			t.Fatalf("decoded baseline scores NaN: %+v", sc)
		}
	})
}
