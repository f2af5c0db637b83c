// Package xkb is the small part of the X Keyboard extension that xgb does
// not generate: reading the keyboard state and locking modifiers (what
// Xlib's XkbGetState and XkbLockModifiers do). Requests are encoded by hand
// from the protocol description (XKBproto.h: xkbUseExtensionReq,
// xkbGetStateReq/Reply, xkbLatchLockStateReq).
package xkb

import (
	"errors"
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

const extName = "XKEYBOARD"

// Minor opcodes.
const (
	opUseExtension   = 0
	opGetState       = 4
	opLatchLockState = 5
)

// useCoreKbd names the core keyboard as deviceSpec.
const useCoreKbd = 0x0100

// Real modifier masks.
const (
	ModShift   = 1 << 0
	ModLock    = 1 << 1
	ModControl = 1 << 2
	Mod1       = 1 << 3
	Mod2       = 1 << 4
	Mod3       = 1 << 5
	Mod4       = 1 << 6
	Mod5       = 1 << 7
)

// Init finds the extension and negotiates version 1.0, which the server
// requires before any other XKB request from this client.
func Init(c *xgb.Conn) error {
	ext, err := xproto.QueryExtension(c, uint16(len(extName)), extName).Reply()
	if err != nil {
		return fmt.Errorf("xkb: query extension: %w", err)
	}
	if !ext.Present {
		return errors.New("xkb: extension not present")
	}
	c.ExtLock.Lock()
	c.Extensions[extName] = ext.MajorOpcode
	c.ExtLock.Unlock()

	buf := request(c, opUseExtension, 8)
	xgb.Put16(buf[4:], 1) // wanted major
	xgb.Put16(buf[6:], 0) // wanted minor
	reply, err := send(c, buf, true, true)
	if err != nil {
		return fmt.Errorf("xkb: use extension: %w", err)
	}
	if len(reply) < 12 {
		return errors.New("xkb: short UseExtension reply")
	}
	if reply[1] == 0 {
		return fmt.Errorf("xkb: server refused version 1.0 (it has %d.%d)", xgb.Get16(reply[8:]), xgb.Get16(reply[10:]))
	}
	return nil
}

// State is the core keyboard's modifier state.
type State struct {
	// Mods is the effective modifier mask: base | latched | locked.
	Mods, BaseMods, LatchedMods, LockedMods uint8
}

// GetState reads the core keyboard's state.
func GetState(c *xgb.Conn) (State, error) {
	buf := request(c, opGetState, 8)
	xgb.Put16(buf[4:], useCoreKbd)
	reply, err := send(c, buf, true, true)
	if err != nil {
		return State{}, fmt.Errorf("xkb: get state: %w", err)
	}
	if len(reply) < 12 {
		return State{}, errors.New("xkb: short GetState reply")
	}
	return State{Mods: reply[8], BaseMods: reply[9], LatchedMods: reply[10], LockedMods: reply[11]}, nil
}

// LockModifiers sets the locked state of the modifiers in affect to their
// bits in values (XkbLockModifiers).
func LockModifiers(c *xgb.Conn, affect, values uint8) error {
	if _, err := send(c, lockRequest(c, affect, values), true, false); err != nil {
		return fmt.Errorf("xkb: lock modifiers: %w", err)
	}
	return nil
}

func lockRequest(c *xgb.Conn, affect, values uint8) []byte {
	buf := request(c, opLatchLockState, 16)
	xgb.Put16(buf[4:], useCoreKbd)
	buf[6] = affect          // affectModLocks
	buf[7] = values & affect // modLocks
	// lockGroup, groupLock, affectModLatches, modLatches, pad, latchGroup
	// and groupLatch stay zero: groups and latches are left alone.
	return buf
}

// request allocates a request of size bytes (a multiple of 4) with the
// header filled in.
func request(c *xgb.Conn, minor byte, size int) []byte {
	c.ExtLock.RLock()
	major := c.Extensions[extName]
	c.ExtLock.RUnlock()
	buf := make([]byte, size)
	buf[0] = major
	buf[1] = minor
	xgb.Put16(buf[2:], uint16(size/4))
	return buf
}

// send issues a checked request and waits for its reply (or, without
// one, for the server to have processed it).
func send(c *xgb.Conn, buf []byte, checked, reply bool) ([]byte, error) {
	c.ExtLock.RLock()
	_, ok := c.Extensions[extName]
	c.ExtLock.RUnlock()
	if !ok {
		return nil, errors.New("extension not initialised")
	}
	cookie := c.NewCookie(checked, reply)
	c.NewRequest(buf, cookie)
	if reply {
		return cookie.Reply()
	}
	return nil, cookie.Check()
}
