package webrtc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// provided returns the session's signal/provide, which Request has sent
// by the time it returns.
func provided(t *testing.T, conn *recordingConn) (types.SignalProvide, json.RawMessage) {
	t.Helper()
	raw, ok := conn.lastAfterProvide(types.EventSignalProvide)
	var p types.SignalProvide
	if !ok || json.Unmarshal(raw, &p) != nil || p.SDP == "" {
		t.Fatalf("no signal/provide with an offer: %s", raw)
	}
	return p, raw
}

// candidates are the session's signal/candidate events, in order.
func (c *recordingConn) candidates(t *testing.T) []types.SignalCandidate {
	t.Helper()
	return recorded[types.SignalCandidate](t, c, types.EventSignalCandidate)
}

// sdpCandidates are the a=candidate: lines of sdp, without "a=".
func sdpCandidates(sdp string) []string {
	var out []string
	for _, l := range strings.Split(sdp, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:"); ok {
			out = append(out, "candidate:"+c)
		}
	}
	return out
}

// hasSDPLine reports whether sdp has the line want (CRLF or LF).
func hasSDPLine(sdp, want string) bool {
	for _, l := range strings.Split(sdp, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// checkLoopbackCandidate fails unless c is a well-formed candidate on
// 127.0.0.1 (the managers here have nat1to1=127.0.0.1).
func checkLoopbackCandidate(t *testing.T, where, c string) {
	t.Helper()
	f := strings.Fields(c)
	if len(f) < 8 || !strings.HasPrefix(f[0], "candidate:") || f[4] != "127.0.0.1" {
		t.Fatalf("%s: candidate %q, want a host candidate on 127.0.0.1", where, c)
	}
}

// joinClient answers the session's signal/provide with a pion peer on
// loopback, as a browser would, and returns it once its data channel is
// open: ICE, DTLS and SCTP are up, so RTP and RTCP flow both ways. No
// candidate is exchanged besides the descriptions' own (its answer waits
// for its gathering): the server's must be in the offer (trickle off).
func joinClient(t *testing.T, m *Manager, s *session.Session, conn *recordingConn) *webrtc.PeerConnection {
	t.Helper()
	provide, _ := provided(t, conn)
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	client, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	open := make(chan struct{})
	client.OnDataChannel(func(dc *webrtc.DataChannel) { dc.OnOpen(func() { close(open) }) })
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
	case <-time.After(10 * time.Second):
		t.Fatal("the client's data channel did not open within 10s")
	}
	return client
}

// TestICETrickleOption: with webrtc.icetrickle off, the offer in
// signal/provide carries every server candidate (gathering is complete:
// a=end-of-candidates) and no signal/candidate is ever sent; a client
// that gets nothing else connects with it. With trickle on, the server's
// candidates come as signal/candidate events.
func TestICETrickleOption(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"}, ICETrickle: false}
		m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "main"}}, &fakeStream{id: "audio"})
		if err := m.Request(s, types.SignalRequest{}); err != nil {
			t.Fatal(err)
		}
		provide, _ := provided(t, conn)
		cands := sdpCandidates(provide.SDP)
		if len(cands) == 0 || !hasSDPLine(provide.SDP, "a=end-of-candidates") {
			t.Fatalf("without trickle, the offer has %d candidates and no a=end-of-candidates:\n%s", len(cands), provide.SDP)
		}
		for _, c := range cands {
			checkLoopbackCandidate(t, "offer", c)
		}
		// Candidates are sent as they are gathered, and the offer went
		// out after gathering completed: any would be recorded by now.
		if got := conn.candidates(t); len(got) != 0 {
			t.Fatalf("without trickle, %d signal/candidate sent: %+v", len(got), got)
		}
		joinClient(t, m, s, conn)
		if got := conn.candidates(t); len(got) != 0 {
			t.Fatalf("without trickle, %d signal/candidate sent by the time the client connected: %+v", len(got), got)
		}
	})
	t.Run("on", func(t *testing.T) {
		cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"}, ICETrickle: true}
		m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "main"}}, &fakeStream{id: "audio"})
		if err := m.Request(s, types.SignalRequest{}); err != nil {
			t.Fatal(err)
		}
		provided(t, conn)
		// The offer may already hold the candidates gathered before it
		// was read; every candidate is trickled all the same.
		waitFor(t, "a signal/candidate with trickle on", func() bool { return len(conn.candidates(t)) > 0 })
		for _, c := range conn.candidates(t) {
			checkLoopbackCandidate(t, "signal/candidate", c.Candidate)
			if c.SDPMid == nil && c.SDPMLineIndex == nil {
				t.Fatalf("signal/candidate %+v names no media section", c)
			}
		}
	})
}

// TestICELiteOption: webrtc.icelite makes the offer say a=ice-lite; by
// default it does not.
func TestICELiteOption(t *testing.T) {
	for _, lite := range []bool{true, false} {
		cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"}, ICELite: lite}
		m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "main"}}, &fakeStream{id: "audio"})
		if err := m.Request(s, types.SignalRequest{}); err != nil {
			t.Fatal(err)
		}
		provide, _ := provided(t, conn)
		if got := hasSDPLine(provide.SDP, "a=ice-lite"); got != lite {
			t.Fatalf("icelite=%v: a=ice-lite in the offer: %v\n%s", lite, got, provide.SDP)
		}
	}
}

// TestICEServersFrontendOption: signal/provide carries
// webrtc.iceservers.frontend as configured (urls, username, credential)
// and not the backend's servers; with none configured, "iceservers" is an
// empty list (the option's default, "[]"), not null, which a client would
// hand to RTCPeerConnection as it is.
func TestICEServersFrontendOption(t *testing.T) {
	frontend := []types.ICEServer{
		{URLs: []string{"stun:stun.example.org:3478"}},
		{URLs: []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}, Username: "neko", Credential: "secret"},
	}
	for _, tc := range []struct {
		name     string
		frontend []types.ICEServer
		want     string // the iceservers JSON
	}{
		{"configured", frontend, `[{"urls":["stun:stun.example.org:3478"]},` +
			`{"urls":["turn:turn.example.org:3478?transport=udp","turns:turn.example.org:5349"],"username":"neko","credential":"secret"}]`},
		{"none", nil, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Trickle on: provide does not wait for gathering against the
			// backend's (unreachable) server.
			cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"}, ICETrickle: true, ICEServersFrontend: tc.frontend,
				ICEServersBackend: []types.ICEServer{{URLs: []string{"stun:127.0.0.1:9"}, Username: "backend", Credential: "private"}}}
			m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "main"}}, &fakeStream{id: "audio"})
			if err := m.Request(s, types.SignalRequest{}); err != nil {
				t.Fatal(err)
			}
			provide, raw := provided(t, conn)
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(raw, &fields); err != nil {
				t.Fatal(err)
			}
			got, ok := fields["iceservers"]
			if !ok {
				t.Fatalf("signal/provide without iceservers: %s", raw)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got); err != nil {
				t.Fatal(err)
			}
			if compact.String() != tc.want {
				t.Fatalf("iceservers %s, want %s", compact.String(), tc.want)
			}
			want := tc.frontend
			if want == nil {
				want = []types.ICEServer{}
			}
			if !reflect.DeepEqual(provide.ICEServers, want) {
				t.Fatalf("iceservers %+v, want %+v", provide.ICEServers, want)
			}
		})
	}
}

// TestViewerKeyframeRequests: a connected viewer's PLI, and its FIR,
// for the video track make the video stream produce a keyframe.
func TestViewerKeyframeRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  func(sender, media uint32) rtcp.Packet
	}{
		{"PLI", func(sender, media uint32) rtcp.Packet {
			return &rtcp.PictureLossIndication{SenderSSRC: sender, MediaSSRC: media}
		}},
		{"FIR", func(sender, media uint32) rtcp.Packet {
			return &rtcp.FullIntraRequest{SenderSSRC: sender, MediaSSRC: media, FIR: []rtcp.FIREntry{{SSRC: media, SequenceNumber: 1}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			video := &fakeStream{id: "main"}
			m, s, conn := newViewerManager(t, video, &fakeStream{id: "audio"})
			if err := m.Request(s, types.SignalRequest{}); err != nil {
				t.Fatal(err)
			}
			client := joinClient(t, m, s, conn)

			// The video track's SSRC, as the client knows it from the
			// offer, is the one the server's track sends with.
			var ssrc uint32
			for _, tr := range client.GetTransceivers() {
				if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.Receiver() != nil && tr.Receiver().Track() != nil {
					ssrc = uint32(tr.Receiver().Track().SSRC())
				}
			}
			p, err := m.peer(s)
			if err != nil {
				t.Fatal(err)
			}
			b := p.video.bound.Load()
			if ssrc == 0 || b == nil || b.ssrc != ssrc {
				t.Fatalf("the client's video SSRC %d is not the server track's (%+v)", ssrc, b)
			}

			// The join asks for its own keyframes (when ICE connects, when
			// the peer does): let them reach the stream first, so that
			// only the viewer's request can add one.
			src := m.byID["main"]
			waitFor(t, "the join's keyframe requests", func() bool { return video.keys.Load() > 0 && keyRequestsServed(src) })
			// The ICE-connected one is asked from a goroutine: wait until
			// none has come for a while (longer than keyRequestInterval).
			before := video.keys.Load()
			for stable := time.Now(); time.Since(stable) < 700*time.Millisecond; time.Sleep(20 * time.Millisecond) {
				if n := video.keys.Load(); n != before || !keyRequestsServed(src) {
					before, stable = n, time.Now()
				}
			}

			// A viewer's requests are served at most once per
			// keyRequestInterval after the last one (the join's), so the
			// request is repeated until one is served, as a browser does.
			deadline := time.Now().Add(5 * time.Second)
			for video.keys.Load() == before {
				if time.Now().After(deadline) {
					t.Fatalf("no keyframe asked of the stream after the viewer's %s for SSRC %d (%d requests before)", tc.name, ssrc, before)
				}
				if err := client.WriteRTCP([]rtcp.Packet{tc.pkt(1, ssrc)}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
