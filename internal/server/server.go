// Package server is the HTTP side of neko: routing under the path prefix,
// middleware, the static client, the start page, health and metrics.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/neko-webrtc/neko/internal/config"
)

// Routes is something that adds its routes to the mux (paths without the
// server's path prefix).
type Routes interface {
	Register(mux *http.ServeMux)
}

// Options configure the server.
type Options struct {
	Config config.Server
	// Client is the built web client, served at the prefix root unless
	// Config.Static names a directory.
	Client    fs.FS
	API       Routes
	WebSocket http.Handler
	Registry  *prometheus.Registry
	// Listener, if set, is used instead of binding Config.Bind.
	Listener net.Listener
	Logger   *slog.Logger
}

// Server is the HTTP server.
type Server struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
	srv     *http.Server
	ln      net.Listener
}

func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger}
	mux := http.NewServeMux()
	if opts.API != nil {
		opts.API.Register(mux)
	}
	if opts.WebSocket != nil {
		mux.Handle("GET /api/ws", opts.WebSocket)
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("true"))
	})
	if opts.Config.Metrics && opts.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}))
	}
	if opts.Config.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /start/", http.StripPrefix("/start", http.FileServerFS(startPage())))

	client := opts.Client
	if opts.Config.Static != "" {
		if st, err := os.Stat(opts.Config.Static); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("server: server.static %q is not a directory", opts.Config.Static)
		}
		client = os.DirFS(opts.Config.Static)
	}
	if client != nil {
		// Method-less so that "/api/" (more specific path) wins for
		// unknown API routes; spa refuses anything but GET and HEAD.
		mux.Handle("/", spa(client))
	}

	var h http.Handler = mux
	if opts.Registry != nil {
		h = newHTTPMetrics(opts.Registry).wrap(h)
	}
	h = cors(opts.Config.CORS, h)
	if opts.Config.Proxy {
		h = realIP(h)
	}
	h = recoverer(s.log, h)
	if prefix := opts.Config.PathPrefix; prefix != "" && prefix != "/" {
		inner := h
		trimmed := strings.TrimSuffix(prefix, "/")
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == trimmed {
				http.Redirect(w, r, prefix, http.StatusMovedPermanently)
				return
			}
			http.StripPrefix(trimmed, inner).ServeHTTP(w, r)
		})
	}
	s.handler = h
	return s, nil
}

// Handler returns the root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds the configured address (unless a listener was given); Addr
// is valid afterwards.
func (s *Server) Listen() error {
	if s.opts.Listener != nil {
		s.ln = s.opts.Listener
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Config.Bind)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.opts.Config.Bind, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// TLS reports whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.opts.Config.Cert != "" }

// Serve serves until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.TLS() {
			s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = s.srv.ServeTLS(s.ln, s.opts.Config.Cert, s.opts.Config.Key)
		} else {
			err = s.srv.Serve(s.ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		return nil
	}
}

func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("http handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"message":"internal error"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// spa serves the client's files, and index.html for any other path so
// client-side routes and ?usr=&pwd= links work.
func spa(files fs.FS) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"message":"method not allowed"}` + "\n"))
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name != "" {
			if _, err := fs.Stat(files, name); err != nil {
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/"
				fileServer.ServeHTTP(w, r2)
				return
			}
		}
		if name == "" || name == "index.html" {
			// index.html names hashed assets; it must not be cached.
			w.Header().Set("Cache-Control", "no-cache")
		}
		fileServer.ServeHTTP(w, r)
	})
}
