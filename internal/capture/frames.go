package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/internal/capture/ximage"
)

// Feed is what a pipeline fed by Frames expects: raw BGRx frames of the
// screen at its size when the pipeline was built, at FPS, with or
// without the pointer drawn in. Its description starts with Appsrc.
type Feed struct {
	Width, Height int
	FPS           float64
	Pointer       bool
	// Follow lets the pipeline renegotiate to a new screen size (the
	// screencast, the broadcast); otherwise frames of another size are
	// skipped until the pipeline is rebuilt for it (Videos.Restart).
	Follow bool
}

// Appsrc is the head of a fed pipeline. It keeps at most two frames: an
// encoder slower than the screen encodes the newest frame, never a queue
// of old ones.
func (f Feed) Appsrc() string {
	return "appsrc name=src is-live=true format=time do-timestamp=true max-buffers=2 max-bytes=0 leaky-type=downstream caps=" + f.caps()
}

func (f Feed) caps() string {
	return fmt.Sprintf("video/x-raw,format=BGRx,width=%d,height=%d,framerate=%d/100", f.Width, f.Height, int(math.Round(f.FPS*100)))
}

func (f Feed) interval() time.Duration {
	if f.FPS <= 0 {
		return time.Second / 30
	}
	return time.Duration(float64(time.Second) / f.FPS)
}

// feedSink is where a feed's frames go (a *gst.Pipeline).
type feedSink interface {
	PushFrame(f *gst.Frame, duration time.Duration) error
	SetSourceCaps(caps string) error
}

// grabber captures the screen (an *ximage.Grabber, through xGrabber).
type grabber interface {
	// Refresh applies screen size changes; Size is the current size.
	Refresh()
	Size() (width, height int)
	// Grab captures into memory of the grabber's own (valid until the
	// next call), applying size changes first.
	Grab() ([]byte, error)
	Cursor() (ximage.Cursor, error)
	Close()
	// With shared memory, frames are grabbed into segments that are
	// lent to GStreamer as they are, without a copy.
	SharedMemory() bool
	NewSegment() (segment, error)
	GrabInto(segment) error
	FreeSegment(segment)
}

// segment is memory the X server writes a frame into; not Go's memory.
type segment interface {
	Pixels() []byte
	Size() (width, height int)
}

// xGrabber adapts *ximage.Grabber to grabber.
type xGrabber struct{ *ximage.Grabber }

func (g xGrabber) NewSegment() (segment, error) { return g.Grabber.NewSegment() }
func (g xGrabber) GrabInto(s segment) error {
	return g.Grabber.GrabInto(s.(*ximage.Segment))
}
func (g xGrabber) FreeSegment(s segment) { g.Grabber.FreeSegment(s.(*ximage.Segment)) }

// slot is a segment of the pool and whether GStreamer still holds it.
type slot struct {
	seg  segment
	hold *gst.Hold
}

// maxSlots bounds the segments in use at once: each appsrc keeps two
// frames and its encoder works on a third, and every feed shares the
// same ones. Past it, frames are copied.
const maxSlots = 6

// Frames captures the X screen once for every pipeline that encodes it
// (each video quality, the screencast, the broadcast): one grab per
// frame however many consume it, and no Xlib (see package ximage). It
// runs while at least one pipeline is attached.
type Frames struct {
	display string
	log     *slog.Logger
	open    func(display string) (grabber, error)
	retry   time.Duration // before reconnecting to a display that failed

	mu      sync.Mutex
	feeds   []*feed
	running bool
	wake    chan struct{} // a feed was attached
}

type feed struct {
	sink     feedSink
	spec     Feed
	interval time.Duration
	next     time.Time // when its next frame is due
	first    bool      // attached, no frame yet: it gets one at once
	mismatch bool      // logged a size mismatch
}

// NewFrames prepares the capture of display; nothing runs until a
// pipeline is attached.
func NewFrames(display string, log *slog.Logger) *Frames {
	if log == nil {
		log = slog.Default()
	}
	return &Frames{
		display: display,
		log:     log.With("component", "frames"),
		open: func(d string) (grabber, error) {
			g, err := ximage.Open(d)
			if err != nil {
				return nil, err
			}
			return xGrabber{g}, nil
		},
		wake:  make(chan struct{}, 1),
		retry: time.Second,
	}
}

// Attach starts feeding sink; the first frame is grabbed at once. The
// returned func stops it: once it returns, sink gets no more frames.
func (fr *Frames) Attach(sink feedSink, spec Feed) (detach func()) {
	f := &feed{sink: sink, spec: spec, interval: spec.interval(), first: true, next: time.Now()}
	fr.mu.Lock()
	fr.feeds = append(fr.feeds, f)
	if !fr.running {
		fr.running = true
		go fr.run()
	}
	fr.mu.Unlock()
	select {
	case fr.wake <- struct{}{}:
	default:
	}
	return func() {
		fr.mu.Lock()
		defer fr.mu.Unlock()
		for i, x := range fr.feeds {
			if x == f {
				fr.feeds = append(fr.feeds[:i:i], fr.feeds[i+1:]...)
				return
			}
		}
	}
}

// Feeds is the number of attached pipelines.
func (fr *Frames) Feeds() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return len(fr.feeds)
}

// run is the capture loop: it ticks at the fastest feed's rate, grabs,
// and hands the frame to every feed that is due. It ends when the last
// feed is detached.
func (fr *Frames) run() {
	var g grabber
	var pool []*slot
	defer func() {
		fr.releasePool(g, pool)
		if g != nil {
			g.Close()
		}
	}()
	var tickAt time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(d time.Duration) {
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-fr.wake:
			if !timer.Stop() {
				<-timer.C
			}
		}
	}
	failing := false
	for {
		fr.mu.Lock()
		if len(fr.feeds) == 0 {
			fr.running = false
			fr.mu.Unlock()
			return
		}
		tick, first := fr.tickLocked()
		fr.mu.Unlock()

		now := time.Now()
		if tickAt.IsZero() || tickAt.Sub(now) > tick {
			tickAt = now.Add(tick)
		}
		if !first {
			if d := tickAt.Sub(now); d > 0 {
				wait(d)
				continue
			}
		}
		isTick := !now.Before(tickAt)
		if isTick {
			if tickAt = tickAt.Add(tick); tickAt.Before(now) {
				tickAt = now.Add(tick)
			}
		}

		if g == nil {
			var err error
			if g, err = fr.open(fr.display); err != nil {
				if !failing {
					fr.log.Warn("cannot capture the screen, retrying", "err", err)
					failing = true
				}
				wait(fr.retry)
				continue
			}
			if failing {
				fr.log.Info("screen capture back")
				failing = false
			}
		}
		var (
			pixels []byte
			s      *slot
			err    error
		)
		if g.SharedMemory() {
			var perr error
			if pool, s, perr = fr.pick(g, pool); perr != nil {
				fr.log.Debug("no shared memory segment, copying", "err", perr)
			}
			if s != nil {
				if err = g.GrabInto(s.seg); err == nil {
					pixels = s.seg.Pixels()
				}
			}
		}
		if pixels == nil && err == nil {
			s = nil // every segment is busy: grab into the grabber's own and copy
			pixels, err = g.Grab()
		}
		if err != nil && ximage.IsProtocolError(err) {
			// The server refused this one (the screen shrank between the
			// size check and the grab): the next tick is at the new size.
			fr.log.Debug("screen grab refused", "err", err)
			wait(min(tick, 50*time.Millisecond))
			continue
		}
		if err != nil {
			fr.log.Warn("screen capture failed, reconnecting", "err", err)
			pool = fr.releasePool(g, pool)
			g.Close()
			g = nil
			failing = true
			wait(fr.retry)
			continue
		}
		w, h := g.Size()
		fr.deliver(g, pixels, s, w, h, isTick, tick)
	}
}

// pick returns an idle segment of the screen's current size, making one
// if the pool has room; segments of another size are freed once idle.
func (fr *Frames) pick(g grabber, pool []*slot) ([]*slot, *slot, error) {
	g.Refresh()
	w, h := g.Size()
	var idle *slot
	kept := pool[:0]
	for _, s := range pool {
		sw, sh := s.seg.Size()
		switch {
		case sw != w || sh != h:
			if !s.hold.Held() {
				g.FreeSegment(s.seg)
				s.hold.Free()
				continue
			}
		case idle == nil && !s.hold.Held():
			idle = s
		}
		kept = append(kept, s)
	}
	pool = kept
	if idle != nil || len(pool) >= maxSlots {
		return pool, idle, nil
	}
	seg, err := g.NewSegment()
	if err != nil {
		return pool, nil, err
	}
	idle = &slot{seg: seg, hold: gst.NewHold()}
	return append(pool, idle), idle, nil
}

// releasePool frees the segments once GStreamer no longer holds them (a
// pipeline is stopped after its feed is detached, so briefly after).
// One still held after that is left mapped: unmapping memory a pipeline
// reads would crash the process.
func (fr *Frames) releasePool(g grabber, pool []*slot) []*slot {
	deadline := time.Now().Add(2 * time.Second)
	for _, s := range pool {
		for s.hold.Held() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s.hold.Held() {
			fr.log.Warn("a frame is still used by a pipeline; its memory is left mapped")
			continue
		}
		g.FreeSegment(s.seg)
		s.hold.Free()
	}
	return nil
}

// tickLocked is the shortest feed interval, and whether a new feed waits
// for its first frame.
func (fr *Frames) tickLocked() (tick time.Duration, first bool) {
	tick = time.Hour
	for _, f := range fr.feeds {
		tick = min(tick, f.interval)
		first = first || f.first
	}
	return tick, first
}

// deliver pushes the grabbed pixels to every due feed of that size. It
// holds fr.mu throughout, so that a detach returns only once its sink
// gets nothing more. s is the pool segment holding the pixels, if any:
// frames then wrap it rather than copy it.
func (fr *Frames) deliver(g grabber, pixels []byte, s *slot, w, h int, isTick bool, tick time.Duration) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	now := time.Now()
	var due []*feed
	plainDue, pointerDue := false, false
	for _, f := range fr.feeds {
		// On the tick nearest to it, so that feeds of different rates
		// share grabs.
		if !f.first && !(isTick && !now.Before(f.next.Add(-tick/2))) {
			continue
		}
		f.first = false
		if f.next = f.next.Add(f.interval); f.next.Before(now.Add(-f.interval)) {
			f.next = now
		}
		if (f.spec.Width != w || f.spec.Height != h) && f.spec.Follow {
			next := f.spec
			next.Width, next.Height = w, h
			if err := f.sink.SetSourceCaps(next.caps()); err != nil {
				fr.log.Warn("frame size change refused", "err", err)
			} else {
				f.spec = next
			}
		}
		if f.spec.Width != w || f.spec.Height != h {
			// The screen changed size and this pipeline, built for the
			// old one, is about to be restarted.
			if !f.mismatch {
				f.mismatch = true
				fr.log.Debug("frame size differs from the pipeline's, skipped",
					"screen", fmt.Sprintf("%dx%d", w, h), "pipeline", fmt.Sprintf("%dx%d", f.spec.Width, f.spec.Height))
			}
			continue
		}
		due = append(due, f)
		plainDue = plainDue || !f.spec.Pointer
		pointerDue = pointerDue || f.spec.Pointer
	}
	if len(due) == 0 {
		return
	}
	var plain, pointer *gst.Frame
	defer func() {
		for _, f := range []*gst.Frame{plain, pointer} {
			if f != nil {
				f.Release()
			}
		}
	}()
	var err error
	if plainDue {
		if plain, err = fr.makeFrame(g, pixels, s, w, h, false); err != nil {
			fr.log.Warn("frame dropped", "err", err)
			return
		}
	}
	if pointerDue {
		// Drawn into the segment itself only when no feed wants it plain.
		lend := s
		if plainDue {
			lend = nil
		}
		if pointer, err = fr.makeFrame(g, pixels, lend, w, h, true); err != nil {
			fr.log.Warn("frame dropped", "err", err)
			return
		}
	}
	for _, f := range due {
		frame := plain
		if f.spec.Pointer {
			frame = pointer
		}
		if err := f.sink.PushFrame(frame, f.interval); err != nil {
			fr.log.Debug("frame not taken", "err", err)
		}
	}
}

// makeFrame wraps the pixels of segment s, or copies them when s is nil,
// drawing the pointer in if asked.
func (fr *Frames) makeFrame(g grabber, pixels []byte, s *slot, w, h int, withPointer bool) (*gst.Frame, error) {
	if s != nil {
		if withPointer {
			if c, err := g.Cursor(); err == nil {
				ximage.DrawCursor(pixels, w, h, c)
			}
		}
		return gst.WrapFrame(pixels, s.hold)
	}
	frame, err := gst.NewFrame(len(pixels))
	if err != nil {
		return nil, err
	}
	copy(frame.Data(), pixels)
	if withPointer {
		if c, err := g.Cursor(); err == nil {
			ximage.DrawCursor(frame.Data(), w, h, c)
		}
	}
	frame.Seal()
	return frame, nil
}

// errNoFrames is returned by a fed stream built without Frames.
var errNoFrames = errors.New("capture: no screen capture to feed the pipeline")
