package api

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoginWhoami measures POST /api/login followed by GET
// /api/whoami over real HTTP on loopback (keep-alive, parallel clients).
// Target: ≥ 5,000 requests/s on 2 cores.
func BenchmarkLoginWhoami(b *testing.B) {
	// Per-login info logs would dominate the measurement.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer slog.SetDefault(prev)
	e := newEnv(b, false)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		for pb.Next() {
			resp, err := client.Post(e.srv.URL+"/api/login", "application/json", strings.NewReader(`{"username":"bench","password":"neko"}`))
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tok := string(body[strings.Index(string(body), `"token":"`)+9:])
			tok = tok[:strings.IndexByte(tok, '"')]
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/whoami", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err = client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("whoami: %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "req/s")
}
