package ximage

import (
	"fmt"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/test/xserver"
)

func TestMain(m *testing.M) { xserver.Main(m) }

func pixel(frame []byte, width, x, y int) (r, g, b byte) {
	i := (y*width + x) * 4
	return frame[i+2], frame[i+1], frame[i]
}

func grabColour(t *testing.T, display string) {
	t.Helper()
	g, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if w, h := g.Size(); w != 320 || h != 240 {
		t.Fatalf("size %dx%d", w, h)
	}
	for _, colour := range []uint32{0xff8040, 0x10e020} {
		xserver.PaintRoot(t, display, colour)
		frame, err := g.Grab()
		if err != nil {
			t.Fatal(err)
		}
		if len(frame) != 320*240*4 {
			t.Fatalf("%d bytes", len(frame))
		}
		want := [3]byte{byte(colour >> 16), byte(colour >> 8), byte(colour)}
		for _, p := range [][2]int{{0, 0}, {319, 239}, {160, 120}} {
			r, gr, b := pixel(frame, 320, p[0], p[1])
			if [3]byte{r, gr, b} != want {
				t.Fatalf("pixel %v = %d,%d,%d, want %v", p, r, gr, b, want)
			}
		}
	}
}

// TestGrab: the colour another client paints is what a grab returns, in
// BGRx, through shared memory.
func TestGrab(t *testing.T) {
	display := xserver.Xvfb(t, "320x240")
	g, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	if !g.SharedMemory() {
		t.Fatal("Xvfb on this machine offers MIT-SHM, but it is not used")
	}
	g.Close()
	g.Close() // idempotent
	grabColour(t, display)
}

// TestGrabWithoutSharedMemory: a server without MIT-SHM (a remote one)
// is grabbed over the socket.
func TestGrabWithoutSharedMemory(t *testing.T) {
	display := xserver.Start(t, "Xvfb", "-screen", "0", "320x240x24", "-nolisten", "tcp", "-noreset", "-extension", "MIT-SHM")
	g, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	shm := g.SharedMemory()
	g.Close()
	if shm {
		t.Fatal("MIT-SHM used on a server without it")
	}
	grabColour(t, display)
}

// TestCursor: the pointer's image comes with its position on the screen.
func TestCursor(t *testing.T) {
	display := xserver.Xvfb(t, "320x240")
	g, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.WarpPointerChecked(c, 0, root, 0, 0, 0, 0, 100, 80).Check(); err != nil {
		t.Fatal(err)
	}
	cur, err := g.Cursor()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Width <= 0 || cur.Height <= 0 || len(cur.Pixels) != cur.Width*cur.Height {
		t.Fatalf("cursor %dx%d with %d pixels", cur.Width, cur.Height, len(cur.Pixels))
	}
	// The hotspot lies inside the image, at the pointer.
	if hx, hy := 100-cur.X, 80-cur.Y; hx < 0 || hy < 0 || hx >= cur.Width || hy >= cur.Height {
		t.Fatalf("image at %d,%d (%dx%d) does not cover the pointer at 100,80", cur.X, cur.Y, cur.Width, cur.Height)
	}
}

// TestServerGone: a lost X server is an error, not the end of the process
// (Xlib's default) nor a hang.
func TestServerGone(t *testing.T) {
	x := xserver.Run(t, "Xvfb", "-screen", "0", "320x240x24", "-nolisten", "tcp")
	g, err := Open(x.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Grab(); err != nil {
		t.Fatal(err)
	}
	x.Stop()
	if _, err := g.Grab(); err == nil {
		t.Fatal("grab succeeded after the server stopped")
	}
	if _, err := g.Cursor(); err == nil {
		t.Fatal("cursor read after the server stopped")
	}
	if _, err := Open(x.Display); err == nil {
		t.Fatal("opened a stopped server")
	}
}

func TestDrawCursor(t *testing.T) {
	const w, h = 4, 3
	frame := make([]byte, w*h*4)
	for i := range frame {
		frame[i] = 100
	}
	// 2x2 cursor hanging off the right edge: opaque red, transparent,
	// half-transparent white (premultiplied), out of the frame.
	c := Cursor{X: 2, Y: 1, Width: 3, Height: 2, Pixels: []uint32{
		0xffff0000, 0x00000000, 0xffffffff,
		0x80808080, 0xff00ff00, 0xff0000ff,
	}}
	DrawCursor(frame, w, h, c)
	check := func(x, y int, want [3]byte) {
		t.Helper()
		r, g, b := pixel(frame, w, x, y)
		if [3]byte{r, g, b} != want {
			t.Errorf("pixel %d,%d = %d,%d,%d, want %v", x, y, r, g, b, want)
		}
	}
	check(2, 1, [3]byte{255, 0, 0})
	check(3, 1, [3]byte{100, 100, 100})
	check(2, 2, [3]byte{128 + 50, 128 + 50, 128 + 50})
	check(3, 2, [3]byte{0, 255, 0})
	check(0, 0, [3]byte{100, 100, 100})
	// Nothing outside the frame, whatever the position.
	for _, at := range [][2]int{{-5, -5}, {10, 10}, {-1, 2}, {3, -1}} {
		c.X, c.Y = at[0], at[1]
		DrawCursor(frame, w, h, c)
	}
	DrawCursor(frame[:5], w, h, Cursor{X: 1, Y: 1, Width: 1, Height: 1, Pixels: []uint32{0xffffffff}})
}

// TestDamaged: a change of the screen after a grab is reported once; a
// grab asks for the next report.
func TestDamaged(t *testing.T) {
	display := xserver.Xvfb(t, "320x240")
	g, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Damaged() == nil {
		t.Fatal("Xvfb has DAMAGE, but it is not used")
	}
	// The server reports the whole screen when the damage object is
	// made; the first grab covers it, so it is not passed on.
	select {
	case <-g.Damaged():
		t.Fatal("the report of the damage object's creation was passed on")
	case <-time.After(300 * time.Millisecond):
	}
	drain := func() {
		for {
			select {
			case <-g.Damaged():
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	expect := func(what string) {
		t.Helper()
		select {
		case <-g.Damaged():
		case <-time.After(5 * time.Second):
			t.Fatalf("no damage report after %s", what)
		}
	}
	for i, colour := range []uint32{0x112233, 0x445566} {
		if _, err := g.Grab(); err != nil {
			t.Fatal(err)
		}
		drain()
		xserver.PaintRoot(t, display, colour)
		expect(fmt.Sprintf("paint %d", i))
	}
	// Without a grab in between, the next change is not reported.
	xserver.PaintRoot(t, display, 0x778899)
	select {
	case <-g.Damaged():
		t.Fatal("reported twice without a grab asking for it")
	case <-time.After(300 * time.Millisecond):
	}
}
