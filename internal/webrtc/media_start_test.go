package webrtc

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// brokenStream is a capture stream whose pipeline fails to start, after
// the time a real start takes (signal/provide has gone out by then).
type brokenStream struct{ fakeStream }

func (b *brokenStream) Acquire() error {
	time.Sleep(100 * time.Millisecond)
	return errors.New("pipeline failed to start")
}

// recordingConn keeps the events a session was sent.
type recordingConn struct {
	mu     sync.Mutex
	events []struct {
		Event   types.Event     `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
}

func (c *recordingConn) Send(raw []byte) {
	var m struct {
		Event   types.Event     `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(raw, &m) == nil {
		c.mu.Lock()
		c.events = append(c.events, m)
		c.mu.Unlock()
	}
}
func (c *recordingConn) Close(string) {}

// recorded decodes every ev event conn was sent, in order.
func recorded[T any](t testing.TB, c *recordingConn, ev types.Event) []T {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []T
	for _, e := range c.events {
		if e.Event == ev {
			var v T
			if err := json.Unmarshal(e.Payload, &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

// lastAfterProvide returns the payload of the last event ev sent after
// signal/provide.
func (c *recordingConn) lastAfterProvide(ev types.Event) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	provided := false
	var last json.RawMessage
	for _, e := range c.events {
		if e.Event == types.EventSignalProvide {
			provided = true
		}
		if provided && e.Event == ev {
			last = e.Payload
		}
	}
	return last, last != nil
}

// newViewerManager builds a Manager (loopback ICE) over video and audio,
// and a connected viewer session whose events conn records; the Manager
// shuts down at cleanup.
func newViewerManager(t testing.TB, video, audio Stream) (*Manager, *session.Session, *recordingConn) {
	t.Helper()
	return newManagerWith(t, config.WebRTC{NAT1To1: []string{"127.0.0.1"}}, []Stream{video}, audio)
}

// newManagerWith is newViewerManager with its WebRTC settings and any
// number of video qualities.
func newManagerWith(t testing.TB, cfg config.WebRTC, videos []Stream, audio Stream) (*Manager, *session.Session, *recordingConn) {
	t.Helper()
	return newManagerOpts(t, Options{Config: cfg, Videos: videos, Audio: audio})
}

// newManagerOpts builds a Manager from opts (VP8 and Opus unless set)
// with its own session manager, and a connected viewer session whose
// events conn records; the Manager shuts down at cleanup.
func newManagerOpts(t testing.TB, opts Options) (*Manager, *session.Session, *recordingConn) {
	t.Helper()
	sessions := session.New(session.Options{Logger: slog.New(slog.DiscardHandler)})
	s, err := sessions.Create("viewer", types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := &recordingConn{}
	if err := sessions.Connect(s, conn); err != nil {
		t.Fatal(err)
	}
	if opts.VideoCodec == "" {
		opts.VideoCodec = "vp8"
	}
	if opts.AudioCodec == "" {
		opts.AudioCodec = "opus"
	}
	opts.Sessions = sessions
	opts.Logger = slog.New(slog.DiscardHandler)
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m, s, conn
}

// TestMediaStartFailureReported: signal/provide reports the media state
// before capture has started; when the capture then fails, the client is
// told after the offer (video and audio off) rather than left waiting for
// media that will not come.
func TestMediaStartFailureReported(t *testing.T) {
	m, s, conn := newViewerManager(t, &brokenStream{fakeStream{id: "main"}}, &brokenStream{fakeStream{id: "audio"}})
	if err := m.Request(s, types.SignalRequest{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var video types.SignalVideo
		var audio types.SignalAudio
		rv, okv := conn.lastAfterProvide(types.EventSignalVideo)
		ra, oka := conn.lastAfterProvide(types.EventSignalAudio)
		if okv && oka && json.Unmarshal(rv, &video) == nil && json.Unmarshal(ra, &audio) == nil &&
			video.Disabled && video.ID == "main" && audio.Disabled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a failed capture start: last signal/video %s, signal/audio %s; want both disabled", rv, ra)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestVideoAnsweredWhenChanged: signal/video and signal/audio are answered
// with the new state when a request changes something, and not at all
// when it changes nothing; choosing a quality leaves auto as it was (the
// reference's SetVideo/SetAudio).
func TestVideoAnsweredWhenChanged(t *testing.T) {
	cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"},
		Estimator: config.Estimator{Enabled: true, InitialBitrate: 1_000_000, ReadInterval: time.Second,
			StableDuration: time.Second, UnstableDuration: time.Second, StalledDuration: time.Second,
			DowngradeBackoff: time.Second, UpgradeBackoff: time.Second}}
	m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "hq"}, &fakeStream{id: "lq"}}, &fakeStream{id: "audio"})
	auto := true
	if err := m.Request(s, types.SignalRequest{Video: types.SignalVideoRequest{Auto: &auto}}); err != nil {
		t.Fatal(err)
	}
	count := func(ev types.Event) int {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		n := 0
		for _, e := range conn.events {
			if e.Event == ev {
				n++
			}
		}
		return n
	}
	waitFor(t, "signal/provide and the media state", func() bool { return count(types.EventSignalVideo) == 1 })
	videos, audios := count(types.EventSignalVideo), count(types.EventSignalAudio)
	last := func() types.SignalVideo {
		raw, _ := conn.lastAfterProvide(types.EventSignalVideo)
		var v types.SignalVideo
		_ = json.Unmarshal(raw, &v)
		return v
	}
	on, off := false, true // Disabled
	manual := false        // Auto
	exact := func(id string) *types.VideoSelector { return &types.VideoSelector{ID: id, Type: "exact"} }

	for _, tc := range []struct {
		name    string
		video   *types.SignalVideoRequest
		audio   *types.SignalAudioRequest
		answers bool
		want    types.SignalVideo
	}{
		{"the quality it has", &types.SignalVideoRequest{Selector: exact("hq")}, nil, false, types.SignalVideo{}},
		{"video on while on", &types.SignalVideoRequest{Disabled: &on}, nil, false, types.SignalVideo{}},
		{"another quality keeps auto", &types.SignalVideoRequest{Selector: exact("lq")}, nil, true, types.SignalVideo{ID: "lq", Video: "lq", Auto: true}},
		{"auto off", &types.SignalVideoRequest{Auto: &manual}, nil, true, types.SignalVideo{ID: "lq", Video: "lq"}},
		{"video off", &types.SignalVideoRequest{Disabled: &off}, nil, true, types.SignalVideo{Disabled: true, ID: "lq", Video: "lq"}},
		{"an unknown quality", &types.SignalVideoRequest{Selector: exact("nope")}, nil, false, types.SignalVideo{}},
		{"audio on while on", nil, &types.SignalAudioRequest{Disabled: &on}, false, types.SignalVideo{}},
		{"audio off", nil, &types.SignalAudioRequest{Disabled: &off}, true, types.SignalVideo{}},
	} {
		if tc.video != nil {
			err := m.Video(s, *tc.video)
			if unknown := tc.video.Selector != nil && tc.video.Selector.ID == "nope"; unknown != (err != nil) {
				t.Fatalf("%s: error %v", tc.name, err)
			}
			if tc.answers {
				videos++
			}
		} else {
			_ = m.Audio(s, *tc.audio)
			if tc.answers {
				audios++
			}
		}
		if v, a := count(types.EventSignalVideo), count(types.EventSignalAudio); v != videos || a != audios {
			t.Fatalf("%s: %d signal/video and %d signal/audio, want %d and %d", tc.name, v, a, videos, audios)
		}
		if tc.answers && tc.video != nil {
			if got := last(); got != tc.want {
				t.Fatalf("%s: signal/video %+v, want %+v", tc.name, got, tc.want)
			}
		}
	}
}

// TestPassiveEstimatorNeverReportsAuto: a passive estimator only logs what
// it would do, so the client is never told that auto is on, and asking for
// auto changes nothing it can see: no signal/video comes back.
func TestPassiveEstimatorNeverReportsAuto(t *testing.T) {
	cfg := config.WebRTC{NAT1To1: []string{"127.0.0.1"},
		Estimator: config.Estimator{Enabled: true, Passive: true, InitialBitrate: 1_000_000, ReadInterval: time.Second,
			StableDuration: time.Second, UnstableDuration: time.Second, StalledDuration: time.Second,
			DowngradeBackoff: time.Second, UpgradeBackoff: time.Second}}
	m, s, conn := newManagerWith(t, cfg, []Stream{&fakeStream{id: "hq"}, &fakeStream{id: "lq"}}, &fakeStream{id: "audio"})
	on, off := true, false
	if err := m.Request(s, types.SignalRequest{Video: types.SignalVideoRequest{Auto: &on}}); err != nil {
		t.Fatal(err)
	}
	videos := func() []types.SignalVideo { return recorded[types.SignalVideo](t, conn, types.EventSignalVideo) }
	waitFor(t, "the media state after signal/provide", func() bool { return len(videos()) == 1 })
	if v := videos()[0]; v.Auto || v.ID != "hq" {
		t.Fatalf("first signal/video %+v, want hq without auto", v)
	}
	raw, ok := conn.lastAfterProvide(types.EventSignalProvide)
	if !ok {
		t.Fatal("no signal/provide")
	}
	var provide types.SignalProvide
	if err := json.Unmarshal(raw, &provide); err != nil {
		t.Fatal(err)
	}
	if provide.Video.Auto {
		t.Fatalf("signal/provide reports auto with a passive estimator: %+v", provide.Video)
	}

	for _, auto := range []*bool{&off, &on} {
		if err := m.Video(s, types.SignalVideoRequest{Auto: auto}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(videos()); n != 1 {
		t.Fatalf("%d signal/video after asking for auto, want none: %+v", n-1, videos()[1:])
	}
	// A real change is still answered, and still without auto.
	if err := m.Video(s, types.SignalVideoRequest{Selector: &types.VideoSelector{ID: "lq", Type: "exact"}}); err != nil {
		t.Fatal(err)
	}
	got := videos()
	if len(got) != 2 || got[1] != (types.SignalVideo{ID: "lq", Video: "lq"}) {
		t.Fatalf("signal/video after choosing lq: %+v, want one more {lq lq auto:false}", got[1:])
	}
}
