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
	// Sparse lets a still screen go without frames for a while (see
	// idleAfter): the pipeline puts out each frame as soon as it comes
	// in. An encoder with lookahead, or a parser that waits for the next
	// frame to end this one, would hold the last change back.
	Sparse bool
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
	// Damaged signals a change of the screen since the last grab (nil:
	// not known).
	Damaged() <-chan struct{}
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
	// Unmap detaches it on this side only (its connection is gone).
	Unmap()
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
// frames and its converter works on a third, and every feed shares the
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
	kicked   bool      // its encoder was asked for a keyframe (Kick)
	attached bool      // false once detached
	// mismatchSince is when frames stopped matching the pipeline's size
	// (zero: they match).
	mismatchSince time.Time
	capsFailed    bool // a caps change was refused (logged once)
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
	f := &feed{sink: sink, spec: spec, interval: spec.interval(), first: true, attached: true, next: time.Now()}
	fr.mu.Lock()
	fr.feeds = append(fr.feeds, f)
	if !fr.running {
		fr.running = true
		go fr.run()
	}
	fr.mu.Unlock()
	fr.poke()
	return func() {
		fr.mu.Lock()
		f.attached = false
		for i, x := range fr.feeds {
			if x == f {
				fr.feeds = append(fr.feeds[:i:i], fr.feeds[i+1:]...)
				break
			}
		}
		fr.mu.Unlock()
		// The loop may be waiting for a slow feed's tick: it ends at
		// once when this was the last.
		fr.poke()
	}
}

// Kick grabs a frame for sink's feed soon rather than at its next tick:
// its encoder was just asked for a keyframe, which a viewer (joining, or
// recovering from loss) waits for. The grab restarts the ticks, like an
// early grab, so a kick adds at most one frame; it comes no sooner than a
// kickSpacing-th of a tick after the last grab, whose frame may still be
// on its way to the encoder and become that keyframe.
func (fr *Frames) Kick(sink feedSink) {
	fr.mu.Lock()
	found := false
	for _, f := range fr.feeds {
		if f.sink == sink {
			f.kicked, found = true, true
		}
	}
	fr.mu.Unlock()
	if found {
		fr.poke()
	}
}

func (fr *Frames) poke() {
	select {
	case fr.wake <- struct{}{}:
	default:
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
	var (
		g    grabber
		pool []*slot
	)
	closeGrabber := func() {
		fr.releasePool(g, pool)
		pool = nil
		g.Close()
		g = nil
	}
	defer func() {
		if g != nil {
			closeGrabber()
		}
	}()
	var tickAt time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// wait returns early when poked, or when damaged (nil: never) fires.
	wait := func(d time.Duration, damaged <-chan struct{}) (byDamage bool) {
		timer.Reset(d)
		select {
		case <-timer.C:
			return false
		case <-fr.wake:
		case <-damaged:
			byDamage = true
		}
		if !timer.Stop() {
			<-timer.C
		}
		return byDamage
	}
	// lastDamage is when the screen last reported a change; lastGrab
	// when it was last grabbed, lastEarly last grabbed off the ticks.
	var lastDamage, lastGrab, lastEarly time.Time
	var opened time.Time // when the grabber was opened
	// fresh is when a feed last needed a new picture (a newcomer, a
	// keyframe): a still screen gets the full rate for idleAfter after
	// it too, so that the encoder sharpens that picture as quickly.
	var fresh time.Time
	failing := false
	var refusedSince time.Time // X errors in a row since
	for {
		fr.mu.Lock()
		if len(fr.feeds) == 0 {
			fr.running = false
			fr.mu.Unlock()
			return
		}
		tick, first, kicked, dense := fr.tickLocked()
		fr.mu.Unlock()

		now := time.Now()
		if tickAt.IsZero() || tickAt.Sub(now) > tick {
			tickAt = now.Add(tick)
		}
		early := false
		if !first {
			// A kick is served before the tick when that tick is
			// more than a few milliseconds away.
			if k := max(0, time.Until(lastGrab.Add(tick/kickSpacing))); kicked && now.Add(k+kickMin).Before(tickAt) {
				if k > 0 {
					wait(k, nil)
				}
				now = time.Now()
				tickAt, early = now, true
			}
			if d := tickAt.Sub(now); d > 0 {
				var damaged <-chan struct{}
				if g != nil {
					damaged = g.Damaged()
				}
				if !wait(d, damaged) {
					continue
				}
				quiet := lastDamage.IsZero() || time.Since(lastDamage) > quietFor*tick
				lastDamage = time.Now()
				if !quiet {
					continue // an animation: it follows the ticks
				}
				// The first change after a still spell (an answer to
				// input, usually) is grabbed before the next tick, and
				// the ticks start over from it: as soon as the rest of
				// the repaint had a moment (the server reports its first
				// drawing request). When early grabs come one after the
				// other (a slow animation), one comes no sooner than
				// half a tick after the last grab, which bounds the
				// extra grabs.
				d := min(tick/8, earlySettle)
				if time.Since(lastEarly) < earlyRun*tick {
					d = max(d, time.Until(lastGrab.Add(tick/2)))
				}
				if time.Now().Add(d).After(tickAt) {
					continue // the tick comes first
				}
				wait(d, nil)
				now = time.Now()
				tickAt, early, lastEarly = now, true, now
			}
		}
		isTick := !now.Before(tickAt)
		if isTick {
			if tickAt = tickAt.Add(tick); tickAt.Before(now) {
				tickAt = now.Add(tick)
			}
		}
		// A still screen is not grabbed again at every tick: nothing
		// would be encoded but a repeat. The frames go on for idleAfter
		// after the last change (the encoder sharpens a picture over a
		// few frames), then one every idleKeepAlive. A change is grabbed
		// as soon as it is reported (the early grab above). Without
		// damage reports, or with a feed that is not Sparse, every tick
		// is grabbed.
		if isTick && !early && !first && !kicked && !dense && g != nil && g.Damaged() != nil &&
			!lastDamage.After(lastGrab) && time.Since(latest(lastDamage, opened, fresh)) >= idleAfter &&
			time.Since(lastGrab) < idleKeepAlive {
			continue
		}

		if g == nil {
			var err error
			if g, err = fr.open(fr.display); err != nil {
				g = nil
				if !failing {
					fr.log.Warn("cannot capture the screen, retrying", "err", err)
					failing = true
				}
				wait(fr.retry, nil)
				continue
			}
			if failing {
				fr.log.Info("screen capture back")
				failing = false
			}
			opened = time.Now()
		}
		pixels, s, err := fr.grab(g, &pool)
		if err != nil && ximage.IsProtocolError(err) && (refusedSince.IsZero() || time.Since(refusedSince) < fr.retry) {
			// The server refused this one: usually the screen shrank
			// between the size check and the grab, and the next tick is
			// at the new size. Refusals that go on for a second are
			// handled as a failure.
			if refusedSince.IsZero() {
				refusedSince = time.Now()
			}
			fr.log.Debug("screen grab refused", "err", err)
			wait(min(tick, 50*time.Millisecond), nil)
			continue
		}
		refusedSince = time.Time{}
		if err == nil {
			lastGrab = time.Now()
			if first || kicked {
				fresh = lastGrab
			}
		}
		if err != nil {
			fr.log.Warn("screen capture failed, reconnecting", "err", err)
			closeGrabber()
			failing = true
			wait(fr.retry, nil)
			continue
		}
		w, h := g.Size()
		fr.deliver(g, pixels, s, w, h, isTick, early, tick)
	}
}

// quietFor is how many ticks without a change make a still spell: the
// first change after one is grabbed at once (see run), earlySettle at
// most after the server reported it.
// Early grabs less than earlyRun ticks apart are spaced by half a tick.
const (
	quietFor    = 2
	earlySettle = 4 * time.Millisecond
	earlyRun    = 4
)

// A still screen is grabbed for idleAfter after its last change, then
// every idleKeepAlive (5 fps): no viewer takes the stream for lost
// (browsers ask for a keyframe after a few seconds without a frame), and
// players' frame counters keep moving, at a sixth of the grabs' cost at
// 30 fps.
const (
	idleAfter     = time.Second
	idleKeepAlive = 200 * time.Millisecond
)

// latest is the last of ts: when the screen last changed as far as is
// known (its last damage report, the grabber's opening) or last needed a
// new picture.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// A kicked grab (Kick) comes at least a kickSpacing-th of a tick after
// the last grab, and only when the tick is more than kickMin away.
const (
	kickSpacing = 4
	kickMin     = 2 * time.Millisecond
)

// grab captures a frame into a free segment of the pool (s), or, without
// shared memory or a free segment, into the grabber's own memory (s nil:
// the pixels must be copied).
func (fr *Frames) grab(g grabber, pool *[]*slot) (pixels []byte, s *slot, err error) {
	if g.SharedMemory() {
		var perr error
		if *pool, s, perr = fr.pick(g, *pool); perr != nil {
			fr.log.Debug("no shared memory segment, copying", "err", perr)
		}
		if s != nil {
			if err := g.GrabInto(s.seg); err != nil {
				return nil, nil, err
			}
			return s.seg.Pixels(), s, nil
		}
	}
	pixels, err = g.Grab()
	return pixels, nil, err
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

// releasePool frees the pool's segments before its grabber closes. One
// GStreamer still holds (a pipeline is stopped after its feed is
// detached, so for a moment after) is unmapped once released, by a
// goroutine of its own: unmapping memory a pipeline reads would crash
// the process.
func (fr *Frames) releasePool(g grabber, pool []*slot) {
	for _, s := range pool {
		if !s.hold.Held() {
			g.FreeSegment(s.seg)
			s.hold.Free()
			continue
		}
		go fr.reap(s)
	}
}

// reapFor bounds how long a held segment is waited for; then it is left
// mapped (a pipeline stuck in its stop, say).
const reapFor = time.Minute

func (fr *Frames) reap(s *slot) {
	deadline := time.Now().Add(reapFor)
	for s.hold.Held() {
		if time.Now().After(deadline) {
			fr.log.Warn("a frame is still held by a pipeline; its memory stays mapped")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.seg.Unmap()
	s.hold.Free()
}

// tickLocked is the shortest feed interval, whether a new feed waits
// for its first frame, whether a feed was kicked, and whether one wants
// every tick (dense).
func (fr *Frames) tickLocked() (tick time.Duration, first, kicked, dense bool) {
	tick = time.Hour
	for _, f := range fr.feeds {
		tick = min(tick, f.interval)
		// One waiting for a frame of its size waits for the ticks.
		first = first || (f.first && f.mismatchSince.IsZero())
		kicked = kicked || (f.kicked && f.mismatchSince.IsZero())
		// The pointer's moves are not damage reports.
		dense = dense || !f.spec.Sparse || f.spec.Pointer
	}
	return tick, first, kicked, dense
}

// followAfter is how long a pipeline that does not follow the screen's
// size waits for its rebuild (Videos.Restart) before it is made to
// renegotiate anyway: its size came from a screen that is no longer
// there, and no change event is coming.
const followAfter = 2 * time.Second

// deliver hands the grabbed pixels to every due feed of that size. The
// due feeds are chosen under fr.mu, the frames made without it (the
// cursor is an X round trip), and pushed under it again to the feeds
// still attached: a detach returns only once its sink gets nothing more.
// s is the pool segment holding the pixels, if any: frames then wrap it
// rather than copy it.
//
// early is a grab made off the ticks (for a change after a still spell,
// or a kick): the fastest feeds and the kicked ones take it and count
// their next frame from it.
func (fr *Frames) deliver(g grabber, pixels []byte, s *slot, w, h int, isTick, early bool, tick time.Duration) {
	fr.mu.Lock()
	now := time.Now()
	var due []*feed
	plainDue, pointerDue := false, false
	for _, f := range fr.feeds {
		// On the tick nearest to it, so that feeds of different rates
		// share grabs.
		fastest := (early && f.interval == tick) || f.kicked
		if !f.first && !fastest && !(isTick && !now.Before(f.next.Add(-tick/2))) {
			continue
		}
		if !fr.sizeLocked(f, w, h, now) {
			continue // its first frame is still to come
		}
		f.first, f.kicked = false, false
		if f.next = f.next.Add(f.interval); fastest || f.next.Before(now.Add(-f.interval)) {
			f.next = now.Add(f.interval)
		}
		due = append(due, f)
		plainDue = plainDue || !f.spec.Pointer
		pointerDue = pointerDue || f.spec.Pointer
	}
	fr.mu.Unlock()
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

	fr.mu.Lock()
	defer fr.mu.Unlock()
	for _, f := range due {
		if !f.attached {
			continue
		}
		frame := plain
		if f.spec.Pointer {
			frame = pointer
		}
		if err := f.sink.PushFrame(frame, f.interval); err != nil {
			fr.log.Debug("frame not taken", "err", err)
		}
	}
}

// sizeLocked reports whether frames of w x h can go to f, renegotiating
// its caps if it follows the screen (or has waited for its rebuild for
// too long).
func (fr *Frames) sizeLocked(f *feed, w, h int, now time.Time) bool {
	if f.spec.Width == w && f.spec.Height == h {
		f.mismatchSince = time.Time{}
		return true
	}
	if f.mismatchSince.IsZero() {
		f.mismatchSince = now
		fr.log.Debug("frame size differs from the pipeline's",
			"screen", fmt.Sprintf("%dx%d", w, h), "pipeline", fmt.Sprintf("%dx%d", f.spec.Width, f.spec.Height))
	}
	if !f.spec.Follow && now.Sub(f.mismatchSince) < followAfter {
		// Built for the old size, it is about to be rebuilt.
		return false
	}
	next := f.spec
	next.Width, next.Height = w, h
	if err := f.sink.SetSourceCaps(next.caps()); err != nil {
		if !f.capsFailed {
			f.capsFailed = true
			fr.log.Warn("frame size change refused", "err", err)
		}
		return false
	}
	if !f.spec.Follow {
		fr.log.Warn("pipeline not rebuilt for the screen size; renegotiating",
			"screen", fmt.Sprintf("%dx%d", w, h), "pipeline", fmt.Sprintf("%dx%d", f.spec.Width, f.spec.Height))
	}
	f.spec, f.mismatchSince, f.capsFailed = next, time.Time{}, false
	return true
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
