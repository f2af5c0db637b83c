package webrtc

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestProbePadsBetweenFrames: while a probe runs, the viewer's track gets
// padding-only packets numbered in line with its media and sent only
// between whole frames; stopping the probe stops them.
func TestProbePadsBetweenFrames(t *testing.T) {
	st := &fakeStream{id: "main"}
	src, err := newSource("main", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	v := newTestViewer(t, src, rec, 7)
	defer v.close()

	frame := 0
	emit := func(n int) {
		for i := 0; i < n; i++ {
			st.emit(vp8Frame(2500, frame%30 == 0, time.Duration(frame)*time.Second/30))
			frame++
			time.Sleep(time.Second / 30)
		}
	}
	emit(3)
	v.startProbe(2_000_000, 2_000_000, 0)
	emit(15)
	v.stopProbe()
	// The writer may be padding with the plan it loaded before the stop;
	// a frame it writes after that is where the count is settled.
	emit(1)
	waitFor(t, "the frame after the stop", func() bool { _, f := rec.snapshot(); return f == frame })
	padded := v.padded.Load()
	if padded == 0 {
		t.Fatal("no padding while probing")
	}
	emit(6)
	waitFor(t, "the last frame", func() bool { _, f := rec.snapshot(); return f == frame })
	if v.padded.Load() != padded {
		t.Fatalf("%d padding packets after the probe stopped", v.padded.Load()-padded)
	}

	hdrs, _ := rec.snapshot()
	checkContinuous(t, "probed viewer", hdrs, 7)
	pads := 0
	for i, h := range hdrs {
		if !h.Padding {
			continue
		}
		pads++
		if h.PaddingSize != paddingSize || h.Marker {
			t.Fatalf("padding packet %d: size %d marker %v", i, h.PaddingSize, h.Marker)
		}
		if i == 0 || !(hdrs[i-1].Marker || hdrs[i-1].Padding) {
			t.Fatalf("padding packet %d sent inside a frame", i)
		}
		if h.Timestamp != hdrs[i-1].Timestamp {
			t.Fatalf("padding packet %d has timestamp %d, want the last frame's %d", i, h.Timestamp, hdrs[i-1].Timestamp)
		}
	}
	if uint64(pads) != padded {
		t.Fatalf("recorded %d padding packets, counted %d", pads, padded)
	}
	t.Logf("%d media frames, %d padding packets (%d bytes of padding) in a 0.5 s probe", frame, pads, pads*paddingSize)
}
