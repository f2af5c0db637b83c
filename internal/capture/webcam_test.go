package capture

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// rgb is a test colour; yuv is what a BT.601 (limited range) decoder
// shows of it.
type rgb struct{ r, g, b float64 }

func (c rgb) argb() string {
	return fmt.Sprintf("0xff%02x%02x%02x", int(c.r), int(c.g), int(c.b))
}

func (c rgb) yuv() (y, u, v float64) {
	y = 16 + (65.481*c.r+128.553*c.g+24.966*c.b)/255
	u = 128 + (-37.797*c.r-74.203*c.g+112*c.b)/255
	v = 128 + (112*c.r-93.786*c.g-18.214*c.b)/255
	return
}

var (
	orange = rgb{224, 96, 32}
	black  = rgb{0, 0, 0}
)

// yuy2At returns the Y, U and V of pixel (x, y) of a YUY2 frame.
func yuy2At(frame []byte, width, x, y int) (float64, float64, float64) {
	off := y*width*2 + (x&^1)*2
	return float64(frame[off+(x&1)*2]), float64(frame[off+1]), float64(frame[off+3])
}

// near reports whether pixel (x, y) shows c, within what lossy coding and
// scaling leave of a flat colour.
func near(frame []byte, width, x, y int, c rgb) (bool, string) {
	gy, gu, gv := yuy2At(frame, width, x, y)
	wy, wu, wv := c.yuv()
	got := fmt.Sprintf("pixel (%d,%d) YUV %.0f/%.0f/%.0f, want %.0f/%.0f/%.0f", x, y, gy, gu, gv, wy, wu, wv)
	const tol = 10
	ok := abs(gy-wy) <= tol && abs(gu-wu) <= tol && abs(gv-wv) <= tol
	return ok, got
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// sendRTP encodes a live solid-colour picture with encoder and payloader
// (as a client's browser would) and writes each RTP packet to write.
func sendRTP(t *testing.T, encoder string, c rgb, width, height int, write func([]byte)) {
	t.Helper()
	desc := fmt.Sprintf("videotestsrc is-live=true pattern=solid-color foreground-color=%s ! "+
		"video/x-raw,width=%d,height=%d,framerate=30/1 ! %s ! appsink name=rtp sync=false",
		c.argb(), width, height, encoder)
	p, err := gst.New(desc, "rtp", "", func(s gst.Sample) { write(s.Data) })
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		p.Stop()
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
}

// frameSink collects the frames a Webcam decodes.
type frameSink struct {
	mu     sync.Mutex
	n      int
	last   []byte
	sizes  map[int]int
	notify chan struct{}
}

func newFrameSink() *frameSink {
	return &frameSink{sizes: map[int]int{}, notify: make(chan struct{}, 1)}
}

func (f *frameSink) frame(b []byte) {
	f.mu.Lock()
	f.n++
	f.last = b
	f.sizes[len(b)]++
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// wait returns the latest frame once check accepts it, or fails after
// timeout with what the last frame showed.
func (f *frameSink) wait(t *testing.T, timeout time.Duration, check func([]byte) (bool, string)) []byte {
	t.Helper()
	deadline := time.After(timeout)
	why := "no frame decoded"
	for {
		select {
		case <-f.notify:
		case <-deadline:
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("%d frames (sizes %v); last: %s", f.n, f.sizes, why)
		}
		f.mu.Lock()
		last := f.last
		f.mu.Unlock()
		var ok bool
		if ok, why = check(last); ok {
			return last
		}
	}
}

// TestWebcamDecodesCodecs feeds real RTP of each codec a browser may send
// and checks that frames of the configured size and the sent colour come
// out where the device would get them, scaled (and bordered when the
// aspect ratio differs).
func TestWebcamDecodesCodecs(t *testing.T) {
	cases := []struct {
		name, mime, encoder string
		w, h                int // the webcam's size; the client sends 320x240
		border              int // black columns on each side
	}{
		{"vp8", "video/VP8", "vp8enc deadline=1 ! rtpvp8pay pt=96 mtu=1200", 160, 120, 0},
		{"vp9", "video/VP9", "vp9enc deadline=1 cpu-used=8 ! rtpvp9pay pt=98 mtu=1200", 160, 120, 0},
		{"h264", "video/h264", "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! " +
			"video/x-h264,profile=constrained-baseline ! rtph264pay pt=102 mtu=1200 config-interval=-1", 160, 120, 0},
		// 4:3 into 16:9: 120x90 in the middle, 20 black columns each side.
		{"vp8-letterbox", "video/VP8", "vp8enc deadline=1 ! rtpvp8pay pt=96 mtu=1200", 160, 90, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames := newFrameSink()
			w := NewWebcam(WebcamOptions{Device: "/dev/video-unused", Width: tc.w, Height: tc.h, Frames: frames.frame})
			pt := uint8(96)
			if i := strings.Index(tc.encoder, "pt="); i >= 0 {
				_, _ = fmt.Sscanf(tc.encoder[i:], "pt=%d", &pt)
			}
			s, err := w.Open(tc.mime, pt, 90000)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sendRTP(t, tc.encoder, orange, 320, 240, func(pkt []byte) { _ = s.WriteRTP(pkt) })
			frames.wait(t, 15*time.Second, func(f []byte) (bool, string) {
				if len(f) != tc.w*tc.h*2 {
					return false, fmt.Sprintf("%d bytes, want %dx%d YUY2 (%d)", len(f), tc.w, tc.h, tc.w*tc.h*2)
				}
				for _, p := range [][2]int{{tc.w / 2, tc.h / 2}, {tc.border + 4, 4}, {tc.w - tc.border - 5, tc.h - 5}} {
					if ok, why := near(f, tc.w, p[0], p[1], orange); !ok {
						return false, why
					}
				}
				if tc.border > 0 {
					for _, x := range []int{2, tc.w - 3} {
						if ok, why := near(f, tc.w, x, tc.h/2, black); !ok {
							return false, "border: " + why
						}
					}
				}
				return true, ""
			})
		})
	}
}

// TestWebcamRefusesUnsupportedCodec: a codec without a depayloader and
// decoder here is refused with the reason, and leaves the webcam free.
func TestWebcamRefusesUnsupportedCodec(t *testing.T) {
	w := NewWebcam(WebcamOptions{Device: "/dev/video-unused", Width: 160, Height: 120, Frames: func([]byte) {}})
	_, err := w.Open("video/AV1", 45, 90000)
	if err == nil || !strings.Contains(err.Error(), `codec "video/AV1" is not supported`) || !strings.HasPrefix(err.Error(), "capture: webcam: ") {
		t.Fatalf("AV1: got %v, want a clear refusal", err)
	}
	s, err := w.Open("video/VP8", 96, 90000)
	if err != nil {
		t.Fatalf("VP8 after a refused codec: %v", err)
	}
	s.Close()
}

// TestWebcamOneClientAtATime: while one stream plays, a second is refused
// with ErrWebcamInUse; once the first closes, the device is free again.
func TestWebcamOneClientAtATime(t *testing.T) {
	w := NewWebcam(WebcamOptions{Device: "/dev/video-unused", Width: 160, Height: 120, Frames: func([]byte) {}})
	first, err := w.Open("video/VP8", 96, 90000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Open("video/H264", 102, 90000); !errors.Is(err, ErrWebcamInUse) || !strings.Contains(err.Error(), "webcam in use by another client") {
		t.Fatalf("second stream: got %v, want ErrWebcamInUse", err)
	}
	first.Close()
	first.Close() // a second Close must not free someone else's stream
	second, err := w.Open("video/VP8", 96, 90000)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	first.Close()
	if _, err := w.Open("video/VP8", 96, 90000); !errors.Is(err, ErrWebcamInUse) {
		t.Fatalf("a stale Close freed the device: %v", err)
	}
	second.Close()
}

// TestWebcamMissingDevice: with the real sink, a device that does not
// exist fails Open with its name, and does not keep the webcam busy.
func TestWebcamMissingDevice(t *testing.T) {
	w := NewWebcam(WebcamOptions{Device: "/dev/video-neko-missing", Width: 160, Height: 120})
	_, err := w.Open("video/VP8", 96, 90000)
	if err == nil || !strings.Contains(err.Error(), "/dev/video-neko-missing") {
		t.Fatalf("got %v, want an error naming the device", err)
	}
	if _, err := w.Open("video/VP8", 96, 90000); errors.Is(err, ErrWebcamInUse) {
		t.Fatal("a failed Open left the webcam in use")
	}
}

// TestWebcamPipelineChecksSize: sizes YUY2 cannot carry are refused
// before anything starts.
func TestWebcamPipelineChecksSize(t *testing.T) {
	for _, sz := range [][2]int{{0, 120}, {161, 120}, {160, -1}} {
		if _, err := webcamPipeline("video/VP8", 96, 90000, sz[0], sz[1], "fakesink"); err == nil {
			t.Errorf("%dx%d accepted", sz[0], sz[1])
		}
	}
}
