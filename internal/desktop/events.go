package desktop

import (
	"context"
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/internal/desktop/xkb"
	"github.com/neko-webrtc/neko/internal/xext"
	"github.com/neko-webrtc/neko/pkg/types"
)

// atoms are the interned atoms this package uses.
type atoms struct {
	clipboard, targets, rulesNames xproto.Atom
}

// setupExtras prepares what goes beyond input: XFixes (clipboard and
// cursor notifications), XKB (modifiers), RandR screen change events and
// the atoms. Missing XFixes or XKB costs only their features.
func (d *Desktop) setupExtras() error {
	d.life, d.endLife = context.WithCancel(context.Background())
	d.watch = watchers{screen: newKick(), clipboard: newKick(), cursor: newKick()}
	d.unmin.kick = newKick()
	d.fc.kick = newKick()

	var err error
	for name, dst := range map[string]*xproto.Atom{
		"CLIPBOARD":        &d.atoms.clipboard,
		"TARGETS":          &d.atoms.targets,
		"_XKB_RULES_NAMES": &d.atoms.rulesNames,

		"WM_STATE":             &d.unmin.atoms.wmState,
		"_NET_CLIENT_LIST":     &d.unmin.atoms.clientList,
		"_NET_ACTIVE_WINDOW":   &d.unmin.atoms.activeWindow,
		"_NET_WM_STATE":        &d.unmin.atoms.netWMState,
		"_NET_WM_STATE_HIDDEN": &d.unmin.atoms.hidden,
	} {
		if *dst, err = internAtom(d.conn, name); err != nil {
			return err
		}
	}

	if err := d.internDropAtoms(); err != nil {
		return err
	}
	if err := d.internFileChooserAtoms(); err != nil {
		return err
	}
	if d.randrMinor >= 0 {
		if err := randr.SelectInputChecked(d.conn, d.root, randr.NotifyMaskScreenChange).Check(); err != nil {
			d.log.Warn("RandR screen change events unavailable", "err", err)
		}
	}
	d.screenLast, _ = d.Screen()

	if d.xfixes {
		if err := d.selectXFixes(); err != nil {
			d.log.Warn("XFixes events unavailable: no clipboard or cursor change notifications", "err", err)
		}
	}
	if err := d.setupXKB(); err != nil {
		d.log.Warn("XKB unavailable: keyboard modifiers cannot be read or set", "err", err)
	}
	return nil
}

// setupXKB opens the connection for XKB requests. It is a second one
// because a client that initialised XKB no longer receives core
// MappingNotify events, which the main connection relies on to follow
// keyboard mapping changes.
func (d *Desktop) setupXKB() error {
	conn, err := dial(d.life, d.display)
	if err != nil {
		return err
	}
	if err := xkb.Init(conn); err != nil {
		conn.Close()
		return err
	}
	d.xkbConn = conn
	// Its event queue must be drained too (it receives none, but X errors
	// of unchecked requests would pile up).
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		for {
			if ev, err := conn.WaitForEvent(); ev == nil && err == nil {
				return
			}
		}
	}()
	return nil
}

// initXFixes initialises XFixes (called by setup before any event is
// selected) and sets d.xfixes.
func (d *Desktop) initXFixes() error {
	if err := xext.Init(d.conn, xext.XFixes); err != nil {
		return err
	}
	// The protocol requires the version handshake before other requests.
	if _, err := xfixes.QueryVersion(d.conn, 5, 0).Reply(); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	d.xfixes = true
	return nil
}

// selectXFixes asks for CLIPBOARD owner changes and cursor changes.
func (d *Desktop) selectXFixes() error {
	mask := uint32(xfixes.SelectionEventMaskSetSelectionOwner |
		xfixes.SelectionEventMaskSelectionWindowDestroy | xfixes.SelectionEventMaskSelectionClientClose)
	if err := xfixes.SelectSelectionInputChecked(d.conn, d.root, d.atoms.clipboard, mask).Check(); err != nil {
		return fmt.Errorf("select selection events: %w", err)
	}
	if err := xfixes.SelectCursorInputChecked(d.conn, d.root, xfixes.CursorNotifyMaskDisplayCursor).Check(); err != nil {
		return fmt.Errorf("select cursor events: %w", err)
	}
	return nil
}

func internAtom(conn *xgb.Conn, name string) (xproto.Atom, error) {
	r, err := xproto.InternAtom(conn, false, uint16(len(name)), name).Reply()
	if err != nil {
		return 0, fmt.Errorf("intern atom %s: %w", name, err)
	}
	return r.Atom, nil
}

// extraEvent handles the events of the extensions set up by setupExtras.
// It runs on the event loop, so it only hands work to the watchers: a
// reply awaited here could deadlock behind a full event queue.
func (d *Desktop) extraEvent(ev xgb.Event) {
	if d.dropEvent(ev) {
		return
	}
	switch e := ev.(type) {
	case randr.ScreenChangeNotifyEvent:
		d.watch.screen.kick()
	case xfixes.SelectionNotifyEvent:
		if e.Selection == d.atoms.clipboard {
			d.watch.clipboard.kick()
		}
	case xfixes.CursorNotifyEvent:
		d.watch.cursor.kick()
	case xproto.PropertyNotifyEvent:
		d.unminimizeEvent(e)
		d.fileChooserEvent(e)
	}
}

// kick is a coalescing wake-up: any number of kicks before the watcher
// runs cause one run.
type kick chan struct{}

func newKick() kick { return make(kick, 1) }

func (k kick) kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}

type watchers struct {
	screen, clipboard, cursor kick
}

// startWatchers runs one goroutine per kind of change, so a slow clipboard
// owner cannot delay a cursor update.
func (d *Desktop) startWatchers() {
	run := func(k kick, fn func()) {
		d.workers.Add(1)
		go func() {
			defer d.workers.Done()
			for {
				select {
				case <-d.life.Done():
					return
				case <-k:
					fn()
				}
			}
		}()
	}
	run(d.watch.screen, d.screenChanged)
	run(d.watch.clipboard, d.clipboardChanged)
	run(d.watch.cursor, d.cursorChanged)
	run(d.unmin.kick, d.unminimizeScan)
	run(d.fc.kick, d.fileChooserScan)
}

// listeners are the registered callbacks. They run on the watcher
// goroutines (screen changes also on the caller of SetScreenSize); they may
// call back into the Desktop, except SetScreenSize from a screen listener.
type listeners struct {
	mu        sync.Mutex
	screen    []func(ScreenChange)
	clipboard []func()
	cursor    []func(CursorImage)
	// fileChooser runs on the file chooser watcher.
	fileChooser []func(open bool)
}

// ScreenChange reports a new screen configuration.
type ScreenChange struct {
	types.ScreenSize
	// Actor is the actor given to SetScreenSize (a session id), empty when
	// the screen was changed by other means (another X client).
	Actor string
}

// OnScreenChange registers fn to run after the screen size or rate
// changed. Calls are serialised with each other and with SetScreenSize.
func (d *Desktop) OnScreenChange(fn func(ScreenChange)) {
	d.listeners.mu.Lock()
	d.listeners.screen = append(d.listeners.screen, fn)
	d.listeners.mu.Unlock()
}

// OnClipboardChange registers fn to run after another owner took the
// CLIPBOARD selection (including our own SetClipboard). Read the contents
// with Clipboard if needed; changes in quick succession may be reported
// once.
func (d *Desktop) OnClipboardChange(fn func()) {
	d.listeners.mu.Lock()
	d.listeners.clipboard = append(d.listeners.clipboard, fn)
	d.listeners.mu.Unlock()
}

// OnCursorImage registers fn to run when the displayed cursor image
// changes.
func (d *Desktop) OnCursorImage(fn func(CursorImage)) {
	d.listeners.mu.Lock()
	d.listeners.cursor = append(d.listeners.cursor, fn)
	d.listeners.mu.Unlock()
}

// OnCursorPosition registers fn to run after every Move, with the clamped
// position. It runs on the caller of Move (the input path), so it must not
// block.
func (d *Desktop) OnCursorPosition(fn func(x, y int)) {
	d.listeners.mu.Lock()
	defer d.listeners.mu.Unlock()
	// Copy on write: Move reads the list without a lock.
	var list []func(x, y int)
	if old := d.cur.position.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, fn)
	d.cur.position.Store(&list)
}

func snapshot[T any](d *Desktop, list *[]T) []T {
	d.listeners.mu.Lock()
	defer d.listeners.mu.Unlock()
	return append([]T(nil), *list...)
}

func (d *Desktop) clipboardChanged() {
	for _, fn := range snapshot(d, &d.listeners.clipboard) {
		fn()
	}
}
