package output

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/internal/testutil"
)

// decoded is a point as lineprotocol.Decoder reads it back.
type decoded struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
	time        time.Time
}

// decodeOnly decodes b, which must be exactly one newline-terminated line
// holding exactly one point.
func decodeOnly(t *testing.T, b []byte, prec lineprotocol.Precision) decoded {
	t.Helper()
	if bytes.ContainsRune(b, '\r') {
		t.Fatalf("a carriage return in %q", b)
	}
	ps := testutil.DecodeLP(t, b, prec)
	if len(ps) != 1 {
		t.Fatalf("decoded %d points from %q, want 1", len(ps), b)
	}
	return decoded{measurement: ps[0].Measurement, tags: ps[0].Tags, fields: ps[0].Fields, time: ps[0].Time}
}

var hostile = []struct {
	name, in, tag, str string // tag and str: the expected tag value and string field
}{
	{"command substitution", "$(reboot)", "$(reboot)", "$(reboot)"},
	{"backquotes", "`rm -rf /`", "`rm -rf /`", "`rm -rf /`"},
	{"semicolon", "root;reboot", "root;reboot", "root;reboot"},
	{"newline injects a point", "x value=1\nevil,host=a value=666", "x value=1\uFFFDevil,host=a value=666", "x value=1\uFFFDevil,host=a value=666"},
	{"carriage return", "a\rb", "a\uFFFDb", "a\uFFFDb"},
	{"tab", "a\tb", "a\uFFFDb", "a\uFFFDb"},
	{"separators", "a,b=c d", "a,b=c d", "a,b=c d"},
	{"double quote closes a string", `a" evil=1i`, `a" evil=1i`, `a" evil=1i`},
	{"inner backslash", `DOMAIN\user`, `DOMAIN\user`, `DOMAIN\user`},
	{"backslash before separator", `a\,b\ c\=d`, `a\,b\ c\=d`, `a\,b\ c\=d`},
	{"trailing backslash", `a\`, "a\uFFFD", "a\uFFFD"},
	{"trailing backslashes", `a\\`, "a\\\uFFFD", "a\\\uFFFD"},
	{"only a backslash", `\`, "\uFFFD", "\uFFFD"},
	{"NUL", "a\x00b", "a\uFFFDb", "a\uFFFDb"},
	{"DEL and C1 NEL", "a\x7fb\u0085c", "a\uFFFDb\uFFFDc", "a\uFFFDb\uFFFDc"},
	{"invalid UTF-8", "a\xff\xfeb", "a\uFFFD\uFFFDb", "a\uFFFD\uFFFDb"},
	{"valid UTF-8 kept", "jürgen ☃ 用户", "jürgen ☃ 用户", "jürgen ☃ 用户"},
	{"10 KB username", strings.Repeat("u", 10<<10), strings.Repeat("u", MaxTagValueLen), strings.Repeat("u", MaxStringFieldLen)},
	{"10 KB of 2-byte runes cut on a rune", strings.Repeat("é", 5<<10), strings.Repeat("é", MaxTagValueLen/2), strings.Repeat("é", MaxStringFieldLen/2)},
	// The tag is cut after the first backslash, which is then trailing; its
	// replacement does not fit in the cap and is cut again.
	{"cut exposes a backslash", strings.Repeat("u", MaxTagValueLen-1) + `\\\`, strings.Repeat("u", MaxTagValueLen-1), strings.Repeat("u", MaxTagValueLen-1) + `\\` + "\uFFFD"},
}

func TestAppendPointHostileText(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			p := Point{
				Measurement: "ssh_username_probe",
				Tags:        map[string]string{"host": "web1", "user": tc.in},
				Fields:      []Field{{"value", 1.0}, {"top", tc.in}},
				Time:        time.Unix(1700000000, 0),
			}
			b, err := AppendPoint(nil, p, lineprotocol.Second)
			if err != nil {
				t.Fatalf("AppendPoint: %v", err)
			}
			got := decodeOnly(t, b, lineprotocol.Second)
			if got.measurement != "ssh_username_probe" {
				t.Errorf("measurement = %q", got.measurement)
			}
			if got.tags["user"] != tc.tag || got.tags["host"] != "web1" || len(got.tags) != 2 {
				t.Errorf("tags = %q, want user=%q host=web1", got.tags, tc.tag)
			}
			if got.fields["top"] != tc.str || got.fields["value"] != 1.0 || len(got.fields) != 2 {
				t.Errorf("fields = %q, want top=%q value=1", got.fields, tc.str)
			}
			if !got.time.Equal(p.Time) {
				t.Errorf("time = %v, want %v", got.time, p.Time)
			}
		})
	}
}

func TestAppendPoint(t *testing.T) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		p    Point
		prec lineprotocol.Precision
		want string
		err  error // nil: no error; errAny: some error
	}{
		{
			name: "tags sorted, fields in order",
			p: Point{Measurement: "m", Tags: map[string]string{"z": "1", "a": "2", "m": "3"},
				Fields: []Field{{"value", 2.5}, {"n", int64(-3)}, {"u", uint64(7)}, {"ok", true}, {"s", "x"}, {"i", 4}}, Time: at},
			prec: lineprotocol.Second,
			want: "m,a=2,m=3,z=1 value=2.5,n=-3i,u=7u,ok=true,s=\"x\",i=4i 1709294400\n",
		},
		{name: "ms", p: Point{Measurement: "m", Fields: []Field{{"v", 1.0}}, Time: at}, prec: lineprotocol.Millisecond, want: "m v=1 1709294400123\n"},
		{name: "us", p: Point{Measurement: "m", Fields: []Field{{"v", 1.0}}, Time: at}, prec: lineprotocol.Microsecond, want: "m v=1 1709294400123456\n"},
		{name: "ns", p: Point{Measurement: "m", Fields: []Field{{"v", 1.0}}, Time: at}, prec: lineprotocol.Nanosecond, want: "m v=1 1709294400123456789\n"},
		{name: "zero time leaves the timestamp out", p: Point{Measurement: "m", Fields: []Field{{"v", 1.0}}}, want: "m v=1\n"},
		{
			name: "NaN and Inf omitted",
			p:    Point{Measurement: "m", Fields: []Field{{"value", 1.0}, {"z", math.NaN()}, {"dev", math.Inf(1)}, {"av", math.Inf(-1)}}, Time: at},
			prec: lineprotocol.Second,
			want: "m value=1 1709294400\n",
		},
		{name: "only NaN is an error", p: Point{Measurement: "m", Fields: []Field{{"z", math.NaN()}}}, err: ErrNoFields},
		{name: "no field is an error", p: Point{Measurement: "m", Tags: map[string]string{"a": "b"}}, err: ErrNoFields},
		{name: "empty measurement is an error", p: Point{Fields: []Field{{"v", 1.0}}}, err: errAny},
		{name: "unsupported type is an error", p: Point{Measurement: "m", Fields: []Field{{"v", []int{1}}}}, err: errAny},
		{name: "time out of range is an error", p: Point{Measurement: "m", Fields: []Field{{"v", 1.0}}, Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, err: errAny},
		{
			name: "empty tag values and keys dropped",
			p:    Point{Measurement: "m", Tags: map[string]string{"a": "", "": "x", "b": "1"}, Fields: []Field{{"v", 1.0}}},
			want: "m,b=1 v=1\n",
		},
		{
			name: "keys that sanitise alike keep one",
			p:    Point{Measurement: "m", Tags: map[string]string{"k\x00": "1", "k\x01": "2"}, Fields: []Field{{"v", 1.0}, {"v", 2.0}}},
			want: "m,k\uFFFD=1 v=1\n",
		},
		{
			name: "floats in plain digits, with the dst before them kept",
			p: Point{Measurement: "m", Tags: map[string]string{"k": "e+07"}, Fields: []Field{{"value", 63245916.0}, {"n", int64(1e7)}, {"s", "6e+07"},
				{"small", 1.5e-5}, {"big", 1e20}, {"huge", 1e21}, {"neg", -1234567.5}, {"av", 8.8e-10}}, Time: at},
			prec: lineprotocol.Second,
			want: "m,k=e+07 value=63245916,n=10000000i,s=\"6e+07\",small=0.000015,big=100000000000000000000,huge=1e+21,neg=-1234567.5,av=0 1709294400\n",
		},
		{
			name: "measurement and keys escaped",
			p:    Point{Measurement: "my m,x", Tags: map[string]string{"a b": "c"}, Fields: []Field{{"f=1", 1.0}}},
			want: "my\\ m\\,x,a\\ b=c f\\=1=1\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("previous\n")
			b, err := AppendPoint(bytes.Clone(prefix), tc.p, tc.prec)
			switch {
			case tc.err == errAny && err == nil, tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				if !bytes.Equal(b, prefix) {
					t.Errorf("on error dst = %q, want it unchanged", b)
				}
				return
			}
			if string(b) != string(prefix)+tc.want {
				t.Errorf("got  %q\nwant %q", b, string(prefix)+tc.want)
			}
			decodeOnly(t, b[len(prefix):], tc.prec)
		})
	}
}

var errAny = errors.New("any error")

func TestSampleAndClassPoint(t *testing.T) {
	end := time.Unix(1700000100, 0)
	tests := []struct {
		name string
		p    Point
		want string
	}{
		{
			name: "sample",
			p: SamplePoint("ssh_username_probe", "web1", map[string]string{"env": "prod", "host": "ignored"}, end, 12,
				Field{"av", 3.5}, Field{"dev", 1.25}, Field{"z", 6.8}),
			want: "ssh_username_probe,env=prod,host=web1 value=12,av=3.5,dev=1.25,z=6.8 1700000100\n",
		},
		{
			name: "sample without a baseline yet",
			p:    SamplePoint("mail_errors", "web1", nil, end, 0, Field{"z", math.NaN()}),
			want: "mail_errors,host=web1 value=0 1700000100\n",
		},
		{name: "class set", p: ClassPoint("ssh_username_probe_high_anomaly", "web1", nil, true, end),
			want: "logtally_class,class=ssh_username_probe_high_anomaly,host=web1 state=1i 1700000100\n"},
		{name: "class cleared", p: ClassPoint("x", "web1", nil, false, end), want: "logtally_class,class=x,host=web1 state=0i 1700000100\n"},
		{name: "class with the global tags", p: ClassPoint("x", "web1", map[string]string{"dc": "par1", "class": "not this"}, true, end),
			want: "logtally_class,class=x,dc=par1,host=web1 state=1i 1700000100\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendPoint(nil, tc.p, lineprotocol.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %q\nwant %q", b, tc.want)
			}
		})
	}
}

func TestSamplePointDoesNotAliasTags(t *testing.T) {
	tags := map[string]string{"env": "prod"}
	SamplePoint("m", "h", tags, time.Time{}, 1)
	if len(tags) != 1 {
		t.Fatalf("SamplePoint changed the caller's map: %v", tags)
	}
}

func TestParsePrecision(t *testing.T) {
	tests := []struct {
		in    string
		want  lineprotocol.Precision
		param string
		ok    bool
	}{
		{"", lineprotocol.Second, "s", true},
		{"s", lineprotocol.Second, "s", true},
		{"ms", lineprotocol.Millisecond, "ms", true},
		{"us", lineprotocol.Microsecond, "us", true},
		{"µs", lineprotocol.Microsecond, "us", true},
		{"ns", lineprotocol.Nanosecond, "ns", true},
		{"h", 0, "", false},
		{"S", 0, "", false},
	}
	for _, tc := range tests {
		got, err := ParsePrecision(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePrecision(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (got != tc.want || precisionParam(got) != tc.param) {
			t.Errorf("ParsePrecision(%q) = %v (%s), want %v (%s)", tc.in, got, precisionParam(got), tc.want, tc.param)
		}
	}
}

// FuzzAppendPoint checks that whatever text reaches a tag key, a tag value
// or a string field, the output is one line that decodes to one point with
// the sanitised text, and that sanitised text is valid, bounded and free of
// control characters.
func FuzzAppendPoint(f *testing.F) {
	for _, tc := range hostile {
		f.Add("user", tc.in, tc.in)
	}
	f.Add("k\n", "v\\", "s\\")
	f.Add(`\`, `\\`, "\"\\\n")
	f.Fuzz(func(t *testing.T, key, val, str string) {
		p := Point{
			Measurement: "m",
			Tags:        map[string]string{key: val, "host": "h"},
			Fields:      []Field{{"value", 1.0}, {"s", str}},
			Time:        time.Unix(1, 0),
		}
		b, err := AppendPoint(nil, p, lineprotocol.Nanosecond)
		if err != nil {
			t.Fatalf("AppendPoint: %v", err)
		}
		got := decodeOnly(t, b, lineprotocol.Nanosecond)
		k, v, s := sanitize(key, MaxNameLen), sanitize(val, MaxTagValueLen), sanitize(str, MaxStringFieldLen)
		for _, x := range []struct {
			text string
			max  int
		}{{k, MaxNameLen}, {v, MaxTagValueLen}, {s, MaxStringFieldLen}} {
			if len(x.text) > x.max || !utf8.ValidString(x.text) || strings.ContainsFunc(x.text, unicode.IsControl) || strings.HasSuffix(x.text, `\`) {
				t.Fatalf("sanitised %q is not clean", x.text)
			}
		}
		wantTags := map[string]string{"host": "h"}
		if k != "" && v != "" {
			if k == "host" {
				// Two "host" keys: the sort by value keeps the smaller.
				v = min(v, "h")
			}
			wantTags[k] = v
		}
		if len(got.tags) != len(wantTags) {
			t.Fatalf("tags = %q, want %q", got.tags, wantTags)
		}
		for k, v := range wantTags {
			if got.tags[k] != v {
				t.Fatalf("tags = %q, want %q", got.tags, wantTags)
			}
		}
		if got.measurement != "m" || got.fields["s"] != s || got.fields["value"] != 1.0 || len(got.fields) != 2 {
			t.Fatalf("point = %+v, want m s=%q value=1", got, s)
		}
	})
}

// BenchmarkAppendPoint encodes a sample point; "plain" has values the
// encoder writes with an exponent, which AppendPoint rewrites.
func BenchmarkAppendPoint(b *testing.B) {
	for _, bc := range []struct {
		name              string
		value, av, dev, z float64
	}{
		{"short", 12, 3.5, 1.25, 6.8},
		{"plain", 63245916, 1.5e-5, 1234567.5, 6.8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := SamplePoint("ssh_username_probe", "web1.example.com", map[string]string{"env": "prod", "user": "admin"},
				time.Unix(1700000100, 0), bc.value, Field{"av", bc.av}, Field{"dev", bc.dev}, Field{"z", bc.z})
			buf, _ := AppendPoint(nil, p, lineprotocol.Second)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendPoint(buf[:0], p, lineprotocol.Second)
			}
		})
	}
}

// TestAppendPointNumbers: floats are written without floating-point
// residue, and a value that is zero up to rounding as 0.
func TestAppendPointNumbers(t *testing.T) {
	p := Point{Measurement: "m", Fields: []Field{{"av", 8.8e-10}, {"dev", 0.1 + 0.2}, {"value", 4.124128003123456}, {"z", -1e-9}}, Time: time.Unix(1, 0)}
	got, err := AppendPoint(nil, p, lineprotocol.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := "m av=0,dev=0.3,value=4.124128003,z=0 1\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzAppendPointFloat: every float field is written as a float (no i
// suffix) that lineprotocol.Decoder reads back as exactly num.Round(v,
// num.Digits), in plain digits unless its magnitude is PlainMax or more;
// a field that is not finite is omitted.
func FuzzAppendPointFloat(f *testing.F) {
	for _, v := range []float64{63245916, 1e6, 1.5e-5, 8.8e-10, 0.1 + 0.2, 1e21, -6.02e23, 123456789.123456789, math.Inf(1)} {
		f.Add(math.Float64bits(v), math.Float64bits(v/3))
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		va, vb := math.Float64frombits(a), math.Float64frombits(b)
		p := Point{Measurement: "m", Fields: []Field{{"one", 1.0}, {"a", va}, {"b", vb}}, Time: time.Unix(1, 0)}
		line, err := AppendPoint([]byte("x y=6.3e+07\n"), p, lineprotocol.Second)
		if err != nil {
			t.Fatalf("AppendPoint: %v", err)
		}
		line = line[len("x y=6.3e+07\n"):]
		got := decodeOnly(t, line, lineprotocol.Second)
		for key, v := range map[string]float64{"a": va, "b": vb} {
			g, ok := got.fields[key]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if ok {
					t.Fatalf("%q: non-finite %s=%v written", line, key, v)
				}
				continue
			}
			want := num.Round(v, num.Digits)
			if g != want { // a float64, not an int64: the type is kept
				t.Fatalf("%q: %s = %#v, want float64 %v (from %v)", line, key, g, want, v)
			}
			text := line[bytes.Index(line, []byte(","+key+"="))+len(key)+2:]
			text = text[:bytes.IndexAny(text, ", ")]
			if bytes.ContainsAny(text, "eE") != (math.Abs(want) >= num.PlainMax) {
				t.Fatalf("%q: %s=%v written as %s", line, key, want, text)
			}
		}
	})
}
