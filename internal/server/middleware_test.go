package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRealIP: behind a trusted proxy the client address is the proxy's
// X-Real-IP, else the first X-Forwarded-For entry; junk is ignored.
func TestRealIP(t *testing.T) {
	for _, tc := range []struct {
		xrip, xff, want string
	}{
		{"", "", "192.0.2.9"},
		{"", "203.0.113.5, 10.0.0.1", "203.0.113.5"},
		{"198.51.100.7", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"not an ip", "", "192.0.2.9"},
		{"", "2001:db8::1", "2001:db8::1"},
	} {
		var got string
		h := realIP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _, _ = net.SplitHostPort(r.RemoteAddr)
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.9:4000"
		if tc.xrip != "" {
			r.Header.Set("X-Real-IP", tc.xrip)
		}
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("X-Real-IP %q, X-Forwarded-For %q: %s, want %s", tc.xrip, tc.xff, got, tc.want)
		}
	}
}
