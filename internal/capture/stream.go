// Package capture turns the desktop into encoded media: one GStreamer
// pipeline per video quality and one for audio, started when the first
// viewer needs it and stopped after the last leaves. Encoded samples go to
// a single handler per stream (the shared WebRTC track), so encoding never
// grows with the number of viewers.
package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// Sample is one encoded frame or audio packet.
type Sample = gst.Sample

// Stream is one lazily started pipeline.
type Stream struct {
	id    string
	kind  string // "video" or "audio"
	build func() (pipelineSpec, error)
	// frames feeds the pipelines whose spec has a feed.
	frames *Frames
	log    *slog.Logger

	mu       sync.Mutex
	refs     int
	pipeline *gst.Pipeline
	// handler is read on the streaming thread without s.mu: stopping a
	// pipeline holds s.mu while it waits for that thread to finish.
	handler atomic.Pointer[func(Sample)]
	// keyAsked is when the keyframe now on its way was forced (UnixNano;
	// 0: none). The streaming thread clears it at the next keyframe, so
	// it is atomic rather than under s.mu.
	keyAsked  atomic.Int64
	generated int // pipelines started, for tests and metrics
	// fed is the running pipeline when Frames feeds its appsrc, for
	// EncoderStats: a metrics scrape must not wait on s.mu, which a
	// stopping pipeline holds while GStreamer joins its thread.
	fed atomic.Pointer[gst.Pipeline]
	// latency is the smoothed Sample.Latency (ns): updated on the
	// streaming thread, zeroed while no pipeline runs.
	latency  atomic.Int64
	restart  *time.Timer
	keyRetry *time.Timer // see forceKeyframeLocked
	detach   func()      // stops the running pipeline's feed
}

// pipelineSpec is a pipeline to start: its description and, when it
// starts with an appsrc (Feed.Appsrc), what Frames must feed it.
type pipelineSpec struct {
	desc string
	feed *Feed
}

// NewStream makes a stream whose pipeline description comes from desc (it
// may depend on the current screen size, so it is asked at every start).
func NewStream(id, kind string, desc func() (string, error), log *slog.Logger) *Stream {
	return newFedStream(id, kind, func() (pipelineSpec, error) {
		d, err := desc()
		return pipelineSpec{desc: d}, err
	}, nil, log)
}

// newFedStream makes a stream whose pipelines may be fed by frames.
func newFedStream(id, kind string, build func() (pipelineSpec, error), frames *Frames, log *slog.Logger) *Stream {
	if log == nil {
		log = slog.Default()
	}
	return &Stream{id: id, kind: kind, build: build, frames: frames, log: log.With("stream", id, "kind", kind)}
}

func (s *Stream) ID() string   { return s.id }
func (s *Stream) Kind() string { return s.kind }

// SetHandler sets where samples go. It is called on GStreamer's streaming
// thread and must not block.
func (s *Stream) SetHandler(fn func(Sample)) {
	s.handler.Store(&fn)
}

// Acquire adds a viewer; the first one starts the pipeline. (The viewer
// asks for its keyframe once its transport is up: one sent earlier would
// be lost.)
func (s *Stream) Acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs++
	if s.pipeline == nil {
		if err := s.startLocked(); err != nil {
			s.refs--
			return err
		}
	}
	return nil
}

// Release removes a viewer; the last one stops the pipeline.
func (s *Stream) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 {
		return
	}
	s.refs--
	if s.refs == 0 {
		s.stopLocked()
	}
}

// Viewers is the number of acquired references.
func (s *Stream) Viewers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refs
}

// Running reports whether the pipeline runs.
func (s *Stream) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipeline != nil
}

// RequestKeyframe asks the encoder for a keyframe (a viewer joined or sent
// a PLI/FIR). A request made while a forced keyframe is on its way is
// served by that one: the viewer asked before it was delivered, so it
// will receive it. A burst of joins or PLIs therefore costs one keyframe
// per encoder round trip (about a frame), and no viewer waits for a
// fixed merge window to pass.
func (s *Stream) RequestKeyframe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipeline == nil || s.kind != "video" {
		return
	}
	if asked := s.keyAsked.Load(); asked != 0 && time.Now().UnixNano()-asked < int64(keyInFlightTimeout) {
		return
	}
	s.forceKeyframeLocked()
}

// forceKeyframeLocked forces a keyframe and makes sure the requests it
// serves are not lost with it: if it has not come after
// keyInFlightTimeout (an encoder may ignore a request made while it
// reconfigures), another is forced.
func (s *Stream) forceKeyframeLocked() {
	asked := time.Now().UnixNano()
	s.keyAsked.Store(asked)
	if s.pipeline.ForceKeyframe() && s.detach != nil {
		// The keyframe is made from the next frame: grab it now
		// rather than at the next tick.
		s.frames.Kick(s.pipeline)
	}
	if s.keyRetry != nil {
		s.keyRetry.Stop()
	}
	p := s.pipeline
	var retry *time.Timer
	retry = time.AfterFunc(keyInFlightTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.keyRetry != retry {
			return // replaced by a newer keyframe's, or stopped
		}
		s.keyRetry = nil
		if s.pipeline == p && s.keyAsked.Load() == asked {
			s.forceKeyframeLocked()
		}
	})
	s.keyRetry = retry
}

// keyInFlightTimeout bounds how long requests wait on a forced keyframe
// that has not appeared; then another is forced.
const keyInFlightTimeout = 300 * time.Millisecond

// Close stops the pipeline for good.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs = 0
	s.stopLocked()
}

func (s *Stream) startLocked() error {
	spec, err := s.build()
	if err != nil {
		return fmt.Errorf("capture: %s pipeline: %w", s.id, err)
	}
	desc, src := spec.desc, ""
	if spec.feed != nil {
		if s.frames == nil {
			return fmt.Errorf("capture: %s: %w", s.id, errNoFrames)
		}
		src = "src"
	}
	s.latency.Store(0)
	p, err := gst.New(desc, "appsink", src, s.deliver)
	if err != nil {
		return fmt.Errorf("capture: %s: %w", s.id, err)
	}
	if err := p.Start(); err != nil {
		p.Stop()
		return fmt.Errorf("capture: %s: %w", s.id, err)
	}
	if spec.feed != nil {
		s.detach = s.frames.Attach(p, *spec.feed)
		s.fed.Store(p)
	}
	s.pipeline = p
	s.generated++
	s.keyAsked.Store(0)
	s.log.Debug("pipeline started", "pipeline", desc)
	go s.supervise(p)
	return nil
}

func (s *Stream) stopLocked() {
	if s.restart != nil {
		s.restart.Stop()
		s.restart = nil
	}
	if s.keyRetry != nil {
		s.keyRetry.Stop()
		s.keyRetry = nil
	}
	if s.pipeline == nil {
		return
	}
	if s.detach != nil {
		s.detach()
		s.detach = nil
	}
	p := s.pipeline
	s.pipeline = nil
	s.fed.Store(nil)
	p.Stop()
	s.latency.Store(0) // the streaming thread has ended
	// Off this lock: trimming waits on every malloc arena, and the
	// other streams' threads allocate.
	go gst.ReleaseFreedMemory()
	s.log.Debug("pipeline stopped")
}

// supervise restarts a pipeline that failed (the X server restarted, the
// sound server went away) while viewers still want it.
func (s *Stream) supervise(p *gst.Pipeline) {
	var err error
	select {
	case err = <-p.Errors():
	case <-p.Done():
		return
	}
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipeline != p {
		return // stopped or replaced meanwhile
	}
	s.log.Warn("pipeline failed, restarting", "err", err)
	s.stopLocked()
	if s.refs == 0 {
		return
	}
	s.restart = time.AfterFunc(time.Second, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.restart = nil
		if s.refs > 0 && s.pipeline == nil {
			if err := s.startLocked(); err != nil {
				s.log.Error("pipeline restart failed", "err", err)
			}
		}
	})
}

// deliver runs on the streaming thread and must never take s.mu.
func (s *Stream) deliver(sample Sample) {
	if !sample.Delta {
		// Cleared before the handler hands the keyframe to the viewers:
		// a request that still sees it in flight is then sure to get it.
		s.keyAsked.Store(0)
	}
	if l := int64(sample.Latency); l > 0 {
		// A moving average over about eight frames: one slow keyframe
		// shows without making the gauge jump about.
		if old := s.latency.Load(); old > 0 {
			l = old + (l-old)/8
		}
		s.latency.Store(l)
	}
	if h := s.handler.Load(); h != nil {
		(*h)(sample)
	}
}

// EncoderStats reports the running pipeline's input side: the raw frames
// waiting in its appsrc for the encoder (fed is false for a pipeline
// Frames does not feed, whose queue is unknown, and while none runs) and
// the smoothed time a frame takes from capture to encoded output (0 until
// measured).
func (s *Stream) EncoderStats() (queued int, fed bool, latency time.Duration) {
	latency = time.Duration(s.latency.Load())
	if p := s.fed.Load(); p != nil {
		return p.QueuedBuffers(), true, latency
	}
	return 0, false, latency
}

// ErrUnsupportedCodec is returned for a codec with no pipeline here.
var ErrUnsupportedCodec = errors.New("unsupported codec")
