package output

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/rules"
)

// HTTP write API versions.
const (
	APIv1 = "v1" // InfluxDB 1.x: POST /write?db=&rp=&precision=
	APIv2 = "v2" // InfluxDB 2.x: POST /api/v2/write?org=&bucket=&precision=
)

// HTTPTimeout bounds one write request, connection included.
const HTTPTimeout = 30 * time.Second

// maxErrorBody is how much of an error response is read for its message.
const maxErrorBody = 4 << 10

// httpSink writes to InfluxDB's HTTP API.
type httpSink struct {
	name   string
	url    string // the write endpoint with its query; holds no secret
	auth   string // Authorization header value; "" for none
	gzip   bool
	client *http.Client
	// InfluxDB 1.x: the database, and the query endpoint that creates it
	// when a write finds it missing.
	db, queryURL string
}

func newHTTPSink(u *url.URL, o rules.Output) (Sink, error) {
	if u.Hostname() == "" {
		return nil, errors.New("want http(s)://host:port")
	}
	api := o.API
	if api == "" {
		switch {
		case strings.HasSuffix(u.Path, "/api/v2/write"), o.Token != "", o.Bucket != "", o.Org != "":
			api = APIv2
		default:
			api = APIv1
		}
	}
	prec, err := ParsePrecision(o.Precision)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	w := *u
	w.User = nil
	w.Fragment = ""
	q := w.Query()
	q.Set("precision", precisionParam(prec))
	s := &httpSink{gzip: o.Gzip}
	switch api {
	case APIv1:
		w.Path = endpoint(w.Path, "/write")
		db := firstOf(o.Database, q.Get("db"))
		if db == "" {
			return nil, errors.New("database is required for the InfluxDB 1.x API")
		}
		q.Set("db", db)
		rp := firstOf(o.RetentionPolicy, q.Get("rp"))
		if rp != "" {
			q.Set("rp", rp)
		}
		// Credentials go in a Basic Authorization header, which InfluxDB
		// 1.x accepts like u= and p=, so that the password never appears
		// in a URL: not in a proxy's access log, not in our error messages.
		user, pass := o.Username, o.Password
		switch {
		case user != "":
		case u.User != nil:
			user = u.User.Username()
			pass, _ = u.User.Password()
		default:
			user, pass = q.Get("u"), q.Get("p")
		}
		q.Del("u")
		q.Del("p")
		if user != "" {
			r := http.Request{Header: http.Header{}}
			r.SetBasicAuth(user, pass)
			s.auth = r.Header.Get("Authorization")
		}
		s.name = spoolName(u.Scheme, u.Hostname(), port, db, rp)
		qu := w
		qu.Path = strings.TrimSuffix(w.Path, "/write") + "/query"
		qu.RawQuery = ""
		s.db, s.queryURL = db, qu.String()
	case APIv2:
		w.Path = endpoint(w.Path, "/api/v2/write")
		org, bucket := firstOf(o.Org, q.Get("org")), firstOf(o.Bucket, q.Get("bucket"))
		if org == "" || bucket == "" {
			return nil, errors.New("org and bucket are required for the InfluxDB 2.x API")
		}
		q.Set("org", org)
		q.Set("bucket", bucket)
		if o.Token != "" {
			s.auth = "Token " + o.Token
		}
		s.name = spoolName(u.Scheme, u.Hostname(), port, org, bucket)
	default:
		return nil, fmt.Errorf("api %q: want v1 or v2", api)
	}
	w.RawQuery = q.Encode()
	s.url = w.String()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.client = &http.Client{Transport: tr, Timeout: HTTPTimeout}
	return s, nil
}

// endpoint appends the write endpoint to a base path unless it is there.
func endpoint(path, ep string) string {
	if strings.HasSuffix(path, ep) {
		return path
	}
	return strings.TrimSuffix(path, "/") + ep
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *httpSink) Name() string { return s.name }

// Send writes lines. An InfluxDB 1.x database that does not exist is
// created, as Telegraf does, when the credentials allow it (an admin's, or
// none where authentication is off), and the write is tried again;
// otherwise the write fails, with why the database could not be created,
// and is retried later as any failure is.
func (s *httpSink) Send(ctx context.Context, lines []byte) error {
	err := s.write(ctx, lines)
	var he *HTTPError
	if s.queryURL == "" || !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || !strings.Contains(he.Message, "database not found") {
		return err
	}
	if cerr := s.createDatabase(ctx); cerr != nil {
		return fmt.Errorf("%w (creating it: %v)", err, cerr)
	}
	return s.write(ctx, lines)
}

// createDatabase runs CREATE DATABASE for the sink's database.
func (s *httpSink) createDatabase(ctx context.Context) error {
	q := url.Values{"q": {`CREATE DATABASE "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s.db) + `"`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.queryURL, strings.NewReader(q.Encode()))
	if err != nil {
		return fmt.Errorf("create database %s: %w", s.db, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "logtally")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("create database %s: %w", s.db, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	_ = json.Unmarshal(body, &r)
	msg := r.Error
	if msg == "" && len(r.Results) > 0 {
		msg = r.Results[0].Error
	}
	if resp.StatusCode/100 != 2 || msg != "" {
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("create database %s: http %d: %s", s.db, resp.StatusCode, sanitize(msg, 512))
	}
	return nil
}

// write sends one batch.
func (s *httpSink) write(ctx context.Context, lines []byte) error {
	body := lines
	if s.gzip {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if _, err := zw.Write(lines); err != nil {
			return fmt.Errorf("compress batch: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress batch: %w", err)
		}
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "logtally")
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return fmt.Errorf("write %s: %w", s.name, &HTTPError{
		StatusCode: resp.StatusCode,
		Message:    errorMessage(msg),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
	})
}

func (s *httpSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// HTTPError is a write refused by the server.
type HTTPError struct {
	StatusCode int
	Message    string        // the server's message, sanitised and capped
	RetryAfter time.Duration // from a Retry-After header; 0 when absent
}

// Error describes the refusal.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("http %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrRejected for the statuses that mean the data itself is
// bad: 400 (a line InfluxDB cannot parse, a field type conflict, a point
// outside the retention policy), 413 (too large) and 422 (unprocessable).
// Every other status is transient, including 401, 403 and 404: an expired
// token or a database not yet created is fixed by a person, and dropping
// an hour of points meanwhile would be the wrong answer.
func (e *HTTPError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return ErrRejected
	}
	return nil
}

// errorMessage extracts the message of an InfluxDB error response: 1.x
// sends {"error": …}, 2.x {"code": …, "message": …}; anything else is
// shown as text.
func errorMessage(body []byte) string {
	var v struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &v) == nil {
		if m := firstOf(v.Error, v.Message); m != "" {
			msg = m
		}
	}
	return sanitize(msg, 512)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
