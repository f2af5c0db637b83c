package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrScreencastDisabled is returned when capture.screencast.enabled is off.
var ErrScreencastDisabled = errors.New("screencast pipeline is not enabled")

// screencastIdle is how long the JPEG pipeline keeps running after the
// last request.
const screencastIdle = 5 * time.Second

// ScreencastOptions describe the JPEG screencast (capture.screencast.*).
type ScreencastOptions struct {
	Enabled  bool
	Display  string
	Rate     string // frames per second as a fraction, "10/1"
	Quality  string // JPEG quality, 0–100
	Pipeline string // custom pipeline ending in appsink name=appsink
	// Frames feeds the default pipeline (nil: frames of its own); Screen
	// is the screen when it starts.
	Frames *Frames
	Screen func() Screen
	Logger *slog.Logger
}

// Screencast serves the current screen as JPEG images from a pipeline
// started by the first request and stopped when nobody asked for a while.
type Screencast struct {
	enabled bool
	stream  *Stream
	idleFor time.Duration

	mu     sync.Mutex
	active bool
	idle   *time.Timer
	img    []byte
	fresh  chan struct{} // closed at the next image
}

var rateRe = regexp.MustCompile(`^\d{1,3}/\d{1,3}$`)

// NewScreencast validates the options; nothing runs until Image is asked.
func NewScreencast(o ScreencastOptions) (*Screencast, error) {
	s := &Screencast{enabled: o.Enabled, fresh: make(chan struct{}), idleFor: screencastIdle}
	if !o.Enabled {
		return s, nil
	}
	var build func() (pipelineSpec, error)
	if o.Pipeline != "" {
		d, err := CustomPipeline(o.Pipeline, o.Display, "")
		if err != nil {
			return nil, fmt.Errorf("capture.screencast.pipeline: %w", err)
		}
		build = func() (pipelineSpec, error) { return pipelineSpec{desc: d}, nil }
	} else {
		if !rateRe.MatchString(o.Rate) || strings.HasPrefix(o.Rate, "0") {
			return nil, fmt.Errorf("capture.screencast.rate %q: want a fraction such as 10/1", o.Rate)
		}
		var num, den int
		if _, err := fmt.Sscanf(o.Rate, "%d/%d", &num, &den); err != nil || den == 0 {
			return nil, fmt.Errorf("capture.screencast.rate %q: want a fraction such as 10/1", o.Rate)
		}
		q, err := strconv.Atoi(o.Quality)
		if err != nil || q < 0 || q > 100 {
			return nil, fmt.Errorf("capture.screencast.quality %q: want 0 to 100", o.Quality)
		}
		if o.Frames == nil {
			o.Frames = NewFrames(o.Display, o.Logger)
		}
		if o.Screen == nil {
			o.Screen = func() Screen { return Screen{Width: 1280, Height: 720, Rate: 30} }
		}
		build = func() (pipelineSpec, error) {
			sc := o.Screen()
			feed := Feed{Width: sc.Width, Height: sc.Height, FPS: float64(num) / float64(den), Pointer: true, Follow: true}
			return pipelineSpec{desc: fmt.Sprintf("%s ! videoconvert ! jpegenc quality=%d ! appsink name=appsink sync=false", feed.Appsrc(), q), feed: &feed}, nil
		}
	}
	s.stream = newFedStream("screencast", "screencast", build, o.Frames, o.Logger)
	s.stream.SetHandler(s.onImage)
	return s, nil
}

// Enabled reports whether the screencast is configured on.
func (s *Screencast) Enabled() bool { return s.enabled }

func (s *Screencast) onImage(smp Sample) {
	s.mu.Lock()
	s.img = smp.Data
	fresh := s.fresh
	s.fresh = make(chan struct{})
	s.mu.Unlock()
	close(fresh)
}

// Image returns the latest JPEG, starting the pipeline if needed and
// waiting for its first image.
func (s *Screencast) Image(ctx context.Context) ([]byte, error) {
	if !s.enabled {
		return nil, ErrScreencastDisabled
	}
	s.mu.Lock()
	if !s.active {
		if err := s.stream.Acquire(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.active = true
		s.img = nil
		s.idle = time.AfterFunc(s.idleFor, s.expire)
	} else {
		s.idle.Reset(s.idleFor)
	}
	img, fresh := s.img, s.fresh
	s.mu.Unlock()
	if img != nil {
		return img, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case <-fresh:
	case <-ctx.Done():
		return nil, fmt.Errorf("capture: no screencast image: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.img, nil
}

// expire stops the pipeline after screencastIdle without a request.
func (s *Screencast) expire() {
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		return
	}
	s.active = false
	s.img = nil
	s.mu.Unlock()
	s.stream.Release()
}

// Running reports whether the pipeline runs.
func (s *Screencast) Running() bool { return s.stream != nil && s.stream.Running() }

// Close stops the pipeline for good.
func (s *Screencast) Close() {
	if s.stream == nil {
		return
	}
	s.mu.Lock()
	if s.idle != nil {
		s.idle.Stop()
	}
	s.active = false
	s.mu.Unlock()
	s.stream.Close()
}
