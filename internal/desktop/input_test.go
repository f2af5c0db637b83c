package desktop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"
)

const (
	keysymA        = 0x61   // a
	keysymH        = 0x48   // H
	keysymExclam   = 0x21   // !
	keysymEuroSign = 0x20ac // not on the default US map
	keysymRcaron   = 0x1f8  // ř, legacy Latin-2 keysym, not on the US map
	keysymSmiley   = 0x0100263a
)

func TestMove(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)

	cases := []struct{ x, y, wantX, wantY int }{
		{100, 200, 100, 200},
		{-5, 99999, 0, 719},
		{math.MaxInt, math.MinInt, 1279, 0},
		{1279, 719, 1279, 719},
	}
	for _, c := range cases {
		rec.reset()
		if err := d.Move(c.x, c.y); err != nil {
			t.Fatalf("Move(%d, %d): %v", c.x, c.y, err)
		}
		rec.waitFor(fmt.Sprintf("motion to %d,%d", c.wantX, c.wantY), func(evs []event) bool {
			for _, e := range evs {
				if e.kind == "motion" && int(e.x) == c.wantX && int(e.y) == c.wantY {
					return true
				}
			}
			return false
		})
		x, y, err := d.CursorPosition()
		if err != nil {
			t.Fatal(err)
		}
		if x != c.wantX || y != c.wantY {
			t.Errorf("after Move(%d, %d): CursorPosition = %d,%d, want %d,%d", c.x, c.y, x, y, c.wantX, c.wantY)
		}
	}
}

func TestButtons(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)

	must(t, d.Move(300, 300))
	must(t, d.ButtonDown(1))
	must(t, d.ButtonUp(1))
	must(t, d.ButtonPress(3))
	must(t, d.ButtonPress(8))
	must(t, d.ButtonPress(9))
	must(t, d.ButtonUp(2)) // never pressed: no event, no error
	got := only(rec.fence(d), "buttondown", "buttonup")
	want := []event{
		{kind: "buttondown", detail: 1}, {kind: "buttonup", detail: 1},
		{kind: "buttondown", detail: 3}, {kind: "buttonup", detail: 3},
		{kind: "buttondown", detail: 8}, {kind: "buttonup", detail: 8},
		{kind: "buttondown", detail: 9}, {kind: "buttonup", detail: 9},
	}
	if !sameKinds(got, want) {
		t.Fatalf("button events = %v, want %v", got, want)
	}
	// The press is reported at the pointer position.
	if got[0].x != 300 || got[0].y != 300 {
		t.Errorf("button 1 pressed at %d,%d, want 300,300", got[0].x, got[0].y)
	}

	for _, code := range []uint32{0, 10, 255, math.MaxUint32} {
		for name, f := range map[string]func(uint32) error{"ButtonDown": d.ButtonDown, "ButtonUp": d.ButtonUp, "ButtonPress": d.ButtonPress} {
			if err := f(code); !errors.Is(err, ErrInvalidButton) {
				t.Errorf("%s(%d) = %v, want ErrInvalidButton", name, code, err)
			}
		}
	}
}

func TestScroll(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	must(t, d.Move(500, 400))
	rec.fence(d)

	clicks := func(evs []event) []byte {
		var out []byte
		for _, e := range only(evs, "buttondown", "buttonup") {
			if e.kind == "buttondown" {
				out = append(out, e.detail)
			}
		}
		return out
	}
	cases := []struct {
		name   string
		dx, dy int
		want   []byte
	}{
		{"down one notch", 0, -1, []byte{5}},
		{"up two notches", 0, 2, []byte{4, 4}},
		{"left", 1, 0, []byte{6}},
		{"right", -1, 0, []byte{7}},
		{"both axes", -1, 1, []byte{4, 7}},
		{"nothing", 0, 0, nil},
		{"capped", 0, math.MinInt, slices.Repeat([]byte{5}, maxScrollClicks)},
	}
	for _, c := range cases {
		rec.reset()
		must(t, d.Scroll(c.dx, c.dy, false))
		evs := rec.fence(d)
		if got := clicks(evs); !slices.Equal(got, c.want) {
			t.Errorf("%s: Scroll(%d, %d) clicked %v, want %v", c.name, c.dx, c.dy, got, c.want)
		}
		if n := len(only(evs, "buttondown")); n != len(only(evs, "buttonup")) {
			t.Errorf("%s: presses and releases do not pair up: %v", c.name, evs)
		}
	}

	t.Run("control key", func(t *testing.T) {
		rec.reset()
		must(t, d.Scroll(0, 1, true))
		evs := rec.fence(d)
		buttons := only(evs, "buttondown")
		if len(buttons) != 1 || buttons[0].detail != 4 {
			t.Fatalf("clicks = %v, want one button 4", evs)
		}
		if buttons[0].state&xproto.ModMaskControl == 0 {
			t.Errorf("wheel click state %#x lacks Control", buttons[0].state)
		}
		keys := only(evs, "keydown", "keyup")
		if len(keys) != 2 || keys[0].kind != "keydown" || keys[1].kind != "keyup" || keys[0].detail != keys[1].detail {
			t.Errorf("control key events = %v, want one press and its release", keys)
		}
		// Control is not left held.
		rec.reset()
		must(t, d.Scroll(0, 1, false))
		if b := only(rec.fence(d), "buttondown"); len(b) != 1 || b[0].state&xproto.ModMaskControl != 0 {
			t.Errorf("after a control scroll, plain scroll = %v, want no Control", b)
		}
	})

	t.Run("control already held by client", func(t *testing.T) {
		must(t, d.KeyDown(keysymControlL))
		rec.settle(d)
		must(t, d.Scroll(0, -1, true))
		evs := rec.fence(d)
		if keys := only(evs, "keydown", "keyup"); len(keys) != 0 {
			t.Errorf("scroll touched the client's Control: %v", keys)
		}
		if b := only(evs, "buttondown"); len(b) != 1 || b[0].state&xproto.ModMaskControl == 0 {
			t.Errorf("clicks = %v, want one with Control", b)
		}
		must(t, d.KeyUp(keysymControlL))
	})
}

func TestKeys(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	km := rec.keymapNow()

	t.Run("lowercase", func(t *testing.T) {
		rec.reset()
		must(t, d.KeyDown(keysymA))
		must(t, d.KeyUp(keysymA))
		keys := only(rec.fence(d), "keydown", "keyup")
		if len(keys) != 2 || keys[0].kind != "keydown" || keys[1].kind != "keyup" || keys[0].detail != keys[1].detail {
			t.Fatalf("events = %v, want press and release of one key", keys)
		}
		if got := typed(km, keys[0]); got != keysymA {
			t.Errorf("typed %#x, want 'a'", got)
		}
	})

	t.Run("shifted capital", func(t *testing.T) {
		rec.reset()
		must(t, d.KeyDown(keysymShiftL))
		must(t, d.KeyPress(keysymH))
		must(t, d.KeyUp(keysymShiftL))
		keys := only(rec.fence(d), "keydown", "keyup")
		if len(keys) != 4 {
			t.Fatalf("events = %v, want Shift down, H down/up, Shift up", keys)
		}
		if got := typed(km, keys[0]); got != keysymShiftL {
			t.Errorf("first key typed %#x, want Shift_L", got)
		}
		if got := typed(km, keys[1]); got != keysymH {
			t.Errorf("typed %#x with state %#x, want 'H'", got, keys[1].state)
		}
	})

	t.Run("shifted symbol without shift uses a spare", func(t *testing.T) {
		// '!' lives on Shift+1; pressing the 1 key alone would type '1'.
		rec.reset()
		must(t, d.KeyDown(keysymExclam))
		keys := only(rec.fence(d), "keydown")
		if len(keys) != 1 {
			t.Fatalf("events = %v, want one press", keys)
		}
		if got := typed(rec.keymapNow(), keys[0]); got != keysymExclam {
			t.Errorf("typed %#x, want '!'", got)
		}
		must(t, d.KeyUp(keysymExclam))
		rec.settle(d)
	})

	t.Run("stray release and invalid keysym", func(t *testing.T) {
		rec.reset()
		must(t, d.KeyUp(keysymA))
		must(t, d.KeyUp(0x12345))
		if keys := only(rec.fence(d), "keydown", "keyup"); len(keys) != 0 {
			t.Errorf("stray releases sent %v", keys)
		}
		for name, f := range map[string]func(uint32) error{"KeyDown": d.KeyDown, "KeyPress": d.KeyPress} {
			if err := f(0); !errors.Is(err, ErrInvalidKeysym) {
				t.Errorf("%s(0) = %v, want ErrInvalidKeysym", name, err)
			}
		}
	})
}

func TestKeysOutsideLayout(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	before := rec.keymapNow()
	syms := []uint32{keysymEuroSign, keysymRcaron, keysymSmiley}
	for _, s := range syms {
		if _, ok := before.lookup(s, false); ok {
			t.Fatalf("keysym %#x is already on the test keymap; pick another", s)
		}
	}

	// All three held at once: each needs its own spare keycode.
	rec.reset()
	for _, s := range syms {
		must(t, d.KeyDown(s))
	}
	presses := only(rec.fence(d), "keydown")
	if len(presses) != len(syms) {
		t.Fatalf("presses = %v, want %d", presses, len(syms))
	}
	held := rec.keymapNow()
	used := map[byte]bool{}
	for i, s := range syms {
		kc := presses[i].detail
		if got := typed(held, presses[i]); got != s {
			t.Errorf("keysym %#x: pressed keycode %d types %#x", s, kc, got)
		}
		if !before.empty(xproto.Keycode(kc)) {
			t.Errorf("keysym %#x: keycode %d was not a spare (had %v)", s, kc, before.row(xproto.Keycode(kc)))
		}
		if used[kc] {
			t.Errorf("keycode %d used twice", kc)
		}
		used[kc] = true
	}

	rec.reset()
	for _, s := range syms {
		must(t, d.KeyUp(s))
	}
	if rel := only(rec.fence(d), "keyup"); len(rel) != len(syms) {
		t.Fatalf("releases = %v, want %d", rel, len(syms))
	}

	// The borrowed keycodes are emptied once applications had time to
	// translate the events.
	deadline := time.Now().Add(spareReturnDelay + 3*time.Second)
	for kc := range used {
		for !rec.keymapNow().empty(xproto.Keycode(kc)) {
			if time.Now().After(deadline) {
				t.Fatalf("keycode %d still mapped to %v", kc, rec.keymapNow().row(xproto.Keycode(kc)))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// And they can be borrowed again.
	rec.reset()
	must(t, d.KeyDown(keysymEuroSign))
	if p := only(rec.fence(d), "keydown"); len(p) != 1 || typed(rec.keymapNow(), p[0]) != keysymEuroSign {
		t.Errorf("second € press = %v", p)
	}
	must(t, d.KeyUp(keysymEuroSign))

	// Shift does not turn a spare into something else.
	must(t, d.KeyDown(keysymShiftL))
	rec.settle(d)
	must(t, d.KeyPress(keysymEuroSign))
	evs := only(rec.fence(d), "keydown")
	must(t, d.KeyUp(keysymShiftL))
	if len(evs) != 1 || evs[0].state&xproto.ModMaskShift == 0 || typed(rec.keymapNow(), evs[0]) != keysymEuroSign {
		t.Errorf("Shift+€ events = %v, want one shifted press typing €", evs)
	}
}

func TestSparesRunOut(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	km := rec.keymapNow()
	free := 0
	for kc := int(km.min); kc <= int(km.max); kc++ {
		if km.empty(xproto.Keycode(kc)) {
			free++
		}
	}
	// Hold one more keysym than there are empty keycodes.
	var err error
	held := 0
	for i := 0; i <= free; i++ {
		if err = d.KeyDown(0x01000400 + uint32(i)); err != nil { // Cyrillic
			break
		}
		held++
	}
	if !errors.Is(err, ErrNoSpareKeycode) || held != free {
		t.Fatalf("held %d of %d free keycodes, last error %v; want ErrNoSpareKeycode after %d", held, free, err, free)
	}
	must(t, d.ResetKeys())
	// Released spares are reused (the oldest idle one) before they are
	// returned.
	must(t, d.KeyPress(keysymEuroSign))
}

func TestResetKeys(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	must(t, d.Move(200, 200))
	rec.fence(d)

	rec.reset()
	must(t, d.KeyDown(keysymShiftL))
	must(t, d.KeyDown(keysymA))
	must(t, d.KeyDown(keysymEuroSign))
	must(t, d.ButtonDown(1))
	must(t, d.ButtonDown(3))
	must(t, d.ResetKeys())
	evs := rec.fence(d)
	downs := only(evs, "keydown", "buttondown")
	ups := only(evs, "keyup", "buttonup")
	if len(downs) != 5 || len(ups) != 5 {
		t.Fatalf("events = %v, want 5 presses and 5 releases", evs)
	}
	for _, dn := range downs {
		want := "keyup"
		if dn.kind == "buttondown" {
			want = "buttonup"
		}
		if !slices.ContainsFunc(ups, func(u event) bool { return u.kind == want && u.detail == dn.detail }) {
			t.Errorf("%v was not released", dn)
		}
	}

	// Nothing is held any more: releases are no-ops, a new press is clean.
	rec.reset()
	must(t, d.KeyUp(keysymA))
	must(t, d.ButtonUp(1))
	must(t, d.KeyPress(keysymA))
	keys := only(rec.fence(d), "keydown", "keyup", "buttonup")
	if len(keys) != 2 || keys[0].state&xproto.ModMaskShift != 0 {
		t.Errorf("after reset: %v, want a plain press/release of 'a'", keys)
	}
}

func TestMappingChangeIsPickedUp(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	km := rec.keymapNow()
	kcA, ok := km.lookup(keysymA, false)
	if !ok {
		t.Fatal("no 'a' key")
	}
	// Another client (setxkbmap, xmodmap) puts € on the 'a' key.
	row := make([]xproto.Keysym, km.perKeycode)
	row[0], row[1] = keysymEuroSign, keysymEuroSign
	if err := xproto.ChangeKeyboardMappingChecked(rec.conn, 1, kcA, byte(km.perKeycode), row).Check(); err != nil {
		t.Fatal(err)
	}
	// The MappingNotify reaches d asynchronously; within a short while €
	// must be typed with the remapped key instead of a spare.
	deadline := time.Now().Add(3 * time.Second)
	for {
		rec.reset()
		must(t, d.KeyPress(keysymEuroSign))
		p := only(rec.fence(d), "keydown")
		if len(p) == 1 && xproto.Keycode(p[0].detail) == kcA {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("€ still pressed as %v, want keycode %d", p, kcA)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConcurrentUse(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	check := func(err error) {
		if err != nil {
			t.Error(err) // not Fatal: this runs off the test goroutine
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				check(d.Move(g*100+i, i))
				check(d.KeyPress(keysymA + uint32(i%26)))
				check(d.KeyPress(keysymEuroSign))
				check(d.Scroll(0, 1, i%2 == 0))
				_, _, err := d.CursorPosition()
				check(err)
			}
		})
	}
	wg.Wait()
	must(t, d.ResetKeys())
	evs := rec.fence(d)
	if dn, up := len(only(evs, "keydown")), len(only(evs, "keyup")); dn != up || dn == 0 {
		t.Errorf("%d key presses but %d releases", dn, up)
	}
}

func TestClosed(t *testing.T) {
	d, _ := openTest(t)
	must(t, d.Close())
	must(t, d.Close())
	if err := d.Move(1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Move after Close = %v", err)
	}
	if err := d.KeyDown(keysymA); !errors.Is(err, ErrClosed) {
		t.Errorf("KeyDown after Close = %v", err)
	}
	if _, _, _, err := d.ScreenSize(); !errors.Is(err, ErrClosed) {
		t.Errorf("ScreenSize after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Open(ctx, Options{Display: ":4999"}); err == nil {
		t.Error("Open on a display nobody serves succeeded")
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := Open(cancelled, Options{Display: ":4999"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context = %v", err)
	}
}

func BenchmarkMove(b *testing.B) {
	d, _ := openTest(b)
	for i := 0; b.Loop(); i++ {
		if err := d.Move(i%1280, i%720); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Include the server catching up, so the number is not just the cost
	// of queueing bytes.
	d.mu.Lock()
	err := d.syncLocked()
	d.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
}

// typed translates a recorded key event back to a keysym the way a core
// client would: column 1 when Shift is in the event state, else column 0.
func typed(km *keymap, e event) uint32 {
	col := 0
	if e.state&xproto.ModMaskShift != 0 {
		col = 1
	}
	s := km.sym(xproto.Keycode(e.detail), col)
	if s == 0 && col == 1 {
		// Core rule: a key with a single keysym uses it for both levels.
		s = km.sym(xproto.Keycode(e.detail), 0)
	}
	return s
}

func sameKinds(got, want []event) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].kind != want[i].kind || got[i].detail != want[i].detail {
			return false
		}
	}
	return true
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
