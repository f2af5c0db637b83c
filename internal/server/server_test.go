package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neko-webrtc/neko/internal/config"
)

type routes struct{}

func (routes) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("pong")) })
	mux.HandleFunc("GET /api/boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
}

func newServer(t *testing.T, cfg config.Server) *httptest.Server {
	t.Helper()
	client := fstest.MapFS{"index.html": {Data: []byte("<html>client</html>")}, "assets/app.js": {Data: []byte("js")}}
	s, err := New(Options{Config: cfg, Client: client, API: routes{}, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutesUnderPrefix(t *testing.T) {
	srv := newServer(t, config.Server{PathPrefix: "/neko/", Metrics: true})
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/neko/health", 200, "true"},
		{"GET", "/neko/api/ping", 200, "pong"},
		{"GET", "/neko/", 200, "client"},
		{"GET", "/neko/some/client/route", 200, "client"},
		{"GET", "/neko/assets/app.js", 200, "js"},
		{"POST", "/neko/", 405, "message"},
		{"GET", "/neko", 301, ""},
		{"GET", "/neko/api/boom", 500, "internal error"},
		{"GET", "/neko/start/", 200, "neko"},
	} {
		resp, body := get(t, tc.method, srv.URL+tc.path, nil)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.body)
		}
	}
	_, body := get(t, "GET", srv.URL+"/neko/metrics", nil)
	if !strings.Contains(body, `neko_http_request_duration_seconds_count{code="200",method="GET",route="GET /api/ping"}`) {
		t.Errorf("metrics lack the route histogram:\n%.2000s", body)
	}
}

func TestCORS(t *testing.T) {
	srv := newServer(t, config.Server{PathPrefix: "/", CORS: []string{"https://allowed.example"}})
	pre := map[string]string{"Origin": "https://allowed.example", "Access-Control-Request-Method": "POST"}
	resp, _ := get(t, "OPTIONS", srv.URL+"/api/ping", pre)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://allowed.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get(t, "GET", srv.URL+"/api/ping", map[string]string{"Origin": "https://evil.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused origin got CORS headers: %v", resp.Header)
	}
	// Without server.cors: no CORS headers at all.
	plain := newServer(t, config.Server{PathPrefix: "/"})
	resp, _ = get(t, "GET", plain.URL+"/api/ping", map[string]string{"Origin": "https://allowed.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS headers without server.cors")
	}
}

func TestStaticDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Options{Config: config.Server{Static: dir + "/missing"}}); err == nil {
		t.Fatal("missing server.static accepted")
	}
}
