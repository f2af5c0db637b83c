package capture

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testStream encodes a test pattern, so that no X display is needed.
// keyIndex(k) is the number of frames delivered up to the k-th keyframe.
func testStream(t *testing.T) (s *Stream, count func() (frames, keys int), keyIndex func(k int) int) {
	t.Helper()
	s = NewStream("main", "video", func() (string, error) {
		return "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! vp8enc deadline=1 cpu-used=16 keyframe-max-dist=100000 ! appsink name=appsink sync=false", nil
	}, nil)
	var mu sync.Mutex
	var frames, keys int
	keyAt := map[int]int{}
	s.SetHandler(func(smp Sample) {
		mu.Lock()
		frames++
		if !smp.Delta {
			keys++
			keyAt[keys] = frames
		}
		mu.Unlock()
	})
	t.Cleanup(s.Close)
	return s, func() (int, int) {
			mu.Lock()
			defer mu.Unlock()
			return frames, keys
		}, func(k int) int {
			mu.Lock()
			defer mu.Unlock()
			return keyAt[k]
		}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKeyframeRequestsMerged: requests made while a forced keyframe is on
// its way are served by it (a burst costs one keyframe); a request made
// right after it was delivered forces the next one at once.
func TestKeyframeRequestsMerged(t *testing.T) {
	s, count, keyIndex := testStream(t)
	if err := s.Acquire(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "first keyframe and a few frames", func() bool { f, k := count(); return k == 1 && f > 5 })
	for i := 0; i < 10; i++ {
		s.RequestKeyframe()
	}
	waitUntil(t, "the forced keyframe", func() bool { _, k := count(); return k == 2 })
	// Delivered: the next request is not merged into it, even well
	// within the in-flight timeout.
	f0, _ := count()
	s.RequestKeyframe()
	waitUntil(t, "a second forced keyframe", func() bool { _, k := count(); return k == 3 })
	// Served within a few frames, not after a fixed interval.
	if f := keyIndex(3); f-f0 > 5 {
		t.Fatalf("the keyframe came %d frames after the request", f-f0)
	}
	// Nothing more: the burst cost one keyframe, and no retry follows
	// keyframes that came.
	time.Sleep(2 * keyInFlightTimeout)
	if _, k := count(); k != 3 {
		t.Fatalf("%d keyframes for a burst of 10 requests and one more, want 1 + 2", k)
	}
	s.Release()
	if s.Running() {
		t.Fatal("pipeline runs after the last viewer left")
	}
}

// TestRestartKeepsViewers: a restart (screen resize, Videos.Restart) keeps
// the handler and the viewer count, and the new encoder starts with a
// keyframe.
func TestRestartKeepsViewers(t *testing.T) {
	s, count, _ := testStream(t)
	if err := s.Acquire(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "frames", func() bool { f, _ := count(); return f > 3 })
	_, keys := count()
	if err := (&Videos{streams: []*Stream{s}}).Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Viewers() != 1 || !s.Running() {
		t.Fatalf("after restart: viewers %d running %v", s.Viewers(), s.Running())
	}
	waitUntil(t, "keyframe after restart", func() bool { _, k := count(); return k > keys })
}

func openFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

// TestPipelinesDoNotLeak: pipelines started and stopped (a stream's first
// viewer comes, its last leaves) give back their descriptors.
func TestPipelinesDoNotLeak(t *testing.T) {
	s, count, _ := testStream(t)
	cycle := func() {
		if err := s.Acquire(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "a frame", func() bool { f, _ := count(); return f > 0 })
		s.Release()
	}
	cycle() // GStreamer's one-time allocations
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	before := openFDs()
	for i := 0; i < 30; i++ {
		cycle()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		if n := openFDs(); n <= before+5 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("descriptors: %d before 30 pipelines, %d after", before, n)
		}
	}
}

func rssMiB(t *testing.T) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kib, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return float64(kib) / 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestPipelineRestartsKeepMemory: a 720p encoder started and stopped again
// and again (the last viewer leaves, another comes) gives its memory back;
// glibc would otherwise keep each stopped pipeline's buffers in the arena
// of its streaming threads.
func TestPipelineRestartsKeepMemory(t *testing.T) {
	s := NewStream("main", "video", func() (string, error) {
		return "videotestsrc is-live=true pattern=ball ! video/x-raw,width=1280,height=720,framerate=30/1 ! vp8enc deadline=1 cpu-used=16 threads=2 ! appsink name=appsink sync=false", nil
	}, nil)
	var frames atomic.Int64
	s.SetHandler(func(Sample) { frames.Add(1) })
	t.Cleanup(s.Close)
	cycle := func() {
		if err := s.Acquire(); err != nil {
			t.Fatal(err)
		}
		n := frames.Load()
		waitUntil(t, "frames", func() bool { return frames.Load() > n+3 })
		s.Release()
	}
	for range 3 {
		cycle()
	}
	runtime.GC()
	before := rssMiB(t)
	for range 15 {
		cycle()
	}
	// The memory is handed back in the background after each stop.
	var after float64
	for deadline := time.Now().Add(3 * time.Second); ; {
		runtime.GC()
		after = rssMiB(t)
		if after-before <= 30 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("RSS %.0f MiB after 3 pipelines, %.0f MiB after 15 more", before, after)
	if after-before > 30 {
		t.Fatalf("RSS grew by %.0f MiB over 15 pipeline restarts", after-before)
	}
}

// TestEncoderLatency: a running stream reports how long its frames take
// from the source's timestamp to the appsink (a running time, so well
// under the pipeline's age; x264enc moves its timestamps by 1000 hours
// and its segment with them), a pipeline it does not feed has no known
// queue, and a stopped stream reports nothing.
func TestEncoderLatency(t *testing.T) {
	for name, enc := range map[string]string{
		"vp8":  "vp8enc deadline=1 cpu-used=16",
		"h264": "x264enc tune=zerolatency speed-preset=ultrafast",
	} {
		t.Run(name, func(t *testing.T) {
			s := NewStream("main", "video", func() (string, error) {
				return "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 ! videoconvert ! " +
					enc + " ! appsink name=appsink sync=false", nil
			}, nil)
			t.Cleanup(s.Close)
			var frames atomic.Int64
			s.SetHandler(func(Sample) { frames.Add(1) })
			if _, _, l := s.EncoderStats(); l != 0 {
				t.Fatalf("latency %v before any pipeline", l)
			}
			if err := s.Acquire(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "frames", func() bool { return frames.Load() >= 10 })
			queued, fed, latency := s.EncoderStats()
			if fed || queued != 0 {
				t.Fatalf("queue %d (fed %v) for a pipeline with its own source", queued, fed)
			}
			if latency <= 0 || latency > 10*time.Second {
				t.Fatalf("latency %v, want a frame's time in the pipeline", latency)
			}
			s.Release()
			waitUntil(t, "the pipeline to stop", func() bool { return !s.Running() })
			if _, _, l := s.EncoderStats(); l != 0 {
				t.Fatalf("latency %v after the stream stopped", l)
			}
		})
	}
}
