package desktop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/internal/desktop/xkb"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Keyboard layout errors.
var (
	// ErrInvalidKeyboardMap: a layout or variant that is not an XKB name.
	ErrInvalidKeyboardMap = errors.New("invalid keyboard layout or variant")
	// ErrUnknownKeyboardMap: well formed, but the X server has no such
	// layout or variant.
	ErrUnknownKeyboardMap = errors.New("unknown keyboard layout or variant")
)

// maxKeyboardName bounds a layout or variant list ("us,de,fr,ru" and the
// like; XKB has at most four groups).
const maxKeyboardName = 128

// validKeyboardName accepts XKB layout and variant names: letters, digits,
// '_', '-', and ',' between groups, '(' and ')' as in "us(intl)". Upper
// case is allowed because some variants have it (ru "phonetic_YAZHERTY").
// A leading '-' would read as an option to setxkbmap.
func validKeyboardName(s string) bool {
	if len(s) > maxKeyboardName || strings.HasPrefix(s, "-") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == ',' || c == '(' || c == ')'
		if !ok {
			return false
		}
	}
	return true
}

// CheckKeyboardMap returns ErrInvalidKeyboardMap unless the layout and
// variant are well-formed XKB names (see validKeyboardName).
func CheckKeyboardMap(m types.KeyboardMap) error {
	if !validKeyboardName(m.Layout) || !validKeyboardName(m.Variant) {
		return ErrInvalidKeyboardMap
	}
	return nil
}

// KeyboardMap reports the XKB layout and variant in effect, as setxkbmap
// records them on the root window (_XKB_RULES_NAMES: rules, model, layout,
// variant, options).
func (d *Desktop) KeyboardMap() (types.KeyboardMap, error) {
	if err := d.usable(); err != nil {
		return types.KeyboardMap{}, err
	}
	r, err := xproto.GetProperty(d.conn, false, d.root, d.atoms.rulesNames, xproto.AtomAny, 0, 1024).Reply()
	if err != nil {
		return types.KeyboardMap{}, fmt.Errorf("desktop: keyboard map: %w", err)
	}
	fields := strings.Split(string(r.Value), "\x00")
	var m types.KeyboardMap
	if len(fields) > 2 {
		m.Layout = fields[2]
	}
	if len(fields) > 3 {
		m.Variant = fields[3]
	}
	return m, nil
}

// SetKeyboardMap switches the XKB layout and variant with setxkbmap. An
// empty layout keeps the current one; an empty variant selects the
// layout's default.
func (d *Desktop) SetKeyboardMap(ctx context.Context, m types.KeyboardMap) error {
	if err := CheckKeyboardMap(m); err != nil {
		return err
	}
	if m.Layout == "" {
		cur, err := d.KeyboardMap()
		if err != nil {
			return err
		}
		m.Layout = cur.Layout
	}
	if err := d.usable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setxkbmap", "-display", d.display, "-layout", m.Layout, "-variant", m.Variant)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && ctx.Err() == nil:
		return fmt.Errorf("%w: %s", ErrUnknownKeyboardMap, out.String())
	default:
		return fmt.Errorf("desktop: setxkbmap: %w: %s", err, out.String())
	}
}

// The modifier bits of the wire names, as the reference maps them (core
// masks: Alt = Mod1, NumLock = Mod2, Meta = Mod3, Super = Mod4,
// AltGr = Mod5, which is how the usual XKB layouts bind them).
var modifierBits = []struct {
	mask  uint8
	field func(*types.KeyboardModifiers) **bool
}{
	{xkb.ModShift, func(m *types.KeyboardModifiers) **bool { return &m.Shift }},
	{xkb.ModLock, func(m *types.KeyboardModifiers) **bool { return &m.CapsLock }},
	{xkb.ModControl, func(m *types.KeyboardModifiers) **bool { return &m.Control }},
	{xkb.Mod1, func(m *types.KeyboardModifiers) **bool { return &m.Alt }},
	{xkb.Mod2, func(m *types.KeyboardModifiers) **bool { return &m.NumLock }},
	{xkb.Mod3, func(m *types.KeyboardModifiers) **bool { return &m.Meta }},
	{xkb.Mod4, func(m *types.KeyboardModifiers) **bool { return &m.Super }},
	{xkb.Mod5, func(m *types.KeyboardModifiers) **bool { return &m.AltGr }},
}

// ErrNoXKB is returned by the modifier functions without the XKB extension.
var ErrNoXKB = errors.New("desktop: the X server has no XKB extension")

// KeyboardModifiers reports which modifiers are in effect (held, latched
// or locked); every field is set.
func (d *Desktop) KeyboardModifiers() (types.KeyboardModifiers, error) {
	if d.xkbConn == nil {
		return types.KeyboardModifiers{}, ErrNoXKB
	}
	if err := d.usable(); err != nil {
		return types.KeyboardModifiers{}, err
	}
	st, err := xkb.GetState(d.xkbConn)
	if err != nil {
		return types.KeyboardModifiers{}, fmt.Errorf("desktop: %w", err)
	}
	var m types.KeyboardModifiers
	for _, b := range modifierBits {
		on := st.Mods&b.mask != 0
		*b.field(&m) = &on
	}
	return m, nil
}

// SetKeyboardModifiers locks (true) or unlocks (false) the modifiers set in
// m, as XkbLockModifiers does; nil fields are left alone. Unlocking does
// not release a key that is held.
func (d *Desktop) SetKeyboardModifiers(m types.KeyboardModifiers) error {
	if d.xkbConn == nil {
		return ErrNoXKB
	}
	var affect, values uint8
	for _, b := range modifierBits {
		if v := *b.field(&m); v != nil {
			affect |= b.mask
			if *v {
				values |= b.mask
			}
		}
	}
	if affect == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := xkb.LockModifiers(d.xkbConn, affect, values); err != nil {
		return fmt.Errorf("desktop: %w", err)
	}
	return nil
}

// Keysyms of the editing shortcuts.
const (
	shortcutX = 0x78
	shortcutC = 0x63
	shortcutV = 0x76
	shortcutA = 0x61
)

// Cut, Copy, Paste and SelectAll press Control with x, c, v or a, as the
// host's browser would for its own shortcut.
func (d *Desktop) Cut() error       { return d.controlShortcut(shortcutX) }
func (d *Desktop) Copy() error      { return d.controlShortcut(shortcutC) }
func (d *Desktop) Paste() error     { return d.controlShortcut(shortcutV) }
func (d *Desktop) SelectAll() error { return d.controlShortcut(shortcutA) }

func (d *Desktop) controlShortcut(sym uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	held := d.controlHeldLocked()
	if !held {
		if err := d.keyDownLocked(keysymControlL); err != nil {
			return fmt.Errorf("desktop: shortcut: %w", err)
		}
	}
	err := d.keyDownLocked(sym)
	if err == nil {
		err = d.keyUpLocked(sym)
	}
	if !held {
		err = errors.Join(err, d.keyUpLocked(keysymControlL))
	}
	if err != nil {
		return fmt.Errorf("desktop: shortcut: %w", err)
	}
	return nil
}
