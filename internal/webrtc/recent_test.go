package webrtc

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture"
)

// numbered is a one-packet VP8 frame that carries its index, so a test
// can tell which frames a viewer got and in what order.
func numbered(i int, key bool) capture.Sample {
	s := vp8Frame(64, key, time.Duration(i)*time.Second/30)
	binary.BigEndian.PutUint32(s.Data[1:], uint32(i))
	return s
}

// frameLog is a viewer transport that records the frames it is given.
type frameLog struct {
	mu     sync.Mutex
	hdrs   []rtp.Header
	frames []int
	keys   []bool
}

func (f *frameLog) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	var d codecs.VP8Packet
	data, err := d.Unmarshal(payload)
	if err != nil || len(data) < 5 {
		return 0, fmt.Errorf("not a numbered frame: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hdrs = append(f.hdrs, *h)
	f.frames = append(f.frames, int(binary.BigEndian.Uint32(data[1:])))
	f.keys = append(f.keys, data[0]&1 == 0)
	return len(payload), nil
}

func (f *frameLog) snapshot() ([]rtp.Header, []int, []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rtp.Header(nil), f.hdrs...), append([]int(nil), f.frames...), append([]bool(nil), f.keys...)
}

func (f *frameLog) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.frames)
}

// checkFrames fails unless a viewer got a keyframe first and then every
// frame after it once, in order, on continuous sequence numbers.
func checkFrames(t *testing.T, name string, f *frameLog, ssrc uint32) []int {
	t.Helper()
	hdrs, frames, keys := f.snapshot()
	if len(frames) == 0 {
		t.Fatalf("%s: got nothing", name)
	}
	if !keys[0] {
		t.Fatalf("%s: first frame %d is not a keyframe", name, frames[0])
	}
	for i := 1; i < len(frames); i++ {
		if frames[i] != frames[i-1]+1 {
			t.Fatalf("%s: frame %d follows frame %d (frames %v)", name, frames[i], frames[i-1], frames)
		}
	}
	checkContinuous(t, name, hdrs, ssrc)
	return frames
}

// TestViewerStartsAtRecentKeyframe: a viewer that joins a watched stream a
// few frames after a keyframe gets that keyframe and the frames after it
// at once, asks for no keyframe of its own, and continues with the live
// stream; the frames it was given at once are one tick apart, so a
// receiver shows them as one picture rather than playing them out behind
// the live stream.
func TestViewerStartsAtRecentKeyframe(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	first := newTestViewer(t, src, &frameLog{}, 1)
	defer first.close()
	waitFor(t, "the first viewer's keyframe request", func() bool { return st.keys.Load() > 0 })
	st.emit(numbered(0, false)) // no keyframe before it: not kept
	st.emit(numbered(1, true))
	st.emit(numbered(2, false))
	st.emit(numbered(3, false))
	keys := st.keys.Load()

	log := &frameLog{}
	v := newTestViewer(t, src, log, 2)
	defer v.close()
	waitFor(t, "the recent frames", func() bool { return log.count() == 3 })
	st.emit(numbered(4, false))
	waitFor(t, "the live frame", func() bool { return log.count() == 4 })
	if got := checkFrames(t, "joiner", log, 2); got[0] != 1 {
		t.Fatalf("started at frame %d, want the keyframe 1", got[0])
	}
	time.Sleep(10 * time.Millisecond)
	if n := st.keys.Load(); n != keys {
		t.Fatalf("the joiner asked for %d keyframes", n-keys)
	}
	hdrs, _, _ := log.snapshot()
	for i := 1; i < 3; i++ {
		if d := hdrs[i].Timestamp - hdrs[i-1].Timestamp; d != 1 {
			t.Fatalf("recent frames %d and %d are %d ticks apart, want 1", i-1, i, d)
		}
	}
	if d := hdrs[3].Timestamp - hdrs[2].Timestamp; d != 3000 {
		t.Fatalf("the live frame is %d ticks after the last recent one, want 3000 (one frame)", d)
	}
}

// TestRecentKeyframeLimits: a keyframe too many frames or too long ago,
// frames followed by none for a while, or frames made before the last
// viewer left, do not start a viewer: it asks for a new keyframe and gets
// nothing before it.
func TestRecentKeyframeLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(st *fakeStream, src *source, first *viewerTrack)
	}{
		{"too many frames", func(st *fakeStream, src *source, first *viewerTrack) {
			st.emit(numbered(0, true))
			for i := 1; i < maxRecentFrames+1; i++ {
				st.emit(numbered(i, false))
			}
		}},
		{"too old", func(st *fakeStream, src *source, first *viewerTrack) {
			st.emit(numbered(0, true))
			src.recentMu.Lock()
			src.recent[0].at -= int64(maxRecentAge + time.Millisecond)
			src.recentMu.Unlock()
		}},
		{"stream stalled (a pipeline restarting)", func(st *fakeStream, src *source, first *viewerTrack) {
			st.emit(numbered(0, true))
			st.emit(numbered(1, false))
			src.recentMu.Lock()
			for i := range src.recent {
				src.recent[i].at -= int64(maxRecentGap + time.Millisecond)
			}
			src.recentMu.Unlock()
		}},
		{"too big", func(st *fakeStream, src *source, first *viewerTrack) {
			st.emit(numbered(0, true))
			big := vp8Frame(maxRecentBytes, false, time.Second/30)
			st.emit(big)
		}},
		{"nobody watched since", func(st *fakeStream, src *source, first *viewerTrack) {
			st.emit(numbered(0, true))
			first.close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStream{id: "main"}
			src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
			first := newTestViewer(t, src, &frameLog{}, 1)
			defer first.close()
			tc.setup(st, src, first)
			keys := st.keys.Load()
			log := &frameLog{}
			v := newTestViewer(t, src, log, 2)
			defer v.close()
			waitFor(t, "a keyframe request", func() bool { return st.keys.Load() > keys })
			st.emit(numbered(100, false))
			time.Sleep(10 * time.Millisecond)
			if n := log.count(); n != 0 {
				t.Fatalf("got %d frames before a new keyframe", n)
			}
			st.emit(numbered(101, true))
			waitFor(t, "the new keyframe", func() bool { return log.count() == 1 })
		})
	}
}

// touchRecent makes src's recent frames look just made: a test that
// waits between making them and starting a viewer must not see them
// expire on a loaded machine.
func touchRecent(src *source) {
	src.recentMu.Lock()
	defer src.recentMu.Unlock()
	now := src.now()
	for i := range src.recent {
		src.recent[i].at = now
	}
}

// watchedLow sets up two qualities: another viewer watches lo, whose
// recent frames are the keyframe 10 and frame 11; the returned viewer v
// (SSRC 2, recorded in log) is on hi and has had nothing yet.
func watchedLow(t *testing.T) (hi, lo *fakeStream, srcLo *source, v *viewerTrack, log *frameLog) {
	t.Helper()
	hi, lo = &fakeStream{id: "hi"}, &fakeStream{id: "lo"}
	srcHi, _ := newSource("hi", webrtc.RTPCodecTypeVideo, hi, vp8, time.Second/30)
	srcLo, _ = newSource("lo", webrtc.RTPCodecTypeVideo, lo, vp8, time.Second/30)
	other := newTestViewer(t, srcLo, &frameLog{}, 1)
	t.Cleanup(other.close)
	// Its join request must not be counted against the switch.
	waitFor(t, "the other viewer's keyframe request", func() bool { return lo.keys.Load() > 0 && keyRequestsServed(srcLo) })
	lo.emit(numbered(10, true))
	lo.emit(numbered(11, false))
	log = &frameLog{}
	v = newTestViewer(t, srcHi, log, 2)
	t.Cleanup(v.close)
	return hi, lo, srcLo, v, log
}

// TestSwitchToRecentKeyframe: a quality switch to a stream another viewer
// watches happens at once, at that stream's recent keyframe, without
// waiting for a keyframe, and releases the old stream.
func TestSwitchToRecentKeyframe(t *testing.T) {
	hi, lo, srcLo, v, log := watchedLow(t)
	hi.emit(numbered(0, true))
	waitFor(t, "hi's keyframe", func() bool { return log.count() == 1 })
	keys := lo.keys.Load()
	_ = lo.Acquire()
	touchRecent(srcLo)
	v.setSource(srcLo)
	waitFor(t, "lo's recent frames", func() bool { return log.count() == 3 })
	hi.emit(numbered(1, false)) // switched away: not sent
	lo.emit(numbered(12, false))
	waitFor(t, "lo's live frame", func() bool { return log.count() == 4 })
	time.Sleep(10 * time.Millisecond)
	hdrs, frames, keysSeen := log.snapshot()
	want := []int{0, 10, 11, 12}
	if fmt.Sprint(frames) != fmt.Sprint(want) || !keysSeen[1] {
		t.Fatalf("got frames %v (keyframes %v), want %v", frames, keysSeen, want)
	}
	checkContinuous(t, "switch", hdrs, 2)
	if n := lo.keys.Load(); n != keys {
		t.Fatalf("the switch asked lo for %d keyframes", n-keys)
	}
	waitFor(t, "hi released", func() bool { return hi.viewers() == 0 })
}

// TestStartRecentWhileStreaming: viewers that join while frames keep
// coming each get a keyframe first and then every frame exactly once, in
// order: none is lost or doubled between recent and the live stream.
func TestStartRecentWhileStreaming(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	first := newTestViewer(t, src, &frameLog{}, 1)
	defer first.close()

	stop := make(chan struct{})
	emitted := make(chan int)
	go func() {
		i := 0
		for {
			select {
			case <-stop:
				emitted <- i
				return
			default:
			}
			// Never faster than the slowest viewer drains its queue: one
			// that overflows skips to a keyframe by design, and on a
			// loaded machine a writer can stall for tens of frames.
			for behind(src) {
				time.Sleep(100 * time.Microsecond)
			}
			st.emit(numbered(i, i%3 == 0))
			i++
			time.Sleep(300 * time.Microsecond)
		}
	}()
	const n = 40
	logs := make([]*frameLog, n)
	tracks := make([]*viewerTrack, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 200 * time.Microsecond)
			logs[i] = &frameLog{}
			tracks[i] = newTestViewer(t, src, logs[i], uint32(10+i))
		}()
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond)
	close(stop)
	last := <-emitted - 1
	for i, l := range logs {
		waitFor(t, fmt.Sprintf("viewer %d's last frame", i), func() bool {
			_, frames, _ := l.snapshot()
			return len(frames) > 0 && frames[len(frames)-1] == last
		})
		if d := tracks[i].drops.Load(); d > 0 {
			t.Fatalf("viewer %d dropped %d frames: the test sent too fast", i, d)
		}
		checkFrames(t, fmt.Sprintf("viewer %d", i), l, uint32(10+i))
		tracks[i].close()
	}
}

// behind reports whether a viewer of src has its queue more than half
// full.
func behind(src *source) bool {
	for _, sub := range *src.subs.Load() {
		if q := sub.track.queue; len(q) > cap(q)/2 {
			return true
		}
	}
	return false
}

// TestSwitchToRecentWhileWaiting: a switch made while the track waits
// for a keyframe of its current stream (after an overflow, or before its
// first) starts at the new stream's recent keyframe and then follows that
// stream live: the wait for the old stream's keyframe is over.
func TestSwitchToRecentWhileWaiting(t *testing.T) {
	hi, lo, srcLo, v, log := watchedLow(t)
	hi.emit(numbered(0, false)) // no keyframe yet: v waits
	_ = lo.Acquire()
	touchRecent(srcLo)
	v.setSource(srcLo)
	waitFor(t, "lo's recent frames", func() bool { return log.count() == 2 })
	lo.emit(numbered(12, false))
	lo.emit(numbered(13, false))
	waitFor(t, "lo's live frames", func() bool { return log.count() == 4 })
	if got := checkFrames(t, "switch", log, 2); got[0] != 10 {
		t.Fatalf("started at frame %d, want lo's keyframe 10", got[0])
	}
}

// TestReconnectDoesNotReplayRecent: a transport that comes up again (ICE
// restart, a network change) restarts its viewer at a new keyframe, as
// before, and never at recent frames it was already sent: their
// timestamps would go back.
func TestReconnectDoesNotReplayRecent(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	other := newTestViewer(t, src, &frameLog{}, 1)
	defer other.close()
	st.emit(numbered(0, true))
	st.emit(numbered(1, false))
	log := &frameLog{}
	v := newTestViewer(t, src, log, 2)
	defer v.close()
	waitFor(t, "the recent frames", func() bool { return log.count() == 2 })
	st.emit(numbered(2, false))
	waitFor(t, "the live frame", func() bool { return log.count() == 3 })

	keys := st.keys.Load()
	v.setReady(false)
	v.setReady(true)
	waitFor(t, "a keyframe request", func() bool { return st.keys.Load() > keys })
	st.emit(numbered(3, false))
	time.Sleep(10 * time.Millisecond)
	if n := log.count(); n != 3 {
		t.Fatalf("got %d frames after reconnecting, want none before a new keyframe", n-3)
	}
	st.emit(numbered(4, true))
	waitFor(t, "the new keyframe", func() bool { return log.count() == 4 })
	hdrs, frames, _ := log.snapshot()
	if fmt.Sprint(frames) != "[0 1 2 4]" {
		t.Fatalf("got frames %v, want [0 1 2 4]", frames)
	}
	checkContinuous(t, "reconnect", hdrs, 2)
}

// TestStaleSkipsToKeyframe: after a viewer fell too far behind and its
// queue was thrown away, the first frame it gets is a keyframe, even when
// the streaming thread queued a delta frame just after the queue was
// emptied (it had checked for the wait before the writer set it).
func TestStaleSkipsToKeyframe(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, _ := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	log := &frameLog{}
	v := newTestViewer(t, src, log, 1)
	defer v.close()
	st.emit(numbered(0, true))
	st.emit(numbered(1, false))
	waitFor(t, "the first frames", func() bool { return log.count() == 2 })
	// The join's own request, passed on by a goroutine, must not pass
	// for the stale queue's below.
	waitFor(t, "the join's keyframe request", func() bool { return st.keys.Load() > 0 && keyRequestsServed(src) })
	sub := v.cur.Load()
	delta := func(i int) []rtp.Packet {
		var pkts []rtp.Packet
		for _, p := range src.payloader.Payload(rtpMTU-12, numbered(i, false).Data) {
			pkts = append(pkts, rtp.Packet{Header: rtp.Header{Version: 2, Marker: true}, Payload: p})
		}
		return pkts
	}

	asked := st.keys.Load()
	// A frame that waited too long: the writer throws the queue away and
	// asks for a keyframe.
	v.queue <- queued{pkts: delta(2), sub: sub, at: src.now() - int64(2*maxQueueDelay)}
	waitFor(t, "the stale queue's keyframe request", func() bool { return st.keys.Load() > asked })
	// The streaming thread's delta, queued after the queue was emptied.
	v.queue <- queued{pkts: delta(3), sub: sub, at: src.now()}
	st.emit(numbered(4, true))
	st.emit(numbered(5, false))
	waitFor(t, "the frames after the keyframe", func() bool { return log.count() >= 4 })
	time.Sleep(10 * time.Millisecond)
	hdrs, frames, keys := log.snapshot()
	if !slices.Equal(frames, []int{0, 1, 4, 5}) || !keys[2] {
		t.Fatalf("frames %v (keyframes %v), want 0 1 4 5: the viewer resumes at the keyframe", frames, keys)
	}
	checkContinuous(t, "viewer", hdrs, 1)
}
