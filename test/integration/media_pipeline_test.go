package integration

import (
	"context"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// TestCustomVideoPipeline: capture.video.pipeline (the shorthand for one
// quality) replaces the screen capture; viewers get what it encodes, a
// solid colour the desktop never shows.
func TestCustomVideoPipeline(t *testing.T) {
	s := stack.Start(t, map[string]any{"capture.video.pipeline": "videotestsrc is-live=true pattern=solid-color foreground-color=0xff20c040 ! " +
		"video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! " +
		"vp8enc deadline=1 cpu-used=16 keyframe-max-dist=30 ! appsink name=appsink"})
	c := login(t, s, "viewer", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := c.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 0x20, 0xc0, 0x40, 40, 15*time.Second); err != nil {
		t.Fatalf("the custom pipeline's colour: %v", err)
	}
	if w, h := md.KeyframeSize(); w != 320 || h != 240 {
		t.Fatalf("keyframes are %dx%d, want the pipeline's 320x240", w, h)
	}
}
