package desktop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// File chooser dialogs (desktop.file_chooser_dialog). When the app opens
// an "Open File" dialog, it is kept out of the stream and the clients are
// told (OnFileChooser); the host then uploads files into it or cancels it
// through the API.
//
// A dialog is a new client of the window manager (_NET_CLIENT_LIST) with
// the role GtkFileChooserDialog (what Chromium's GTK dialog sets) or the
// type _NET_WM_WINDOW_TYPE_DIALOG, titled "Open File" or "Open Files".
// Save dialogs and others stay on screen. The dialog is hidden by asking
// the window manager to keep it below other windows (_NET_WM_STATE_BELOW)
// after cutting its WM_TRANSIENT_FOR link, which would keep it above the
// fullscreen browser; it stays on screen, behind the browser, because
// uploading drops the files onto its file list.
//
// Uploading does not type into the dialog: its location entry pops up
// completion windows that grab the keyboard, and Chromium refuses a folder
// typed there. Instead the files are dropped (XDND) onto the dialog's file
// list, which opens their folder and selects the first; Control+A selects
// the rest (the folder holds just the upload's files), and the dialog's
// accept button is pressed through its mnemonic (Alt+O, as it is labelled
// "_Open"). Return would not do: Chromium's dialog then reports no file.

// File chooser errors.
var (
	ErrFileChooserDisabled = errors.New("file chooser dialog is disabled")
	ErrNoFileChooser       = errors.New("file chooser dialog is not open")
	ErrFileChooserRefused  = errors.New("the file chooser dialog did not take the files")
)

// Keysyms pressed in the dialog.
const (
	keysymAltL   uint32 = 0xffe9
	keysymEscape uint32 = 0xff1b
	keysymO      uint32 = 0x6f
)

// Timing of the dialog automation. The dialog loads the dropped files'
// folder and selects them asynchronously, with nothing observable from
// outside, so the accept key waits chooserSelectDelay after the drop.
const (
	chooserSelectDelay = 700 * time.Millisecond
	chooserFocusDelay  = 100 * time.Millisecond
	chooserCloseWait   = 3 * time.Second
	chooserCancelWait  = time.Second
)

// fileChooserRoleGTK is WM_WINDOW_ROLE of GTK's file chooser dialogs.
const fileChooserRoleGTK = "GtkFileChooserDialog"

// fileChooser holds the feature's state.
type fileChooser struct {
	enabled atomic.Bool
	kick    kick
	// op allows one upload or close at a time.
	op sync.Mutex

	mu sync.Mutex
	// win is the open dialog (0: none); closed is closed when it goes.
	win    xproto.Window
	closed chan struct{}
	// seen are the clients already examined.
	seen map[xproto.Window]bool

	// atoms are interned at setup and only read afterwards.
	atoms struct {
		role, transientFor, netWMName, utf8String, windowType, typeDialog,
		netWMState, below, protocols, deleteWindow xproto.Atom
	}
}

func (d *Desktop) internFileChooserAtoms() error {
	a := &d.fc.atoms
	for name, dst := range map[string]*xproto.Atom{
		"WM_WINDOW_ROLE": &a.role, "WM_TRANSIENT_FOR": &a.transientFor, "_NET_WM_NAME": &a.netWMName,
		"UTF8_STRING": &a.utf8String, "_NET_WM_WINDOW_TYPE": &a.windowType,
		"_NET_WM_WINDOW_TYPE_DIALOG": &a.typeDialog, "_NET_WM_STATE": &a.netWMState,
		"_NET_WM_STATE_BELOW": &a.below, "WM_PROTOCOLS": &a.protocols, "WM_DELETE_WINDOW": &a.deleteWindow,
	} {
		v, err := internAtom(d.conn, name)
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

// SetFileChooserDialog turns handling file chooser dialogs on or off
// (desktop.file_chooser_dialog). Turning it on also takes over a dialog
// that is open already; turning it off forgets the open one (reported as
// closed) and leaves it where it is. Both take effect shortly after.
func (d *Desktop) SetFileChooserDialog(on bool) error {
	fc := &d.fc
	if fc.enabled.Load() == on {
		return nil
	}
	if err := d.followRootProperties(func(w *rootWatch) { w.fileChooser = on }); err != nil {
		return fmt.Errorf("desktop: file chooser dialog: %w", err)
	}
	fc.enabled.Store(on)
	// The watcher takes over or forgets the dialog.
	fc.kick.kick()
	return nil
}

// FileChooserDialogEnabled reports SetFileChooserDialog's setting.
func (d *Desktop) FileChooserDialogEnabled() bool { return d.fc.enabled.Load() }

// FileChooserOpen reports whether a file chooser dialog is open (and
// hidden).
func (d *Desktop) FileChooserOpen() bool {
	win, _ := d.fc.current()
	return win != 0
}

// OnFileChooser registers fn to run when a file chooser dialog opens
// (true) or closes (false; also when the feature is turned off with one
// open). Calls come from one goroutine, in order.
func (d *Desktop) OnFileChooser(fn func(open bool)) {
	d.listeners.mu.Lock()
	d.listeners.fileChooser = append(d.listeners.fileChooser, fn)
	d.listeners.mu.Unlock()
}

func (d *Desktop) fileChooserChanged(open bool) {
	for _, fn := range snapshot(d, &d.listeners.fileChooser) {
		fn(open)
	}
}

func (fc *fileChooser) current() (xproto.Window, <-chan struct{}) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.win, fc.closed
}

// forgetLocked drops the open dialog, waking whoever waits for it to close.
func (fc *fileChooser) forgetLocked() {
	if fc.win == 0 {
		return
	}
	fc.win = 0
	close(fc.closed)
	fc.closed = nil
}

// fileChooserEvent tells whether a PropertyNotify concerns the dialogs: a
// change of the client list.
func (d *Desktop) fileChooserEvent(e xproto.PropertyNotifyEvent) {
	if e.Window == d.root && e.Atom != 0 && e.Atom == d.unmin.atoms.clientList {
		d.fc.kick.kick()
	}
}

// fileChooserScan runs on its watcher after the client list changed: it
// notices the open dialog leaving and a new one arriving.
func (d *Desktop) fileChooserScan() {
	if d.usable() != nil {
		return
	}
	fc := &d.fc
	clients := d.clientWindows()
	var events []bool
	on := fc.enabled.Load()
	fc.mu.Lock()
	if fc.win != 0 && (!on || !slices.Contains(clients, fc.win)) {
		d.log.Debug("file chooser dialog closed", "window", fc.win)
		fc.forgetLocked()
		events = append(events, false)
	}
	if !on {
		// Examined again when turned on.
		clients, fc.seen = nil, nil
	} else if fc.seen == nil {
		fc.seen = map[xproto.Window]bool{}
	}
	for w := range fc.seen {
		if !slices.Contains(clients, w) {
			delete(fc.seen, w)
		}
	}
	for _, w := range clients {
		if fc.seen[w] {
			continue
		}
		fc.seen[w] = true
		if fc.win == 0 && d.isFileChooser(w) {
			d.log.Debug("file chooser dialog opened", "window", w)
			d.hideFileChooser(w)
			fc.win, fc.closed = w, make(chan struct{})
			events = append(events, true)
		}
	}
	fc.mu.Unlock()
	for _, open := range events {
		d.fileChooserChanged(open)
	}
}

// isFileChooser tells whether a client window is an open file dialog.
func (d *Desktop) isFileChooser(w xproto.Window) bool {
	a := &d.fc.atoms
	title := d.textProperty(w, a.netWMName)
	if title == "" {
		title = d.textProperty(w, xproto.AtomWmName)
	}
	if !isOpenFileTitle(title) {
		return false
	}
	if d.textProperty(w, a.role) == fileChooserRoleGTK {
		return true
	}
	r, err := xproto.GetProperty(d.conn, false, w, a.windowType, xproto.AtomAtom, 0, 16).Reply()
	if err != nil || r.Format != 32 {
		return false
	}
	for i := 0; i+4 <= len(r.Value); i += 4 {
		if xproto.Atom(xgb.Get32(r.Value[i:])) == a.typeDialog {
			return true
		}
	}
	return false
}

// isOpenFileTitle accepts the titles of dialogs that open files: GTK's
// and Chromium's "Open File" and "Open Files".
func isOpenFileTitle(title string) bool {
	return strings.HasPrefix(strings.TrimSpace(title), "Open File")
}

// textProperty reads a short text property (any 8-bit type), "" if unset.
func (d *Desktop) textProperty(w xproto.Window, prop xproto.Atom) string {
	r, err := xproto.GetProperty(d.conn, false, w, prop, xproto.GetPropertyTypeAny, 0, 256).Reply()
	if err != nil || r.Format != 8 {
		return ""
	}
	return strings.TrimRight(string(r.Value), "\x00")
}

// hideFileChooser puts the dialog behind the other windows. Unchecked:
// the window may be gone already.
func (d *Desktop) hideFileChooser(w xproto.Window) {
	a := &d.fc.atoms
	xproto.DeleteProperty(d.conn, w, a.transientFor)
	// EWMH: action 1 = add, source 2 = pager (obeyed like the user).
	d.sendRootMessage(w, a.netWMState, 1, uint32(a.below), 0, 2, 0)
}

// sendRootMessage sends an EWMH client message about w to the window
// manager.
func (d *Desktop) sendRootMessage(w xproto.Window, typ xproto.Atom, data ...uint32) {
	ev := xproto.ClientMessageEvent{
		Format: 32, Window: w, Type: typ,
		Data: xproto.ClientMessageDataUnionData32New(data),
	}
	xproto.SendEvent(d.conn, false, d.root,
		xproto.EventMaskSubstructureRedirect|xproto.EventMaskSubstructureNotify, string(ev.Bytes()))
}

// FileChooserUpload chooses the files (absolute paths) in the open file
// chooser dialog and accepts it. Several files must be all of one
// directory (as UploadDir makes them). It returns once the dialog has
// closed, with ErrNoFileChooser if there is none or ErrFileChooserRefused
// if it did not close. A dialog for one file takes the first.
func (d *Desktop) FileChooserUpload(ctx context.Context, paths []string) error {
	if !d.FileChooserDialogEnabled() {
		return ErrFileChooserDisabled
	}
	if err := checkChooserPaths(paths); err != nil {
		return fmt.Errorf("desktop: file chooser: %w", err)
	}
	fc := &d.fc
	fc.op.Lock()
	defer fc.op.Unlock()
	win, closed := fc.current()
	if win == 0 {
		return ErrNoFileChooser
	}

	x, y, err := d.fileListPoint(win)
	if err != nil {
		return err
	}
	err = func() error {
		d.drop.mu.Lock()
		defer d.drop.mu.Unlock()
		if err := d.usable(); err != nil {
			return err
		}
		target, proxy, version, err := d.dropTarget(win, x, y)
		if err != nil {
			return err
		}
		return d.dropLocked(ctx, target, proxy, version, x, y, paths)
	}()
	if err != nil {
		if errors.Is(err, ErrDropNoTarget) || errors.Is(err, ErrDropRefused) {
			return fmt.Errorf("%w: %w", ErrFileChooserRefused, err)
		}
		return fmt.Errorf("desktop: file chooser: %w", err)
	}
	if err := sleep(ctx, chooserSelectDelay); err != nil {
		return err
	}
	if err := d.focus(win); err != nil {
		return closedOr(closed, err)
	}
	if err := sleep(ctx, chooserFocusDelay); err != nil {
		return err
	}
	if len(paths) > 1 {
		// The drop selects the first file only; the others are the rest
		// of the folder.
		if err := d.pressChord(keysymControlL, shortcutA); err != nil {
			return err
		}
		if err := sleep(ctx, chooserFocusDelay); err != nil {
			return err
		}
	}
	if err := d.pressChord(keysymAltL, keysymO); err != nil {
		return err
	}
	if !waitClosed(ctx, closed, chooserCloseWait) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrFileChooserRefused
	}
	d.log.Info("uploaded files into the file chooser dialog", "files", len(paths))
	return nil
}

// checkChooserPaths makes sure that selecting all of the first file's
// directory selects exactly paths.
func checkChooserPaths(paths []string) error {
	if len(paths) == 0 {
		return errors.New("no files")
	}
	dir := filepath.Dir(paths[0])
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%q is not an absolute path", p)
		}
		if filepath.Dir(p) != dir {
			return fmt.Errorf("%q is not in %s", p, dir)
		}
	}
	if len(paths) == 1 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) != len(paths) {
		return fmt.Errorf("%s holds %d entries, not just the %d files", dir, len(entries), len(paths))
	}
	return nil
}

// FileChooserClose cancels the open file chooser dialog: it asks the
// window to close (WM_DELETE_WINDOW) and, if a popup of the dialog holds
// on to the input, presses Escape. ErrNoFileChooser if none is open.
func (d *Desktop) FileChooserClose(ctx context.Context) error {
	if !d.FileChooserDialogEnabled() {
		return ErrFileChooserDisabled
	}
	fc := &d.fc
	fc.op.Lock()
	defer fc.op.Unlock()
	win, closed := fc.current()
	if win == 0 {
		return ErrNoFileChooser
	}
	for range 3 {
		d.sendDelete(win)
		if waitClosed(ctx, closed, chooserCancelWait) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.focus(win); err != nil {
			return closedOr(closed, err)
		}
		if err := d.pressChord(keysymEscape); err != nil {
			return err
		}
		if waitClosed(ctx, closed, chooserCancelWait) {
			return nil
		}
	}
	return errors.New("desktop: the file chooser dialog does not close")
}

// sendDelete asks a window to close (ICCCM WM_DELETE_WINDOW).
func (d *Desktop) sendDelete(w xproto.Window) {
	a := &d.fc.atoms
	ev := xproto.ClientMessageEvent{
		Format: 32, Window: w, Type: a.protocols,
		Data: xproto.ClientMessageDataUnionData32New([]uint32{uint32(a.deleteWindow), xproto.TimeCurrentTime, 0, 0, 0}),
	}
	xproto.SendEvent(d.conn, false, w, 0, string(ev.Bytes()))
}

// fileListPoint picks a point of the screen on the dialog's file list:
// right of the places sidebar, between the path bar and the buttons.
func (d *Desktop) fileListPoint(w xproto.Window) (x, y int, err error) {
	g, err := xproto.GetGeometry(d.conn, xproto.Drawable(w)).Reply()
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrNoFileChooser, err)
	}
	t, err := xproto.TranslateCoordinates(d.conn, w, d.root, 0, 0).Reply()
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrNoFileChooser, err)
	}
	sw, sh := d.loadSize()
	// The part of the dialog on the screen.
	left, top := max(int(t.DstX), 0), max(int(t.DstY), 0)
	right, bottom := min(int(t.DstX)+int(g.Width), sw), min(int(t.DstY)+int(g.Height), sh)
	if right <= left || bottom <= top {
		return 0, 0, fmt.Errorf("%w: the dialog is off the screen", ErrFileChooserRefused)
	}
	x = int(t.DstX) + int(g.Width)*3/5
	y = int(t.DstY) + int(g.Height)/2
	return min(max(x, left), right-1), min(max(y, top), bottom-1), nil
}

// focus gives the keyboard focus to w.
func (d *Desktop) focus(w xproto.Window) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	if err := xproto.SetInputFocusChecked(d.conn, xproto.InputFocusParent, w, xproto.TimeCurrentTime).Check(); err != nil {
		return fmt.Errorf("desktop: focus the file chooser dialog: %w", err)
	}
	return nil
}

// pressChord releases what the client holds, then presses the keysyms in
// order and releases them in reverse.
func (d *Desktop) pressChord(syms ...uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return err
	}
	err := d.releaseAllLocked()
	pressed := 0
	for _, sym := range syms {
		if err != nil {
			break
		}
		if err = d.keyDownLocked(sym); err == nil {
			pressed++
		}
	}
	for i := pressed - 1; i >= 0; i-- {
		err = errors.Join(err, d.keyUpLocked(syms[i]))
	}
	if err = errors.Join(err, d.syncLocked()); err != nil {
		return fmt.Errorf("desktop: file chooser keys: %w", err)
	}
	return nil
}

// closedOr returns nil if the dialog has closed meanwhile, else err.
func closedOr(closed <-chan struct{}, err error) error {
	select {
	case <-closed:
		return nil
	default:
		return err
	}
}

// waitClosed waits until closed is closed, for at most timeout.
func waitClosed(ctx context.Context, closed <-chan struct{}, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-closed:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	select {
	case <-closed:
		return true
	default:
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
