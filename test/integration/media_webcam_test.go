package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// The server's webcam size in these tests; clients send 320x240.
const webcamW, webcamH = 160, 120

// colour is an RGB test colour; yuv is what a BT.601 (limited range)
// decoder shows of it.
type colour struct{ r, g, b float64 }

var (
	camOrange = colour{224, 96, 32}
	camBlue   = colour{32, 96, 224}
)

func (c colour) yuv() (y, u, v float64) {
	return 16 + (65.481*c.r+128.553*c.g+24.966*c.b)/255,
		128 + (-37.797*c.r-74.203*c.g+112*c.b)/255,
		128 + (112*c.r-93.786*c.g-18.214*c.b)/255
}

// shows reports whether the middle of a YUY2 frame of the server's webcam
// size shows c.
func (c colour) shows(frame []byte) (bool, string) {
	if len(frame) != webcamW*webcamH*2 {
		return false, fmt.Sprintf("%d bytes, want %dx%d YUY2 (%d)", len(frame), webcamW, webcamH, webcamW*webcamH*2)
	}
	off := webcamH/2*webcamW*2 + webcamW/2*2 // even x: Y U Y V
	gy, gu, gv := float64(frame[off]), float64(frame[off+1]), float64(frame[off+3])
	wy, wu, wv := c.yuv()
	const tol = 10
	ok := abs(gy-wy) <= tol && abs(gu-wu) <= tol && abs(gv-wv) <= tol
	return ok, fmt.Sprintf("middle YUV %.0f/%.0f/%.0f, want %.0f/%.0f/%.0f", gy, gu, gv, wy, wu, wv)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// webcamFrames records what the server's webcam pipeline decodes (the
// stack's replacement for the v4l2loopback device).
type webcamFrames struct {
	mu   sync.Mutex
	n    int
	last []byte
}

func (f *webcamFrames) frame(b []byte) {
	f.mu.Lock()
	f.n, f.last = f.n+1, b
	f.mu.Unlock()
}

func (f *webcamFrames) get() (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.last
}

// startWebcamStack runs a stack whose webcam is enabled, with a device
// that exists (a plain file: the frames never reach it) unless missing.
func startWebcamStack(t *testing.T, opts map[string]any, missing bool) (*stack.Stack, *webcamFrames) {
	t.Helper()
	dev := filepath.Join(t.TempDir(), "video0")
	if !missing {
		if err := os.WriteFile(dev, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	all := map[string]any{
		"capture.webcam.enabled": true,
		"capture.webcam.device":  dev,
		"capture.webcam.width":   webcamW,
		"capture.webcam.height":  webcamH,
	}
	for k, v := range opts {
		all[k] = v
	}
	frames := &webcamFrames{}
	return stack.StartWith(t, all, stack.Extra{WebcamFrames: frames.frame}), frames
}

// camera is a test client's webcam: a solid colour encoded to VP8 and
// sent on the video transceiver the server offers.
type camera struct {
	pc   *webrtc.PeerConnection
	plis atomic.Int32 // keyframe requests received from the server
	// reports counts the server's receiver reports on the camera's
	// stream: proof that its packets reach the server.
	reports atomic.Int32
}

// sendWebcam answers the server's offer with a camera showing col, as a
// browser sharing its webcam does. The encoder runs from before the
// connection, so its first keyframe is lost (a track drops what it gets
// before it is bound); with keyframeDist 0 it sends no other keyframe
// unasked, so the server decodes only if it asks for one (PLI).
func sendWebcam(t *testing.T, c *viewer.Client, col colour, keyframeDist int) *camera {
	t.Helper()
	track, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "webcam", "webcam")
	if keyframeDist <= 0 {
		keyframeDist = 1 << 20
	}
	enc, err := gst.New(fmt.Sprintf("videotestsrc is-live=true pattern=solid-color foreground-color=0xff%02x%02x%02x ! "+
		"video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 keyframe-max-dist=%d ! appsink name=appsink sync=false",
		int(col.r), int(col.g), int(col.b), keyframeDist), "appsink", "",
		func(s gst.Sample) { _ = track.WriteSample(media.Sample{Data: s.Data, Duration: time.Second / 30}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Stop)
	pc, sender := upstreamPeer(t, c, track)
	cam := &camera{pc: pc}
	ssrc := uint32(sender.GetParameters().Encodings[0].SSRC)
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication:
					cam.plis.Add(1)
					enc.ForceKeyframe()
				case *rtcp.ReceiverReport:
					for _, r := range p.Reports {
						if r.SSRC == ssrc {
							cam.reports.Add(1)
						}
					}
				}
			}
		}
	}()
	for deadline := time.Now().Add(15 * time.Second); pc.ConnectionState() != webrtc.PeerConnectionStateConnected; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the camera's peer did not connect")
		}
	}
	return cam
}

// TestWebcamUpstream: a client with can_share_media sends its camera; the
// server asks it for a keyframe and decodes its picture, at the
// configured size, into the webcam. A second client sending at the same
// time is refused: the webcam keeps showing the first.
func TestWebcamUpstream(t *testing.T) {
	s, frames := startWebcamStack(t, nil, false)
	first := sendWebcam(t, login(t, s, "camera", "neko"), camOrange, 0)
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, last := frames.get()
		ok, why := camOrange.shows(last)
		if ok {
			t.Logf("webcam: %d frames, %s", n, why)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webcam did not show the client's camera: %d frames, %s (%d keyframe requests, %d receiver reports)",
				n, why, first.plis.Load(), first.reports.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if first.plis.Load() == 0 {
		t.Fatal("decoded without a keyframe request: the test does not depend on the PLI it means to check")
	}

	second := sendWebcam(t, login(t, s, "other", "neko"), camBlue, 15)
	before, _ := frames.get()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if _, last := frames.get(); last != nil {
			if ok, why := camOrange.shows(last); !ok {
				t.Fatalf("the webcam stopped showing the first client while a second sends: %s", why)
			}
		}
	}
	if after, _ := frames.get(); after <= before {
		t.Fatalf("the first client's frames stopped (%d → %d)", before, after)
	}
	if second.reports.Load() == 0 {
		t.Fatal("nothing of the second client reached the server: its refusal is not tested")
	}
	if n := second.plis.Load(); n != 0 {
		t.Fatalf("the refused client was asked for %d keyframes", n)
	}
}

// TestWebcamRefused: without can_share_media, or with the device missing,
// a client's camera is not played (its encoder makes keyframes by itself,
// so anything played would decode).
func TestWebcamRefused(t *testing.T) {
	cases := []struct {
		name    string
		opts    map[string]any
		missing bool
	}{
		{"no-permission", map[string]any{"member.multiuser.user_profile": `{"can_share_media": false}`}, false},
		{"device-missing", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, frames := startWebcamStack(t, tc.opts, tc.missing)
			cam := sendWebcam(t, login(t, s, "camera", "neko"), camOrange, 15)
			time.Sleep(3 * time.Second)
			if cam.reports.Load() == 0 {
				t.Fatal("nothing of the client reached the server: the refusal is not tested")
			}
			if n, _ := frames.get(); n != 0 {
				t.Fatalf("%d frames of a refused camera were decoded", n)
			}
			if n := cam.plis.Load(); n != 0 {
				t.Fatalf("a refused camera was asked for %d keyframes", n)
			}
		})
	}
}

// TestWebcamReconnect: a client that reconnects (a new signal/request
// replaces its peer) gets the webcam back for its new camera. (The old
// peer frees the device when it closes; the race this prevents, with
// pion's background close, is too narrow to hit here reliably.)
func TestWebcamReconnect(t *testing.T) {
	s, frames := startWebcamStack(t, nil, false)
	c := login(t, s, "camera", "neko")
	waitShows := func(col colour, what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, last := frames.get()
			if ok, _ := col.shows(last); ok {
				return
			}
			if time.Now().After(deadline) {
				_, why := col.shows(last)
				t.Fatalf("%s: the webcam does not show it: %d frames, %s", what, n, why)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sendWebcam(t, c, camOrange, 15)
	waitShows(camOrange, "first camera")
	sendWebcam(t, c, camBlue, 15)
	waitShows(camBlue, "camera after reconnecting")
}
