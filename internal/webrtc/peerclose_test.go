package webrtc

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/pkg/types"
)

// TestPeerStatsWhileClientLeaves: metrics are scraped while viewers come
// and go. When a viewer closes its connection, pion closes the server's
// peer connection on its own; reading that peer's statistics meanwhile
// must be safe (the race detector catches pc.GetStats racing that close).
func TestPeerStatsWhileClientLeaves(t *testing.T) {
	m, s, conn := newViewerManager(t, &fakeStream{id: "main"}, &fakeStream{id: "audio"})

	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))

	for round := range 4 {
		if err := m.Request(s, types.SignalRequest{}); err != nil {
			t.Fatal(err)
		}
		raw, ok := conn.lastAfterProvide(types.EventSignalProvide)
		var provide types.SignalProvide
		if !ok || json.Unmarshal(raw, &provide) != nil || provide.SDP == "" {
			t.Fatalf("round %d: no signal/provide with an offer: %s", round, raw)
		}
		client, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		open := make(chan struct{})
		client.OnDataChannel(func(dc *webrtc.DataChannel) {
			dc.OnOpen(func() { close(open) })
		})
		if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: provide.SDP}); err != nil {
			t.Fatal(err)
		}
		answer, err := client.CreateAnswer(nil)
		if err != nil {
			t.Fatal(err)
		}
		gathered := webrtc.GatheringCompletePromise(client)
		if err := client.SetLocalDescription(answer); err != nil {
			t.Fatal(err)
		}
		<-gathered
		if err := m.Answer(s, client.LocalDescription().SDP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-open:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: data channel not open within 15s", round)
		}

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
