// Package output writes logtally's samples and class changes as InfluxDB
// line protocol to stdout, a file, UDP or InfluxDB over HTTP, without losing
// them when the destination is down.
//
// # Points
//
// A Point is encoded with AppendPoint, which sanitises every text that can
// reach it from a log line (a key captured by a rule, a tag value, a string
// field) so that the result is always exactly one line that decodes to
// exactly one point: invalid UTF-8 and control characters become U+FFFD,
// lengths are capped, a trailing backslash (which line protocol cannot
// represent) is replaced, empty tags are dropped and non-finite floats are
// omitted. Floats are written to num.Digits significant digits, a value
// that is zero up to rounding as 0 (num.Round), in plain digits
// (num.AppendExact: 63245916, not 6.3245916e+07). Everything else is
// encoded and escaped by github.com/influxdata/line-protocol/v2.
//
// # Delivery
//
// Lines are not sent directly. The daemon commits each interval in one state
// transaction, and in that transaction Push appends the interval's lines to
// one spool per destination (an outbox, kept in the state file). A Sender
// per destination drains its spool in order: it peeks a batch, sends it,
// and acknowledges it once the destination accepted it. Failures are
// retried with capped, jittered exponential backoff while the records stay
// on disk; when a spool is full its oldest records are dropped and counted.
// A restart resends what was not acknowledged, so delivery is at least once:
// InfluxDB overwrites an identical point, so a resend is harmless.
//
// A batch the destination rejects as malformed (HTTP 400, 413 or 422) is
// split in halves until the offending lines are found; those alone are
// dropped, counted and logged, so one bad line cannot block a spool forever.
package output

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/internal/text"
)

// Limits applied by AppendPoint to text that may come from a log line.
const (
	// MaxNameLen caps measurement names, tag keys and field keys, in bytes.
	MaxNameLen = 256
	// MaxTagValueLen caps tag values, in bytes.
	MaxTagValueLen = 256
	// MaxStringFieldLen caps string field values, in bytes.
	MaxStringFieldLen = 1024
)

// ClassMeasurement is the measurement of the points written by ClassPoint.
const ClassMeasurement = "logtally_class"

// Field is one field of a point. Value is a float64, int64, uint64, int,
// string or bool.
type Field struct {
	Key   string
	Value any
}

// Point is one line-protocol point. A zero Time leaves the timestamp to the
// destination.
type Point struct {
	Measurement string
	Tags        map[string]string
	Fields      []Field
	Time        time.Time
}

// ErrNoFields is returned by AppendPoint for a point left with no field
// (none given, or all of them non-finite floats or with empty keys).
var ErrNoFields = errors.New("point has no field")

// AppendPoint appends p, encoded as one newline-terminated line of line
// protocol with timestamps at precision prec, to dst. Tags are written in
// key order; see the package comment for how text is sanitised. On error
// dst is returned unchanged.
func AppendPoint(dst []byte, p Point, prec lineprotocol.Precision) ([]byte, error) {
	name := sanitize(p.Measurement, MaxNameLen)
	if name == "" {
		return dst, fmt.Errorf("encode point: empty measurement")
	}
	type tag struct{ k, v string }
	tags := make([]tag, 0, len(p.Tags))
	for k, v := range p.Tags {
		k, v = sanitize(k, MaxNameLen), sanitize(v, MaxTagValueLen)
		if k == "" || v == "" {
			continue
		}
		tags = append(tags, tag{k, v})
	}
	// Sort by key, then value, so that the output does not depend on map
	// order even when two keys sanitise to the same key (the smaller
	// value is kept).
	slices.SortFunc(tags, func(a, b tag) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	tags = slices.CompactFunc(tags, func(a, b tag) bool { return a.k == b.k })

	type field struct {
		k string
		v lineprotocol.Value
	}
	fields := make([]field, 0, len(p.Fields))
	for _, f := range p.Fields {
		k := sanitize(f.Key, MaxNameLen)
		if k == "" || slices.ContainsFunc(fields, func(g field) bool { return g.k == k }) {
			continue
		}
		v, ok, err := fieldValue(f.Value)
		if err != nil {
			return dst, fmt.Errorf("encode point %s: field %s: %w", name, k, err)
		}
		if !ok {
			continue // NaN or Inf
		}
		fields = append(fields, field{k, v})
	}
	if len(fields) == 0 {
		return dst, fmt.Errorf("encode point %s: %w", name, ErrNoFields)
	}

	var e lineprotocol.Encoder
	e.SetBuffer(dst)
	e.SetPrecision(prec)
	e.StartLine(name)
	for _, t := range tags {
		e.AddTag(t.k, t.v)
	}
	var exps []span
	var gbuf [32]byte // shortest floats take at most 24 bytes
	g := gbuf[:0]
	for _, f := range fields {
		e.AddField(f.k, f.v)
		if f.v.Kind() == lineprotocol.Float {
			// The encoder has just written the value as f.v.AppendBytes does.
			g = f.v.AppendBytes(g[:0])
			if bytes.IndexByte(g, 'e') >= 0 {
				end := len(e.Bytes())
				exps = append(exps, span{end - len(g), end, f.v.FloatV()})
			}
		}
	}
	e.EndLine(p.Time)
	if err := e.Err(); err != nil {
		return dst, fmt.Errorf("encode point %s: %w", name, err)
	}
	return plainFloats(e.Bytes(), exps), nil
}

// span is where in an encoded line the encoder wrote the float v.
type span struct {
	from, to int
	v        float64
}

// plainFloats rewrites the float values at exps in line (in order) as
// num.AppendExact writes them. lineprotocol.Encoder writes a float with
// strconv's shortest 'g' form, 6.3245916e+07 for 63245916, and has no
// hook for another form; logtally's numbers are written in plain digits
// in every output, so this one piece is ours: the value reads back as the
// same float64, and stays a float field (no i suffix), which keeps the
// field's type in InfluxDB.
func plainFloats(line []byte, exps []span) []byte {
	if len(exps) == 0 {
		return line
	}
	base := exps[0].from
	tail := bytes.Clone(line[base:])
	out, prev := line[:base], base
	for _, s := range exps {
		out = append(out, tail[prev-base:s.from-base]...)
		out = num.AppendExact(out, s.v)
		prev = s.to
	}
	return append(out, tail[prev-base:]...)
}

// fieldValue converts a Field value; ok is false for a non-finite float,
// which is omitted rather than refused.
func fieldValue(x any) (lineprotocol.Value, bool, error) {
	switch x := x.(type) {
	case float64:
		v, ok := lineprotocol.FloatValue(num.Round(x, num.Digits))
		return v, ok, nil
	case float32:
		v, ok := lineprotocol.FloatValue(num.Round(float64(x), num.Digits))
		return v, ok, nil
	case int64:
		return lineprotocol.IntValue(x), true, nil
	case int:
		return lineprotocol.IntValue(int64(x)), true, nil
	case uint64:
		return lineprotocol.UintValue(x), true, nil
	case bool:
		return lineprotocol.BoolValue(x), true, nil
	case string:
		v, ok := lineprotocol.StringValue(sanitize(x, MaxStringFieldLen))
		if !ok { // cannot happen: sanitize returns valid UTF-8
			return v, false, errors.New("invalid UTF-8")
		}
		return v, true, nil
	default:
		return lineprotocol.Value{}, false, fmt.Errorf("unsupported type %T", x)
	}
}

const replacement = "\uFFFD"

// sanitize makes s encodable in any part of a line: invalid UTF-8 and
// control characters (C0, DEL, C1) become U+FFFD, the result is cut to at
// most max bytes on a rune boundary, and a trailing backslash, which would
// escape the separator after it, is replaced. max must be at least 3.
func sanitize(s string, max int) string {
	if clean(s, max) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	for _, r := range s {
		// range yields utf8.RuneError for each invalid byte.
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	out := b.String()
	for strings.HasSuffix(out, `\`) {
		out = out[:len(out)-1] + replacement
		if len(out) > max {
			out = text.Prefix(out, max)
		}
	}
	return out
}

// clean reports whether sanitize would return s unchanged.
func clean(s string, max int) bool {
	if len(s) > max || strings.HasSuffix(s, `\`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return false
		case c >= 0x80:
			return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
		}
	}
	return true
}

// SamplePoint is the point of one measurement's sample:
// `<handle>,host=<host>[,tags] value=<value>[,extra...] <end>`, where end is
// the end of the interval the sample covers and extra carries the baseline
// fields (av, dev, z). The host argument overrides a "host" key in tags.
func SamplePoint(handle, host string, tags map[string]string, end time.Time, value float64, extra ...Field) Point {
	t := make(map[string]string, len(tags)+1)
	for k, v := range tags {
		t[k] = v
	}
	if host != "" {
		t["host"] = host
	}
	fields := make([]Field, 0, 1+len(extra))
	fields = append(fields, Field{Key: "value", Value: value})
	fields = append(fields, extra...)
	return Point{Measurement: handle, Tags: t, Fields: fields, Time: end}
}

// ClassPoint is the point of one class change: measurement
// "logtally_class", tags class=<class>, host=<host> and the global tags
// (settings.tags, as the samples have), and the integer field state, 1
// when the class was set and 0 when it was cleared, at the time of the
// change. Writing changes rather than every active class keeps the series
// sparse; a dashboard shows a class as a step function of state.
func ClassPoint(class, host string, global map[string]string, set bool, t time.Time) Point {
	state := int64(0)
	if set {
		state = 1
	}
	tags := make(map[string]string, len(global)+2)
	for k, v := range global {
		tags[k] = v
	}
	tags["class"] = class
	if host != "" {
		tags["host"] = host
	}
	return Point{
		Measurement: ClassMeasurement,
		Tags:        tags,
		Fields:      []Field{{Key: "state", Value: state}},
		Time:        t,
	}
}

// ParsePrecision parses a timestamp precision as written in an output's
// configuration: "ns", "us" (or "µs"), "ms" or "s"; empty means "s".
func ParsePrecision(s string) (lineprotocol.Precision, error) {
	switch s {
	case "", "s":
		return lineprotocol.Second, nil
	case "ms":
		return lineprotocol.Millisecond, nil
	case "us", "µs", "u":
		return lineprotocol.Microsecond, nil
	case "ns", "n":
		return lineprotocol.Nanosecond, nil
	}
	return lineprotocol.Second, fmt.Errorf("parse precision %q: want ns, us, ms or s", s)
}

// precisionParam is the precision's name in InfluxDB's write APIs; both
// 1.x /write and 2.x /api/v2/write accept these.
func precisionParam(p lineprotocol.Precision) string {
	switch p {
	case lineprotocol.Nanosecond:
		return "ns"
	case lineprotocol.Microsecond:
		return "us"
	case lineprotocol.Millisecond:
		return "ms"
	}
	return "s"
}

// Encode encodes points at precision prec, one line each. It stops at the
// first point that cannot be encoded.
func Encode(points []Point, prec lineprotocol.Precision) ([]byte, error) {
	var buf []byte
	for _, p := range points {
		var err error
		if buf, err = AppendPoint(buf, p, prec); err != nil {
			return nil, err
		}
	}
	return buf, nil
}
