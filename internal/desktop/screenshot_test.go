package desktop

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// showWindow maps an override-redirect window at x,y of size w×h with a
// solid background pixel (0xRRGGBB) and, if cursor is not 0, that cursor.
// It returns the window's connection, kept open until the test ends.
func showWindow(t *testing.T, display string, x, y, w, h int, pixel uint32, cursorGlyph uint16) *xgb.Conn {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	screen := xproto.Setup(conn).DefaultScreen(conn)
	wid, err := xproto.NewWindowId(conn)
	must(t, err)
	mask := uint32(xproto.CwBackPixel | xproto.CwOverrideRedirect)
	values := []uint32{pixel, 1}
	if cursorGlyph != 0 {
		font, err := xproto.NewFontId(conn)
		must(t, err)
		must(t, xproto.OpenFontChecked(conn, font, uint16(len("cursor")), "cursor").Check())
		cur, err := xproto.NewCursorId(conn)
		must(t, err)
		must(t, xproto.CreateGlyphCursorChecked(conn, cur, font, font, cursorGlyph, cursorGlyph+1,
			0, 0, 0, 0xffff, 0xffff, 0xffff).Check())
		mask |= xproto.CwCursor
		values = append(values, uint32(cur))
	}
	must(t, xproto.CreateWindowChecked(conn, screen.RootDepth, wid, screen.Root, int16(x), int16(y), uint16(w), uint16(h), 0,
		xproto.WindowClassInputOutput, screen.RootVisual, mask, values).Check())
	must(t, xproto.MapWindowChecked(conn, wid).Check())
	return conn
}

func TestScreenshot(t *testing.T) {
	d, display := openTest(t)
	showWindow(t, display, 100, 200, 300, 150, 0xff0000, 0)
	showWindow(t, display, 600, 100, 50, 50, 0x0000ff, 0)

	img, err := d.Screenshot()
	must(t, err)
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Fatalf("screenshot is %v", b)
	}
	check := func(x, y int, r, g, b uint8) {
		t.Helper()
		c := img.RGBAAt(x, y)
		if c.R != r || c.G != g || c.B != b || c.A != 255 {
			t.Errorf("pixel %d,%d = %v, want %d,%d,%d", x, y, c, r, g, b)
		}
	}
	check(250, 275, 255, 0, 0)
	check(625, 125, 0, 0, 255)
	check(5, 5, 0, 0, 0)

	data, err := d.ScreenshotJPEG(80)
	must(t, err)
	jp, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a JPEG: %v", err)
	}
	if b := jp.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Fatalf("JPEG is %v", b)
	}
	if r, g, b, _ := jp.At(250, 275).RGBA(); r>>8 < 200 || g>>8 > 60 || b>>8 > 60 {
		t.Errorf("JPEG pixel in the red window is %d,%d,%d", r>>8, g>>8, b>>8)
	}
	// Quality changes the size; out-of-range values are clamped.
	small, err := d.ScreenshotJPEG(0)
	must(t, err)
	if len(small) >= len(data) {
		t.Errorf("quality 1 gave %d bytes, quality 80 %d", len(small), len(data))
	}
}

func TestScreenshotAfterResize(t *testing.T) {
	display := startXorgDummy(t, hd30Mode, portraitMode)
	d := openOn(t, display)
	if _, err := d.SetScreenSize(portraitMode, ""); err != nil {
		t.Fatal(err)
	}
	img, err := d.Screenshot()
	must(t, err)
	if b := img.Bounds(); b.Dx() != portraitMode.Width || b.Dy() != portraitMode.Height {
		t.Fatalf("screenshot after resize is %v", b)
	}
}

func TestCursorImage(t *testing.T) {
	d, display := openTest(t)
	var mu sync.Mutex
	var seen []CursorImage
	d.OnCursorImage(func(c CursorImage) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	})
	var positions [][2]int
	d.OnCursorPosition(func(x, y int) {
		mu.Lock()
		positions = append(positions, [2]int{x, y})
		mu.Unlock()
	})

	must(t, d.Move(10, 10))
	first, err := d.CursorImage()
	must(t, err)
	if first.Width == 0 || first.Height == 0 {
		t.Fatalf("initial cursor %dx%d", first.Width, first.Height)
	}

	// A window with the hand cursor (XC_hand2 = 60) under the pointer.
	showWindow(t, display, 500, 300, 200, 200, 0x00ff00, 60)
	must(t, d.Move(600, 400))

	deadline := time.Now().Add(3 * time.Second)
	var hand CursorImage
	for {
		mu.Lock()
		if len(seen) > 0 {
			hand = seen[len(seen)-1]
		}
		mu.Unlock()
		if hand.Serial != 0 && hand.Serial != first.Serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cursor image change; first serial %d, seen %d images", first.Serial, len(seen))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if hand.Width <= 0 || hand.Height <= 0 || hand.Xhot >= hand.Width || hand.Yhot >= hand.Height {
		t.Fatalf("hand cursor %dx%d hot %d,%d", hand.Width, hand.Height, hand.Xhot, hand.Yhot)
	}
	decoded, err := png.Decode(bytes.NewReader(hand.PNG))
	if err != nil {
		t.Fatalf("cursor PNG: %v", err)
	}
	if b := decoded.Bounds(); b.Dx() != hand.Width || b.Dy() != hand.Height {
		t.Fatalf("cursor PNG is %v", b)
	}
	opaque := 0
	for i := 3; i < len(hand.Image.Pix); i += 4 {
		if hand.Image.Pix[i] != 0 {
			opaque++
		}
	}
	if opaque == 0 {
		t.Fatal("the hand cursor image is fully transparent")
	}
	if cur, _ := d.CursorImage(); cur.Serial != hand.Serial {
		t.Fatalf("CursorImage serial %d, last notified %d", cur.Serial, hand.Serial)
	}

	must(t, d.Move(-50, 99999))
	mu.Lock()
	defer mu.Unlock()
	want := [][2]int{{10, 10}, {600, 400}, {0, 719}}
	if len(positions) != len(want) {
		t.Fatalf("positions %v, want %v", positions, want)
	}
	for i := range want {
		if positions[i] != want[i] {
			t.Fatalf("positions %v, want %v", positions, want)
		}
	}
}
