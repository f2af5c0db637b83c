package websocket

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/capture"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/webrtc"
	"github.com/neko-webrtc/neko/pkg/types"
)

// idleStream is a capture stream that never produces a sample: the
// fuzzer exercises signalling, not media.
type idleStream struct {
	id   string
	mu   sync.Mutex
	refs int
}

func (s *idleStream) ID() string { return s.id }
func (s *idleStream) Acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs++
	return nil
}
func (s *idleStream) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
}
func (s *idleStream) RequestKeyframe()                {}
func (s *idleStream) SetHandler(func(capture.Sample)) {}

// FuzzDispatchSignal feeds client messages to a handler wired to a real
// WebRTC manager (pion peers on loopback), so that fuzzed signal/request,
// answer, offer, candidate, restart, video and audio payloads reach the
// SDP, ICE and quality-selection code, one session's peer living on
// across inputs. Nothing may panic or hang.
func FuzzDispatchSignal(f *testing.F) {
	for _, seed := range []string{
		`{"event":"signal/request","payload":{"video":{"selector":{"id":"hq","type":"exact"},"auto":true},"audio":{"disabled":true}}}`,
		`{"event":"signal/request","payload":{}}`,
		`{"event":"signal/answer","payload":{"sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}}`,
		`{"event":"signal/offer","payload":{"sdp":"v=0\r\n"}}`,
		`{"event":"signal/candidate","payload":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"event":"signal/candidate","payload":{"candidate":"candidate:x"}}`,
		`{"event":"signal/restart"}`,
		`{"event":"signal/video","payload":{"selector":{"id":"lq","type":"lower"},"disabled":false}}`,
		`{"event":"signal/video","payload":{"selector":{"id":"nope","type":"nearest"}}}`,
		`{"event":"signal/audio","payload":{"disabled":false}}`,
		`{"event":"signal/video","payload":{"selector":{"id":"","type":7}}}`,
	} {
		f.Add([]byte(seed))
	}
	sessions := session.New(session.Options{Logger: slog.New(slog.DiscardHandler)})
	m, err := webrtc.New(webrtc.Options{
		Config:     config.WebRTC{NAT1To1: []string{"127.0.0.1"}, ICETrickle: true},
		VideoCodec: "vp8", AudioCodec: "opus",
		Videos:   []webrtc.Stream{&idleStream{id: "hq"}, &idleStream{id: "lq"}},
		Audio:    &idleStream{id: "audio"},
		Sessions: sessions,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(m.Shutdown)
	h := New(context.Background(), Options{Sessions: sessions, Desktop: nopDesktop{}, WebRTC: m,
		Videos: []string{"hq", "lq"}, Logger: slog.New(slog.DiscardHandler)})
	s, err := sessions.Create("f", types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true})
	if err != nil {
		f.Fatal(err)
	}
	// The wiring reaches the media plane: a request makes a peer.
	h.dispatch(s, []byte(`{"event":"signal/request","payload":{}}`), h.log)
	if n := m.Peers(); n != 1 {
		f.Fatalf("%d peers after signal/request, want 1", n)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h.dispatch(s, data, h.log)
	})
}
