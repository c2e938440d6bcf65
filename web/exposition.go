package web

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"

	"github.com/logtally/logtally/internal/num"
)

// plainValues serves what next (promhttp's handler) writes, with the
// sample values of the text and OpenMetrics expositions in plain digits
// (num.AppendExact: 63245916, not 6.3245916e+07). client_golang writes
// values with strconv's shortest 'g' form and offers no hook for another
// (promhttp.HandlerOpts has none, and expfmt's encoders call their own
// float writer), so negotiation, encoding, escaping, limits and errors
// stay promhttp's, and only the value of each sample line is rewritten.
// next must not compress (DisableCompression): the response is compressed
// here, after the rewrite, when the client accepts gzip. The protobuf
// formats carry binary floats and pass unchanged.
func plainValues(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		body := rec.body.Bytes()
		if rec.code == http.StatusOK {
			switch expfmt.Format(rec.header.Get("Content-Type")).FormatType() {
			case expfmt.TypeTextPlain:
				body = plainExposition(body, false)
			case expfmt.TypeOpenMetrics:
				body = plainExposition(body, true)
			}
		}
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		h.Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Get("Accept-Encoding")) || len(body) == 0 {
			w.WriteHeader(rec.code)
			w.Write(body)
			return
		}
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(rec.code)
		gz := gzip.NewWriter(w)
		gz.Write(body)
		gz.Close()
	})
}

// recorder is the ResponseWriter plainValues gives next: it keeps the
// response to rewrite it.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// plainExposition rewrites, in a text or (openMetrics) OpenMetrics
// exposition as expfmt writes it, every sample value written with an
// exponent in plain digits, where num.AppendExact writes it so; it returns
// text itself when nothing changes. In OpenMetrics a float must show a
// decimal point or an exponent (an integer has neither), so a float that
// is a whole number gets ".0", as expfmt writes 1.0 and 0.0.
func plainExposition(text []byte, openMetrics bool) []byte {
	var out []byte // nil until a value is rewritten
	done := 0      // text[:done] is in out
	for start := 0; start < len(text); {
		end := bytes.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		from, to, ok := sampleValue(text[start:end])
		from, to = start+from, start+to
		if ok && bytes.ContainsAny(text[from:to], "eE") {
			if v, err := strconv.ParseFloat(string(text[from:to]), 64); err == nil {
				out = append(out, text[done:from]...)
				n := len(out)
				out = num.AppendExact(out, v)
				if openMetrics && !bytes.ContainsAny(out[n:], ".eIN") {
					out = append(out, ".0"...)
				}
				done = to
			}
		}
		start = end + 1
	}
	if out == nil {
		return text
	}
	return append(out, text[done:]...)
}

// sampleValue finds the value of a sample line: after the metric name
// and its labels in braces (where quoted text, with backslash escapes,
// may hold spaces and braces; with UTF-8 names the name is quoted inside
// the braces too), one space, and up to the next space (before a
// timestamp or an OpenMetrics exemplar) or the end. Comments (HELP, TYPE,
// UNIT, EOF) and empty lines have none. The exposition formats escape
// newlines in label values and help texts, so a line is a sample or a
// comment; expfmt separates with exactly one space.
func sampleValue(line []byte) (from, to int, ok bool) {
	if len(line) == 0 || line[0] == '#' {
		return 0, 0, false
	}
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' {
		i++
	}
	if i < len(line) && line[i] == '{' {
		quoted := false
	labels:
		for i++; i < len(line); i++ {
			switch c := line[i]; {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case !quoted && c == '}':
				i++
				break labels
			}
		}
	}
	if i >= len(line) || line[i] != ' ' {
		return 0, 0, false
	}
	from = i + 1
	to = from
	for to < len(line) && line[to] != ' ' {
		to++
	}
	return from, to, to > from
}

// acceptsGzip reports whether an Accept-Encoding header value accepts
// gzip (named, or as *) with a weight above 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}
