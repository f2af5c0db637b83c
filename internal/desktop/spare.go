package desktop

import (
	"errors"
	"fmt"
	"time"

	"github.com/jezek/xgb/xproto"
)

// spareReturnDelay is how long a borrowed keycode keeps its keysym after
// release. Applications translate a key event through their own copy of the
// mapping, which Xlib and xkbcommon refresh lazily after MappingNotify; if
// the keycode were emptied right after the release, a busy application could
// read the emptied mapping and see NoSymbol. The delay also lets repeated
// symbols ("€€€") reuse the keycode without remapping each time.
const spareReturnDelay = time.Second

// spare is a keycode with no keysyms in the layout that we mapped to a
// keysym the layout lacks.
type spare struct {
	sym uint32
	// gen changes whenever the key is claimed again, so a return timer
	// armed before that knows to stand down.
	gen   uint64
	idle  time.Time // when it was last released; zero while held
	timer *time.Timer
}

// claim marks the spare as in use again, cancelling a pending return.
func (s *spare) claim() {
	s.gen++
	s.idle = time.Time{}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// borrowSpareLocked maps sym onto a keycode nobody uses: a keycode empty in
// the layout (highest first, as the low ones are the ones layouts grow
// into), else the spare idle the longest. Keycodes still held are never
// taken.
func (d *Desktop) borrowSpareLocked(km *keymap, sym uint32) (xproto.Keycode, error) {
	var kc xproto.Keycode
	found := false
	for c := int(km.max); c >= int(km.min); c-- {
		k := xproto.Keycode(c)
		if _, ours := d.spares[k]; !ours && km.empty(k) {
			kc, found = k, true
			break
		}
	}
	if !found {
		var oldest time.Time
		for k, sp := range d.spares {
			if sp.idle.IsZero() || d.keycodeHeldLocked(k) {
				continue
			}
			if !found || sp.idle.Before(oldest) {
				kc, oldest, found = k, sp.idle, true
			}
		}
	}
	if !found {
		return 0, ErrNoSpareKeycode
	}

	// Both levels carry the keysym so Shift or CapsLock cannot turn it into
	// something else: the client already chose the exact symbol.
	if err := d.mapKeycodeLocked(km, kc, sym, sym); err != nil {
		return 0, err
	}
	sp := d.spares[kc]
	if sp == nil {
		sp = &spare{}
		d.spares[kc] = sp
	}
	sp.claim()
	sp.sym = sym
	return kc, nil
}

// scheduleSpareReturnLocked empties a released spare keycode after
// spareReturnDelay unless it is claimed again first.
func (d *Desktop) scheduleSpareReturnLocked(kc xproto.Keycode) {
	sp := d.spares[kc]
	if sp == nil {
		return
	}
	sp.claim()
	sp.idle = time.Now()
	gen := sp.gen
	sp.timer = time.AfterFunc(spareReturnDelay, func() { d.returnSpare(kc, gen) })
}

func (d *Desktop) returnSpare(kc xproto.Keycode, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.usableLocked() != nil {
		return
	}
	if sp := d.spares[kc]; sp == nil || sp.gen != gen || d.keycodeHeldLocked(kc) {
		return
	}
	// Re-read first if the mapping changed, so a keycode a new layout took
	// over is dropped from d.spares instead of being wiped.
	km, err := d.keymapLocked()
	if err != nil {
		d.log.Warn("return spare keycode", "keycode", kc, "err", err)
		return
	}
	if sp := d.spares[kc]; sp == nil || sp.gen != gen {
		return
	}
	if err := d.mapKeycodeLocked(km, kc); err != nil {
		d.log.Warn("return spare keycode", "keycode", kc, "err", err)
		return
	}
	delete(d.spares, kc)
}

// reconcileSparesLocked forgets spares whose keycode no longer carries our
// keysym after a re-read: someone else remapped it, so it is not ours to
// empty any more.
func (d *Desktop) reconcileSparesLocked(km *keymap) {
	for kc, sp := range d.spares {
		if km.sym(kc, 0) != sp.sym {
			if sp.timer != nil {
				sp.timer.Stop()
			}
			delete(d.spares, kc)
		}
	}
}

// clearAllSparesLocked empties every borrowed keycode at once (Close).
func (d *Desktop) clearAllSparesLocked() error {
	if len(d.spares) == 0 {
		return nil
	}
	km, err := d.keymapLocked()
	if err != nil {
		return err
	}
	var errs []error
	for kc, sp := range d.spares {
		if sp.timer != nil {
			sp.timer.Stop()
		}
		if err := d.mapKeycodeLocked(km, kc); err != nil {
			errs = append(errs, err)
		}
		delete(d.spares, kc)
	}
	return errors.Join(errs...)
}

func (d *Desktop) stopSpareTimersLocked() {
	for _, sp := range d.spares {
		if sp.timer != nil {
			sp.timer.Stop()
		}
	}
}

// mapKeycodeLocked sets one keycode's keysyms (none = empty it) on the
// server and in the cache. It is checked: a failure here must not be
// followed by pressing a keycode that types something else.
func (d *Desktop) mapKeycodeLocked(km *keymap, kc xproto.Keycode, syms ...uint32) error {
	row := make([]xproto.Keysym, km.perKeycode)
	for i := range row {
		if i < len(syms) {
			row[i] = xproto.Keysym(syms[i])
		}
	}
	err := xproto.ChangeKeyboardMappingChecked(d.conn, 1, kc, byte(km.perKeycode), row).Check()
	if err != nil {
		return fmt.Errorf("map keycode %d: %w", kc, err)
	}
	km.set(kc, syms...)
	return nil
}
