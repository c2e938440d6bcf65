package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits of the HTTP server. The endpoints are small and local; slow or
// oversized clients are cut off rather than allowed to hold the daemon's
// goroutines.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownGrace is how long Serve waits for requests in flight once its
	// context is done, before it closes their connections.
	shutdownGrace = 5 * time.Second
	// scrapeTimeout bounds one /metrics request.
	scrapeTimeout = 10 * time.Second
)

// Server renders a Source's View as Prometheus metrics, a status page, JSON
// and week graphs. It holds no state of its own besides its metric registry:
// every request asks the Source for a fresh View.
type Server struct {
	src     Source
	log     *slog.Logger
	reg     *prometheus.Registry
	tmpl    *template.Template
	handler http.Handler
	rel     *releaser // gives the memory of scrapes back
}

// New returns a Server for src that logs to log (nil discards). It starts no
// goroutine and opens no listener; see Handler and Serve.
func New(src Source, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{src: src, log: log, reg: prometheus.NewRegistry(), tmpl: newPage(), rel: newReleaser()}
	s.reg.MustRegister(
		&collector{s: s, f: newFamilies()},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("GET /metrics", releaseAfter(s.rel, plainValues(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             scrapeTimeout,
		EnableOpenMetrics:   true,
		DisableCompression:  true, // plainValues compresses what it rewrote
	}))))
	mux.HandleFunc("GET /status.json", s.statusJSON)
	mux.HandleFunc("GET /graph/{file}", s.graph)
	s.handler = secure(mux)
	return s
}

// Handler returns the Server's endpoints:
//
//	/                     the status page (HTML, no script)
//	/metrics              Prometheus metrics
//	/status.json          the View as JSON
//	/graph/<handle>.svg   a measurement's learned week, as `logtally graph` draws it
//	/graph/<handle>.csv   the same week as CSV
//
// Only GET and HEAD are served.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on addr and serves Handler until ctx is done, then shuts the
// server down gracefully (requests in flight get a few seconds to finish)
// and returns nil. It binds exactly addr; an address that is not loopback is
// served as asked, with a warning in the log, since everything logtally
// knows about the host is then readable from the network.
func (s *Server) Serve(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened; it closes ln.
//
// On a loopback listener only requests whose Host is an IP address or
// localhost are answered, so a web page cannot read the status through DNS
// rebinding; a listener on another address answers any Host.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	h := s.handler
	if isLoopback(ln.Addr()) {
		h = localHostsOnly(h)
		s.log.Info("web listening", "addr", addr)
	} else {
		s.log.Warn("web listening on a non-loopback address: metrics and the status page are readable from the network", "addr", addr)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", addr, serr)
	}
	if err != nil {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	s.log.Info("web stopped", "addr", addr)
	return nil
}

// view asks the Source for a View. A panic in the Source is turned into an
// error: a fault in building a snapshot must cost one request, not the
// daemon (the metric collector runs in a goroutine of its own, where an
// unrecovered panic would end the process).
func (s *Server) view() (v View, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("build view: panic: %v", r)
		}
	}()
	if s.src == nil {
		return View{}, errors.New("build view: no source")
	}
	return s.src.View(), nil
}

// secure sets the headers every response carries: no caching, no MIME
// sniffing, no framing, no referrer, and a policy that forbids scripts, so
// that text from logs shown by a page can never run even if it escaped
// escaping.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// isLoopback reports whether a listener's address is a loopback address.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// localHostsOnly refuses requests whose Host header names anything but an IP
// address or localhost.
func localHostsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !localHost(r.Host) {
			http.Error(w, "host not allowed; use an IP address or localhost", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHost reports whether a Host header value is an IP address or
// localhost, with or without a port.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// promLogger passes promhttp's error messages to slog.
type promLogger struct{ log *slog.Logger }

// Println logs v as one warning.
func (l promLogger) Println(v ...any) {
	l.log.Warn("web metrics: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
