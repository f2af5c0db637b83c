package desktop

import (
	"errors"
	"fmt"
	"sort"

	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// X core pointer buttons: 1 left, 2 middle, 3 right, 4/5 wheel up/down,
// 6/7 wheel left/right, 8 back, 9 forward.
const (
	minButton = 1
	maxButton = 9

	buttonWheelUp    = 4
	buttonWheelDown  = 5
	buttonWheelLeft  = 6
	buttonWheelRight = 7
)

// maxScrollClicks caps the wheel clicks one Scroll call emits per axis, so a
// bogus delta cannot flood the server.
const maxScrollClicks = 20

// Move warps the pointer to absolute screen coordinates, clamped to the
// screen. It is a single XTest request with no round trip. Cursor position
// listeners are told the clamped position.
func (d *Desktop) Move(x, y int) error {
	w, h := d.loadSize()
	x, y = clamp(x, w), clamp(y, h)

	d.mu.Lock()
	if err := d.usableLocked(); err != nil {
		d.mu.Unlock()
		return err
	}
	// Detail 0 = absolute; root names screen 0's root.
	xtest.FakeInput(d.conn, xproto.MotionNotify, 0, 0, d.root, int16(x), int16(y), 0)
	d.mu.Unlock()
	d.cur.moved(x, y)
	return nil
}

// clamp limits v to [0, size-1].
func clamp(v, size int) int {
	if v >= size {
		v = size - 1
	}
	if v < 0 {
		v = 0
	}
	return v
}

// ButtonDown presses a pointer button (X code 1-9).
func (d *Desktop) ButtonDown(code uint32) error {
	if err := checkButton(code); err != nil {
		return fmt.Errorf("desktop: button down: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	d.fakeButton(xproto.ButtonPress, byte(code))
	d.heldButtons[code] = true
	return nil
}

// ButtonUp releases a pointer button; a button that is not held is ignored.
func (d *Desktop) ButtonUp(code uint32) error {
	if err := checkButton(code); err != nil {
		return fmt.Errorf("desktop: button up: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if !d.heldButtons[code] {
		return nil
	}
	d.fakeButton(xproto.ButtonRelease, byte(code))
	d.heldButtons[code] = false
	return nil
}

// ButtonPress clicks a pointer button (press and release).
func (d *Desktop) ButtonPress(code uint32) error {
	if err := checkButton(code); err != nil {
		return fmt.Errorf("desktop: button press: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	d.fakeButton(xproto.ButtonPress, byte(code))
	d.fakeButton(xproto.ButtonRelease, byte(code))
	d.heldButtons[code] = false
	return nil
}

func checkButton(code uint32) error {
	if code < minButton || code > maxButton {
		return fmt.Errorf("%w %d (want %d-%d)", ErrInvalidButton, code, minButton, maxButton)
	}
	return nil
}

func (d *Desktop) fakeButton(typ, button byte) {
	xtest.FakeInput(d.conn, typ, button, 0, xproto.WindowNone, 0, 0, 0)
}

// Scroll turns a wheel movement into X wheel button clicks.
//
// Unit and sign follow what the Neko v3 clients put on the wire, so a
// client's wheel notch becomes one X wheel click:
//
//   - The client's onWheel (src/component/overlay.vue in m1k1o/neko and in
//     demodesk/neko-client) accumulates the browser's pixel deltaX/deltaY
//     (line-mode deltas ×19), and each time |sum| reaches WHEEL_STEP = 53 px,
//     or on the first event after 250 ms without one, sends control/scroll
//     (the data channel wheel op when connected) with delta_x/delta_y = ±1,
//     ±(sensitivity+1) when the user raised the scroll sensitivity, and
//     control_key = e.ctrlKey. Its two-finger drag and pinch gestures send ±1
//     per step too, the pinch with control_key = true. Older clients send the
//     same ±1 values in x/y.
//   - The client flips the sign when state.control.scroll.inverse is set, and
//     src/component/main.vue makes inverse: true the default: a browser
//     wheel-down (deltaY > 0) arrives as delta_y = -1.
//   - Neko's server (m1k1o/neko server/pkg/xorg/xorg.c XScroll) presses
//     button 4 for deltaY > 0 and 5 otherwise, 6 for deltaX > 0 and 7
//     otherwise, |delta| times each.
//
// So one unit is one click; positive deltaY scrolls up (button 4), negative
// down (5); positive deltaX scrolls left (6), negative right (7). There is no
// fractional remainder to carry, as the clients already quantise to notches.
// Clicks are capped at maxScrollClicks per axis per call. With controlKey,
// Control_L is held around the clicks (browser zoom) unless the client
// already holds a Control key.
func (d *Desktop) Scroll(deltaX, deltaY int, controlKey bool) error {
	if deltaX == 0 && deltaY == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}

	if controlKey && !d.controlHeldLocked() {
		if err := d.keyDownLocked(keysymControlL); err != nil {
			return fmt.Errorf("desktop: scroll: hold control: %w", err)
		}
		defer func() {
			if err := d.keyUpLocked(keysymControlL); err != nil {
				d.log.Warn("scroll: release control", "err", err)
			}
		}()
	}

	d.wheelClicks(deltaY, buttonWheelUp, buttonWheelDown)
	d.wheelClicks(deltaX, buttonWheelLeft, buttonWheelRight)
	return nil
}

func (d *Desktop) wheelClicks(delta int, positive, negative byte) {
	button := positive
	n := delta
	if delta < 0 {
		button = negative
		// Compare before negating: -math.MinInt overflows.
		if delta < -maxScrollClicks {
			n = maxScrollClicks
		} else {
			n = -delta
		}
	}
	n = min(n, maxScrollClicks)
	for range n {
		d.fakeButton(xproto.ButtonPress, button)
		d.fakeButton(xproto.ButtonRelease, button)
	}
}

// ResetKeys releases every key and button this Desktop still holds, so a
// host that leaves mid-chord leaves nothing stuck. It waits until the server
// has processed the releases.
func (d *Desktop) ResetKeys() error {
	d.resetTouch()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := errors.Join(d.releaseAllLocked(), d.syncLocked()); err != nil {
		return fmt.Errorf("desktop: reset keys: %w", err)
	}
	return nil
}

func (d *Desktop) releaseAllLocked() error {
	syms := make([]uint32, 0, len(d.heldKeys))
	for sym := range d.heldKeys {
		syms = append(syms, sym)
	}
	// Release in a fixed order (modifiers have high keysyms, so they go
	// last) to keep the event sequence reproducible.
	sort.Slice(syms, func(i, j int) bool { return syms[i] < syms[j] })
	var errs []error
	for _, sym := range syms {
		errs = append(errs, d.keyUpLocked(sym))
	}
	for code := range d.heldButtons {
		if d.heldButtons[code] {
			d.fakeButton(xproto.ButtonRelease, byte(code))
			d.heldButtons[code] = false
		}
	}
	return errors.Join(errs...)
}

// CursorPosition reports where the pointer is on the root window.
func (d *Desktop) CursorPosition() (x, y int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return 0, 0, err
	}
	reply, err := xproto.QueryPointer(d.conn, d.root).Reply()
	if err != nil {
		return 0, 0, fmt.Errorf("desktop: query pointer: %w", err)
	}
	return int(reply.RootX), int(reply.RootY), nil
}
