// Package gst is the only cgo code of the capture side: it runs GStreamer
// pipelines (through go-gst) that end in an appsink, or start at an appsrc,
// and hands samples over as plain Go values.
package gst

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

var initOnce sync.Once

// Init initialises GStreamer once per process.
func Init() { initOnce.Do(func() { gst.Init(nil) }) }

// Sample is one encoded (or raw) buffer from an appsink.
type Sample struct {
	Data     []byte
	PTS      time.Duration
	Duration time.Duration
	// Delta is false for keyframes.
	Delta bool
	// Latency is how long the buffer took from its timestamp (when an
	// appsrc with do-timestamp took the frame, or a live source captured
	// it) to the appsink: queueing, conversion and encoding. 0 when
	// unknown.
	Latency time.Duration
}

// Pipeline is a running GStreamer pipeline.
type Pipeline struct {
	desc     string
	pipeline *gst.Pipeline
	sink     *app.Sink
	src      *app.Source

	x       *xHold // see xopen.go
	xLive   bool   // counted in xLive
	stopped atomic.Bool
	done    chan struct{}
	errs    chan error
	stop    sync.Once
}

// New parses desc. If sinkName is set, the appsink of that name delivers
// its samples to onSample (on GStreamer's streaming thread: onSample must
// not block). If srcName is set, Push feeds the appsrc of that name.
func New(desc, sinkName, srcName string, onSample func(Sample)) (_ *Pipeline, err error) {
	Init()
	x := holdX(desc)
	defer func() {
		if err != nil {
			x.release()
		}
	}()
	pl, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("gst: parse pipeline %q: %w", desc, err)
	}
	p := &Pipeline{desc: desc, pipeline: pl, x: x, xLive: usesX(desc), done: make(chan struct{}), errs: make(chan error, 1)}
	if p.xLive {
		xLive.Add(1)
		defer func() {
			if err != nil {
				xLive.Add(-1)
			}
		}()
	}
	if sinkName != "" {
		el, err := pl.GetElementByName(sinkName)
		if err != nil {
			return nil, fmt.Errorf("gst: pipeline has no element %q: %w", sinkName, err)
		}
		p.sink = app.SinkFromElement(el)
		if p.sink == nil {
			return nil, fmt.Errorf("gst: element %q is not an appsink", sinkName)
		}
		p.sink.SetCallbacks(&app.SinkCallbacks{
			NewSampleFunc: func(sink *app.Sink) gst.FlowReturn {
				sample := sink.PullSample()
				if sample == nil {
					return gst.FlowEOS
				}
				if p.stopped.Load() {
					return gst.FlowFlushing
				}
				p.x.release() // the capture's first frames are done
				buf := sample.GetBuffer()
				if buf == nil {
					return gst.FlowOK
				}
				onSample(Sample{
					Data:     buf.Bytes(),
					PTS:      clock(buf.PresentationTimestamp()),
					Duration: clock(buf.Duration()),
					Delta:    buf.HasFlags(gst.BufferFlagDeltaUnit),
					Latency:  sampleAge(sink, sample),
				})
				return gst.FlowOK
			},
		})
	}
	if srcName != "" {
		el, err := pl.GetElementByName(srcName)
		if err != nil {
			return nil, fmt.Errorf("gst: pipeline has no element %q: %w", srcName, err)
		}
		p.src = app.SrcFromElement(el)
		if p.src == nil {
			return nil, fmt.Errorf("gst: element %q is not an appsrc", srcName)
		}
	}
	return p, nil
}

func clock(t gst.ClockTime) time.Duration {
	if uint64(t) == ^uint64(0) { // GST_CLOCK_TIME_NONE
		return 0
	}
	return time.Duration(uint64(t))
}

// Start sets the pipeline playing and watches its bus for errors.
func (p *Pipeline) Start() error {
	if err := p.pipeline.SetState(gst.StatePlaying); err != nil {
		return fmt.Errorf("gst: start pipeline: %w", err)
	}
	p.x.settle()
	go p.watch()
	return nil
}

// Errors delivers the first error or end-of-stream of the pipeline.
func (p *Pipeline) Errors() <-chan error { return p.errs }

// Done is closed when the pipeline has been stopped.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

func (p *Pipeline) watch() {
	bus := p.pipeline.GetPipelineBus()
	for !p.stopped.Load() {
		// Every message is popped (and the rest dropped): left on the bus
		// they would pile up for as long as the pipeline runs.
		msg := bus.TimedPopFiltered(gst.ClockTime(100*time.Millisecond), gst.MessageAny)
		if msg == nil {
			continue
		}
		var err error
		switch msg.Type() {
		case gst.MessageError:
			gerr := msg.ParseError()
			err = fmt.Errorf("gst: %s (%s)", gerr.Error(), gerr.DebugString())
		case gst.MessageEOS:
			err = errors.New("gst: end of stream")
		}
		// No msg.Unref: go-gst unrefs popped messages in a finalizer, and a
		// second unref would free the message twice.
		if err != nil {
			select {
			case p.errs <- err:
			default:
			}
			return
		}
	}
}

// Stop ends the pipeline; samples stop before it returns.
func (p *Pipeline) Stop() {
	p.stop.Do(func() {
		p.stopped.Store(true)
		_ = p.pipeline.BlockSetState(gst.StateNull)
		p.x.release()
		if p.xLive {
			xLive.Add(-1)
		}
		// The appsink's callbacks sit in go-gst's global pointer registry
		// and reference this pipeline: replacing them releases the old
		// ones, so the garbage collector can free the pipeline (and its
		// bus's descriptors). Without this every pipeline leaks.
		if p.sink != nil {
			p.sink.SetCallbacks(&app.SinkCallbacks{})
		}
		close(p.done)
	})
}

// ForceKeyframe asks the encoder upstream of the appsink for a keyframe
// with headers (the GstForceKeyUnit upstream event every encoder knows).
func (p *Pipeline) ForceKeyframe() bool {
	if p.sink == nil || p.stopped.Load() {
		return false
	}
	st := gst.NewStructureFromString("GstForceKeyUnit, all-headers=(boolean)true")
	return p.sink.SendEvent(gst.NewCustomEvent(gst.EventTypeCustomUpstream, st))
}

// Push feeds one buffer into the appsrc.
func (p *Pipeline) Push(data []byte, pts, duration time.Duration) error {
	if p.src == nil {
		return errors.New("gst: pipeline has no appsrc")
	}
	if p.stopped.Load() {
		return errors.New("gst: pipeline stopped")
	}
	if len(data) == 0 {
		return errors.New("gst: empty buffer")
	}
	buf := gst.NewBufferFromBytes(data)
	if pts >= 0 {
		buf.SetPresentationTimestamp(gst.ClockTime(pts))
	}
	if duration > 0 {
		buf.SetDuration(gst.ClockTime(duration))
	}
	if ret := p.src.PushBuffer(buf); ret != gst.FlowOK {
		return fmt.Errorf("gst: push buffer: %s", ret.String())
	}
	return nil
}

// ElementExists reports whether a GStreamer element factory is installed.
func ElementExists(name string) bool {
	Init()
	return gst.Find(name) != nil
}

// Check parses desc without starting it: a missing element or a syntax
// error is reported at start-up instead of when the first viewer comes.
func Check(desc string) error {
	Init()
	x := holdX(desc)
	defer x.release()
	pl, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return fmt.Errorf("gst: parse pipeline %q: %w", desc, err)
	}
	_ = pl.SetState(gst.StateNull)
	return nil
}
