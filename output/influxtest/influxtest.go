// Package influxtest runs a real InfluxDB 1.x server (influxd, Debian's
// influxdb package) on loopback for tests: a private configuration, data
// in the test's temporary directory, free ports, and a stop and restart on
// the same data and ports to simulate an outage.
//
// When influxd is not installed the test is skipped, except in CI (the
// environment variable CI=true), where it fails: the CI image installs the
// server, and a skip there would hide a broken setup.
package influxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts for the server's start and stop.
const (
	StartTimeout = 60 * time.Second
	StopTimeout  = 30 * time.Second
)

// Options configure a Server.
type Options struct {
	// UDPDatabase, when set, enables influxd's UDP listener writing to
	// this database with nanosecond timestamps (create it with CreateDatabase); see
	// Server.UDPAddr.
	UDPDatabase string
	// Auth enables authentication, with an admin user AdminUser whose
	// password is AdminPassword; the Server's own queries use it.
	Auth bool
}

// The admin user of a Server with Options.Auth.
const (
	AdminUser     = "admin"
	AdminPassword = "admin-password"
)

// Server is one influxd process and its files.
type Server struct {
	t      testing.TB
	bin    string
	dir    string
	opts   Options
	http   string // host:port of the HTTP API
	bind   string // host:port of the RPC service (backup/restore)
	udp    string // host:port of the UDP listener, "" if disabled
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	client *http.Client
}

// Binary returns the path of influxd, or skips the test (fails it when
// CI=true) if it is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/influxd"); serr == nil {
			return "/usr/bin/influxd"
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("influxd not found (%v): CI must install the influxdb package", err)
		}
		t.Skipf("influxd not found (%v); install Debian's influxdb package to run this test", err)
	}
	return bin
}

// New starts influxd and waits until it answers /ping. The server is
// killed when the test ends; its log is shown if the test failed.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		t:      t,
		bin:    Binary(t),
		dir:    t.TempDir(),
		opts:   opts,
		client: &http.Client{Timeout: 30 * time.Second},
	}
	t.Cleanup(s.cleanup)
	// Free ports are found by binding port 0 and closing it, so another
	// process can take one before influxd binds it: try again then.
	var err error
	for range 3 {
		if err = s.pickPorts(); err != nil {
			t.Fatalf("influxtest: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("influxtest: %v", err)
	return nil
}

// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:40123.
func (s *Server) URL() string { return "http://" + s.http }

// UDPAddr is the UDP listener's host:port, or "" when it is disabled.
func (s *Server) UDPAddr() string { return s.udp }

// Dir is the server's directory: its configuration, data and log.
func (s *Server) Dir() string { return s.dir }

// Running reports whether influxd is running.
func (s *Server) Running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Start starts the server again after Stop, on the same data and ports.
func (s *Server) Start() {
	s.t.Helper()
	if s.Running() {
		s.t.Fatalf("influxtest: Start: already running")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("influxtest: restart: %v", err)
	}
}

// Stop stops the server with SIGTERM and waits for it to exit (SIGKILL
// after StopTimeout).
func (s *Server) Stop() {
	s.t.Helper()
	if !s.Running() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(StopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Logf("influxtest: influxd ignored SIGTERM for %v; killed", StopTimeout)
	}
}

// Exec runs an InfluxQL statement that changes something (CREATE USER,
// GRANT), failing the test on error.
func (s *Server) Exec(q string) {
	s.t.Helper()
	if _, err := s.post("", q); err != nil {
		s.t.Fatalf("influxtest: %v", err)
	}
}

// CreateDatabase creates a database, failing the test on error.
func (s *Server) CreateDatabase(name string) {
	s.t.Helper()
	if _, err := s.post("", fmt.Sprintf("CREATE DATABASE %q", name)); err != nil {
		s.t.Fatalf("influxtest: create database %s: %v", name, err)
	}
}

// Series is one series of a query result. Values holds one row per
// point; numbers are json.Number, times are integer nanoseconds.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Query runs an InfluxQL read query in database db, with times as integer
// nanoseconds, and returns the series of its first statement.
func (s *Server) Query(db, q string) ([]Series, error) {
	v := url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}}
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/query?"+v.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	s.authorize(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	defer resp.Body.Close()
	return decodeResult(resp, q)
}

func (s *Server) post(db, q string) ([]Series, error) { return s.postAs(db, q, true) }

// postAs posts a statement, with the admin's credentials when auth is set.
func (s *Server) postAs(db, q string, auth bool) ([]Series, error) {
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth {
		s.authorize(req)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	defer resp.Body.Close()
	return decodeResult(resp, q)
}

// authorize gives a request the admin's credentials, under Options.Auth.
func (s *Server) authorize(req *http.Request) {
	if s.opts.Auth {
		req.SetBasicAuth(AdminUser, AdminPassword)
	}
}

func decodeResult(resp *http.Response, q string) ([]Series, error) {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error  string   `json:"error"`
			Series []Series `json:"series"`
		} `json:"results"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("query %q: http %d: %s", q, resp.StatusCode, body)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	if len(r.Results) == 0 {
		return nil, fmt.Errorf("query %q: no result", q)
	}
	if r.Results[0].Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, r.Results[0].Error)
	}
	return r.Results[0].Series, nil
}

func (s *Server) pickPorts() error {
	var err error
	if s.http, err = freeTCP(); err != nil {
		return err
	}
	if s.bind, err = freeTCP(); err != nil {
		return err
	}
	s.udp = ""
	if s.opts.UDPDatabase != "" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("find a free udp port: %w", err)
		}
		s.udp = c.LocalAddr().String()
		c.Close()
	}
	return s.writeConfig()
}

func freeTCP() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free tcp port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (s *Server) writeConfig() error {
	q := func(v string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "reporting-disabled = true\nbind-address = %s\n", q(s.bind))
	fmt.Fprintf(&b, "[meta]\n  dir = %s\n  logging-enabled = false\n", q(filepath.Join(s.dir, "meta")))
	fmt.Fprintf(&b, "[data]\n  dir = %s\n  wal-dir = %s\n  query-log-enabled = false\n",
		q(filepath.Join(s.dir, "data")), q(filepath.Join(s.dir, "wal")))
	b.WriteString("[monitor]\n  store-enabled = false\n")
	b.WriteString("[retention]\n  enabled = false\n")
	b.WriteString("[continuous_queries]\n  enabled = false\n")
	b.WriteString("[subscriber]\n  enabled = false\n")
	fmt.Fprintf(&b, "[http]\n  enabled = true\n  bind-address = %s\n  auth-enabled = %v\n  log-enabled = false\n", q(s.http), s.opts.Auth)
	b.WriteString("[logging]\n  level = \"warn\"\n  suppress-logo = true\n")
	b.WriteString("[[graphite]]\n  enabled = false\n")
	if s.udp != "" {
		fmt.Fprintf(&b, "[[udp]]\n  enabled = true\n  bind-address = %s\n  database = %s\n  batch-size = 1000\n  batch-timeout = \"10ms\"\n",
			q(s.udp), q(s.opts.UDPDatabase))
	} else {
		b.WriteString("[[udp]]\n  enabled = false\n")
	}
	if err := os.WriteFile(s.configPath(), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write influxd config: %w", err)
	}
	return nil
}

func (s *Server) configPath() string { return filepath.Join(s.dir, "influxd.conf") }
func (s *Server) logPath() string    { return filepath.Join(s.dir, "influxd.log") }

// start runs influxd and waits for /ping, or for it to exit.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open influxd log: %w", err)
	}
	cmd := exec.Command(s.bin, "run", "-config", s.configPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "INFLUXDB_REPORTING_DISABLED=true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start influxd: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ping(ctx) {
			if s.opts.Auth {
				// The first user may be created without credentials; a
				// restart finds it there already.
				_, err := s.postAs("", fmt.Sprintf("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES", AdminUser, AdminPassword), false)
				if err != nil && !strings.Contains(err.Error(), "already exists") && !strings.Contains(err.Error(), "admin user") {
					return fmt.Errorf("create the admin user: %w", err)
				}
			}
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("influxd exited during start (%v):\n%s", cmd.ProcessState, s.logTail())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("influxd did not answer /ping within %v:\n%s", StartTimeout, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *Server) ping(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func (s *Server) cleanup() {
	if s.Running() {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if s.t.Failed() {
		if _, err := os.Stat(s.logPath()); !errors.Is(err, os.ErrNotExist) {
			s.t.Logf("influxd log (end):\n%s", s.logTail())
		}
	}
}
