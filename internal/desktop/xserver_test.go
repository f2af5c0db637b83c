package desktop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/test/xserver"
)

func TestMain(m *testing.M) { xserver.Main(m) }

// startXvfb runs a private Xvfb and returns its display name. A missing
// Xvfb fails the test: these tests are the only proof the X code works.
func startXvfb(tb testing.TB) string {
	tb.Helper()
	return xserver.Start(tb, "Xvfb",
		"-screen", "0", "1280x720x24", "-nolisten", "tcp", "+extension", "XTEST")
}

// openTest starts an Xvfb and opens a Desktop on it.
func openTest(tb testing.TB) (*Desktop, string) {
	tb.Helper()
	display := startXvfb(tb)
	return openOn(tb, display), display
}

// openOn opens a Desktop on a running display, closed when the test ends.
func openOn(tb testing.TB, display string) *Desktop {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := Open(ctx, Options{Display: display})
	if err != nil {
		tb.Fatalf("Open(%s): %v", display, err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return d
}

// event is what the recorder keeps of an input event.
type event struct {
	kind   string // "keydown", "keyup", "buttondown", "buttonup", "motion"
	detail byte   // keycode or button
	state  uint16
	x, y   int16 // root coordinates
}

func (e event) String() string {
	return fmt.Sprintf("%s(%d state=%#x @%d,%d)", e.kind, e.detail, e.state, e.x, e.y)
}

// recorder is a second X client: a focused window covering the screen that
// records the input events it receives, as an application would see them.
type recorder struct {
	tb   testing.TB
	conn *xgb.Conn
	root xproto.Window

	mu     sync.Mutex
	events []event
	signal chan struct{}
}

func newRecorder(tb testing.TB, display string) *recorder {
	tb.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatalf("recorder connect: %v", err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	rec := &recorder{tb: tb, conn: conn, root: screen.Root, signal: make(chan struct{}, 1)}
	done := make(chan struct{})
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})

	wid, err := xproto.NewWindowId(conn)
	if err != nil {
		tb.Fatal(err)
	}
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskKeyRelease |
		xproto.EventMaskButtonPress | xproto.EventMaskButtonRelease | xproto.EventMaskPointerMotion)
	// Override-redirect: there is no window manager to ask.
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, wid, screen.Root,
		0, 0, screen.WidthInPixels, screen.HeightInPixels, 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwOverrideRedirect|xproto.CwEventMask, []uint32{1, mask}).Check()
	if err != nil {
		tb.Fatalf("create window: %v", err)
	}
	if err := xproto.MapWindowChecked(conn, wid).Check(); err != nil {
		tb.Fatalf("map window: %v", err)
	}
	if err := xproto.SetInputFocusChecked(conn, xproto.InputFocusPointerRoot, wid, xproto.TimeCurrentTime).Check(); err != nil {
		tb.Fatalf("focus window: %v", err)
	}

	go func() {
		defer close(done)
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			var e event
			switch v := ev.(type) {
			case xproto.KeyPressEvent:
				e = event{"keydown", byte(v.Detail), v.State, v.RootX, v.RootY}
			case xproto.KeyReleaseEvent:
				e = event{"keyup", byte(v.Detail), v.State, v.RootX, v.RootY}
			case xproto.ButtonPressEvent:
				e = event{"buttondown", byte(v.Detail), v.State, v.RootX, v.RootY}
			case xproto.ButtonReleaseEvent:
				e = event{"buttonup", byte(v.Detail), v.State, v.RootX, v.RootY}
			case xproto.MotionNotifyEvent:
				e = event{"motion", 0, v.State, v.RootX, v.RootY}
			default:
				continue
			}
			rec.mu.Lock()
			rec.events = append(rec.events, e)
			rec.mu.Unlock()
			select {
			case rec.signal <- struct{}{}:
			default:
			}
		}
	}()
	return rec
}

// reset forgets the events recorded so far.
func (r *recorder) reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

// waitFor waits until the recorded events satisfy done and returns them.
func (r *recorder) waitFor(what string, done func([]event) bool) []event {
	r.tb.Helper()
	deadline := time.After(3 * time.Second)
	for {
		r.mu.Lock()
		evs := append([]event(nil), r.events...)
		r.mu.Unlock()
		if done(evs) {
			return evs
		}
		select {
		case <-r.signal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			r.tb.Fatalf("timed out waiting for %s; recorded %v", what, evs)
			return nil
		}
	}
}

// fence moves the pointer to a position no test uses and waits for that
// motion: the server delivers a client's events in request order, so every
// event caused by earlier calls on d has been recorded by then. The fence
// motion itself is removed from the returned list.
func (r *recorder) fence(d *Desktop) []event {
	r.tb.Helper()
	w, h := d.loadSize()
	fx, fy := int16(w-1), int16(h-2)
	cur, _, _ := d.CursorPosition()
	if cur == int(fx) {
		fx--
	}
	if err := d.Move(int(fx), int(fy)); err != nil {
		r.tb.Fatalf("fence move: %v", err)
	}
	evs := r.waitFor("fence motion", func(evs []event) bool {
		for _, e := range evs {
			if e.kind == "motion" && e.x == fx && e.y == fy {
				return true
			}
		}
		return false
	})
	out := evs[:0:0]
	for _, e := range evs {
		if !(e.kind == "motion" && e.x == fx && e.y == fy) {
			out = append(out, e)
		}
	}
	return out
}

// settle waits for the events of earlier calls on d and forgets them.
func (r *recorder) settle(d *Desktop) {
	r.tb.Helper()
	r.fence(d)
	r.reset()
}

// keymapNow reads the server's keyboard mapping as it is right now.
func (r *recorder) keymapNow() *keymap {
	r.tb.Helper()
	info := xproto.Setup(r.conn)
	km, err := readKeymap(r.conn, info.MinKeycode, info.MaxKeycode)
	if err != nil {
		r.tb.Fatalf("recorder keymap: %v", err)
	}
	return km
}

// only returns the events of the given kinds.
func only(evs []event, kinds ...string) []event {
	var out []event
	for _, e := range evs {
		for _, k := range kinds {
			if e.kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
