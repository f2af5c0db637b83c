package desktop

import (
	"errors"
	"sync"
)

// ErrOtherTouch is returned for a touch point other than the one being
// emulated; multi-touch needs a touch device this X server lacks.
var ErrOtherTouch = errors.New("desktop: only one touch point is emulated")

// touchState tracks the one touch point emulated as the pointer: the
// Xorg dummy server has no XInput2 touch device, so clients are told
// (system/init touch_events=false) and touches that still arrive drive the
// pointer: begin = move + left press, update = move, end = move + release.
type touchState struct {
	mu     sync.Mutex
	active bool
	id     uint32
}

// TouchEvents reports whether real touch events are delivered (false:
// single touch is emulated with the pointer).
func (d *Desktop) TouchEvents() bool { return false }

// TouchBegin starts the emulated touch at (x, y).
func (d *Desktop) TouchBegin(id uint32, x, y int, pressure uint8) error {
	d.touch.mu.Lock()
	if d.touch.active && d.touch.id != id {
		d.touch.mu.Unlock()
		return ErrOtherTouch
	}
	d.touch.active, d.touch.id = true, id
	d.touch.mu.Unlock()
	if err := d.Move(x, y); err != nil {
		return err
	}
	return d.ButtonDown(1)
}

// TouchUpdate moves the emulated touch.
func (d *Desktop) TouchUpdate(id uint32, x, y int, pressure uint8) error {
	d.touch.mu.Lock()
	ok := d.touch.active && d.touch.id == id
	d.touch.mu.Unlock()
	if !ok {
		return ErrOtherTouch
	}
	return d.Move(x, y)
}

// TouchEnd lifts the emulated touch at (x, y).
func (d *Desktop) TouchEnd(id uint32, x, y int, pressure uint8) error {
	d.touch.mu.Lock()
	ok := d.touch.active && d.touch.id == id
	if ok {
		d.touch.active = false
	}
	d.touch.mu.Unlock()
	if !ok {
		return ErrOtherTouch
	}
	if err := d.Move(x, y); err != nil {
		return err
	}
	return d.ButtonUp(1)
}

// resetTouch forgets the emulated touch (ResetKeys releases the button).
func (d *Desktop) resetTouch() {
	d.touch.mu.Lock()
	d.touch.active = false
	d.touch.mu.Unlock()
}
