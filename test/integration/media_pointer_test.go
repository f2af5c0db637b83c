package integration

import (
	"context"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// TestPointerOnlyInLegacyVideo: v3 clients draw the cursor themselves from
// the data channel, so their video has none; the "legacy" quality for v2
// clients has it drawn in. system/init does not offer "legacy" to v3.
func TestPointerOnlyInLegacyVideo(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 200, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	host := login(t, s, "host", "admin")
	for _, id := range host.Init.WebRTC.Videos {
		if id == "legacy" {
			t.Fatalf("system/init offers the legacy quality to a v3 client: %v", host.Init.WebRTC.Videos)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hostCh := host.Subscribe(types.EventControlHost)
	_ = host.Send(ctx, types.EventControlRequest, nil)
	waitHost(t, hostCh, host.SessionID)
	// The default X cursor (a black-and-white cross) over the centre.
	_ = host.Send(ctx, types.EventControlMove, types.ControlPos{X: 640, Y: 360})
	waitPointer(t, paint, 640, 360)

	cx, cy := viewer.FrameW/2, viewer.FrameH/2
	v3 := login(t, s, "v3", "neko")
	plain, err := v3.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.WaitColour(cx, cy, 200, 30, 30, 30, 10*time.Second); err != nil {
		t.Fatalf("v3 video at the pointer: %v (a cursor is drawn in?)", err)
	}

	v2 := login(t, s, "v2", "neko")
	legacy, err := v2.StartMediaWith(ctx, viewer.MediaOptions{Request: types.SignalRequest{
		Video: types.SignalVideoRequest{Selector: &types.VideoSelector{ID: "legacy", Type: "exact"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	// Some frame of the legacy video differs from the background at the
	// pointer: the cursor is drawn there.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-legacy.Frames():
			r, g, b := f.Pixel(cx, cy)
			if absDiff(r, 200) > 30 || absDiff(g, 30) > 30 || absDiff(b, 30) > 30 {
				return
			}
		case <-deadline:
			t.Fatal("the legacy video shows no cursor at the pointer")
		}
	}
}

func absDiff(a uint8, b int) int {
	d := int(a) - b
	if d < 0 {
		return -d
	}
	return d
}
