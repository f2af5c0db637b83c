package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// Errors of the broadcast.
var (
	ErrBroadcastActive   = errors.New("broadcast is already active")
	ErrBroadcastInactive = errors.New("broadcast is not active")
	ErrBroadcastURL      = errors.New("broadcast url is missing or invalid")
)

// BroadcastOptions describe the RTMP broadcast (capture.broadcast.*).
type BroadcastOptions struct {
	Display     string
	AudioServer string // PulseAudio server; empty = the default
	AudioDevice string
	// Pipeline is a custom description with {url}, {display} and {device}
	// placeholders; empty: flvmux of x264 and AAC to rtmpsink.
	Pipeline  string
	Preset    string // x264 speed preset
	VideoKbps int
	AudioKbps int
	FPS       int
	// Frames feeds the default pipeline's video (nil: frames of its
	// own); Screen is the screen when it starts.
	Frames *Frames
	Screen func() Screen
	// OnStatus is told every change (started, stopped, failed).
	OnStatus func(active bool, url string)
	Logger   *slog.Logger
}

// Broadcast sends the desktop (video and audio) to one RTMP url. It has
// a pipeline of its own (a different encoder and muxer than WebRTC), which
// runs only while broadcasting. A failing url ends the broadcast and
// reports it; the rest of the server is not affected.
type Broadcast struct {
	o   BroadcastOptions
	log *slog.Logger

	mu       sync.Mutex
	url      string
	pipeline *gst.Pipeline
	detach   func() // stops the pipeline's feed
}

// NewBroadcast makes an inactive broadcast.
func NewBroadcast(o BroadcastOptions) *Broadcast {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FPS <= 0 {
		o.FPS = 25
	}
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	if o.VideoKbps <= 0 {
		o.VideoKbps = 4096
	}
	if o.AudioKbps <= 0 {
		o.AudioKbps = 128
	}
	if o.Frames == nil {
		o.Frames = NewFrames(o.Display, o.Logger)
	}
	if o.Screen == nil {
		o.Screen = func() Screen { return Screen{Width: 1280, Height: 720, Rate: 30} }
	}
	return &Broadcast{o: o, log: o.Logger.With("component", "broadcast")}
}

// description builds the pipeline for u, and what feeds it.
func (b *Broadcast) description(u string) (string, *Feed) {
	o := b.o
	if o.Pipeline != "" {
		return strings.NewReplacer("{url}", u, "{display}", o.Display, "{device}", o.AudioDevice).Replace(o.Pipeline), nil
	}
	pulse := "pulsesrc"
	if o.AudioServer != "" {
		pulse += " server=" + quote(o.AudioServer)
	}
	if o.AudioDevice != "" {
		pulse += " device=" + quote(o.AudioDevice)
	}
	sc := o.Screen()
	feed := Feed{Width: sc.Width, Height: sc.Height, FPS: float64(o.FPS), Pointer: true, Follow: true}
	return fmt.Sprintf("flvmux name=mux streamable=true ! rtmpsink location=%s "+
		"%s ! audio/x-raw,channels=2 ! audioconvert ! audioresample ! voaacenc bitrate=%d ! queue ! mux. "+
		"%s ! videoconvert ! video/x-raw,format=I420 "+
		"! x264enc threads=1 bframes=0 key-int-max=%d bitrate=%d tune=zerolatency speed-preset=%s ! video/x-h264,profile=main ! h264parse ! queue ! mux.",
		quote(u+" live=1"), pulse, o.AudioKbps*1000, feed.Appsrc(), o.FPS*2, o.VideoKbps, o.Preset), &feed
}

// Start starts broadcasting to u.
func (b *Broadcast) Start(u string) error {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > 2048 || strings.ContainsAny(u, "\"'\n\r") {
		return ErrBroadcastURL
	}
	if b.o.Pipeline == "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "rtmp" && p.Scheme != "rtmps") || p.Host == "" {
			return fmt.Errorf("%w: want rtmp://host/…", ErrBroadcastURL)
		}
	}
	b.mu.Lock()
	if b.pipeline != nil {
		b.mu.Unlock()
		return ErrBroadcastActive
	}
	desc, feed := b.description(u)
	src := ""
	if feed != nil {
		src = "src"
	}
	p, err := gst.New(desc, "", src, nil)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("capture: broadcast: %w", err)
	}
	if err := p.Start(); err != nil {
		p.Stop()
		b.mu.Unlock()
		return fmt.Errorf("capture: broadcast: %w", err)
	}
	b.pipeline, b.url = p, u
	if feed != nil {
		b.detach = b.o.Frames.Attach(p, *feed)
	}
	b.mu.Unlock()
	b.log.Info("broadcast started", "url", redact(u))
	go b.supervise(p)
	b.notify(true, u)
	return nil
}

// supervise ends the broadcast when its pipeline fails (unreachable or
// refusing server, network loss).
func (b *Broadcast) supervise(p *gst.Pipeline) {
	var err error
	select {
	case err = <-p.Errors():
	case <-p.Done():
		return
	}
	if err == nil {
		return
	}
	b.mu.Lock()
	if b.pipeline != p {
		b.mu.Unlock()
		return
	}
	b.pipeline, b.url = nil, ""
	b.stopFeedLocked()
	b.mu.Unlock()
	p.Stop()
	b.log.Warn("broadcast failed", "err", err)
	b.notify(false, "")
}

// Stop ends the broadcast.
func (b *Broadcast) Stop() error {
	b.mu.Lock()
	p := b.pipeline
	if p == nil {
		b.mu.Unlock()
		return ErrBroadcastInactive
	}
	b.pipeline, b.url = nil, ""
	b.stopFeedLocked()
	b.mu.Unlock()
	p.Stop()
	b.log.Info("broadcast stopped")
	b.notify(false, "")
	return nil
}

func (b *Broadcast) stopFeedLocked() {
	if b.detach != nil {
		b.detach()
		b.detach = nil
	}
}

// Status reports whether it broadcasts, and where.
func (b *Broadcast) Status() (active bool, url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pipeline != nil, b.url
}

// Close stops a running broadcast.
func (b *Broadcast) Close() { _ = b.Stop() }

func (b *Broadcast) notify(active bool, u string) {
	if b.o.OnStatus != nil {
		b.o.OnStatus(active, u)
	}
}

// redact keeps stream keys out of the log.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(custom)"
	}
	return p.Scheme + "://" + p.Host + "/…"
}
