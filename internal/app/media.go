package app

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/capture"
	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/webrtc"
	"github.com/neko-webrtc/neko/pkg/types"
)

// newMedia builds the capture streams: the video qualities (checked now,
// so a missing encoder fails the start) and audio. Nothing runs until a
// viewer asks.
func (a *App) newMedia(display, pulseServer string) error {
	cfg := a.cfg.Capture
	var err error
	screen := func() capture.Screen {
		if a.desktop != nil {
			if w, h, r, err := a.desktop.ScreenSize(); err == nil {
				return capture.Screen{Width: w, Height: h, Rate: r}
			}
		}
		s := a.cfg.Desktop.Screen
		return capture.Screen{Width: s.Width, Height: s.Height, Rate: s.Rate}
	}
	// One capture of the screen for every pipeline that encodes it.
	frames := capture.NewFrames(display, a.log)
	a.video, err = capture.NewVideos(capture.VideoOptions{
		Config:  cfg,
		Display: display,
		Frames:  frames,
		Screen:  screen,
		// v3 clients draw the cursor from the data channel; v2 clients
		// (legacy mode) get a quality of their own with it drawn in,
		// encoded only while a v2 client watches.
		ShowPointer: false,
		Legacy:      a.cfg.Legacy.Enabled,
		MaxFPS:      a.cfg.Legacy.MaxFPS,
		BitrateKbps: a.cfg.Legacy.VideoBitrate,
		Logger:      a.log,
	})
	if err != nil {
		return err
	}
	if a.cast, err = capture.NewScreencast(capture.ScreencastOptions{
		Enabled: cfg.Screencast, Display: display, Rate: cfg.ScreencastRate, Quality: cfg.ScreencastQuality,
		Pipeline: cfg.ScreencastPipeline, Frames: frames, Screen: screen, Logger: a.log,
	}); err != nil {
		return err
	}
	a.rtmp = capture.NewBroadcast(capture.BroadcastOptions{
		Display: display, AudioServer: pulseServer, AudioDevice: cfg.AudioDevice,
		Pipeline: cfg.BroadcastPipeline, Preset: cfg.BroadcastPreset,
		VideoKbps: cfg.BroadcastVideoKbps, AudioKbps: cfg.BroadcastAudioKbps, FPS: a.cfg.Desktop.Screen.Rate,
		Frames: frames, Screen: screen,
		// Admins follow the broadcast (started, stopped, failed).
		OnStatus: func(active bool, url string) {
			if a.sessions != nil {
				a.sessions.BroadcastAdmins(types.EventBroadcastStatus, types.BroadcastStatus{IsActive: active, URL: url})
			}
		},
		Logger: a.log,
	})
	if cfg.BroadcastURL != "" && cfg.BroadcastAutostart {
		if err := a.rtmp.Start(cfg.BroadcastURL); err != nil {
			a.log.Warn("capture.broadcast.url: broadcast not started", "err", err)
		}
	}
	a.audio = capture.NewStream("audio", "audio", func() (string, error) {
		if cfg.AudioPipeline != "" {
			return capture.CustomPipeline(cfg.AudioPipeline, display, cfg.AudioDevice)
		}
		return capture.AudioPipeline(capture.AudioParams{Server: pulseServer, Device: cfg.AudioDevice, Codec: cfg.AudioCodec,
			BitrateKbps: a.cfg.Legacy.AudioBitrate})
	}, a.log)
	return nil
}

// roomMedia serves the REST room endpoints from the screencast and the
// broadcast, with the reference's status codes.
type roomMedia struct {
	cast *capture.Screencast
	rtmp *capture.Broadcast // the RTMP broadcast
}

var _ api.Media = roomMedia{}

func (m roomMedia) ScreencastEnabled() bool { return m.cast.Enabled() }

func (m roomMedia) ScreencastImage(ctx context.Context) ([]byte, error) { return m.cast.Image(ctx) }

func (m roomMedia) BroadcastStart(url string) error {
	err := m.rtmp.Start(url)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, capture.ErrBroadcastActive):
		return api.Error(http.StatusUnprocessableEntity, "server is already broadcasting")
	case errors.Is(err, capture.ErrBroadcastURL):
		return api.Error(http.StatusBadRequest, err.Error())
	}
	return &api.HTTPError{Code: http.StatusInternalServerError, Msg: "cannot start broadcast", Err: err}
}

func (m roomMedia) BroadcastStop() error {
	if err := m.rtmp.Stop(); err != nil {
		return api.Error(http.StatusUnprocessableEntity, "server is not broadcasting")
	}
	return nil
}

func (m roomMedia) BroadcastStatus() types.BroadcastStatus {
	active, url := m.rtmp.Status()
	return types.BroadcastStatus{IsActive: active, URL: url}
}

// videoStreams are the qualities as the WebRTC manager takes them.
func (a *App) videoStreams() []webrtc.Stream {
	var out []webrtc.Stream
	for _, s := range a.video.Streams() {
		out = append(out, s)
	}
	return out
}

// cursorOptions report the desktop's cursor to viewers whose data channel
// opens.
func (a *App) cursorOptions() (func() (webrtc.CursorImage, bool), func() (int, int, bool)) {
	image := func() (webrtc.CursorImage, bool) {
		c, err := a.desktop.CursorImage()
		if err != nil {
			return webrtc.CursorImage{}, false
		}
		return toCursor(c), true
	}
	pointer := func() (int, int, bool) {
		x, y, err := a.desktop.CursorPosition()
		return x, y, err == nil
	}
	return image, pointer
}

// wireCursor forwards cursor changes and the host's pointer moves to the
// viewers' data channels.
func (a *App) wireCursor() {
	a.desktop.OnCursorImage(func(c desktop.CursorImage) { a.webrtc.SetCursorImage(toCursor(c)) })
	a.desktop.OnCursorPosition(a.webrtc.SetCursorPosition)
}

func toCursor(c desktop.CursorImage) webrtc.CursorImage {
	return webrtc.CursorImage{Width: c.Width, Height: c.Height, Xhot: c.Xhot, Yhot: c.Yhot, PNG: c.PNG}
}

// upstream returns what plays clients' microphones (nil when
// capture.microphone.enabled is off) and webcams (nil, with the reason,
// when capture.webcam.enabled is off or the device is missing).
func (a *App) upstream(pulseServer string) (webrtc.Microphone, webrtc.Webcam, string) {
	cfg := a.cfg.Capture
	var mic webrtc.Microphone
	if cfg.MicrophoneEnabled {
		mic = microphone{capture.NewMicrophone(pulseServer, cfg.MicrophoneDevice, a.log.With("component", "microphone"))}
	}
	if !cfg.WebcamEnabled {
		return mic, nil, "capture.webcam.enabled is off"
	}
	// Checked once at start: the module is loaded on the host, before
	// neko runs; a device that vanishes later fails each client's Open.
	if _, err := os.Stat(cfg.WebcamDevice); err != nil {
		return mic, nil, "capture.webcam.device " + cfg.WebcamDevice + " is missing (it needs the v4l2loopback kernel module)"
	}
	cam := capture.NewWebcam(capture.WebcamOptions{
		Device: cfg.WebcamDevice, Width: cfg.WebcamWidth, Height: cfg.WebcamHeight,
		Frames: a.opts.WebcamFrames, Logger: a.log.With("component", "webcam"),
	})
	return mic, webcam{cam}, ""
}

type microphone struct{ m *capture.Microphone }

func (m microphone) Open(mimeType string, pt uint8, clockRate uint32) (webrtc.RTPPlayer, error) {
	s, err := m.m.Open(mimeType, pt, clockRate)
	if err != nil {
		// Not s: a nil *MicrophoneStream would be a non-nil RTPPlayer.
		return nil, err
	}
	return s, nil
}

type webcam struct{ w *capture.Webcam }

func (w webcam) Open(mimeType string, pt uint8, clockRate uint32) (webrtc.RTPPlayer, error) {
	s, err := w.w.Open(mimeType, pt, clockRate)
	if err != nil {
		// Not s: a nil *WebcamStream would be a non-nil RTPPlayer.
		return nil, err
	}
	return s, nil
}

// apiDesktop is the desktop as the REST API sees it, with screenshots
// encoded by GStreamer (libjpeg-turbo): ~3x faster than Go's encoder at
// 1080p.
type apiDesktop struct {
	*desktop.Desktop
	display string
}

func (d apiDesktop) ScreenshotJPEG(quality int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return capture.Screenshot(ctx, d.display, quality)
}

// fetchPublicIP asks webrtc.ip_retrieval_url for the public address when
// webrtc.nat1to1 is empty (as the reference does); the channel yields the
// address, or an invalid one when there is none.
func (a *App) fetchPublicIP(ctx context.Context) <-chan netip.Addr {
	ch := make(chan netip.Addr, 1)
	url := a.cfg.WebRTC.IPRetrievalURL
	if len(a.cfg.WebRTC.NAT1To1) > 0 || url == "" {
		ch <- netip.Addr{}
		return ch
	}
	go func() {
		addr, err := webrtc.FetchPublicIP(ctx, url)
		if err != nil {
			a.log.Warn("public IP retrieval failed; offering the local addresses only (set webrtc.nat1to1 behind NAT)", "err", err)
		} else {
			a.log.Info("public IP retrieved; offered beside the local addresses", "ip", addr.String(), "url", url)
		}
		ch <- addr
	}()
	return ch
}
