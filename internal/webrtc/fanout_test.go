package webrtc

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture"
)

// fakeStream is a capture stream driven by the test.
type fakeStream struct {
	id       string
	mu       sync.Mutex
	refs     int
	keys     atomic.Int64
	acquires atomic.Int64
	handler  atomic.Pointer[func(capture.Sample)]
}

func (f *fakeStream) ID() string { return f.id }
func (f *fakeStream) Acquire() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs++
	f.acquires.Add(1)
	return nil
}

func (f *fakeStream) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
}
func (f *fakeStream) RequestKeyframe()                   { f.keys.Add(1) }
func (f *fakeStream) SetHandler(fn func(capture.Sample)) { f.handler.Store(&fn) }
func (f *fakeStream) viewers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refs
}

func (f *fakeStream) emit(s capture.Sample) {
	if h := f.handler.Load(); h != nil {
		(*h)(s)
	}
}

// recorder is a viewer's transport: it records what it is given and can
// be made to block like a socket nobody drains.
type recorder struct {
	mu      sync.Mutex
	hdrs    []rtp.Header
	frames  int // packets with the marker bit
	block   chan struct{}
	blocked atomic.Bool
}

func (r *recorder) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if r.block != nil {
		r.blocked.Store(true)
		<-r.block
	}
	r.mu.Lock()
	r.hdrs = append(r.hdrs, *h)
	if h.Marker {
		r.frames++
	}
	r.mu.Unlock()
	return len(payload), nil
}

func (r *recorder) snapshot() ([]rtp.Header, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtp.Header(nil), r.hdrs...), r.frames
}

var vp8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}

// vp8Frame is a sample of n bytes; its first byte marks a keyframe the
// way VP8 does (bit 0 clear), which the payloader doesn't care about.
func vp8Frame(n int, key bool, pts time.Duration) capture.Sample {
	data := make([]byte, n)
	if !key {
		data[0] = 1
	}
	return capture.Sample{Data: data, PTS: pts, Duration: time.Second / 30, Delta: !key}
}

func newTestViewer(t testing.TB, src *source, w rtpWriter, ssrc uint32) *viewerTrack {
	t.Helper()
	tr := newViewerTrack(webrtc.RTPCodecTypeVideo, vp8, videoQueue)
	tr.bind(ssrc, 96, w)
	_ = src.stream.Acquire()
	tr.setSource(src)
	tr.setReady(true)
	return tr
}

// keyRequestsServed reports whether every keyframe request made to src
// so far has reached its stream: requests are passed on by a goroutine,
// and one made while another is on its way is passed on after it.
func keyRequestsServed(src *source) bool {
	return !src.keyPending.Load() && !src.keyWanted.Load()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkContinuous fails unless hdrs have consecutive sequence numbers and
// non-decreasing timestamps, with the given SSRC.
func checkContinuous(t *testing.T, name string, hdrs []rtp.Header, ssrc uint32) {
	t.Helper()
	for i, h := range hdrs {
		if h.SSRC != ssrc || h.PayloadType != 96 {
			t.Fatalf("%s: packet %d has ssrc %d pt %d", name, i, h.SSRC, h.PayloadType)
		}
		if i == 0 {
			continue
		}
		if h.SequenceNumber != hdrs[i-1].SequenceNumber+1 {
			t.Fatalf("%s: sequence jumps from %d to %d at packet %d", name, hdrs[i-1].SequenceNumber, h.SequenceNumber, i)
		}
		if int32(h.Timestamp-hdrs[i-1].Timestamp) < 0 {
			t.Fatalf("%s: timestamp goes back at packet %d", name, i)
		}
	}
}

// TestSlowViewerDoesNotStallOthers: one viewer's transport blocks for
// good; the streaming thread never waits for it and the other viewers get
// every packet of every frame, in order.
func TestSlowViewerDoesNotStallOthers(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, err := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	fast1, fast2 := &recorder{}, &recorder{}
	slow := &recorder{block: make(chan struct{})}
	v1 := newTestViewer(t, src, fast1, 1)
	v2 := newTestViewer(t, src, fast2, 2)
	vs := newTestViewer(t, src, slow, 3)
	defer v1.close()
	defer v2.close()
	defer func() { close(slow.block); vs.close() }()

	waitFor(t, "join keyframes", func() bool { return st.keys.Load() > 0 && keyRequestsServed(src) })
	keysAtStart := st.keys.Load()
	const frames = 300
	const size = 3000 // 3 packets per frame
	var worst time.Duration
	for i := 0; i < frames; i++ {
		start := time.Now()
		st.emit(vp8Frame(size, i%60 == 0, time.Duration(i)*time.Second/30))
		if d := time.Since(start); d > worst {
			worst = d
		}
		if i%10 == 0 {
			// Let the fast viewers' writers run, as real time would.
			waitFor(t, "fast viewers", func() bool {
				_, f1 := fast1.snapshot()
				_, f2 := fast2.snapshot()
				return f1 > i-5 && f2 > i-5
			})
		}
	}
	waitFor(t, "every frame at the fast viewers", func() bool {
		_, f1 := fast1.snapshot()
		_, f2 := fast2.snapshot()
		return f1 == frames && f2 == frames
	})
	h1, _ := fast1.snapshot()
	h2, _ := fast2.snapshot()
	if len(h1) != frames*3 || len(h2) != frames*3 {
		t.Fatalf("fast viewers got %d and %d packets, want %d", len(h1), len(h2), frames*3)
	}
	checkContinuous(t, "viewer 1", h1, 1)
	checkContinuous(t, "viewer 2", h2, 2)
	if !slow.blocked.Load() {
		t.Fatal("the slow viewer was never written to")
	}
	if vs.drops.Load() == 0 {
		t.Fatal("the slow viewer's queue never overflowed")
	}
	// While its transport is stuck, a keyframe would be wasted on it and
	// cost the others bandwidth: it asks for none.
	if k := st.keys.Load(); k != keysAtStart {
		t.Fatalf("a stuck viewer caused %d keyframe requests", k-keysAtStart)
	}
	if v1.drops.Load() != 0 || v2.drops.Load() != 0 {
		t.Fatalf("fast viewers dropped %d and %d packets", v1.drops.Load(), v2.drops.Load())
	}
	// The streaming thread only packetises and queues: waiting for the
	// stuck viewer would block it for good, so the bound only has to be
	// above what a loaded machine and the race detector add.
	if worst > 500*time.Millisecond {
		t.Fatalf("a sample took %v on the streaming thread", worst)
	}
}

// TestViewerRecoversAtKeyframe: after its queue overflowed, a viewer skips
// delta frames and resumes exactly at a keyframe; its sequence numbers stay
// contiguous (only whole frames were dropped), so a receiver waits for
// nothing.
func TestViewerRecoversAtKeyframe(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	gate := make(chan struct{})
	rec := &recorder{block: gate}
	v := newTestViewer(t, src, rec, 7)
	defer v.close()

	pts := time.Duration(0)
	next := func(key bool) {
		st.emit(vp8Frame(2000, key, pts))
		pts += time.Second / 30
	}
	next(true)
	waitFor(t, "writer blocked", rec.blocked.Load)
	// Fill the queue until it overflows.
	for v.drops.Load() == 0 {
		next(false)
	}
	close(gate)
	waitFor(t, "queue drained", func() bool { return len(v.queue) == 0 })
	before, _ := rec.snapshot()
	next(false) // dropped: waiting for a keyframe
	next(false)
	next(true)
	next(false)
	waitFor(t, "keyframe written", func() bool { h, _ := rec.snapshot(); return len(h) == len(before)+4 })
	after, _ := rec.snapshot()
	if !after[len(before)-1].Marker {
		t.Fatal("a frame was cut short")
	}
	checkContinuous(t, "across the drop", after, 7)
	if v.drops.Load() == 0 {
		t.Fatal("nothing was dropped")
	}
}

// TestNewViewerStartsAtKeyframe: the lobby — delta frames are not sent to a
// viewer that joined mid-stream, and joining asks for a keyframe.
func TestNewViewerStartsAtKeyframe(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	rec := &recorder{}
	v := newTestViewer(t, src, rec, 9)
	defer v.close()
	if st.keys.Load() == 0 {
		waitFor(t, "keyframe request", func() bool { return st.keys.Load() > 0 })
	}
	st.emit(vp8Frame(100, false, 0))
	st.emit(vp8Frame(100, false, time.Second/30))
	time.Sleep(20 * time.Millisecond)
	if h, _ := rec.snapshot(); len(h) != 0 {
		t.Fatalf("%d delta packets sent before a keyframe", len(h))
	}
	st.emit(vp8Frame(100, true, 2*time.Second/30))
	waitFor(t, "keyframe", func() bool { h, _ := rec.snapshot(); return len(h) == 1 })
}

// TestSwitchSource: a quality switch keeps the old stream until the new one
// has a keyframe, then continues the viewer's sequence and timestamps, and
// releases the old stream.
func TestSwitchSource(t *testing.T) {
	hi, lo := &fakeStream{id: "hi"}, &fakeStream{id: "lo"}
	srcHi, _ := newSource("hi", webrtc.RTPCodecTypeVideo, hi, vp8, time.Second/30)
	srcLo, _ := newSource("lo", webrtc.RTPCodecTypeVideo, lo, vp8, time.Second/30)
	rec := &recorder{}
	v := newTestViewer(t, srcHi, rec, 5)
	defer v.close()

	hi.emit(vp8Frame(100, true, 0))
	_ = lo.Acquire()
	if !v.setSource(srcLo) {
		t.Fatal("switch reported no change")
	}
	if v.source() != srcLo {
		t.Fatal("pending source not reported")
	}
	lo.emit(vp8Frame(100, false, 0)) // not a keyframe: hi keeps feeding
	hi.emit(vp8Frame(100, false, time.Second/30))
	waitFor(t, "two packets", func() bool { h, _ := rec.snapshot(); return len(h) == 2 })
	if hi.viewers() != 1 {
		t.Fatal("old stream released before the switch")
	}
	lo.emit(vp8Frame(100, true, time.Second/30))
	hi.emit(vp8Frame(100, false, 2*time.Second/30)) // after the switch: ignored
	lo.emit(vp8Frame(100, false, 2*time.Second/30))
	waitFor(t, "four packets", func() bool { h, _ := rec.snapshot(); return len(h) == 4 })
	time.Sleep(10 * time.Millisecond)
	h, _ := rec.snapshot()
	if len(h) != 4 {
		t.Fatalf("got %d packets, want 4", len(h))
	}
	checkContinuous(t, "switch", h, 5)
	waitFor(t, "old stream released", func() bool { return hi.viewers() == 0 })
	if lo.viewers() != 1 {
		t.Fatalf("new stream has %d references", lo.viewers())
	}
	if srcHi.subscribers() != 0 {
		t.Fatal("old source still has the viewer")
	}
	v.close()
	if lo.viewers() != 0 || srcLo.subscribers() != 0 {
		t.Fatal("close left a reference")
	}
}

// TestStaleQueueDropped: packets older than maxQueueDelay are not sent.
func TestStaleQueueDropped(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	gate := make(chan struct{})
	rec := &recorder{block: gate}
	v := newTestViewer(t, src, rec, 1)
	defer v.close()
	st.emit(vp8Frame(100, true, 0))
	waitFor(t, "writer blocked", rec.blocked.Load)
	st.emit(vp8Frame(100, false, time.Second/30))
	time.Sleep(maxQueueDelay + 50*time.Millisecond)
	close(gate)
	waitFor(t, "drop", func() bool { return v.drops.Load() > 0 })
	if h, _ := rec.snapshot(); len(h) != 1 {
		t.Fatalf("wrote %d packets, want only the first", len(h))
	}
}

// TestSourceTimestamps: RTP time follows presentation time and stays
// monotonic when the pipeline restarts (PTS starts over).
func TestSourceTimestamps(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	a := src.stamp(capture.Sample{PTS: time.Second, Duration: time.Second / 30})
	b := src.stamp(capture.Sample{PTS: time.Second + 100*time.Millisecond, Duration: time.Second / 30})
	if b-a != 9000 {
		t.Fatalf("100 ms = %d ticks, want 9000", b-a)
	}
	c := src.stamp(capture.Sample{PTS: 0, Duration: time.Second / 30}) // restarted
	if c-b != 3000 {
		t.Fatalf("after restart advanced %d ticks, want one frame (3000)", c-b)
	}
}

type discard struct{ n atomic.Int64 }

func (d *discard) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	d.n.Add(1)
	return len(p), nil
}

// BenchmarkFanout measures one encoded frame (12 KB: 11 packets) going to
// 1…500 viewers. Packetising happens once; each viewer adds a queue push
// per packet on the streaming thread ("stream-ns/frame"); ns/op is the
// wall time until every viewer's writer goroutine has handed the frame to
// its (discarding) transport.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			st := &fakeStream{id: "main"}
			src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
			tracks := make([]*viewerTrack, n)
			for i := range tracks {
				tracks[i] = newViewerTrack(webrtc.RTPCodecTypeVideo, vp8, videoQueue)
				tracks[i].bind(uint32(i+1), 96, &discard{})
				_ = st.Acquire()
				tracks[i].setSource(src)
				tracks[i].setReady(true)
			}
			frame := make([]byte, 12000)
			drain := func() {
				for _, tr := range tracks {
					for len(tr.queue) > 0 {
						runtime.Gosched()
					}
				}
			}
			st.emit(capture.Sample{Data: frame, Duration: time.Second / 30})
			drain()
			var stream time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				st.emit(capture.Sample{Data: frame, PTS: time.Duration(i+1) * time.Second / 30, Duration: time.Second / 30, Delta: i%120 != 0})
				stream += time.Since(start)
				drain()
			}
			b.StopTimer()
			var drops uint64
			for _, tr := range tracks {
				drops += tr.drops.Load()
				tr.close()
			}
			b.ReportMetric(float64(stream.Nanoseconds())/float64(b.N), "stream-ns/frame")
			if drops > 0 {
				b.Fatalf("%d packets dropped", drops)
			}
		})
	}
}
