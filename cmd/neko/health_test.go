package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/neko-webrtc/neko/internal/config"
)

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Server
		want string
	}{
		{config.Server{Bind: "0.0.0.0:8080", PathPrefix: "/"}, "http://127.0.0.1:8080/health"},
		{config.Server{Bind: ":9000", PathPrefix: "/neko/"}, "http://127.0.0.1:9000/neko/health"},
		{config.Server{Bind: "[::]:8443", Cert: "c.pem", PathPrefix: "/"}, "https://127.0.0.1:8443/health"},
		{config.Server{Bind: "10.1.2.3:80"}, "http://10.1.2.3:80/health"},
		{config.Server{Bind: "[::1]:8080", PathPrefix: "/"}, "http://[::1]:8080/health"},
		{config.Server{Bind: "localhost:http", PathPrefix: "/a b/"}, "http://localhost:80/a%20b/health"},
	} {
		got, err := healthURL(tc.cfg)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc.cfg, got, err, tc.want)
		}
	}
	if _, err := healthURL(config.Server{Bind: "8080"}); err == nil {
		t.Error("a bind without a port was accepted")
	}
}

// TestHealthCommand runs `neko health` as the container does, with the
// bind and prefix from NEKO_* variables, against a server that answers
// /health, one that does not, and no server at all.
func TestHealthCommand(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /neko/health", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("true")) })
	up := httptest.NewServer(mux)
	defer up.Close()
	bind := strings.TrimPrefix(up.URL, "http://")

	if out, err := neko(t, "health", "NEKO_SERVER_BIND="+bind, "NEKO_SERVER_PATH_PREFIX=/neko").CombinedOutput(); err != nil {
		t.Fatalf("healthy server: %v %s", err, out)
	}
	out, err := neko(t, "health", "NEKO_SERVER_BIND="+bind).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "404") {
		t.Fatalf("server without /health at that path: %v %s", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if out, err := neko(t, "health", "NEKO_SERVER_BIND="+closed).CombinedOutput(); err == nil {
		t.Fatalf("no server, yet healthy: %s", out)
	}
}
