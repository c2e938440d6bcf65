package output_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/output/influxtest"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// These tests run against a real InfluxDB 1.x (influxd, started by
// influxtest on loopback).

const db = "logtally"

// hostileUsers are keys a rule could capture from sshd's log lines.
var hostileUsers = []string{
	"root", "$(reboot)", "`id`", "a;reboot", "x\ny value=666", "a,b=c d", `q"uote`,
	`DOMAIN\user`, `trail\`, "nul\x00", "\xff\xfe", strings.Repeat("u", 10<<10), "jürgen",
}

func newLogger(t *testing.T) *slog.Logger {
	l := &testutil.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sender log:\n%s", l.String())
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startSender runs s until the test ends.
func startSender(t *testing.T, s *output.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Sender.Run did not return after cancel")
		}
	})
}

// point is a point as the tests expect to read it back: the measurement,
// the tags and fields as lineprotocol.Decoder reads the encoded line, and
// the time in nanoseconds.
type point struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
	ns          int64
}

func (p point) key() string {
	keys := slices.Sorted(maps.Keys(p.tags))
	var b strings.Builder
	b.WriteString(p.measurement)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%q=%q", k, p.tags[k])
	}
	fmt.Fprintf(&b, " %d", p.ns)
	return b.String()
}

// decodeAll decodes what AppendPoint wrote, which is what InfluxDB must
// store.
func decodeAll(t *testing.T, b []byte, prec lineprotocol.Precision) []point {
	t.Helper()
	var out []point
	for _, p := range testutil.DecodeLP(t, b, prec) {
		out = append(out, point{measurement: p.Measurement, tags: p.Tags, fields: p.Fields, ns: p.Time.UnixNano()})
	}
	return out
}

// readBack queries every point of the measurements from the server.
func readBack(t *testing.T, srv *influxtest.Server, database string, measurements []string) map[string]point {
	t.Helper()
	got := map[string]point{}
	for _, m := range measurements {
		series, err := srv.Query(database, fmt.Sprintf("SELECT * FROM %q GROUP BY *", m))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range series {
			for _, row := range s.Values {
				p := point{measurement: s.Name, tags: map[string]string{}, fields: map[string]any{}}
				for k, v := range s.Tags {
					if v != "" {
						p.tags[k] = v
					}
				}
				for i, c := range s.Columns {
					if c == "time" {
						ns, err := row[i].(json.Number).Int64()
						if err != nil {
							t.Fatal(err)
						}
						p.ns = ns
					} else if row[i] != nil {
						p.fields[c] = row[i]
					}
				}
				if _, dup := got[p.key()]; dup {
					t.Errorf("point %s returned twice", p.key())
				}
				got[p.key()] = p
			}
		}
	}
	return got
}

// sameFields compares fields as decoded from our line with the server's
// JSON values.
func sameFields(want, got map[string]any) bool {
	if len(want) != len(got) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		switch w := w.(type) {
		case string:
			if g != w {
				return false
			}
		case float64, int64, uint64:
			n, ok := g.(json.Number)
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil || f != toFloat(w) {
				return false
			}
		case bool:
			if g != w {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func toFloat(x any) float64 {
	switch x := x.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return 0
}

// commitPoints encodes the points of commit i: three samples (one keyed by
// a hostile username, with a hostile string field) and, every tenth
// commit, a class change.
func commitPoints(i int) []output.Point {
	end := time.Unix(1700000000, 0).Add(time.Duration(i) * 5 * time.Minute)
	user := hostileUsers[i%len(hostileUsers)]
	ps := []output.Point{
		output.SamplePoint("ssh_username_probe", "web1", map[string]string{"user": user}, end, float64(i)*1.5,
			output.Field{Key: "av", Value: 2.25}, output.Field{Key: "dev", Value: 0.5}, output.Field{Key: "z", Value: float64(i) / 7},
			output.Field{Key: "top", Value: user}),
		output.SamplePoint("mail_errors", "web1", map[string]string{"env": "prod"}, end, float64(i%5)),
		output.SamplePoint("http_5xx", "web1", nil, end, float64(1000+i)),
	}
	if i%10 == 0 {
		ps = append(ps, output.ClassPoint("ssh_username_probe_high_anomaly", "web1", nil, i%20 == 0, end))
	}
	return ps
}

var measurements = []string{"ssh_username_probe", "mail_errors", "http_5xx", output.ClassMeasurement}

func TestInfluxDBOutageLosesNothing(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			testOutage(t, gz)
		})
	}
}

func testOutage(t *testing.T, gz bool) {
	srv := influxtest.New(t, influxtest.Options{})
	srv.CreateDatabase(db)
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := rules.Output{URL: srv.URL(), Database: db, Precision: "s", Gzip: gz, BatchSize: 25, SpoolSize: 100000}
	sink, err := output.NewSink(o)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	prec, _ := output.ParsePrecision(o.Precision)
	sender := output.NewSender(st, sink, o, newLogger(t))
	// A short backoff: the outage below lasts a fraction of a second.
	sender.Backoff = output.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	startSender(t, sender)

	const commits, stopAt, restartAt = 60, 20, 40
	want := map[string]point{}
	tick := time.NewTicker(10 * time.Millisecond) // a steady rate of commits
	defer tick.Stop()
	for i := range commits {
		<-tick.C
		switch i {
		case stopAt:
			srv.Stop()
		case restartAt:
			// Points piled up in the spool while the server was down.
			if d := sender.Stats().Depth; d < (restartAt-stopAt)*3 {
				t.Errorf("spool depth %d during the outage, want at least %d", d, (restartAt-stopAt)*3)
			}
			srv.Start()
		}
		buf, err := output.Encode(commitPoints(i), prec)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range decodeAll(t, buf, prec) {
			want[p.key()] = p
		}
		if err := st.Update(func(tx *state.Tx) error {
			_, err := output.Push(tx, sink.Name(), buf, o.SpoolSize)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		sender.Notify()
		if i == stopAt {
			testutil.WaitFor(t, 30*time.Second, "the sender to see the outage", func() bool { return sender.Stats().Failures > 0 })
		}
	}
	testutil.WaitFor(t, 60*time.Second, "the spool to drain", func() bool { return sender.Stats().Depth == 0 })

	got := readBack(t, srv, db, measurements)
	if len(got) != len(want) {
		t.Errorf("read back %d points, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("point lost: %s", k)
			continue
		}
		if !sameFields(w.fields, g.fields) {
			t.Errorf("point %s: fields %v, want %v", k, g.fields, w.fields)
		}
	}
	series, err := srv.Query(db, "SHOW SERIES")
	if err != nil {
		t.Fatal(err)
	}
	// One series per distinct user, plus mail_errors, http_5xx and the class.
	if n := len(series[0].Values); n != len(hostileUsers)+3 {
		t.Errorf("%d series, want %d: %v", n, len(hostileUsers)+3, series[0].Values)
	}
	stats := sender.Stats()
	if stats.Failures == 0 || stats.Invalid != 0 || stats.DroppedFull != 0 || stats.Sent < uint64(len(want)) {
		t.Errorf("Stats = %+v, want failures, no drops, Sent >= %d", stats, len(want))
	}
}

// TestInfluxDBRejectedLineDropped sends a batch in which one line's field
// type conflicts with the stored one: InfluxDB answers 400 (partial write),
// and only that line is dropped.
func TestInfluxDBRejectedLineDropped(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{})
	srv.CreateDatabase(db)
	o := rules.Output{URL: srv.URL(), Database: db, Precision: "s"}
	var pts []output.Point
	for i := range 50 {
		v := any(float64(i))
		if i == 17 {
			v = "not a number" // value is a float field: a type conflict
		}
		pts = append(pts, output.Point{Measurement: "conflict", Tags: map[string]string{"host": "h"},
			Fields: []output.Field{{Key: "value", Value: v}}, Time: time.Unix(1700000000+int64(i), 0)})
	}
	sender := spooled(t, o, pts)
	if err := sender.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	series, err := srv.Query(db, `SELECT count(value) FROM "conflict"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || series[0].Values[0][1] != json.Number("49") {
		t.Errorf("count = %v, want 49", series)
	}
	if s := sender.Stats(); s.Invalid != 1 || s.Depth != 0 {
		t.Errorf("Stats = %+v, want Invalid 1, Depth 0", s)
	}
}

// spooled spools pts, at second precision, for o's destination in a new
// state file, and returns the destination's sender, not started.
func spooled(t *testing.T, o rules.Output, pts []output.Point) *output.Sender {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sink, err := output.NewSink(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	buf, err := output.Encode(pts, lineprotocol.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *state.Tx) error {
		_, err := output.Push(tx, sink.Name(), buf, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return output.NewSender(st, sink, o, newLogger(t))
}

// pushAndSend spools four points for o's database and starts its sender.
func pushAndSend(t *testing.T, o rules.Output) *output.Sender {
	t.Helper()
	sender := spooled(t, o, commitPoints(0))
	sender.Backoff = output.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	startSender(t, sender)
	return sender
}

// TestInfluxDBDatabaseCreated: a database that does not exist is created,
// as Telegraf does, and the points are written to it.
func TestInfluxDBDatabaseCreated(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{})
	sender := pushAndSend(t, rules.Output{URL: srv.URL(), Database: db, Precision: "s"})
	testutil.WaitFor(t, 30*time.Second, "the spool to drain", func() bool { return sender.Stats().Depth == 0 })
	if got := readBack(t, srv, db, measurements); len(got) != 4 {
		t.Errorf("read back %d points, want 4", len(got))
	}
	if s := sender.Stats(); s.Invalid != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestInfluxDBDatabaseNotCreatable: a user who may not create the missing
// database gets "database not found" and why it could not be created; the
// points wait in the spool until an administrator creates it.
func TestInfluxDBDatabaseNotCreatable(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{Auth: true})
	srv.Exec("CREATE USER writer WITH PASSWORD 'writer-password'")
	sender := pushAndSend(t, rules.Output{URL: srv.URL(), Database: db, Username: "writer", Password: "writer-password", Precision: "s"})
	testutil.WaitFor(t, 30*time.Second, "two failed attempts", func() bool { return sender.Stats().Failures >= 2 })
	s := sender.Stats()
	if s.Invalid != 0 || s.Depth != 4 || !strings.Contains(s.LastError, "database not found") || !strings.Contains(s.LastError, "creating it") {
		t.Fatalf("Stats = %+v, want the 4 points kept, database not found and why it was not created", s)
	}
	t.Logf("the error while the database is missing: %s", s.LastError)
	srv.CreateDatabase(db)
	srv.Exec(fmt.Sprintf("GRANT WRITE ON %q TO writer", db))
	testutil.WaitFor(t, 30*time.Second, "the spool to drain", func() bool { return sender.Stats().Depth == 0 })
	if got := readBack(t, srv, db, measurements); len(got) != 4 {
		t.Errorf("read back %d points, want 4", len(got))
	}
}

// TestInfluxDBUDP sends points to influxd's UDP listener.
func TestInfluxDBUDP(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{UDPDatabase: "udp"})
	srv.CreateDatabase("udp")
	o := rules.Output{URL: "udp://" + srv.UDPAddr(), Precision: "ns"} // the listener's precision
	sink, err := output.NewSink(o)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var pts []output.Point
	for i := range 200 {
		pts = append(pts, output.SamplePoint("udp_test", "web1", map[string]string{"user": hostileUsers[i%len(hostileUsers)]},
			time.Unix(1700000000+int64(i), 0), float64(i)))
	}
	buf, err := output.Encode(pts, lineprotocol.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Send(context.Background(), buf); err != nil {
		t.Fatal(err)
	}
	want := decodeAll(t, buf, lineprotocol.Nanosecond)
	testutil.WaitFor(t, 30*time.Second, "200 points over UDP", func() bool {
		return len(readBack(t, srv, "udp", []string{"udp_test"})) == len(want)
	})
	got := readBack(t, srv, "udp", []string{"udp_test"})
	for _, w := range want {
		if g, ok := got[w.key()]; !ok || !sameFields(w.fields, g.fields) {
			t.Errorf("point %s: got %v, want %v", w.key(), g.fields, w.fields)
		}
	}
}

// TestInfluxDBPlainFloats: floats written in plain digits (63245916, not
// 6.3245916e+07) are stored by a real InfluxDB as the same floats, in a
// field that stays a float, also where points written before in exponent
// form created it.
func TestInfluxDBPlainFloats(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{})
	srv.CreateDatabase(db)
	sink, err := output.NewSink(rules.Output{URL: srv.URL(), Database: db, Precision: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	// What an earlier version wrote, with lineprotocol's own formatting.
	if err := sink.Send(context.Background(), []byte("big,host=h value=6.3245916e+07 1700000000\n")); err != nil {
		t.Fatal(err)
	}
	values := []float64{63245916, 1e6, -1234567.5, 123456789.123456789, 1.5e-5, 1e20, 1e21, 2.5e300, 4.124128003123, 8.8e-10}
	var pts []output.Point
	for i, v := range values {
		pts = append(pts, output.SamplePoint("big", "h", nil, time.Unix(1700000001+int64(i), 0), v))
	}
	buf, err := output.Encode(pts, lineprotocol.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(buf), "e+07") || !strings.Contains(string(buf), " value=63245916 ") {
		t.Fatalf("encoded in exponent form:\n%s", buf)
	}
	if err := sink.Send(context.Background(), buf); err != nil {
		t.Fatalf("send %q: %v", buf, err)
	}
	want := decodeAll(t, buf, lineprotocol.Second)
	got := readBack(t, srv, db, []string{"big"})
	if len(got) != len(want)+1 {
		t.Errorf("read back %d points, want %d", len(got), len(want)+1)
	}
	for i, w := range want {
		if w.fields["value"] != num.Round(values[i], num.Digits) {
			t.Errorf("%v decodes as %v", values[i], w.fields["value"])
		}
		if g, ok := got[w.key()]; !ok || !sameFields(w.fields, g.fields) {
			t.Errorf("point %s: got %v, want %v", w.key(), g.fields, w.fields)
		}
	}
	series, err := srv.Query(db, `SHOW FIELD KEYS FROM "big"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || fmt.Sprint(series[0].Values) != "[[value float]]" {
		t.Errorf("field keys = %v, want value as a float", series)
	}
}
