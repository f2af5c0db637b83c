package capture

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/test/xserver"
)

func TestMain(m *testing.M) { xserver.Main(m) }

func noise(w, h int) []byte {
	p := make([]byte, w*h*4)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func TestEncodeJPEG(t *testing.T) {
	img, err := EncodeJPEG(context.Background(), noise(1920, 1080), 1920, 1080, 80)
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
	for name, call := range map[string]func() error{
		"quality 101": func() error { _, err := EncodeJPEG(context.Background(), noise(4, 4), 4, 4, 101); return err },
		"short":       func() error { _, err := EncodeJPEG(context.Background(), noise(4, 3), 4, 4, 80); return err },
		"no size":     func() error { _, err := EncodeJPEG(context.Background(), nil, 0, 0, 80); return err },
	} {
		if call() == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestScreenshot: what another client paints on a real X display is in
// the JPEG.
func TestScreenshot(t *testing.T) {
	display := xserver.Xvfb(t, "640x360")
	xserver.PaintRoot(t, display, 0x2080e0)
	img, err := Screenshot(context.Background(), display, 90)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := jpeg.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if b := pic.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Fatalf("size %v", b)
	}
	r, g, b, _ := pic.At(320, 180).RGBA()
	if d := absDiff(r>>8, 0x20) + absDiff(g>>8, 0x80) + absDiff(b>>8, 0xe0); d > 24 {
		t.Fatalf("pixel %d,%d,%d, want 32,128,224", r>>8, g>>8, b>>8)
	}
	if _, err := Screenshot(context.Background(), display, 101); err == nil {
		t.Fatal("quality 101 accepted")
	}
	if _, err := Screenshot(context.Background(), ":987654", 80); err == nil {
		t.Fatal("screenshot of a display that does not exist succeeded")
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// paintNoise draws noise over the whole root window (the worst case for
// JPEG), in stripes that fit the core protocol's request size.
func paintNoise(tb testing.TB, display string, w, h int) {
	tb.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	screen := xproto.Setup(c).DefaultScreen(c)
	gc, err := xproto.NewGcontextId(c)
	if err != nil {
		tb.Fatal(err)
	}
	if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(screen.Root), 0, nil).Check(); err != nil {
		tb.Fatal(err)
	}
	pixels := noise(w, h)
	const rows = 16
	for y := 0; y < h; y += rows {
		n := min(rows, h-y)
		if err := xproto.PutImageChecked(c, xproto.ImageFormatZPixmap, xproto.Drawable(screen.Root), gc,
			uint16(w), uint16(n), 0, int16(y), 0, screen.RootDepth, pixels[y*w*4:(y+n)*w*4]).Check(); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkScreenshot1080p grabs a real 1920x1080 X display showing noise
// and encodes it at quality 80. Target: ≤ 40 ms.
func BenchmarkScreenshot1080p(b *testing.B) {
	display := xserver.Xvfb(b, "1920x1080")
	paintNoise(b, display, 1920, 1080)
	ctx := context.Background()
	size := 0
	for b.Loop() {
		img, err := Screenshot(ctx, display, 80)
		if err != nil {
			b.Fatal(err)
		}
		size = len(img)
	}
	b.ReportMetric(float64(size)/1024, "KB")
}

// BenchmarkEncodeJPEG1080p encodes noise, the worst case for JPEG.
func BenchmarkEncodeJPEG1080p(b *testing.B) {
	pixels := noise(1920, 1080)
	ctx := context.Background()
	for b.Loop() {
		if _, err := EncodeJPEG(ctx, pixels, 1920, 1080, 80); err != nil {
			b.Fatal(err)
		}
	}
}
