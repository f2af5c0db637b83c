package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/internal/capture/ximage"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/test/xserver"
	"golang.org/x/sys/unix"
)

// fakeScreen is a grabber whose pixels are all one value, with a 1x1
// white cursor at 0,0. With shm, it grabs into segments of anonymous
// mappings (memory that is not Go's, like shared memory).
type fakeScreen struct {
	mu      sync.Mutex
	w, h    int
	value   byte
	shm     bool
	grabs   int
	opens   int
	closes  int
	segs    int  // segments alive
	failing bool // Grab fails (the server went away)
	pix     []byte
	damaged chan struct{}
}

func (s *fakeScreen) Damaged() <-chan struct{} { return s.damaged }

type fakeSegment struct {
	mem      []byte
	w, h     int
	unmapped func()
}

func (s *fakeSegment) Pixels() []byte   { return s.mem }
func (s *fakeSegment) Size() (int, int) { return s.w, s.h }

func (s *fakeSegment) Unmap() {
	if s.mem != nil {
		_ = unix.Munmap(s.mem)
		s.mem = nil
		s.unmapped()
	}
}

func (s *fakeScreen) open(string) (grabber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	return s, nil
}

func (s *fakeScreen) Refresh() {}

func (s *fakeScreen) Size() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w, s.h
}

func (s *fakeScreen) fill(p []byte) error {
	if s.failing {
		return errors.New("server gone")
	}
	s.grabs++
	for i := range p {
		p[i] = s.value
	}
	return nil
}

func (s *fakeScreen) Grab() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pix) != s.w*s.h*4 {
		s.pix = make([]byte, s.w*s.h*4)
	}
	return s.pix, s.fill(s.pix)
}

func (s *fakeScreen) SharedMemory() bool { return s.shm }

func (s *fakeScreen) NewSegment() (segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mem, err := unix.Mmap(-1, 0, s.w*s.h*4, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	s.segs++
	return &fakeSegment{mem: mem, w: s.w, h: s.h, unmapped: func() {
		s.mu.Lock()
		s.segs--
		s.mu.Unlock()
	}}, nil
}

func (s *fakeScreen) GrabInto(seg segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fill(seg.Pixels())
}

func (s *fakeScreen) FreeSegment(seg segment) { seg.Unmap() }

func (s *fakeScreen) Cursor() (ximage.Cursor, error) {
	return ximage.Cursor{Width: 1, Height: 1, Pixels: []uint32{0xffffffff}}, nil
}

func (s *fakeScreen) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
}

func (s *fakeScreen) counts() (grabs, opens, closes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grabs, s.opens, s.closes
}

func (s *fakeScreen) segments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.segs
}

// recordSink keeps the first two pixels of every frame pushed.
type recordSink struct {
	mu     sync.Mutex
	frames [][8]byte
	caps   []string
}

func (r *recordSink) PushFrame(f *gst.Frame, _ time.Duration) error {
	var px [8]byte
	f.Read(0, px[:])
	r.mu.Lock()
	r.frames = append(r.frames, px)
	r.mu.Unlock()
	return nil
}

func (r *recordSink) SetSourceCaps(caps string) error {
	r.mu.Lock()
	r.caps = append(r.caps, caps)
	r.mu.Unlock()
	return nil
}

func (r *recordSink) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

func (r *recordSink) last() [8]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames[len(r.frames)-1]
}

func newFakeFrames(w, h int) (*Frames, *fakeScreen) {
	s := &fakeScreen{w: w, h: h, value: 7, shm: true, damaged: make(chan struct{}, 1)}
	fr := NewFrames(":0", nil)
	fr.open = s.open
	fr.retry = 20 * time.Millisecond
	return fr, s
}

// TestFramesFanOut: feeds at the same rate share every grab; a feed at
// half the rate gets about every other frame of them; the pointer is
// drawn only into the frames of the feeds that want it. Frames are lent
// from shared memory, or copied without it.
func TestFramesFanOut(t *testing.T) {
	for _, shm := range []bool{true, false} {
		t.Run(fmt.Sprintf("shm=%t", shm), func(t *testing.T) { testFramesFanOut(t, shm) })
	}
}

func testFramesFanOut(t *testing.T, shm bool) {
	fr, screen := newFakeFrames(4, 2)
	screen.shm = shm
	a, b, half := &recordSink{}, &recordSink{}, &recordSink{}
	detachA := fr.Attach(a, Feed{Width: 4, Height: 2, FPS: 100})
	detachB := fr.Attach(b, Feed{Width: 4, Height: 2, FPS: 100, Pointer: true})
	detachHalf := fr.Attach(half, Feed{Width: 4, Height: 2, FPS: 50})
	waitUntil(t, "60 frames", func() bool { return a.count() >= 60 })
	detachA()
	detachB()
	detachHalf()
	grabs, _, _ := screen.counts()
	na, nb, nh := a.count(), b.count(), half.count()
	// Each feed's first frame may take a grab of its own.
	if grabs > na+3 {
		t.Fatalf("%d grabs for %d frames: feeds of one rate do not share grabs", grabs, na)
	}
	if nb < na-3 || nb > na+3 {
		t.Fatalf("same rate, %d and %d frames", na, nb)
	}
	if nh < na/3 || nh > na*2/3+2 {
		t.Fatalf("half rate got %d frames for %d", nh, na)
	}
	if got := a.last(); got != [8]byte{7, 7, 7, 7, 7, 7, 7, 7} {
		t.Fatalf("plain frame %v", got)
	}
	if got := b.last(); got[0] != 255 || got[1] != 255 || got[2] != 255 || got[4] != 7 {
		t.Fatalf("pointer frame %v: white cursor at 0,0 expected", got)
	}
	waitUntil(t, "capture stopped", func() bool { _, o, c := screen.counts(); return o == c })
	if n := fr.Feeds(); n != 0 {
		t.Fatalf("%d feeds left", n)
	}
	if n := screen.segments(); n != 0 {
		t.Fatalf("%d segments left", n)
	}
}

// TestFramesPointerOnly: with no feed wanting the frame plain, the
// pointer is drawn into the lent segment itself.
func TestFramesPointerOnly(t *testing.T) {
	fr, _ := newFakeFrames(4, 2)
	s := &recordSink{}
	detach := fr.Attach(s, Feed{Width: 4, Height: 2, FPS: 100, Pointer: true})
	waitUntil(t, "frames", func() bool { return s.count() > 3 })
	detach()
	if got := s.last(); got[0] != 255 || got[4] != 7 {
		t.Fatalf("pointer frame %v: white cursor at 0,0 expected", got)
	}
}

// TestFramesFirstFrameAtOnce: a new feed does not wait for the next tick.
func TestFramesFirstFrameAtOnce(t *testing.T) {
	fr, _ := newFakeFrames(2, 2)
	slow := &recordSink{}
	defer fr.Attach(slow, Feed{Width: 2, Height: 2, FPS: 0.1})()
	waitUntil(t, "first frame (the next tick is 10 s away)", func() bool { return slow.count() == 1 })
	other := &recordSink{}
	defer fr.Attach(other, Feed{Width: 2, Height: 2, FPS: 0.1})()
	waitUntil(t, "second feed's first frame", func() bool { return other.count() == 1 })
}

// TestFramesDamage: the first change after a still spell is grabbed at
// once, not at the next tick; a change that follows another closely (an
// animation) waits for the tick.
func TestFramesDamage(t *testing.T) {
	fr, screen := newFakeFrames(2, 2)
	sink := &recordSink{}
	defer fr.Attach(sink, Feed{Width: 2, Height: 2, FPS: 0.25})() // a tick every 4 s
	waitUntil(t, "first frame", func() bool { return sink.count() == 1 })
	first := time.Now()
	screen.damaged <- struct{}{}
	deadline := first.Add(2 * time.Second) // the tick is at 4 s
	for sink.count() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a change after a still spell waited for the tick")
		}
		time.Sleep(5 * time.Millisecond)
	}
	screen.damaged <- struct{}{}
	time.Sleep(300 * time.Millisecond)
	if n := sink.count(); n != 2 {
		t.Fatalf("%d frames: a change right after another was grabbed off the ticks", n)
	}
}

// TestFramesKick: a feed whose encoder was asked for a keyframe gets a
// frame at once, not at its next tick, even when it is not the fastest;
// a kick for a sink that is not attached grabs nothing.
func TestFramesKick(t *testing.T) {
	fr, screen := newFakeFrames(2, 2)
	fast, slow := &recordSink{}, &recordSink{}
	defer fr.Attach(fast, Feed{Width: 2, Height: 2, FPS: 0.25})() // a tick every 4 s
	defer fr.Attach(slow, Feed{Width: 2, Height: 2, FPS: 0.1})()
	waitUntil(t, "first frames", func() bool { return fast.count() == 1 && slow.count() == 1 })
	fr.Kick(&recordSink{})
	time.Sleep(300 * time.Millisecond)
	screen.mu.Lock()
	grabs := screen.grabs
	screen.mu.Unlock()
	if grabs != 1 {
		t.Fatalf("%d grabs after kicking a sink that is not attached", grabs)
	}
	deadline := time.Now().Add(2 * time.Second) // the ticks are 4 s and 10 s away
	fr.Kick(slow)
	for slow.count() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a kicked feed waited for its tick")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFramesIdle: a still screen is grabbed for idleAfter, then only
// every idleKeepAlive; a change is grabbed at once and the frames go on
// at the full rate. With a feed that is not sparse, the pointer drawn in,
// or without damage reports, every tick is grabbed.
func TestFramesIdle(t *testing.T) {
	const fps = 50
	// frames counts the frames sink gets over d.
	frames := func(sink *recordSink, d time.Duration) int {
		n := sink.count()
		time.Sleep(d)
		return sink.count() - n
	}
	t.Run("still", func(t *testing.T) {
		fr, screen := newFakeFrames(2, 2)
		sink := &recordSink{}
		defer fr.Attach(sink, Feed{Width: 2, Height: 2, FPS: fps, Sparse: true})()
		time.Sleep(idleAfter + 200*time.Millisecond)
		// The keep-alives, give or take one at either end (a loaded
		// machine only loses some).
		keepAlives := int(time.Second / idleKeepAlive)
		if n := frames(sink, time.Second); n < 1 || n > keepAlives+1 {
			t.Fatalf("%d frames in a second of a still screen (%d keep-alives)", n, keepAlives)
		}
		n := sink.count()
		deadline := time.Now().Add(time.Second)
		screen.damaged <- struct{}{}
		for sink.count() == n {
			if time.Now().After(deadline) {
				t.Fatal("no frame after a change on a still screen")
			}
			time.Sleep(2 * time.Millisecond)
		}
		// The full rate again (the keep-alives alone would be about
		// fps/10 here); a loaded machine loses ticks, not all of them.
		if n := frames(sink, idleAfter/2); n < fps/4 {
			t.Fatalf("%d frames in %v after a change", n, idleAfter/2)
		}
		// A keyframe asked for on a still screen gets the full rate too:
		// the encoder sharpens the new picture over the next frames.
		time.Sleep(idleAfter + 200*time.Millisecond)
		if n := frames(sink, time.Second); n > keepAlives+1 {
			t.Fatalf("%d frames in a second: the screen is still again", n)
		}
		fr.Kick(sink)
		if n := frames(sink, idleAfter/2); n < fps/4 {
			t.Fatalf("%d frames in %v after a keyframe was asked for", n, idleAfter/2)
		}
	})
	t.Run("pointer", func(t *testing.T) {
		fr, _ := newFakeFrames(2, 2)
		sink := &recordSink{}
		defer fr.Attach(sink, Feed{Width: 2, Height: 2, FPS: fps, Sparse: true, Pointer: true})()
		time.Sleep(idleAfter + 200*time.Millisecond)
		if n := frames(sink, time.Second); n < fps/4 {
			t.Fatalf("%d frames in a second with the pointer drawn in", n)
		}
	})
	t.Run("dense feed", func(t *testing.T) {
		fr, _ := newFakeFrames(2, 2)
		sparse, dense := &recordSink{}, &recordSink{}
		defer fr.Attach(sparse, Feed{Width: 2, Height: 2, FPS: fps, Sparse: true})()
		defer fr.Attach(dense, Feed{Width: 2, Height: 2, FPS: fps})()
		time.Sleep(idleAfter + 200*time.Millisecond)
		if n := frames(dense, time.Second); n < fps/4 {
			t.Fatalf("%d frames in a second for a feed that is not sparse", n)
		}
	})
	t.Run("no damage reports", func(t *testing.T) {
		fr, screen := newFakeFrames(2, 2)
		screen.damaged = nil
		sink := &recordSink{}
		defer fr.Attach(sink, Feed{Width: 2, Height: 2, FPS: fps, Sparse: true})()
		time.Sleep(idleAfter + 200*time.Millisecond)
		if n := frames(sink, time.Second); n < fps/4 {
			t.Fatalf("%d frames in a second without damage reports", n)
		}
	})
}

// TestFramesDamageRate: changes every 2.2 ticks (a 14 fps animation on a
// 30 fps capture, say) add at most a fifth to the ticks' grabs: early
// grabs that follow each other come half a tick after the last grab at
// the earliest (without that, 1.4 times as many).
func TestFramesDamageRate(t *testing.T) {
	fr, screen := newFakeFrames(2, 2)
	sink := &recordSink{}
	const fps = 50
	defer fr.Attach(sink, Feed{Width: 2, Height: 2, FPS: fps})()
	waitUntil(t, "first frame", func() bool { return sink.count() == 1 })
	start := time.Now()
	for time.Since(start) < time.Second {
		select {
		case screen.damaged <- struct{}{}:
		default:
		}
		time.Sleep(2200 * time.Second / fps / 1000)
	}
	// Loaded machines only lose ticks.
	if n, max := sink.count()-1, int(time.Since(start).Seconds()*fps*1.25)+1; n > max {
		t.Fatalf("%d frames in %v at %d fps", n, time.Since(start), fps)
	}
}

// TestFramesDetach: once detach returns the sink gets nothing more; a
// new attach after the capture stopped starts it again.
func TestFramesDetach(t *testing.T) {
	fr, screen := newFakeFrames(2, 2)
	for round := 0; round < 3; round++ {
		s := &recordSink{}
		detach := fr.Attach(s, Feed{Width: 2, Height: 2, FPS: 200})
		waitUntil(t, "frames", func() bool { return s.count() > 5 })
		detach()
		n := s.count()
		time.Sleep(30 * time.Millisecond)
		if s.count() != n {
			t.Fatalf("round %d: %d frames after detach", round, s.count()-n)
		}
		detach() // twice is harmless
		waitUntil(t, "capture stopped", func() bool { _, o, c := screen.counts(); return o == round+1 && c == round+1 })
	}
}

// TestFramesScreenSize: a pipeline built for another size gets nothing
// (it is rebuilt), one that follows the screen renegotiates.
func TestFramesScreenSize(t *testing.T) {
	fr, screen := newFakeFrames(4, 2)
	strict, follow := &recordSink{}, &recordSink{}
	defer fr.Attach(strict, Feed{Width: 4, Height: 2, FPS: 100})()
	defer fr.Attach(follow, Feed{Width: 4, Height: 2, FPS: 100, Follow: true})()
	waitUntil(t, "frames", func() bool { return strict.count() > 3 })
	screen.mu.Lock()
	screen.w, screen.h = 2, 2
	screen.mu.Unlock()
	waitUntil(t, "caps at the new size", func() bool {
		follow.mu.Lock()
		defer follow.mu.Unlock()
		return len(follow.caps) == 1
	})
	n := strict.count()
	m := follow.count()
	waitUntil(t, "frames at the new size", func() bool { return follow.count() > m+5 })
	if strict.count() > n+1 {
		t.Fatalf("a pipeline built for 4x2 got %d frames of 2x2", strict.count()-n)
	}
	// The old size's segment was freed once idle; frames are released
	// at once here, so one segment of the new size is all there is.
	if segs := screen.segments(); segs != 1 {
		t.Fatalf("%d segments", segs)
	}
	follow.mu.Lock()
	if want := (Feed{Width: 2, Height: 2, FPS: 100}).caps(); follow.caps[0] != want {
		t.Fatalf("caps %q, want %q", follow.caps[0], want)
	}
	follow.mu.Unlock()
	// A pipeline nobody rebuilds (no screen change event came) is made
	// to renegotiate after a while rather than left without frames.
	waitUntil(t, "the unrebuilt pipeline fed again", func() bool { return strict.count() > n+3 })
	strict.mu.Lock()
	defer strict.mu.Unlock()
	if len(strict.caps) != 1 {
		t.Fatalf("caps %v", strict.caps)
	}
}

// holdingSink keeps every frame until release, as a slow pipeline would.
type holdingSink struct {
	recordSink
	held []*gst.Frame
}

func (h *holdingSink) PushFrame(f *gst.Frame, d time.Duration) error {
	h.recordSink.PushFrame(f, d)
	h.mu.Lock()
	h.held = append(h.held, f.Retain())
	h.mu.Unlock()
	return nil
}

func (h *holdingSink) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.held {
		f.Release()
	}
	h.held = nil
}

// TestFramesHeldSegments: a segment is not grabbed into while a pipeline
// holds its frame; with all of them held, frames are copied (and still
// delivered); released ones are used again; segments still held when the
// capture stops are unmapped once released.
func TestFramesHeldSegments(t *testing.T) {
	fr, screen := newFakeFrames(4, 2)
	sink := &holdingSink{}
	detach := fr.Attach(sink, Feed{Width: 4, Height: 2, FPS: 200})
	waitUntil(t, "more frames than segments", func() bool { return sink.count() > 3*maxSlots })
	if n := screen.segments(); n != maxSlots {
		t.Fatalf("%d segments with every frame held, want %d", n, maxSlots)
	}
	sink.release()
	n := sink.count()
	waitUntil(t, "frames after the release", func() bool { return sink.count() > n+3*maxSlots })
	if n := screen.segments(); n != maxSlots {
		t.Fatalf("%d segments: released ones were not used again", n)
	}
	detach()
	waitUntil(t, "capture stopped", func() bool { _, o, c := screen.counts(); return o == c })
	if n := screen.segments(); n == 0 {
		t.Fatal("segments unmapped while a pipeline still holds their frames")
	}
	sink.release()
	waitUntil(t, "held segments unmapped once released", func() bool { return screen.segments() == 0 })
}

// TestFramesReconnect: a capture that fails (the X server restarted) is
// reopened while feeds remain, and frames flow again.
func TestFramesReconnect(t *testing.T) {
	fr, screen := newFakeFrames(2, 2)
	s := &recordSink{}
	defer fr.Attach(s, Feed{Width: 2, Height: 2, FPS: 100})()
	waitUntil(t, "frames", func() bool { return s.count() > 3 })
	screen.mu.Lock()
	screen.failing = true
	screen.mu.Unlock()
	waitUntil(t, "capture closed", func() bool { _, _, c := screen.counts(); return c == 1 })
	n := s.count()
	screen.mu.Lock()
	screen.failing = false
	screen.mu.Unlock()
	waitUntil(t, "frames again", func() bool { return s.count() > n+3 })
	if _, o, _ := screen.counts(); o != 2 {
		t.Fatalf("%d opens", o)
	}
}

// TestXCapturesTogether is the case that deadlocked Xlib with ximagesrc
// (docs/architecture.md): two qualities and the screencast capturing
// while screenshots open new connections, again and again, and the
// screen is repainted. Every capture goes on; nothing hangs.
func TestXCapturesTogether(t *testing.T) {
	display := xserver.Xvfb(t, "640x360")
	screen := func() Screen { return Screen{Width: 640, Height: 360, Rate: 30} }
	frames := NewFrames(display, nil)
	v, err := NewVideos(VideoOptions{Display: display, Frames: frames, Screen: screen, Config: config.Capture{
		VideoCodec: "vp8", VideoIDs: []string{"hq", "lq"}, VideoPipelines: map[string]config.VideoPipeline{
			"hq": {GstEncoder: "vp8enc", GstParams: map[string]string{"deadline": "1", "cpu-used": "16"}},
			"lq": {GstEncoder: "vp8enc", Width: "width / 2", Height: "height / 2", FPS: "15", GstParams: map[string]string{"deadline": "1", "cpu-used": "16"}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var mu sync.Mutex
	count := map[string]int{}
	for _, s := range v.Streams() {
		id := s.ID()
		s.SetHandler(func(Sample) { mu.Lock(); count[id]++; mu.Unlock() })
		if err := s.Acquire(); err != nil {
			t.Fatal(err)
		}
	}
	cast, err := NewScreencast(ScreencastOptions{Enabled: true, Display: display, Rate: "10/1", Quality: "60", Frames: frames, Screen: screen})
	if err != nil {
		t.Fatal(err)
	}
	defer cast.Close()
	seen := func() (int, int) { mu.Lock(); defer mu.Unlock(); return count["hq"], count["lq"] }
	for i := 0; i < 15; i++ {
		xserver.PaintRoot(t, display, uint32(i*0x101010))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := cast.Image(ctx); err != nil {
			t.Fatalf("round %d: screencast: %v", i, err)
		}
		// A new image, not the one kept from the last round.
		cast.mu.Lock()
		fresh := cast.fresh
		cast.mu.Unlock()
		select {
		case <-fresh:
		case <-ctx.Done():
			t.Fatalf("round %d: the screencast stopped", i)
		}
		if _, err := Screenshot(ctx, display, 70); err != nil {
			t.Fatalf("round %d: screenshot: %v", i, err)
		}
		cancel()
		hq, lq := seen()
		waitUntil(t, "both qualities going on", func() bool { a, b := seen(); return a > hq && b > lq })
	}
	if n := frames.Feeds(); n != 3 {
		t.Fatalf("%d feeds, want 3 (two qualities, the screencast)", n)
	}
	for _, s := range v.Streams() {
		s.Release()
	}
	cast.Close()
	waitUntil(t, "feeds detached", func() bool { return frames.Feeds() == 0 })
}
