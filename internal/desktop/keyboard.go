package desktop

import (
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// KeyDown presses the key that produces keysym. Clients send the keysym the
// user's keystroke produced, modifiers included (Shift_L, then 'H'), so the
// key is chosen by the rules of keymap.lookup: column 1 ('H' on the h key)
// while the client holds Shift, column 0 otherwise. A capital letter sent
// without Shift presses the letter's key and lets the server's CapsLock
// decide the case, as a physical keyboard would.
//
// If no key produces the keysym that way (a symbol from another layout, '!'
// without Shift, or a Unicode keysym 0x01000000+code point), a keycode the
// layout leaves empty is mapped to it while it is held and emptied again
// shortly after release. Pressing a keysym that is already down sends
// another press, which applications treat as auto-repeat.
func (d *Desktop) KeyDown(keysym uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := d.keyDownLocked(keysym); err != nil {
		return fmt.Errorf("desktop: key down %#x: %w", keysym, err)
	}
	return nil
}

// KeyUp releases the key pressed for keysym. A keysym that is not held is
// ignored: clients send stray releases (keys pressed before they took
// control), and those are not errors.
func (d *Desktop) KeyUp(keysym uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := d.keyUpLocked(keysym); err != nil {
		return fmt.Errorf("desktop: key up %#x: %w", keysym, err)
	}
	return nil
}

// KeyPress presses and releases keysym.
func (d *Desktop) KeyPress(keysym uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := d.keyDownLocked(keysym); err != nil {
		return fmt.Errorf("desktop: key press %#x: %w", keysym, err)
	}
	if err := d.keyUpLocked(keysym); err != nil {
		return fmt.Errorf("desktop: key press %#x: %w", keysym, err)
	}
	return nil
}

func (d *Desktop) keyDownLocked(sym uint32) error {
	if sym == 0 {
		return ErrInvalidKeysym
	}
	if kc, ok := d.heldKeys[sym]; ok {
		d.fakeKey(xproto.KeyPress, kc)
		return nil
	}
	km, err := d.keymapLocked()
	if err != nil {
		return err
	}
	kc, ok := km.lookup(sym, d.shiftHeldLocked())
	if ok {
		if sp := d.spares[kc]; sp != nil {
			sp.claim()
		}
	} else {
		kc, err = d.borrowSpareLocked(km, sym)
		if err != nil {
			return err
		}
	}
	d.fakeKey(xproto.KeyPress, kc)
	d.heldKeys[sym] = kc
	return nil
}

func (d *Desktop) keyUpLocked(sym uint32) error {
	kc, ok := d.heldKeys[sym]
	if !ok {
		return nil
	}
	delete(d.heldKeys, sym)
	// 'a' and 'A' (or a keysym pressed twice via different routes) can share
	// a keycode; the key stays down until the last of them is released.
	if d.keycodeHeldLocked(kc) {
		return nil
	}
	d.fakeKey(xproto.KeyRelease, kc)
	if _, ok := d.spares[kc]; ok {
		d.scheduleSpareReturnLocked(kc)
	}
	return nil
}

// fakeKey injects a core key event. It is unchecked: a bad keycode would be
// our bug, and its error still reaches the log through the event loop.
func (d *Desktop) fakeKey(typ byte, kc xproto.Keycode) {
	xtest.FakeInput(d.conn, typ, byte(kc), 0, xproto.WindowNone, 0, 0, 0)
}

func (d *Desktop) shiftHeldLocked() bool {
	_, l := d.heldKeys[keysymShiftL]
	_, r := d.heldKeys[keysymShiftR]
	return l || r
}

func (d *Desktop) controlHeldLocked() bool {
	_, l := d.heldKeys[keysymControlL]
	_, r := d.heldKeys[keysymControlR]
	return l || r
}

func (d *Desktop) keycodeHeldLocked(kc xproto.Keycode) bool {
	for _, h := range d.heldKeys {
		if h == kc {
			return true
		}
	}
	return false
}

// keymapLocked returns the cached keyboard mapping, re-reading it first if
// a MappingNotify said it changed (setxkbmap, another client, or our own
// spare keycode edits echoed back).
func (d *Desktop) keymapLocked() (*keymap, error) {
	if d.keymap != nil && !d.keymapStale.Swap(false) {
		return d.keymap, nil
	}
	km, err := readKeymap(d.conn, d.minKeycode, d.maxKeycode)
	if err != nil {
		d.keymapStale.Store(true)
		return nil, err
	}
	d.keymap = km
	d.reconcileSparesLocked(km)
	return km, nil
}

func readKeymap(conn *xgb.Conn, min, max xproto.Keycode) (*keymap, error) {
	count := int(max) - int(min) + 1
	reply, err := xproto.GetKeyboardMapping(conn, min, byte(count)).Reply()
	if err != nil {
		return nil, fmt.Errorf("read keyboard mapping: %w", err)
	}
	per := int(reply.KeysymsPerKeycode)
	syms := make([]uint32, len(reply.Keysyms))
	for i, s := range reply.Keysyms {
		syms[i] = uint32(s)
	}
	if per == 0 || len(syms) < count*per {
		return nil, fmt.Errorf("read keyboard mapping: short reply (%d keysyms, %d per keycode)", len(syms), per)
	}
	return newKeymap(min, max, per, syms), nil
}
