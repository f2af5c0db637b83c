package desktop

import (
	"unicode"

	"github.com/jezek/xgb/xproto"
)

// Keysyms the input code has to recognise by value.
const (
	keysymShiftL   uint32 = 0xffe1
	keysymShiftR   uint32 = 0xffe2
	keysymControlL uint32 = 0xffe3
	keysymControlR uint32 = 0xffe4
)

// keymap is a copy of the server's core keyboard mapping: for every keycode
// from min to max, perKeycode keysym columns. Column 0 is group 1 unshifted,
// column 1 is group 1 shifted; higher columns need a group switch or
// ISO_Level3 (AltGr), which the client sends as separate keys if it wants
// them.
//
// It holds no X connection so the lookup rules can be tested on synthetic
// maps.
type keymap struct {
	min, max   xproto.Keycode
	perKeycode int
	syms       []uint32 // (max-min+1)*perKeycode entries, 0 = NoSymbol
}

func newKeymap(min, max xproto.Keycode, perKeycode int, syms []uint32) *keymap {
	n := (int(max) - int(min) + 1) * perKeycode
	own := make([]uint32, n)
	copy(own, syms)
	return &keymap{min: min, max: max, perKeycode: perKeycode, syms: own}
}

// sym returns the keysym in a column of a keycode, 0 for anything out of
// range.
func (m *keymap) sym(kc xproto.Keycode, col int) uint32 {
	if kc < m.min || kc > m.max || col < 0 || col >= m.perKeycode {
		return 0
	}
	return m.syms[(int(kc)-int(m.min))*m.perKeycode+col]
}

// row returns the columns of a keycode (aliasing the map), nil when out of
// range.
func (m *keymap) row(kc xproto.Keycode) []uint32 {
	if kc < m.min || kc > m.max {
		return nil
	}
	i := (int(kc) - int(m.min)) * m.perKeycode
	return m.syms[i : i+m.perKeycode]
}

// empty reports whether a keycode has no keysym at all, i.e. no layout uses
// it and it may be borrowed for keysyms the layout lacks.
func (m *keymap) empty(kc xproto.Keycode) bool {
	r := m.row(kc)
	if r == nil {
		return false
	}
	for _, s := range r {
		if s != 0 {
			return false
		}
	}
	return true
}

// set overwrites a keycode's columns (missing ones become NoSymbol); it
// mirrors a ChangeKeyboardMapping we made so the cache stays usable before
// the server's MappingNotify arrives.
func (m *keymap) set(kc xproto.Keycode, syms ...uint32) {
	r := m.row(kc)
	for i := range r {
		r[i] = 0
		if i < len(syms) {
			r[i] = syms[i]
		}
	}
}

// lookup finds the keycode to press so that the server produces keysym sym,
// given whether the client currently holds Shift. Only columns 0 and 1
// count: a keysym reachable only through AltGr or another group would need a
// modifier the client did not send, so it is better served by a spare
// keycode (ok == false).
//
// With Shift held:
//  1. a key with sym in column 1 and something in column 0 ('H' → the h key),
//  2. a key with sym in column 0 (Shift+Tab, Shift+Left: a shortcut, the
//     application sees the shifted key as on real hardware),
//  3. a key with sym only in column 1 (X's modifier-only keycodes such as
//     "NoSymbol Alt_L").
//
// Without Shift:
//  1. a key with sym in column 0,
//  2. a key whose column 1 is sym and whose column 0 is its counterpart
//     under a lock modifier: an uppercase letter over its lowercase one
//     (CapsLock), or a keypad digit over a keypad function (NumLock). The
//     client sends 'A' without Shift when its CapsLock is on; pressing the
//     real key keeps shortcuts working and the server's lock state picks
//     the case. If the server's lock is off the application gets the
//     column 0 symbol: the same as a physical keyboard would give.
//
// Other unshifted column 1 keysyms ('!' without Shift, as the keypress API
// may send) are not found, so a spare keycode types them exactly.
// Ties go to the lowest keycode.
func (m *keymap) lookup(sym uint32, shifted bool) (xproto.Keycode, bool) {
	if sym == 0 || m.perKeycode == 0 {
		return 0, false
	}
	const none = -1
	best, bestRank := xproto.Keycode(0), none
	consider := func(kc xproto.Keycode, rank int) {
		if rank == none {
			return
		}
		if bestRank == none || rank < bestRank {
			best, bestRank = kc, rank
		}
	}
	for kc := int(m.min); kc <= int(m.max); kc++ {
		k := xproto.Keycode(kc)
		c0 := m.sym(k, 0)
		c1 := m.sym(k, 1)
		rank := none
		switch {
		case shifted && c1 == sym && c0 != 0:
			rank = 0
		case c0 == sym:
			rank = 1
		case shifted && c1 == sym:
			rank = 2
		case !shifted && c1 == sym && lockPair(c0, c1):
			rank = 2
		}
		consider(k, rank)
		if bestRank == 0 || (!shifted && bestRank == 1) {
			// Nothing can beat this rank, and scanning upward keeps the
			// lowest keycode among equals.
			break
		}
	}
	return best, bestRank != none
}

// lockPair reports whether pressing a key with lower in column 0 and upper
// in column 1 yields upper under CapsLock or NumLock instead of Shift.
func lockPair(lower, upper uint32) bool {
	if isKeypad(lower) && isKeypad(upper) {
		return true
	}
	l, okl := keysymRune(lower)
	u, oku := keysymRune(upper)
	return okl && oku && l != u && unicode.IsUpper(u) && unicode.ToLower(u) == l
}

// isKeypad reports whether a keysym is one of the KP_ range (0xff80-0xffbd).
func isKeypad(sym uint32) bool {
	return sym >= 0xff80 && sym <= 0xffbd
}

// keysymRune converts the keysyms whose code points are known without a
// table: Latin-1 (keysym == code point) and Unicode keysyms (0x01000000 +
// code point). Legacy non-Latin-1 keysyms report false.
func keysymRune(sym uint32) (rune, bool) {
	switch {
	case sym >= 0x20 && sym <= 0x7e, sym >= 0xa0 && sym <= 0xff:
		return rune(sym), true
	case sym >= 0x01000100 && sym <= 0x0110ffff:
		return rune(sym - 0x01000000), true
	}
	return 0, false
}
