package web

import (
	"bytes"
	"compress/gzip"
	"io"
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
// stay promhttp's, and only the value of each sample line is rewritten,
// line by line as next writes (a scrape of 1000 measurements is over a
// megabyte: kept whole, and copied to rewrite it, it is garbage the
// daemon's RSS holds until the next collection).
// next must not compress (DisableCompression): the response is compressed
// here, after the rewrite, when the client accepts gzip. The protobuf
// formats carry binary floats and pass unchanged.
func plainValues(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &plainWriter{w: w, header: http.Header{}, gzip: acceptsGzip(r.Header.Get("Accept-Encoding"))}
		next.ServeHTTP(pw, r)
		pw.close()
	})
}

// plainWriter is the ResponseWriter plainValues gives next. Its header
// reaches the client at next's first byte of body (or at the end, for a
// response without one), when the format, and so whether to rewrite and
// whether to compress, is known; it rewrites whole lines and keeps back
// the part of a line a Write ends in.
type plainWriter struct {
	w       http.ResponseWriter
	header  http.Header
	code    int
	gzip    bool // the client accepts gzip
	started bool // w's header is written
	rewrite bool // the body is a text or OpenMetrics exposition
	om      bool // OpenMetrics
	out     io.Writer
	gz      *gzip.Writer
	carry   []byte // the start of a line, without its end yet
	scratch []byte
	err     error
}

func (p *plainWriter) Header() http.Header { return p.header }

func (p *plainWriter) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

func (p *plainWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	if len(b) == 0 || p.err != nil {
		return 0, p.err
	}
	if !p.started {
		p.start(true)
	}
	if !p.rewrite {
		return p.out.Write(b)
	}
	n := len(b)
	if len(p.carry) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.carry = append(p.carry, b...)
			return n, nil
		}
		p.carry = append(p.carry, b[:i+1]...)
		b = b[i+1:]
		p.lines(p.carry)
		p.carry = p.carry[:0]
	}
	i := bytes.LastIndexByte(b, '\n')
	p.lines(b[:i+1])
	p.carry = append(p.carry, b[i+1:]...)
	if p.err != nil {
		return 0, p.err
	}
	return n, nil
}

// start writes w's header, the body compressed when it has one and the
// client accepts gzip.
func (p *plainWriter) start(body bool) {
	p.started = true
	if p.code == 0 {
		p.code = http.StatusOK
	}
	if p.code == http.StatusOK {
		switch expfmt.Format(p.header.Get("Content-Type")).FormatType() {
		case expfmt.TypeTextPlain:
			p.rewrite = true
		case expfmt.TypeOpenMetrics:
			p.rewrite, p.om = true, true
		}
	}
	h := p.w.Header()
	for k, v := range p.header {
		h[k] = v
	}
	h.Add("Vary", "Accept-Encoding")
	p.out = p.w
	if body && p.gzip {
		h.Set("Content-Encoding", "gzip")
		p.gz = gzip.NewWriter(p.w)
		p.out = p.gz
	}
	p.w.WriteHeader(p.code)
}

// lines writes text, whole lines, with its values rewritten.
func (p *plainWriter) lines(text []byte) {
	done := 0
	p.scratch = plainValuesOf(text, p.om, p.scratch, func(from, to int, plain []byte) {
		p.write(text[done:from])
		p.write(plain)
		done = to
	})
	p.write(text[done:])
}

func (p *plainWriter) write(b []byte) {
	if p.err == nil && len(b) > 0 {
		_, p.err = p.out.Write(b)
	}
}

// close ends the response: the header if next wrote no body, the last
// line if it had no newline, the end of the compressed stream.
func (p *plainWriter) close() {
	if !p.started {
		p.start(false)
	}
	if len(p.carry) > 0 {
		p.lines(p.carry)
		p.carry = nil
	}
	if p.gz != nil && p.err == nil {
		p.err = p.gz.Close()
	}
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
	plainValuesOf(text, openMetrics, nil, func(from, to int, plain []byte) {
		out = append(out, text[done:from]...)
		out = append(out, plain...)
		done = to
	})
	if out == nil {
		return text
	}
	return append(out, text[done:]...)
}

// plainValuesOf calls f, in order, with every sample value of text that
// plainExposition rewrites: its place text[from:to] and its plain digits,
// written in buf (which f must not keep); it returns buf for reuse.
func plainValuesOf(text []byte, openMetrics bool, buf []byte, f func(from, to int, plain []byte)) []byte {
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
				buf = num.AppendExact(buf[:0], v)
				if openMetrics && !bytes.ContainsAny(buf, ".eIN") {
					buf = append(buf, ".0"...)
				}
				f(from, to, buf)
			}
		}
		start = end + 1
	}
	return buf
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
