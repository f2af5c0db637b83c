package websocket

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// BenchmarkStateFanout500 measures how long a session/state change takes
// to reach 500 connected WebSocket clients (real sockets on loopback):
// from the state change to each client's read of the event. It reports
// p50/p99 delivery latency over all clients and changes.
// Target: p99 ≤ 50 ms.
func BenchmarkStateFanout500(b *testing.B) {
	const clients = 500
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer slog.SetDefault(prev)
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 60, MercifulReconnect: true}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := New(ctx, Options{Sessions: sessions, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var mu sync.Mutex
	var sentAt time.Time
	var lat []time.Duration
	var wg sync.WaitGroup
	got := make(chan struct{}, clients*4)
	for i := 0; i < clients; i++ {
		s, err := sessions.Create(fmt.Sprintf("client%03d", i), types.MemberProfile{Name: "c", CanLogin: true, CanConnect: true})
		if err != nil {
			b.Fatal(err)
		}
		ws, _, err := websocket.Dial(ctx, url+"/?token="+s.Token(), nil)
		if err != nil {
			b.Fatal(err)
		}
		ws.SetReadLimit(1 << 22)
		defer ws.CloseNow()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					return
				}
				var m types.Message
				if json.Unmarshal(data, &m) != nil || m.Event != types.EventSessionState {
					continue
				}
				var st types.SessionStateEvent
				if json.Unmarshal(m.Payload, &st) != nil || st.ID != "subject" {
					continue
				}
				mu.Lock()
				lat = append(lat, time.Since(sentAt))
				mu.Unlock()
				got <- struct{}{}
			}
		}()
	}
	subject, _ := sessions.Create("subject", types.MemberProfile{Name: "s"})
	// Let every connection finish its system/init before measuring.
	time.Sleep(time.Second)
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		sentAt = time.Now()
		mu.Unlock()
		sessions.SetWatching(subject, i%2 == 0)
		for n := 0; n < clients; n++ {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatalf("change %d reached only %d of %d clients", i, n, clients)
			}
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
	cancel()
}
