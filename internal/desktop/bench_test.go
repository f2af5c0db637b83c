package desktop

// Benchmarks for the Desktop performance targets. They report numbers, they
// do not assert them: run
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/desktop/
//
// Each starts its own X server once (b.Loop), outside the timing.
//
// Targets: BenchmarkMoveThroughput ≥ 20,000 moves/s, BenchmarkMoveAck
// p99 ≤ 1 ms, BenchmarkScreenshot1080p ≤ 40 ms/op.

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/pkg/types"
)

// BenchmarkMoveThroughput sends b.N XTest pointer moves through Move and
// then waits for the X server to have processed all of them (a round trip on
// the same connection, which the server answers only after every earlier
// request), so moves/s is what the server absorbs, not just how fast bytes
// are queued. Every move goes to a different position than the one before.
func BenchmarkMoveThroughput(b *testing.B) {
	d, _ := openTest(b) // Xvfb 1280x720
	w, h := d.loadSize()
	n := 0
	start := time.Now()
	for b.Loop() {
		if err := d.Move(n%w, n%h); err != nil {
			b.Fatal(err)
		}
		n++
	}
	x, y, err := d.CursorPosition() // the closing round trip
	elapsed := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if last := n - 1; x != last%w || y != last%h {
		b.Fatalf("pointer at %d,%d after the last move to %d,%d", x, y, last%w, last%h)
	}
	// ns/op (b.Loop's timing) leaves the closing round trip out; moves/s
	// includes it.
	b.ReportMetric(float64(n)/elapsed.Seconds(), "moves/s")
}

// BenchmarkMoveAck measures, per move, the latency from calling Move to the
// X server acknowledging it, over b.N samples:
//
//   - p50-µs / p99-µs (the target): Move(x, y) immediately followed by
//     CursorPosition, a QueryPointer round trip on the same connection. The
//     server handles one client's requests in order, so its reply is sent
//     only after the XTest motion was processed, and the benchmark checks
//     that the reply reports x,y. The interval runs from just before Move to
//     the reply being delivered to the caller: it covers the XTest request
//     and the QueryPointer request being written, the server processing both,
//     and the reply travelling back through xgb.
//   - app-p50-µs / app-p99-µs: from the same start to the moment a second X
//     client (standing in for an application: a window under the pointer
//     that selects PointerMotion) has received the MotionNotify for x,y in
//     its event-reading goroutine. It is taken in the same iteration, so it
//     includes the time spent on the QueryPointer above whenever the event
//     arrives before its reply has been handled.
//
// ns/op is the mean of the first interval plus the per-iteration overhead
// of waiting for the app's event.
func BenchmarkMoveAck(b *testing.B) {
	d, display := openTest(b) // Xvfb 1280x720
	w, h := d.loadSize()
	motions := motionWatcher(b, display)

	var ack, app []time.Duration
	for i := 0; b.Loop(); i++ {
		// Consecutive positions always differ, so every move is a real
		// motion that produces an event.
		x, y := 1+i%(w-2), 1+i%(h-2)
		start := time.Now()
		if err := d.Move(x, y); err != nil {
			b.Fatal(err)
		}
		gx, gy, err := d.CursorPosition()
		acked := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if gx != x || gy != y {
			b.Fatalf("QueryPointer after Move(%d, %d) reports %d,%d", x, y, gx, gy)
		}
		ack = append(ack, acked.Sub(start))
		for seen := false; !seen; {
			select {
			case m := <-motions:
				if int(m.x) == x && int(m.y) == y {
					app = append(app, m.at.Sub(start))
					seen = true
				}
			case <-time.After(3 * time.Second):
				b.Fatalf("no motion event for %d,%d", x, y)
			}
		}
	}
	reportPercentiles(b, "", ack)
	reportPercentiles(b, "app-", app)
}

func reportPercentiles(b *testing.B, prefix string, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		i := min(len(samples)-1, int(p*float64(len(samples))))
		return float64(samples[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), prefix+"p50-µs")
	b.ReportMetric(at(0.99), prefix+"p99-µs")
}

type motion struct {
	x, y int16
	at   time.Time
}

// motionWatcher maps a screen-sized override-redirect window on a
// connection of its own, selecting pointer motion, and sends each motion it
// receives, stamped on arrival, to the returned channel.
func motionWatcher(tb testing.TB, display string) <-chan motion {
	tb.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatal(err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	wid, err := xproto.NewWindowId(conn)
	must(tb, err)
	must(tb, xproto.CreateWindowChecked(conn, screen.RootDepth, wid, screen.Root,
		0, 0, screen.WidthInPixels, screen.HeightInPixels, 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{1, uint32(xproto.EventMaskPointerMotion)}).Check())
	must(tb, xproto.MapWindowChecked(conn, wid).Check())

	out := make(chan motion, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			if m, ok := ev.(xproto.MotionNotifyEvent); ok {
				select {
				case out <- motion{m.RootX, m.RootY, time.Now()}:
				default: // the benchmark is not listening; drop
				}
			}
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})
	return out
}

// BenchmarkScreenshot1080p times ScreenshotJPEG(80) of a 1920x1080 Xorg
// dummy screen (the runtime's X server) covered by a window whose
// background is a colour gradient with per-pixel noise: a pessimistic
// picture for JPEG, since no 8x8 block is flat. ms/op is the whole call
// (GetImage strips, pixel conversion, JPEG encoding); capture-ms is the
// median of a few Screenshot calls alone, taken after the timed loop, and
// KB the JPEG's size.
func BenchmarkScreenshot1080p(b *testing.B) {
	const width, height = 1920, 1080
	display := startXorgDummy(b, types.ScreenSize{Width: width, Height: height, Rate: 30})
	d := openOn(b, display)
	if w, h := d.loadSize(); w != width || h != height {
		b.Fatalf("screen is %dx%d", w, h)
	}
	noiseWindow(b, display, width, height)

	// Check the picture is really on screen before timing it.
	img, err := d.Screenshot()
	must(b, err)
	distinct := map[[3]uint8]bool{}
	for i := 0; i < 1000; i++ {
		c := img.RGBAAt(i*37%width, i*53%height)
		distinct[[3]uint8{c.R, c.G, c.B}] = true
	}
	if len(distinct) < 500 {
		b.Fatalf("only %d distinct colours in 1000 sampled pixels: the noise window is not on screen", len(distinct))
	}

	var size, n int
	start := time.Now()
	for b.Loop() {
		data, err := d.ScreenshotJPEG(80)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
		n++
	}
	b.ReportMetric(float64(time.Since(start))/float64(n)/float64(time.Millisecond), "ms/op")
	b.ReportMetric(float64(size)/1024, "KB")

	capture := make([]time.Duration, 3)
	for i := range capture {
		start := time.Now()
		if _, err := d.Screenshot(); err != nil {
			b.Fatal(err)
		}
		capture[i] = time.Since(start)
	}
	slices.Sort(capture)
	b.ReportMetric(float64(capture[len(capture)/2])/float64(time.Millisecond), "capture-ms")
}

// noiseWindow maps an override-redirect w×h window at 0,0 whose background
// pixmap holds a gradient with random noise, kept until the benchmark ends.
func noiseWindow(tb testing.TB, display string, w, h int) {
	tb.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(conn.Close)
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	if screen.RootDepth != 24 {
		tb.Fatalf("root depth %d, want 24", screen.RootDepth)
	}

	pix, err := xproto.NewPixmapId(conn)
	must(tb, err)
	must(tb, xproto.CreatePixmapChecked(conn, 24, pix, xproto.Drawable(screen.Root), uint16(w), uint16(h)).Check())
	gc, err := xproto.NewGcontextId(conn)
	must(tb, err)
	must(tb, xproto.CreateGCChecked(conn, gc, xproto.Drawable(pix), 0, nil).Check())

	// ZPixmap at depth 24 is 32 bits per pixel; stay under the maximum
	// request length (in 4-byte units) with room for the header.
	rows := max(1, (int(setup.MaximumRequestLength)*4-64)/(w*4))
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(v int) uint32 { return uint32(min(255, max(0, v+rng.IntN(97)-48))) }
	for y0 := 0; y0 < h; y0 += rows {
		n := min(rows, h-y0)
		data := make([]byte, w*n*4)
		for r := 0; r < n; r++ {
			y := y0 + r
			for x := 0; x < w; x++ {
				p := noise(x*255/w)<<16 | noise(y*255/h)<<8 | noise((x+y)*255/(w+h))
				o := (r*w + x) * 4
				if setup.ImageByteOrder == xproto.ImageOrderMSBFirst {
					data[o], data[o+1], data[o+2], data[o+3] = 0, byte(p>>16), byte(p>>8), byte(p)
				} else {
					data[o], data[o+1], data[o+2], data[o+3] = byte(p), byte(p>>8), byte(p>>16), 0
				}
			}
		}
		must(tb, xproto.PutImageChecked(conn, xproto.ImageFormatZPixmap, xproto.Drawable(pix), gc,
			uint16(w), uint16(n), 0, int16(y0), 0, 24, data).Check())
	}

	wid, err := xproto.NewWindowId(conn)
	must(tb, err)
	must(tb, xproto.CreateWindowChecked(conn, 24, wid, screen.Root, 0, 0, uint16(w), uint16(h), 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixmap|xproto.CwOverrideRedirect, []uint32{uint32(pix), 1}).Check())
	must(tb, xproto.MapWindowChecked(conn, wid).Check())
	// The round trip above means the map was processed, and the server
	// paints the background while handling MapWindow.
}
