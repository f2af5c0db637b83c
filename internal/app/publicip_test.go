package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/neko-webrtc/neko/internal/config"
)

// TestFetchPublicIPWhen: webrtc.ip_retrieval_url is asked only when
// webrtc.nat1to1 is empty, and a failure yields no address.
func TestFetchPublicIPWhen(t *testing.T) {
	var hits atomic.Int32
	answer := "198.51.100.23\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	fetch := func(nat []string, url string) string {
		a := &App{log: slog.Default(), cfg: &config.Config{WebRTC: config.WebRTC{NAT1To1: nat, IPRetrievalURL: url}}}
		addr := <-a.fetchPublicIP(context.Background())
		if !addr.IsValid() {
			return ""
		}
		return addr.String()
	}
	if got := fetch(nil, srv.URL); got != "198.51.100.23" || hits.Load() != 1 {
		t.Fatalf("nat1to1 empty: got %q after %d requests", got, hits.Load())
	}
	if got := fetch([]string{"203.0.113.5"}, srv.URL); got != "" || hits.Load() != 1 {
		t.Fatalf("nat1to1 set: got %q after %d requests", got, hits.Load())
	}
	if got := fetch(nil, ""); got != "" || hits.Load() != 1 {
		t.Fatalf("empty URL: got %q after %d requests", got, hits.Load())
	}
	answer = "<html>busy</html>"
	if got := fetch(nil, srv.URL); got != "" || hits.Load() != 2 {
		t.Fatalf("bad answer: got %q after %d requests", got, hits.Load())
	}
}
