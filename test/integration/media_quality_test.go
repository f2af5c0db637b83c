package integration

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// Two qualities: full size, and half size at a lower bitrate.
var twoQualities = map[string]any{
	"capture.video.ids": []string{"hq", "lq"},
	"capture.video.pipelines": `{
		"hq": {"gst_encoder": "vp8enc", "gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr",
			"target-bitrate": "round(3000 * 1000)", "lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}},
		"lq": {"width": "width / 2", "height": "height / 2", "gst_encoder": "vp8enc",
			"gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr", "target-bitrate": 1000000,
			"lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}}
	}`,
}

func waitKeyframeSize(t *testing.T, md *viewer.Media, w, h int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gw, gh := md.KeyframeSize()
		if gw == w && gh == h {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyframe size %dx%d, want %dx%d", gw, gh, w, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mediaPaused checks that packets stop: the count goes quiet for 700 ms
// within 5 s (packets in flight may take a moment on a loaded machine),
// and then stays quiet as long again.
func mediaPaused(t *testing.T, what string, count func() int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := count()
		time.Sleep(700 * time.Millisecond)
		if count() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: packets still arrive while disabled", what)
		}
	}
	before := count()
	time.Sleep(700 * time.Millisecond)
	if n := count() - before; n > 0 {
		t.Fatalf("%s: %d packets arrived while disabled", what, n)
	}
}

func mediaFlowing(t *testing.T, what string, count func() int64) {
	t.Helper()
	before := count()
	deadline := time.Now().Add(10 * time.Second)
	for count()-before < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d packets after re-enabling", what, count()-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVideoQualities switches one viewer between two configured
// qualities, turns video and audio off and on, all on one peer connection
// (no renegotiation), and checks what it decodes each time.
func TestVideoQualities(t *testing.T) {
	s := stack.Start(t, twoQualities)
	paint, err := stack.NewPainter(s.Display, 220, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	c := login(t, s, "viewer", "neko")
	if !reflect.DeepEqual(c.Init.WebRTC.Videos, []string{"hq", "lq"}) {
		t.Fatalf("system/init webrtc.videos = %v", c.Init.WebRTC.Videos)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	provides := c.Subscribe(types.EventSignalProvide)
	md, err := c.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	<-provides
	if v := md.Provide.Video; v.ID != "hq" || v.Video != "hq" || v.Disabled || v.Auto {
		t.Fatalf("signal/provide video = %+v", v)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 220, 30, 30, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	waitKeyframeSize(t, md, 1280, 720)

	step := func(name string, req types.SignalVideoRequest, want types.SignalVideo) {
		t.Helper()
		got, err := md.SetVideo(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s: signal/video = %+v, want %+v", name, got, want)
		}
	}
	sel := func(id, typ string) *types.VideoSelector { return &types.VideoSelector{ID: id, Type: typ} }
	off, on := true, false

	step("lower", types.SignalVideoRequest{Selector: sel("hq", "lower")}, types.SignalVideo{ID: "lq", Video: "lq"})
	waitKeyframeSize(t, md, 640, 360)
	if err := paint.Fill(30, 60, 210); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 30, 60, 210, 40, 10*time.Second); err != nil {
		t.Fatalf("lq: %v", err)
	}

	step("higher", types.SignalVideoRequest{Selector: sel("lq", "higher")}, types.SignalVideo{ID: "hq", Video: "hq"})
	waitKeyframeSize(t, md, 1280, 720)

	// An unknown quality changes nothing (no answer); the next request
	// is answered with the state, still hq.
	if err := c.Send(ctx, types.EventSignalVideo, types.SignalVideoRequest{Selector: sel("nope", "exact")}); err != nil {
		t.Fatal(err)
	}
	step("exact lq", types.SignalVideoRequest{Selector: sel("lq", "exact")}, types.SignalVideo{ID: "lq", Video: "lq"})
	step("nearest unknown", types.SignalVideoRequest{Selector: sel("nope", "nearest")}, types.SignalVideo{ID: "hq", Video: "hq"})

	vpkts := func() int64 { n, _, _, _ := md.Stats(); return n }
	apkts := func() int64 { _, _, n, _ := md.Stats(); return n }
	step("video off", types.SignalVideoRequest{Disabled: &off}, types.SignalVideo{Disabled: true, ID: "hq", Video: "hq"})
	mediaPaused(t, "video", vpkts)
	step("video on", types.SignalVideoRequest{Disabled: &on}, types.SignalVideo{ID: "hq", Video: "hq"})
	mediaFlowing(t, "video", vpkts)
	if err := md.WaitFrames(5, 10*time.Second); err != nil {
		t.Fatalf("after video on: %v", err)
	}

	a, err := md.SetAudio(ctx, types.SignalAudioRequest{Disabled: &off})
	if err != nil || !a.Disabled {
		t.Fatalf("audio off: %+v %v", a, err)
	}
	mediaPaused(t, "audio", apkts)
	if a, err = md.SetAudio(ctx, types.SignalAudioRequest{Disabled: &on}); err != nil || a.Disabled {
		t.Fatalf("audio on: %+v %v", a, err)
	}
	mediaFlowing(t, "audio", apkts)

	// All on the first peer connection.
	if st := md.PC().ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("peer state %s", st)
	}
	select {
	case raw := <-provides:
		t.Fatalf("a second signal/provide: %s", raw)
	default:
	}
}

// TestRequestWithSelector: signal/request can pick the quality and start
// with audio off.
func TestRequestWithSelector(t *testing.T) {
	s := stack.Start(t, twoQualities)
	paint, err := stack.NewPainter(s.Display, 20, 200, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	c := login(t, s, "viewer", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	off := true
	md, err := c.StartMediaWith(ctx, viewer.MediaOptions{Request: types.SignalRequest{
		Video: types.SignalVideoRequest{Selector: &types.VideoSelector{ID: "lq", Type: "exact"}},
		Audio: types.SignalAudioRequest{Disabled: &off},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if md.Provide.Video.ID != "lq" || !md.Provide.Audio.Disabled {
		t.Fatalf("signal/provide video %+v audio %+v", md.Provide.Video, md.Provide.Audio)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 20, 200, 40, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	waitKeyframeSize(t, md, 640, 360)
	if _, _, a, _ := md.Stats(); a != 0 {
		t.Fatalf("%d audio packets with audio disabled", a)
	}
}

// TestSignalRestartAndClientOffer: an ICE restart asked by the client
// (signal/restart → server offer with new credentials → signal/answer) and
// a renegotiation offered by the client (signal/offer → signal/answer)
// both keep the same peer and its video.
func TestSignalRestartAndClientOffer(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 200, 200, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	c := login(t, s, "viewer", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	md, err := c.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 200, 20, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	// ICE restart (the viewer answers signal/restart by itself).
	raw, err := md.Signal(ctx, types.EventSignalRestart, nil, types.EventSignalRestart)
	if err != nil {
		t.Fatalf("signal/restart: %v", err)
	}
	restart := decode[types.SignalDescription](t, raw)
	if ufrag(restart.SDP) == "" || ufrag(restart.SDP) == ufrag(md.Provide.SDP) {
		t.Fatalf("restart offer keeps the ICE credentials (%q)", ufrag(restart.SDP))
	}
	time.Sleep(time.Second)
	start := time.Now()
	if err := paint.Fill(20, 200, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 20, 200, 200, 40, 15*time.Second); err == nil {
		t.Logf("after the ICE restart, a change shows in %v", time.Since(start))
	} else {
		vp, vb, ap, fr := md.Stats()
		t.Fatalf("after ICE restart: %v (video %d pkts %d bytes, audio %d, frames %d, keyframes %d, state %s)", err, vp, vb, ap, fr, md.Keyframes(), md.PC().ConnectionState())
	}

	// The client offers; the server answers.
	pc := md.PC()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	raw, err = md.Signal(ctx, types.EventSignalOffer, types.SignalDescription{SDP: offer.SDP}, types.EventSignalAnswer)
	if err != nil {
		t.Fatalf("signal/offer: %v", err)
	}
	answer := decode[types.SignalDescription](t, raw)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
		t.Fatalf("server's answer: %v", err)
	}
	start = time.Now()
	if err := paint.Fill(200, 20, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 20, 200, 40, 15*time.Second); err == nil {
		t.Logf("after the client's offer, a change shows in %v", time.Since(start))
	} else {
		t.Fatalf("after client offer: %v", err)
	}
	if st := pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("peer state %s", st)
	}
}

func ufrag(sdp string) string {
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "a=ice-ufrag:") {
			return strings.TrimPrefix(l, "a=ice-ufrag:")
		}
	}
	return ""
}

// TestResizeKeepsViewers: after a screen size change the pipelines are
// rebuilt for the new size; viewers keep their peer and get a keyframe of
// the new size at once, including a scaled quality.
func TestResizeKeepsViewers(t *testing.T) {
	s := stack.Start(t, twoQualities)
	paint, err := stack.NewPainter(s.Display, 220, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	admin := login(t, s, "admin", "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hq, err := admin.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hq.Close()
	lq, err := login(t, s, "viewer", "neko").StartMediaWith(ctx, viewer.MediaOptions{Request: types.SignalRequest{
		Video: types.SignalVideoRequest{Selector: &types.VideoSelector{ID: "lq", Type: "exact"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	waitKeyframeSize(t, hq, 1280, 720)
	waitKeyframeSize(t, lq, 640, 360)

	updated := admin.Subscribe(types.EventScreenUpdated)
	start := time.Now()
	if err := admin.Send(ctx, types.EventScreenSet, types.ScreenSize{Width: 1024, Height: 576, Rate: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.Wait(updated, 10*time.Second); err != nil {
		t.Fatalf("screen/updated: %v", err)
	}
	waitKeyframeSize(t, hq, 1024, 576)
	waitKeyframeSize(t, lq, 512, 288)
	t.Logf("new size reached both viewers %v after screen/set", time.Since(start))
	if err := paint.Fill(30, 60, 210); err != nil {
		t.Fatal(err)
	}
	for _, md := range []*viewer.Media{hq, lq} {
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 30, 60, 210, 40, 10*time.Second); err != nil {
			t.Fatalf("after resize: %v", err)
		}
		if st := md.PC().ConnectionState(); st != webrtc.PeerConnectionStateConnected {
			t.Fatalf("peer state %s", st)
		}
	}
}

// TestChangesRightAfterRequest: signal/video and signal/audio sent the
// moment signal/provide arrives (while the server may still be starting
// the capture it began for signal/request) apply after that start, not
// before it: the viewer ends on the quality and audio state it asked for
// last.
func TestChangesRightAfterRequest(t *testing.T) {
	s := stack.Start(t, twoQualities)
	paint, err := stack.NewPainter(s.Display, 200, 120, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	c := login(t, s, "viewer", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provides := c.Subscribe(types.EventSignalProvide)
	videos := c.Subscribe(types.EventSignalVideo)
	sent := make(chan error, 1)
	off := true
	go func() {
		if _, err := viewer.Wait(provides, 10*time.Second); err != nil {
			sent <- err
			return
		}
		err := c.Send(ctx, types.EventSignalVideo, types.SignalVideoRequest{Selector: &types.VideoSelector{ID: "lq", Type: "exact"}})
		if err == nil {
			err = c.Send(ctx, types.EventSignalAudio, types.SignalAudioRequest{Disabled: &off})
		}
		sent <- err
	}()
	md, err := c.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// The answer to the request (hq), then the one to signal/video (lq).
	var last types.SignalVideo
	deadline := time.After(10 * time.Second)
	for last.ID != "lq" {
		select {
		case raw := <-videos:
			if err := json.Unmarshal(raw, &last); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("no signal/video with lq; last %+v", last)
		}
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 120, 20, 40, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	waitKeyframeSize(t, md, 640, 360)
	// Still lq a while later: an initial start applied late would switch
	// the track back to hq (at once: a new pipeline starts at a keyframe).
	mediaPaused(t, "audio", func() int64 { _, _, n, _ := md.Stats(); return n })
	if w, h := md.KeyframeSize(); w != 640 || h != 360 {
		t.Fatalf("the viewer went back to %dx%d after choosing lq", w, h)
	}
}
