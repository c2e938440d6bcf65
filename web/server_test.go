package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// deadline bounds every wait in these tests.
const deadline = 20 * time.Second

// fetch GETs url with host as the Host header (when not empty).
func fetch(t *testing.T, c *http.Client, method, url, host string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServe runs Serve on a free loopback port, talks to it with a real
// client, and shuts it down by cancelling its context.
func TestServe(t *testing.T) {
	var logs testutil.Buffer
	srv := New(staticSource{fixture(t)}, slog.New(slog.NewTextHandler(&logs, nil)))
	var (
		addr string
		done chan error
		stop context.CancelFunc
	)
	// Another process may take the port between freePort and Serve: retry.
	for try := 0; ; try++ {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		var ctx context.Context
		ctx, stop = context.WithCancel(context.Background())
		done = make(chan error, 1)
		go func() { done <- srv.Serve(ctx, addr) }()
		up := false
		testutil.WaitFor(t, deadline, "server up", func() bool {
			select {
			case err := <-done:
				if !errors.Is(err, syscall.EADDRINUSE) || try == 4 {
					t.Fatalf("serve: %v", err)
				}
				return true
			default:
			}
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				up = true
			}
			return up
		})
		if up {
			break
		}
		stop()
	}
	defer stop()

	c := &http.Client{Timeout: deadline}
	base := "http://" + addr
	tests := []struct {
		method, path, host string
		code               int
		want               string
	}{
		{"GET", "/", "", 200, "ssh_username_probe"},
		{"GET", "/metrics", "", 200, `logtally_measurement_value{handle="ssh_username_probe"} 42`},
		{"GET", "/status.json", "", 200, `"handle": "postfix_reject"`},
		{"GET", "/graph/postfix_reject.svg", "", 200, "<svg"},
		{"GET", "/graph/postfix_reject.csv", "", 200, "slot,weekday,time,av,dev,n\n0,Monday,00:00,"},
		{"HEAD", "/", "", 200, ""},
		{"GET", "/", "localhost:9321", 200, "ssh_username_probe"},
		{"GET", "/", "[::1]:9321", 200, "ssh_username_probe"},
		// DNS rebinding: a page on another name must not read the status.
		{"GET", "/", "attacker.example:9321", http.StatusMisdirectedRequest, "host not allowed"},
		{"GET", "/metrics", "attacker.example", http.StatusMisdirectedRequest, "host not allowed"},
		{"POST", "/metrics", "", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		code, _, body := fetch(t, c, tt.method, base+tt.path, tt.host)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s (Host %q): %d, body %.200q; want %d with %q", tt.method, tt.path, tt.host, code, body, tt.code, tt.want)
		}
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("serve did not return after its context was cancelled")
	}
	if _, err := (&http.Client{Timeout: deadline}).Get(base + "/"); err == nil {
		t.Error("server still answers after Serve returned")
	}
	if !strings.Contains(logs.String(), "web listening") || !strings.Contains(logs.String(), addr) {
		t.Errorf("log lacks the address:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("loopback server warned:\n%s", logs.String())
	}
}

// blockingSource's View waits until released, so a request can be held in
// flight.
type blockingSource struct {
	v       View
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSource) View() View {
	s.entered <- struct{}{}
	<-s.release
	return s.v
}

// TestServeGraceful cancels the context while a request is in flight: the
// listener closes at once, the request still completes, then Serve returns.
func TestServeGraceful(t *testing.T) {
	src := &blockingSource{v: fixture(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- New(src, nil).ServeListener(ctx, ln) }()

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Timeout: deadline}).Get("http://" + addr + "/")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-src.entered:
	case <-time.After(deadline):
		t.Fatal("request never reached the source")
	}
	cancel()
	testutil.WaitFor(t, deadline, "listener closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case err := <-done:
		t.Fatalf("serve returned with a request in flight: %v", err)
	default:
	}
	close(src.release)
	r := <-res
	if r.err != nil || r.code != 200 || !strings.Contains(r.body, "</html>") {
		t.Fatalf("in-flight request: %d %v, body %d bytes", r.code, r.err, len(r.body))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("serve did not return")
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = New(staticSource{}, nil).Serve(t.Context(), ln.Addr().String())
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || !strings.HasPrefix(err.Error(), "listen ") {
		t.Fatalf("Serve on a busy address: %v", err)
	}
}

// publicListener is a loopback listener that reports a public address, to
// drive the non-loopback path without exposing a port.
type publicListener struct{ net.Listener }

func (publicListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 9321}
}

func TestServeNonLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var logs testutil.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(staticSource{fixture(t)}, slog.New(slog.NewTextHandler(&logs, nil))).ServeListener(ctx, publicListener{ln})
	}()
	// On a public address any Host is served (a scraper uses the host's name).
	code, _, body := fetch(t, &http.Client{Timeout: deadline}, "GET", "http://"+addr+"/metrics", "mx1.example.net:9321")
	if code != 200 || !strings.Contains(body, "logtally_build_info") {
		t.Errorf("public listener, named host: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "192.0.2.10:9321") {
		t.Errorf("no warning for a non-loopback address:\n%s", logs.String())
	}
}
