package testutil

import (
	"bytes"
	"testing"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"
)

// Point is one line-protocol point as InfluxData's own decoder reads it.
type Point struct {
	Measurement string
	Tags        map[string]string
	Fields      map[string]any
	Time        time.Time
	Line        string // the line it was read from
}

// DecodeLP decodes line protocol with timestamps at precision prec, with
// InfluxData's own decoder, and fails the test on anything that is not
// one valid point, with a field, per newline-terminated line. A point
// without a timestamp has the zero Time.
func DecodeLP(t testing.TB, data []byte, prec lineprotocol.Precision) []Point {
	t.Helper()
	var out []Point
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		fail := func(what string, err error) {
			t.Helper()
			t.Fatalf("line-protocol line %d: %s: %v: %q", i+1, what, err, line)
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			fail("not terminated", nil)
		}
		dec := lineprotocol.NewDecoderWithBytes(line)
		if !dec.Next() {
			fail("no point", dec.Err())
		}
		p := Point{Tags: map[string]string{}, Fields: map[string]any{}, Line: string(line)}
		m, err := dec.Measurement()
		if err != nil {
			fail("measurement", err)
		}
		p.Measurement = string(m)
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				fail("tag", err)
			}
			if k == nil {
				break
			}
			p.Tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				fail("field", err)
			}
			if k == nil {
				break
			}
			p.Fields[string(k)] = v.Interface()
		}
		if len(p.Fields) == 0 {
			fail("no field", nil)
		}
		if p.Time, err = dec.Time(prec, time.Time{}); err != nil {
			fail("time", err)
		}
		if dec.Next() {
			fail("more than one point", nil)
		}
		out = append(out, p)
	}
	return out
}
