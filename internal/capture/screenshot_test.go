package capture

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"testing"
	"time"
)

const noise1080p = "videotestsrc pattern=snow num-buffers=1 ! video/x-raw,width=1920,height=1080"

func TestScreenshot(t *testing.T) {
	img, err := Screenshot(context.Background(), "", 80, noise1080p)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := jpeg.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if b := pic.Bounds(); b.Dx() != 1920 || b.Dy() != 1080 {
		t.Fatalf("size %v", b)
	}
	if _, err := Screenshot(context.Background(), "", 101, noise1080p); err == nil {
		t.Fatal("quality 101 accepted")
	}
	if _, err := Screenshot(context.Background(), ":987654", 80, ""); err == nil {
		t.Fatal("screenshot of a display that does not exist succeeded")
	}
}

// BenchmarkScreenshot1080p grabs a real 1920x1080 X display showing noise
// (the worst case for JPEG) and encodes it at quality 80.
// Target: ≤ 40 ms.
func BenchmarkScreenshot1080p(b *testing.B) {
	xvfb := exec.Command("Xvfb", ":93", "-screen", "0", "1920x1080x24", "-nolisten", "tcp")
	if err := xvfb.Start(); err != nil {
		b.Fatalf("Xvfb: %v", err)
	}
	defer func() { _ = xvfb.Process.Kill(); _ = xvfb.Wait() }()
	for i := 0; i < 50; i++ {
		if _, err := os.Stat("/tmp/.X11-unix/X93"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Paint noise with a one-frame window that stays up while we measure.
	paint := exec.Command("gst-launch-1.0", "-q", "videotestsrc", "pattern=snow", "is-live=true", "!",
		"video/x-raw,width=1920,height=1080,framerate=1/1", "!", "videoconvert", "!", "ximagesink", "display=:93")
	paint.Env = append(os.Environ(), "DISPLAY=:93")
	if err := paint.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = paint.Process.Kill(); _ = paint.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	ctx := context.Background()
	size := 0
	for b.Loop() {
		img, err := Screenshot(ctx, ":93", 80, "")
		if err != nil {
			b.Fatal(err)
		}
		size = len(img)
	}
	b.ReportMetric(float64(size)/1024, "KB")
}
