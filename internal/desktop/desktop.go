// Package desktop drives the X11 display that the virtual browser runs on:
// it injects pointer and keyboard input through the XTest extension, reports
// and changes the screen mode (RandR), reads and sets the clipboard, the
// keyboard layout and modifiers, takes screenshots and follows the cursor
// image (XFixes), restores minimised windows, drops uploaded files onto
// windows and hands them to the app's file chooser dialogs. It speaks the X protocol directly
// (github.com/jezek/xgb), so no cgo or Xlib is involved; the clipboard
// contents and the keyboard layout go through xclip and setxkbmap.
//
// A Desktop owns one X connection (plus one for XKB requests, see
// setupXKB). All methods are safe for concurrent use; request sequences
// that must not interleave (remapping a spare keycode and pressing it,
// Control around wheel clicks) run under one mutex. Changes (screen,
// clipboard, cursor, file chooser dialogs) are reported to listeners from
// watcher goroutines; the event loop only wakes them. Files are dropped
// onto windows with XDND.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/neko-webrtc/neko/internal/xext"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Errors callers may want to tell apart.
var (
	ErrClosed         = errors.New("desktop: closed")
	ErrInvalidButton  = errors.New("invalid button code")
	ErrInvalidKeysym  = errors.New("invalid keysym")
	ErrNoSpareKeycode = errors.New("no spare keycode left")
)

// Options configures Open.
type Options struct {
	// Display is the X display name, e.g. ":10"; empty means $DISPLAY.
	Display string
	// Logger receives X errors and recoverable problems; nil discards them.
	Logger *slog.Logger
}

// Desktop is a connection to an X display used for input injection and
// screen queries.
type Desktop struct {
	log  *slog.Logger
	conn *xgb.Conn
	root xproto.Window

	minKeycode, maxKeycode xproto.Keycode
	// randrMinor is the RandR 1.x minor version the server agreed to, -1
	// without RandR.
	randrMinor int

	// size is width<<32 | height of the root window, kept current by the
	// event loop so Move can clamp without a round trip.
	size atomic.Uint64
	// keymapStale is set by the event loop on MappingNotify; the next key
	// lookup re-reads the mapping.
	keymapStale atomic.Bool
	// lost is set when the connection to the server has gone away.
	lost atomic.Bool

	eventsDone chan struct{}

	// display is the display name, for the helper tools (xclip,
	// setxkbmap) that speak to the same server.
	display string
	// life ends with Close: watchers stop and helper processes are killed.
	life    context.Context
	endLife context.CancelFunc
	workers sync.WaitGroup

	watch     watchers
	listeners listeners

	// xfixes says whether XFixes was set up, xkbConn is the connection for
	// XKB requests (nil without XKB); without them clipboard and cursor
	// notifications, and modifiers, are unavailable.
	xfixes  bool
	xkbConn *xgb.Conn
	atoms   atoms

	// screenMu serialises screen changes and their notifications;
	// screenLast is the configuration listeners were last told about.
	screenMu   sync.Mutex
	screenLast types.ScreenSize

	clip  clipboardOwner
	cur   cursorState
	touch touchState
	unmin unminimizer
	drop  dropper
	fc    fileChooser
	// rootMu guards rootWatch, what the root window's event mask follows.
	rootMu    sync.Mutex
	rootWatch rootWatch

	mu          sync.Mutex
	closed      bool
	keymap      *keymap
	heldKeys    map[uint32]xproto.Keycode // client keysym → keycode pressed for it
	heldButtons [maxButton + 1]bool
	spares      map[xproto.Keycode]*spare
}

// Open connects to the X display, checks that the XTest extension is
// present (RandR is optional: without it ScreenSize reports rate 0) and
// reads the keyboard mapping.
func Open(ctx context.Context, opts Options) (*Desktop, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	display := opts.Display
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, errors.New("desktop: no display given and $DISPLAY is empty")
	}

	conn, err := dial(ctx, display)
	if err != nil {
		return nil, fmt.Errorf("desktop: connect to %s: %w", display, err)
	}
	d, err := setup(conn, display, log.With("display", display))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("desktop: %s: %w", display, err)
	}
	return d, nil
}

// dial connects in the background so a cancelled context does not have to
// wait for an unresponsive server; xgb has no context-aware dial.
func dial(ctx context.Context, display string) (*xgb.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		conn *xgb.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := xgb.NewConnDisplay(display)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func setup(conn *xgb.Conn, display string, log *slog.Logger) (*Desktop, error) {
	if err := xext.Init(conn, xext.XTest); err != nil {
		return nil, fmt.Errorf("XTEST extension: %w", err)
	}
	if _, err := xtest.GetVersion(conn, 2, 2).Reply(); err != nil {
		return nil, fmt.Errorf("XTEST version: %w", err)
	}

	info := xproto.Setup(conn)
	screen := info.DefaultScreen(conn)
	d := &Desktop{
		log:        log,
		conn:       conn,
		root:       screen.Root,
		minKeycode: info.MinKeycode,
		maxKeycode: info.MaxKeycode,
		randrMinor: -1,
		eventsDone: make(chan struct{}),
		display:    display,
		heldKeys:   make(map[uint32]xproto.Keycode),
		spares:     make(map[xproto.Keycode]*spare),
	}
	d.storeSize(int(screen.WidthInPixels), int(screen.HeightInPixels))

	if err := xext.Init(conn, xext.RandR); err != nil {
		log.Warn("RandR extension unavailable, screen rate will be 0", "err", err)
	} else if v, err := randr.QueryVersion(conn, 1, 5).Reply(); err != nil {
		log.Warn("RandR version query failed, screen rate will be 0", "err", err)
	} else if v.MajorVersion == 1 && v.MinorVersion >= 2 {
		d.randrMinor = int(v.MinorVersion)
	} else {
		log.Warn("RandR older than 1.2, screen rate will be 0", "version", fmt.Sprintf("%d.%d", v.MajorVersion, v.MinorVersion))
	}

	// Initialising an extension writes xgb's package-level event tables,
	// which the connection's reader consults for every event, so all of
	// them are initialised before any event is selected.
	if err := d.initXFixes(); err != nil {
		log.Warn("XFixes unavailable: no clipboard or cursor change notifications", "err", err)
	}

	// StructureNotify on the root reports every screen resize (RandR or
	// not) as a ConfigureNotify, which keeps Move's clamp bounds current.
	err := xproto.ChangeWindowAttributesChecked(conn, d.root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskStructureNotify}).Check()
	if err != nil {
		return nil, fmt.Errorf("select root events: %w", err)
	}

	km, err := readKeymap(conn, d.minKeycode, d.maxKeycode)
	if err != nil {
		return nil, err
	}
	d.keymap = km

	if err := d.setupExtras(); err != nil {
		return nil, err
	}
	go d.eventLoop()
	d.startWatchers()
	return d, nil
}

// eventLoop drains the connection's event queue: xgb stops reading replies
// once its event buffer is full, so someone has to, and MappingNotify and
// root ConfigureNotify are the two events this package cares about.
func (d *Desktop) eventLoop() {
	defer close(d.eventsDone)
	for {
		ev, xerr := d.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			d.lost.Store(true)
			return
		}
		if xerr != nil {
			d.log.Warn("X error", "err", xerr)
			continue
		}
		switch e := ev.(type) {
		case xproto.MappingNotifyEvent:
			if e.Request == xproto.MappingKeyboard {
				d.keymapStale.Store(true)
			}
		case xproto.ConfigureNotifyEvent:
			if e.Window == d.root {
				d.storeSize(int(e.Width), int(e.Height))
				d.watch.screen.kick()
			}
		default:
			d.extraEvent(ev)
		}
	}
}

// Close releases everything still held, gives borrowed keycodes back and
// closes the connection. Calling it again is a no-op.
func (d *Desktop) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	var errs []error
	if !d.lost.Load() {
		if err := d.releaseAllLocked(); err != nil {
			errs = append(errs, err)
		}
		if err := d.clearAllSparesLocked(); err != nil {
			errs = append(errs, err)
		}
		if err := d.syncLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	d.stopSpareTimersLocked()
	d.closed = true
	d.mu.Unlock()

	// Watchers first: they may be waiting on a reply or a helper process.
	d.endLife()
	if d.xkbConn != nil {
		d.xkbConn.Close()
	}
	d.workers.Wait()
	d.clip.stop()
	d.removeUploads()
	d.conn.Close()
	<-d.eventsDone
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("desktop: close: %w", err)
	}
	return nil
}

// usableLocked reports why requests cannot be sent, if they cannot.
func (d *Desktop) usableLocked() error {
	if d.closed {
		return ErrClosed
	}
	if d.lost.Load() {
		return errors.New("desktop: connection to X server lost")
	}
	return nil
}

// syncLocked waits until the server has processed every request sent so
// far, surfacing errors of the unchecked ones in the log meanwhile.
func (d *Desktop) syncLocked() error {
	if _, err := xproto.GetInputFocus(d.conn).Reply(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

func (d *Desktop) storeSize(w, h int) {
	d.size.Store(uint64(uint32(w))<<32 | uint64(uint32(h)))
}

func (d *Desktop) loadSize() (w, h int) {
	v := d.size.Load()
	return int(v >> 32), int(uint32(v))
}
