package webrtc

import (
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// TestPeerStatsWhileClientLeaves: metrics are scraped while viewers come
// and go. When a viewer closes its connection, pion closes the server's
// peer connection on its own; reading that peer's statistics meanwhile
// must be safe (the race detector catches pc.GetStats racing that close).
func TestPeerStatsWhileClientLeaves(t *testing.T) {
	m, s, conn := newViewerManager(t, &fakeStream{id: "main"}, &fakeStream{id: "audio"})

	for round := range 4 {
		if err := m.Request(s, types.SignalRequest{}); err != nil {
			t.Fatal(err)
		}
		client := joinClient(t, m, s, conn)

		// Scrape as fast as possible while the client leaves and the
		// server's peer connection closes after it.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = m.PeerStats()
				}
			}
		}()
		if err := client.Close(); err != nil {
			t.Error(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for m.Peers() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if n := m.Peers(); n > 0 {
			t.Fatalf("round %d: %d peers left 15s after the client closed", round, n)
		}
	}
}
