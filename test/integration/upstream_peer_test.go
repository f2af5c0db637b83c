package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/viewer"
)

// upstreamPeer negotiates a peer for c through the real signalling that
// sends track on the transceiver the server offers for its kind, as a
// browser sharing its microphone or camera does (addTrack after the
// offer, before createAnswer). The server's own media is read and
// dropped. The peer is closed when the test ends.
func upstreamPeer(t *testing.T, c *viewer.Client, track webrtc.TrackLocal) (*webrtc.PeerConnection, *webrtc.RTPSender) {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	// Unread, the server's media would fill pion's buffers.
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})

	provide := c.Subscribe(types.EventSignalProvide)
	cands := c.Subscribe(types.EventSignalCandidate)
	ctx := context.Background()
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			j := cand.ToJSON()
			_ = c.Send(ctx, types.EventSignalCandidate, types.SignalCandidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex})
		}
	})
	_ = c.Send(ctx, types.EventSignalRequest, types.SignalRequest{})
	raw, err := viewer.Wait(provide, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var offer types.SignalProvide
	_ = json.Unmarshal(raw, &offer)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := pc.CreateAnswer(nil)
	_ = pc.SetLocalDescription(answer)
	_ = c.Send(ctx, types.EventSignalAnswer, types.SignalDescription{SDP: answer.SDP})
	go func() {
		for raw := range cands {
			var cand types.SignalCandidate
			if json.Unmarshal(raw, &cand) == nil {
				_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex})
			}
		}
	}()
	return pc, sender
}
