package desktop

import (
	"testing"

	"github.com/jezek/xgb/xproto"
)

// testKeymap is a small US-like map, 4 columns per keycode from 8 to 20:
//
//	 8: (empty)
//	 9: 1 !
//	10: a A
//	11: h H
//	12: Shift_L
//	13: Tab ISO_Left_Tab
//	14: NoSymbol Alt_L          (X's modifier-only keycode)
//	15: less greater
//	16: comma less
//	17: KP_Home KP_7
//	18: e E EuroSign            (€ only in column 2, i.e. AltGr)
//	19: a A                     (a duplicate 'a' key)
//	20: (empty)
func testKeymap() *keymap {
	rows := [][]uint32{
		8:  {},
		9:  {0x31, 0x21},
		10: {0x61, 0x41},
		11: {0x68, 0x48},
		12: {0xffe1},
		13: {0xff09, 0xfe20},
		14: {0, 0xffe9},
		15: {0x3c, 0x3e},
		16: {0x2c, 0x3c},
		17: {0xff95, 0xffb7},
		18: {0x65, 0x45, 0x20ac},
		19: {0x61, 0x41},
		20: {},
	}
	const per = 4
	syms := make([]uint32, 0, (len(rows)-8)*per)
	for kc := 8; kc < len(rows); kc++ {
		r := make([]uint32, per)
		copy(r, rows[kc])
		syms = append(syms, r...)
	}
	return newKeymap(8, 20, per, syms)
}

func TestKeymapLookup(t *testing.T) {
	km := testKeymap()
	cases := []struct {
		name    string
		sym     uint32
		shifted bool
		want    xproto.Keycode // 0 = not found, use a spare
	}{
		{"lowercase letter", 0x61, false, 10},
		{"lowercase letter with shift held (Shift+a shortcut)", 0x61, true, 10},
		{"capital with shift", 0x41, true, 10},
		{"capital without shift: CapsLock decides", 0x48, false, 11},
		{"digit", 0x31, false, 9},
		{"shifted symbol with shift", 0x21, true, 9},
		{"shifted symbol without shift needs a spare", 0x21, false, 0},
		{"modifier", 0xffe1, false, 12},
		{"modifier with shift held", 0xffe1, true, 12},
		{"Tab with shift stays Tab", 0xff09, true, 13},
		{"ISO_Left_Tab with shift", 0xfe20, true, 13},
		{"modifier-only keycode with shift", 0xffe9, true, 14},
		{"modifier-only keycode without shift", 0xffe9, false, 0},
		{"unshifted less prefers its own key", 0x3c, false, 15},
		{"shifted less prefers the shifted column", 0x3c, true, 16},
		{"keypad digit under NumLock", 0xffb7, false, 17},
		{"keypad function", 0xff95, false, 17},
		{"AltGr column is not used", 0x20ac, false, 0},
		{"AltGr column is not used with shift", 0x20ac, true, 0},
		{"absent keysym", 0x1f8, false, 0},
		{"unicode keysym", 0x0100263a, true, 0},
		{"NoSymbol", 0, false, 0},
		{"capital E without shift", 0x45, false, 18},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := km.lookup(c.sym, c.shifted)
			if ok != (c.want != 0) || got != c.want {
				t.Errorf("lookup(%#x, shifted=%v) = %d, %v; want %d, %v", c.sym, c.shifted, got, ok, c.want, c.want != 0)
			}
		})
	}
}

func TestKeymapEditing(t *testing.T) {
	km := testKeymap()
	for kc, want := range map[xproto.Keycode]bool{7: false, 8: true, 9: false, 20: true, 21: false} {
		if got := km.empty(kc); got != want {
			t.Errorf("empty(%d) = %v, want %v", kc, got, want)
		}
	}
	km.set(20, 0x20ac, 0x20ac)
	if got, ok := km.lookup(0x20ac, false); !ok || got != 20 {
		t.Errorf("after set, lookup(€) = %d, %v; want 20", got, ok)
	}
	if km.empty(20) {
		t.Error("keycode 20 still empty after set")
	}
	km.set(20)
	if !km.empty(20) {
		t.Errorf("keycode 20 = %v after clearing", km.row(20))
	}
	km.set(99, 1) // out of range: ignored, no panic
	if km.sym(99, 0) != 0 || km.sym(9, 7) != 0 || km.sym(9, -1) != 0 {
		t.Error("out-of-range sym is not NoSymbol")
	}
}

func TestLockPair(t *testing.T) {
	cases := []struct {
		lower, upper uint32
		want         bool
	}{
		{0x61, 0x41, true},             // a A
		{0xe9, 0xc9, true},             // é É
		{0x01000431, 0x01000411, true}, // б Б as Unicode keysyms
		{0x31, 0x21, false},            // 1 !
		{0x41, 0x61, false},            // reversed
		{0xff95, 0xffb7, true},         // KP_Home KP_7
		{0x1b1, 0x1a1, false},          // legacy Latin-2 ą Ą: unknown without a table
		{0xdf, 0xdf, false},            // ß has no single-rune capital
	}
	for _, c := range cases {
		if got := lockPair(c.lower, c.upper); got != c.want {
			t.Errorf("lockPair(%#x, %#x) = %v, want %v", c.lower, c.upper, got, c.want)
		}
	}
}
