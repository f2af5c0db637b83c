package desktop

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/pkg/types"
)

func TestKeyboardMap(t *testing.T) {
	d, display := openTest(t)
	ctx := context.Background()
	rec := newRecorder(t, display)

	m, err := d.KeyboardMap()
	if err != nil || m.Layout != "us" {
		t.Fatalf("initial KeyboardMap = %+v, %v; want layout us", m, err)
	}
	for _, want := range []types.KeyboardMap{{Layout: "de"}, {Layout: "us", Variant: "dvorak"}, {Layout: "us,ru", Variant: ",phonetic"}} {
		must(t, d.SetKeyboardMap(ctx, want))
		if got, err := d.KeyboardMap(); err != nil || got != want {
			t.Fatalf("after SetKeyboardMap(%+v): %+v, %v", want, got, err)
		}
	}
	// An empty layout keeps the current one.
	must(t, d.SetKeyboardMap(ctx, types.KeyboardMap{Variant: "dvorak"}))
	if got, _ := d.KeyboardMap(); got != (types.KeyboardMap{Layout: "us,ru", Variant: "dvorak"}) {
		t.Fatalf("after a variant-only change: %+v", got)
	}
	must(t, d.SetKeyboardMap(ctx, types.KeyboardMap{Layout: "de"}))
	// Input follows the new layout: on the German layout 'z' and 'y' swap
	// keys, so 'z' is typed with the key the US layout has 'y' on.
	rec.settle(d)
	must(t, d.KeyPress('z'))
	evs := only(rec.fence(d), "keydown")
	if km := rec.keymapNow(); len(evs) != 1 || km.sym(xproto.Keycode(evs[0].detail), 0) != 'z' {
		t.Fatalf("'z' on the German layout typed %v", evs)
	}

	for _, bad := range []types.KeyboardMap{
		{Layout: "us; rm -rf /"}, {Layout: "-help"}, {Layout: "de", Variant: "x y"},
		{Layout: strings.Repeat("a", 10000)}, {Layout: "\xff\xfe"}, {Layout: "é"},
	} {
		if err := d.SetKeyboardMap(ctx, bad); !errors.Is(err, ErrInvalidKeyboardMap) {
			t.Errorf("SetKeyboardMap(%q) = %v, want ErrInvalidKeyboardMap", bad, err)
		}
	}
	for _, unknown := range []types.KeyboardMap{{Layout: "zz"}, {Layout: "us", Variant: "nosuch"}} {
		if err := d.SetKeyboardMap(ctx, unknown); !errors.Is(err, ErrUnknownKeyboardMap) {
			t.Errorf("SetKeyboardMap(%+v) = %v, want ErrUnknownKeyboardMap", unknown, err)
		}
	}
	if got, _ := d.KeyboardMap(); got != (types.KeyboardMap{Layout: "de"}) {
		t.Fatalf("refused changes changed the map to %+v", got)
	}
}

func TestKeyboardModifiers(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	yes, no := true, false

	get := func() types.KeyboardModifiers {
		t.Helper()
		m, err := d.KeyboardModifiers()
		if err != nil {
			t.Fatal(err)
		}
		if m.Shift == nil || m.CapsLock == nil || m.Control == nil || m.Alt == nil ||
			m.NumLock == nil || m.Meta == nil || m.Super == nil || m.AltGr == nil {
			t.Fatalf("KeyboardModifiers left fields unset: %+v", m)
		}
		return m
	}
	if m := get(); *m.CapsLock || *m.NumLock || *m.Shift {
		t.Fatalf("initial modifiers %+v", m)
	}
	must(t, d.SetKeyboardModifiers(types.KeyboardModifiers{CapsLock: &yes}))
	if m := get(); !*m.CapsLock || *m.NumLock {
		t.Fatalf("after locking CapsLock: capslock=%v numlock=%v", *m.CapsLock, *m.NumLock)
	}
	// Applications see it: a letter comes with the Lock modifier.
	rec.settle(d)
	must(t, d.KeyPress('q'))
	if evs := only(rec.fence(d), "keydown"); len(evs) != 1 || evs[0].state&2 == 0 {
		t.Fatalf("key press with CapsLock locked: %v, want state with Lock", evs)
	}
	// Omitted fields are left alone.
	must(t, d.SetKeyboardModifiers(types.KeyboardModifiers{NumLock: &yes}))
	if m := get(); !*m.CapsLock || !*m.NumLock {
		t.Fatalf("after locking NumLock: capslock=%v numlock=%v", *m.CapsLock, *m.NumLock)
	}
	must(t, d.SetKeyboardModifiers(types.KeyboardModifiers{CapsLock: &no, NumLock: &no}))
	if m := get(); *m.CapsLock || *m.NumLock {
		t.Fatalf("after unlocking: capslock=%v numlock=%v", *m.CapsLock, *m.NumLock)
	}
	must(t, d.SetKeyboardModifiers(types.KeyboardModifiers{}))

	// A held Shift shows too.
	must(t, d.KeyDown(keysymShiftL))
	rec.settle(d)
	if m := get(); !*m.Shift {
		t.Fatal("held Shift not reported")
	}
	must(t, d.KeyUp(keysymShiftL))
}
