package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// TestCodecs: every video codec with an encoder here reaches a viewer
// that decodes the exact colours painted. AV1 and H.265 cost 70–90 % of a
// core at 720p on this machine, so they run on a smaller screen.
func TestCodecs(t *testing.T) {
	for _, tc := range []struct {
		codec, mime, screen string
	}{
		{"vp8", "video/VP8", ""},
		{"vp9", "video/VP9", ""},
		{"h264", "video/H264", ""},
		{"av1", "video/AV1", "1024x576@30"},
		{"h265", "video/H265", "1024x576@30"},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			opts := map[string]any{"capture.video.codec": tc.codec}
			if tc.screen != "" {
				opts["desktop.screen"] = tc.screen
			}
			s := stack.Start(t, opts)
			paint, err := stack.NewPainter(s.Display, 220, 30, 30)
			if err != nil {
				t.Fatal(err)
			}
			defer paint.Close()
			c := login(t, s, "viewer", "neko")
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			md, err := c.StartMedia(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer md.Close()
			if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 220, 30, 30, 40, 20*time.Second); err != nil {
				t.Fatalf("red: %v", err)
			}
			if !strings.EqualFold(md.Codec(), tc.mime) {
				t.Fatalf("track codec %s, want %s", md.Codec(), tc.mime)
			}
			if err := paint.Fill(30, 60, 210); err != nil {
				t.Fatal(err)
			}
			if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 30, 60, 210, 40, 10*time.Second); err != nil {
				t.Fatalf("blue: %v", err)
			}
			if err := md.WaitFrames(10, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}
