package capture

import (
	"syscall"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/test/xserver"
)

// BenchmarkCapture720p compares what one 1280x720@30 capture costs this
// process up to I420 (the encoder's input): the shared capture (Frames,
// MIT-SHM segments lent to an appsrc) against GStreamer's ximagesrc. One
// iteration is one frame out of videoconvert; cpu-ms/frame is the
// process's user+system time per frame (the X server's copy is not in
// it, for either).
func BenchmarkCapture720p(b *testing.B) {
	display := xserver.Xvfb(b, "1280x720")
	paintNoise(b, display, 1280, 720)
	const tail = " ! videoconvert ! video/x-raw,format=I420 ! appsink name=appsink sync=false"
	b.Run("frames", func(b *testing.B) {
		feed := Feed{Width: 1280, Height: 720, FPS: 30}
		benchCapture(b, feed.Appsrc()+tail, func(p *gst.Pipeline) func() {
			return NewFrames(display, nil).Attach(p, feed)
		})
	})
	b.Run("ximagesrc", func(b *testing.B) {
		benchCapture(b, "ximagesrc display-name="+display+" show-pointer=false use-damage=false ! video/x-raw,framerate=30/1"+tail, nil)
	})
}

func benchCapture(b *testing.B, desc string, attach func(*gst.Pipeline) func()) {
	frames := make(chan struct{}, 64)
	src := ""
	if attach != nil {
		src = "src"
	}
	p, err := gst.New(desc, "appsink", src, func(gst.Sample) {
		select {
		case frames <- struct{}{}:
		default:
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	if attach != nil {
		defer attach(p)()
	}
	for range 10 { // warm up
		<-frames
	}
	start := cpuTime()
	began := time.Now()
	for b.Loop() {
		select {
		case <-frames:
		case <-time.After(5 * time.Second):
			b.Fatal("no frame for 5 s")
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/n, "cpu-ms/frame")
	b.ReportMetric(n/time.Since(began).Seconds(), "fps")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
