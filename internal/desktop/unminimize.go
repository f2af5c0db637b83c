package desktop

import (
	"fmt"
	"slices"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// ICCCM WM_STATE values.
const (
	wmStateNormal = 1
	wmStateIconic = 3
)

// unminimizer restores minimised top-level windows: a kiosk has no task
// bar to bring them back from. It follows the window manager's client list
// (_NET_CLIENT_LIST, plus root children with WM_STATE when there is no
// EWMH window manager) and each client's WM_STATE and _NET_WM_STATE.
type unminimizer struct {
	mu      sync.Mutex
	on      bool
	watched map[xproto.Window]bool
	kick    kick
	// atoms are interned at setup and only read afterwards.
	atoms struct {
		wmState, clientList, activeWindow, netWMState, hidden xproto.Atom
	}
}

// SetUnminimize turns restoring minimised windows on or off
// (desktop.unminimize). Turning it on restores the ones minimised already.
func (d *Desktop) SetUnminimize(on bool) error {
	u := &d.unmin
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.on == on {
		return nil
	}
	if err := d.followRootProperties(func(w *rootWatch) { w.unminimize = on }); err != nil {
		return fmt.Errorf("desktop: unminimize: %w", err)
	}
	u.on = on
	if on {
		u.kick.kick()
	}
	return nil
}

// rootWatch is who needs the root window's property changes (the client
// list).
type rootWatch struct {
	unminimize, fileChooser bool
}

// followRootProperties applies change to d.rootWatch and selects the root
// window's events to match: StructureNotify always, PropertyChange while
// someone follows the client list.
func (d *Desktop) followRootProperties(change func(*rootWatch)) error {
	d.rootMu.Lock()
	defer d.rootMu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	next := d.rootWatch
	change(&next)
	// The root's mask is replaced as a whole.
	mask := uint32(xproto.EventMaskStructureNotify)
	if next.unminimize || next.fileChooser {
		mask |= xproto.EventMaskPropertyChange
	}
	if err := xproto.ChangeWindowAttributesChecked(d.conn, d.root, xproto.CwEventMask, []uint32{mask}).Check(); err != nil {
		return fmt.Errorf("select root events: %w", err)
	}
	d.rootWatch = next
	return nil
}

// unminimizeEvent tells whether a PropertyNotify concerns the unminimizer.
func (d *Desktop) unminimizeEvent(e xproto.PropertyNotifyEvent) {
	a := &d.unmin.atoms
	if e.Atom != 0 && (e.Atom == a.clientList || e.Atom == a.wmState || e.Atom == a.netWMState) {
		d.unmin.kick.kick()
	}
}

// unminimizeScan runs on its watcher: it starts following new clients and
// restores the minimised ones.
func (d *Desktop) unminimizeScan() {
	u := &d.unmin
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.on || d.usable() != nil {
		return
	}
	clients := d.clientWindows()
	if u.watched == nil {
		u.watched = map[xproto.Window]bool{}
	}
	for w := range u.watched {
		if !slices.Contains(clients, w) {
			delete(u.watched, w)
		}
	}
	for _, w := range clients {
		if !u.watched[w] {
			// Unchecked: the window may be gone already, which is fine.
			xproto.ChangeWindowAttributes(d.conn, w, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange})
			u.watched[w] = true
		}
		if d.minimized(w) {
			d.restore(w)
		}
	}
}

// clientWindows lists the top-level client windows.
func (d *Desktop) clientWindows() []xproto.Window {
	var out []xproto.Window
	if r, err := xproto.GetProperty(d.conn, false, d.root, d.unmin.atoms.clientList, xproto.AtomWindow, 0, 4096).Reply(); err == nil && r.Format == 32 {
		for i := 0; i+4 <= len(r.Value); i += 4 {
			out = append(out, xproto.Window(xgb.Get32(r.Value[i:])))
		}
	}
	if tree, err := xproto.QueryTree(d.conn, d.root).Reply(); err == nil {
		for _, w := range tree.Children {
			if !slices.Contains(out, w) && d.wmState(w) != 0 {
				out = append(out, w)
			}
		}
	}
	return out
}

// wmState is a window's ICCCM state, 0 if it has none.
func (d *Desktop) wmState(w xproto.Window) uint32 {
	a := d.unmin.atoms.wmState
	r, err := xproto.GetProperty(d.conn, false, w, a, a, 0, 1).Reply()
	if err != nil || r.Format != 32 || len(r.Value) < 4 {
		return 0
	}
	return xgb.Get32(r.Value)
}

func (d *Desktop) minimized(w xproto.Window) bool {
	if d.wmState(w) == wmStateIconic {
		return true
	}
	r, err := xproto.GetProperty(d.conn, false, w, d.unmin.atoms.netWMState, xproto.AtomAtom, 0, 64).Reply()
	if err != nil || r.Format != 32 {
		return false
	}
	for i := 0; i+4 <= len(r.Value); i += 4 {
		if xproto.Atom(xgb.Get32(r.Value[i:])) == d.unmin.atoms.hidden {
			return true
		}
	}
	return false
}

// restore maps the window (ICCCM: Iconic → Normal) and asks the window
// manager to activate it (EWMH _NET_ACTIVE_WINDOW, as a pager would).
func (d *Desktop) restore(w xproto.Window) {
	d.log.Info("restoring a minimised window", "window", w)
	xproto.MapWindow(d.conn, w)
	ev := xproto.ClientMessageEvent{
		Format: 32, Window: w, Type: d.unmin.atoms.activeWindow,
		Data: xproto.ClientMessageDataUnionData32New([]uint32{2, xproto.TimeCurrentTime, 0, 0, 0}),
	}
	xproto.SendEvent(d.conn, false, d.root,
		xproto.EventMaskSubstructureRedirect|xproto.EventMaskSubstructureNotify, string(ev.Bytes()))
}
