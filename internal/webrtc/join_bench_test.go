package webrtc

import (
	"context"
	"encoding/json"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/pkg/types"
)

// BenchmarkJoin is one viewer joining over loopback, the server's part
// and a pion client's: signal/request, the offer, the answer, ICE, DTLS,
// and the data channel open; then the client leaves and the server's peer
// is gone. It is what the bench's 50 concurrent joins repeat, without the
// encoder. The CPU profile (-cpuprofile) tells the two sides apart by the
// label side=server or side=client (pprof -tagfocus), because every
// goroutine either one starts inherits it.
func BenchmarkJoin(b *testing.B) {
	m, s, conn := newViewerManager(b, &fakeStream{id: "main"}, &fakeStream{id: "audio"})
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	server := pprof.WithLabels(context.Background(), pprof.Labels("side", "server"))
	client := pprof.WithLabels(context.Background(), pprof.Labels("side", "client"))

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each join reads only its own events (the recording would
		// otherwise grow with b.N, and so would the time to scan it).
		conn.mu.Lock()
		conn.events = nil
		conn.mu.Unlock()
		var err error
		pprof.SetGoroutineLabels(server)
		err = m.Request(s, types.SignalRequest{})
		pprof.SetGoroutineLabels(client)
		if err != nil {
			b.Fatal(err)
		}
		raw, ok := conn.lastAfterProvide(types.EventSignalProvide)
		var provide types.SignalProvide
		if !ok || json.Unmarshal(raw, &provide) != nil || provide.SDP == "" {
			b.Fatalf("join %d: no signal/provide with an offer: %s", i, raw)
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		open := make(chan struct{})
		pc.OnDataChannel(func(dc *webrtc.DataChannel) { dc.OnOpen(func() { close(open) }) })
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: provide.SDP}); err != nil {
			b.Fatal(err)
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			b.Fatal(err)
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(answer); err != nil {
			b.Fatal(err)
		}
		<-gathered
		pprof.SetGoroutineLabels(server)
		err = m.Answer(s, pc.LocalDescription().SDP)
		pprof.SetGoroutineLabels(client)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-open:
		case <-time.After(15 * time.Second):
			b.Fatalf("join %d: data channel not open within 15s", i)
		}
		if err := pc.Close(); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for m.Peers() > 0 {
			if time.Now().After(deadline) {
				b.Fatalf("join %d: the server's peer outlived its client by 15s", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	pprof.SetGoroutineLabels(context.Background())
}
