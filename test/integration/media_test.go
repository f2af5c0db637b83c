// Package integration tests the whole server with real components: its own
// Xorg, PulseAudio and GStreamer, and a pion viewer decoding real frames.
package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func login(t *testing.T, s *stack.Stack, name, pass string) *viewer.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := viewer.Login(ctx, s.URL, name, pass)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestVideoAndAudioReachViewer paints colours on the X display and checks
// that a WebRTC viewer decodes exactly those colours, live.
func TestVideoAndAudioReachViewer(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 220, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()

	c := login(t, s, "viewer", "neko")
	if c.Init.ScreenSize.Width != 1280 || c.Init.ScreenSize.Height != 720 {
		t.Fatalf("system/init screen_size = %+v", c.Init.ScreenSize)
	}
	if len(c.Init.WebRTC.Videos) == 0 {
		t.Fatal("system/init lists no videos")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := c.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()

	f, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 220, 30, 30, 40, 15*time.Second)
	if err != nil {
		t.Fatalf("red: %v", err)
	}
	t.Logf("first red frame %v after signal/request", f.At.Sub(md.RequestedAt))

	if err := paint.Fill(30, 60, 210); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 30, 60, 210, 40, 10*time.Second); err != nil {
		t.Fatalf("blue after repaint: %v", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, audio, _ := md.Stats()
		if audio > 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d audio packets arrived", audio)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The server reports the session as watching.
	var who types.SessionData
	if _, err := c.Do(ctx, "GET", "api/whoami", nil, &who); err != nil || !who.State.IsWatching {
		t.Fatalf("whoami after media: %+v, %v", who.State, err)
	}
}

// TestSecondViewerSharesStream checks a late viewer gets a picture at once
// (a keyframe is forced) from the already running pipeline.
func TestSecondViewerSharesStream(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 20, 200, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	var medias []*viewer.Media
	for _, name := range []string{"one", "two", "three"} {
		c := login(t, s, name, "neko")
		md, err := c.StartMedia(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer md.Close()
		medias = append(medias, md)
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 20, 200, 40, 40, 10*time.Second); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Closing one viewer leaves the others streaming.
	medias[0].Close()
	if err := paint.Fill(200, 200, 20); err != nil {
		t.Fatal(err)
	}
	for _, md := range medias[1:] {
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 200, 20, 40, 10*time.Second); err != nil {
			t.Fatalf("after one viewer left: %v", err)
		}
	}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}
