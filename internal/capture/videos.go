package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/internal/config"
)

// VideoOptions describe the video qualities to capture.
type VideoOptions struct {
	Config  config.Capture
	Display string
	// Screen reports the current screen: pipelines are built for it at
	// every start, so a resize followed by Restart changes them.
	Screen func() Screen
	// ShowPointer draws the cursor into the default quality's video.
	ShowPointer bool
	// Legacy adds a quality "legacy": the first quality with the cursor
	// drawn in, for v2 clients, which do not draw it themselves.
	Legacy bool
	Logger *slog.Logger
}

// Videos are the video qualities, in the order of capture.video.ids (the
// default first); each is a lazily started Stream.
type Videos struct {
	streams []*Stream
}

// NewVideos builds the qualities and checks that every pipeline parses
// (so a missing encoder is a start-up error).
func NewVideos(o VideoOptions) (*Videos, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Screen == nil {
		o.Screen = func() Screen { return Screen{Width: 1280, Height: 720, Rate: 30} }
	}
	cfg := o.Config
	v := &Videos{}
	ids := cfg.VideoIDs
	if len(cfg.VideoPipelines) == 0 {
		ids = []string{"main"}
	}
	for _, id := range ids {
		var desc func() (string, error)
		if q, ok := cfg.VideoPipelines[id]; ok {
			desc = func() (string, error) { return QualityPipeline(q, o.Display, o.Screen()) }
		} else if cfg.VideoPipeline != "" {
			desc = func() (string, error) { return CustomPipeline(cfg.VideoPipeline, o.Display, cfg.AudioDevice) }
		} else {
			desc = func() (string, error) {
				return VideoPipeline(VideoParams{Display: o.Display, Codec: cfg.VideoCodec, FPS: o.Screen().Rate, ShowPointer: o.ShowPointer})
			}
		}
		if err := checkPipeline(id, cfg.VideoCodec, desc); err != nil {
			return nil, err
		}
		v.streams = append(v.streams, NewStream(id, "video", desc, o.Logger))
	}
	if o.Legacy {
		desc := legacyPipeline(o, ids[0])
		if err := checkPipeline(LegacyID, cfg.VideoCodec, desc); err != nil {
			return nil, err
		}
		v.streams = append(v.streams, NewStream(LegacyID, "video", desc, o.Logger))
	}
	return v, nil
}

// LegacyID is the quality offered to v2 clients (see VideoOptions.Legacy).
const LegacyID = "legacy"

// legacyPipeline is the pipeline of quality id with the pointer drawn in.
func legacyPipeline(o VideoOptions, id string) func() (string, error) {
	cfg := o.Config
	if q, ok := cfg.VideoPipelines[id]; ok {
		q.ShowPointer = true
		return func() (string, error) { return QualityPipeline(q, o.Display, o.Screen()) }
	}
	if cfg.VideoPipeline != "" {
		return func() (string, error) {
			d, err := CustomPipeline(cfg.VideoPipeline, o.Display, cfg.AudioDevice)
			return strings.Replace(d, "show-pointer=false", "show-pointer=true", 1), err
		}
	}
	return func() (string, error) {
		return VideoPipeline(VideoParams{Display: o.Display, Codec: cfg.VideoCodec, FPS: o.Screen().Rate, ShowPointer: true})
	}
}

func checkPipeline(id, codec string, desc func() (string, error)) error {
	d, err := desc()
	if err != nil {
		return fmt.Errorf("capture: video %q: %w", id, err)
	}
	if err := gst.Check(d); err != nil {
		if enc := VideoEncoder(codec); enc != "" && !gst.ElementExists(enc) {
			return fmt.Errorf("capture: video %q: capture.video.codec %s needs the GStreamer element %s, which is not installed: %w", id, codec, enc, err)
		}
		return fmt.Errorf("capture: video %q: %w", id, err)
	}
	return nil
}

// Streams returns the qualities in order.
func (v *Videos) Streams() []*Stream { return v.streams }

// Get returns the quality with id.
func (v *Videos) Get(id string) (*Stream, bool) {
	for _, s := range v.streams {
		if s.ID() == id {
			return s, true
		}
	}
	return nil, false
}

// Restart rebuilds the running pipelines (the screen size changed);
// viewers stay attached and receive a keyframe from the new encoder.
//
// No display is opened from the change until every old pipeline has
// stopped and the X captures still running elsewhere (screencast,
// broadcast) have had the time of a frame to reallocate their images at
// the new size: an ximagesrc doing that while another opens its display
// deadlocks both (see gst/xopen.go).
func (v *Videos) Restart() error {
	for _, s := range v.streams {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	var running []*Stream
	gst.SettleX(xResizeSettle, func() {
		for _, s := range v.streams {
			if s.pipeline != nil {
				s.stopLocked()
				running = append(running, s)
			}
		}
	})
	var errs []error
	for _, s := range running {
		if err := s.startLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// xResizeSettle is how long X captures get to reallocate their images
// after a screen size change: a frame of the slowest capture (the
// screencast's default 10 fps) and some.
const xResizeSettle = 300 * time.Millisecond

// Close stops every pipeline for good.
func (v *Videos) Close() {
	for _, s := range v.streams {
		s.Close()
	}
}
