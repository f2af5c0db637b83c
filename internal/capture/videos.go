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
	// Frames feeds the generated pipelines; nil: one of their own.
	Frames *Frames
	// Screen reports the current screen: pipelines are built for it at
	// every start, so a resize followed by Restart changes them.
	Screen func() Screen
	// ShowPointer draws the cursor into the default quality's video.
	ShowPointer bool
	// Legacy adds a quality "legacy": the first quality with the cursor
	// drawn in, for v2 clients, which do not draw it themselves.
	Legacy bool
	// MaxFPS caps and BitrateKbps sets the default pipeline's frame rate
	// and bit rate (the v2 options max_fps and video_bitrate); 0: the
	// screen's rate and the default bit rate.
	MaxFPS, BitrateKbps int
	Logger              *slog.Logger
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
	if o.Frames == nil {
		o.Frames = NewFrames(o.Display, o.Logger)
	}
	cfg := o.Config
	v := &Videos{}
	ids := cfg.VideoIDs
	if len(cfg.VideoPipelines) == 0 {
		ids = []string{"main"}
	}
	for _, id := range ids {
		build := qualityBuild(o, id, false)
		if err := checkPipeline(id, cfg.VideoCodec, build); err != nil {
			return nil, err
		}
		v.streams = append(v.streams, newFedStream(id, "video", build, o.Frames, o.Logger))
	}
	if o.Legacy {
		build := qualityBuild(o, ids[0], true)
		if err := checkPipeline(LegacyID, cfg.VideoCodec, build); err != nil {
			return nil, err
		}
		v.streams = append(v.streams, newFedStream(LegacyID, "video", build, o.Frames, o.Logger))
	}
	return v, nil
}

// LegacyID is the quality offered to v2 clients (see VideoOptions.Legacy).
const LegacyID = "legacy"

// qualityBuild builds quality id's pipeline for the current screen:
// configured (capture.video.pipelines, with its show_pointer), the
// capture.video.pipeline shorthand, or the default for
// capture.video.codec (with VideoOptions.ShowPointer). legacy forces the
// cursor in.
func qualityBuild(o VideoOptions, id string, legacy bool) func() (pipelineSpec, error) {
	cfg := o.Config
	if q, ok := cfg.VideoPipelines[id]; ok {
		q.ShowPointer = q.ShowPointer || legacy
		return func() (pipelineSpec, error) {
			d, feed, err := QualityPipeline(q, o.Display, o.Screen())
			return pipelineSpec{desc: d, feed: feed}, err
		}
	}
	if cfg.VideoPipeline != "" {
		return func() (pipelineSpec, error) {
			d, err := CustomPipeline(cfg.VideoPipeline, o.Display, cfg.AudioDevice)
			if legacy {
				d = strings.Replace(d, "show-pointer=false", "show-pointer=true", 1)
			}
			return pipelineSpec{desc: d}, err
		}
	}
	pointer := legacy || o.ShowPointer
	return func() (pipelineSpec, error) {
		sc := o.Screen()
		fps := sc.Rate
		if o.MaxFPS > 0 && (fps <= 0 || fps > o.MaxFPS) {
			fps = o.MaxFPS
		}
		d, feed, err := VideoPipeline(VideoParams{Width: sc.Width, Height: sc.Height, Codec: cfg.VideoCodec, FPS: fps,
			BitrateKbps: o.BitrateKbps, ShowPointer: pointer})
		return pipelineSpec{desc: d, feed: &feed}, err
	}
}

func checkPipeline(id, codec string, build func() (pipelineSpec, error)) error {
	spec, err := build()
	if err != nil {
		return fmt.Errorf("capture: video %q: %w", id, err)
	}
	if err := gst.Check(spec.desc); err != nil {
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
// Custom pipelines may capture with their own ximagesrc: no display is
// opened from the change until every old pipeline has stopped and the
// ximagesrc elements still running elsewhere have had the time of a
// frame to reallocate their images at the new size (an ximagesrc doing
// that while another opens its display deadlocks both, gst/xopen.go).
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

// xResizeSettle is how long ximagesrc captures get to reallocate their
// images after a screen size change: a frame at 10 fps and some.
const xResizeSettle = 300 * time.Millisecond

// Close stops every pipeline for good.
func (v *Videos) Close() {
	for _, s := range v.streams {
		s.Close()
	}
}
