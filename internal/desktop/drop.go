package desktop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Files are dropped onto windows with the XDND protocol (version 5,
// freedesktop.org), as a file manager would: a window of ours owns the
// XdndSelection and offers the files as text/uri-list, and the messages
// XdndEnter, XdndPosition and XdndDrop go to the XdndAware window under the
// drop point.

// Drop errors.
var (
	ErrDropDisabled = errors.New("upload drop is disabled")
	ErrDropOutside  = errors.New("drop position is outside the screen")
	ErrDropNoTarget = errors.New("no window at the drop position accepts dropped files")
	ErrDropRefused  = errors.New("the window at the drop position refused the files")
)

const (
	xdndVersion = 5
	// dropTimeout bounds each wait for the target (status, finish).
	dropTimeout = 5 * time.Second
	// acceptTimeout bounds how long a target may refuse before it accepts;
	// positionRepeat spaces the repeated positions.
	acceptTimeout  = 2 * time.Second
	positionRepeat = 20 * time.Millisecond
	targetURIs     = "text/uri-list"
)

type dropAtoms struct {
	aware, proxy, selection, typeList                   xproto.Atom
	enter, position, status, leave, drop, finished      xproto.Atom
	actionCopy, uriList, targets, timestampProp, atomTy xproto.Atom
}

// dropper holds the drop feature's state.
type dropper struct {
	enabled atomic.Bool
	// mu allows one drop at a time.
	mu sync.Mutex
	// active receives the events for the drop in progress.
	active atomic.Pointer[dropSession]
	atoms  dropAtoms

	dirMu sync.Mutex
	root  string // private directory of the uploads, removed on Close
}

type dropSession struct {
	win    xproto.Window
	events chan xgb.Event
}

// SetUploadDrop turns dropping files on or off (desktop.upload_drop).
func (d *Desktop) SetUploadDrop(on bool) { d.drop.enabled.Store(on) }

// UploadDropEnabled reports SetUploadDrop's setting.
func (d *Desktop) UploadDropEnabled() bool { return d.drop.enabled.Load() }

// UploadDir creates a fresh private directory for the files of one upload.
// It lives until the files are dropped and read, so it is removed only
// when the Desktop closes (or by the caller if the drop fails).
func (d *Desktop) UploadDir() (string, error) {
	d.drop.dirMu.Lock()
	defer d.drop.dirMu.Unlock()
	if err := d.usable(); err != nil {
		return "", err
	}
	if d.drop.root == "" {
		root, err := os.MkdirTemp("", "neko-upload-*") // 0700
		if err != nil {
			return "", fmt.Errorf("desktop: upload directory: %w", err)
		}
		d.drop.root = root
	}
	dir, err := os.MkdirTemp(d.drop.root, "drop-*")
	if err != nil {
		return "", fmt.Errorf("desktop: upload directory: %w", err)
	}
	return dir, nil
}

func (d *Desktop) removeUploads() {
	d.drop.dirMu.Lock()
	defer d.drop.dirMu.Unlock()
	if d.drop.root != "" {
		if err := os.RemoveAll(d.drop.root); err != nil {
			d.log.Warn("remove uploaded files", "err", err)
		}
		d.drop.root = ""
	}
}

func (d *Desktop) internDropAtoms() error {
	a := &d.drop.atoms
	for name, dst := range map[string]*xproto.Atom{
		"XdndAware": &a.aware, "XdndProxy": &a.proxy, "XdndSelection": &a.selection, "XdndTypeList": &a.typeList,
		"XdndEnter": &a.enter, "XdndPosition": &a.position, "XdndStatus": &a.status, "XdndLeave": &a.leave,
		"XdndDrop": &a.drop, "XdndFinished": &a.finished, "XdndActionCopy": &a.actionCopy,
		targetURIs: &a.uriList, "TARGETS": &a.targets, "_NEKO_TIMESTAMP": &a.timestampProp, "ATOM": &a.atomTy,
	} {
		v, err := internAtom(d.conn, name)
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

// dropEvent hands an event to the drop in progress; it reports whether
// the event was for it.
func (d *Desktop) dropEvent(ev xgb.Event) bool {
	s := d.drop.active.Load()
	if s == nil {
		return false
	}
	var win xproto.Window
	switch e := ev.(type) {
	case xproto.ClientMessageEvent:
		win = e.Window
	case xproto.SelectionRequestEvent:
		win = e.Owner
	case xproto.PropertyNotifyEvent:
		win = e.Window
	case xproto.SelectionClearEvent:
		win = e.Owner
	default:
		return false
	}
	if win != s.win {
		return false
	}
	select {
	case s.events <- ev:
	default:
		d.log.Warn("drop: event queue full, dropping an event")
	}
	return true
}

// DropFiles drops the files (absolute paths) at x,y of the screen, as if
// dragged there from a file manager. It returns once the target window
// has taken them, or with ErrDropNoTarget or ErrDropRefused.
func (d *Desktop) DropFiles(ctx context.Context, x, y int, paths []string) error {
	if !d.UploadDropEnabled() {
		return ErrDropDisabled
	}
	if len(paths) == 0 {
		return errors.New("desktop: drop: no files")
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("desktop: drop: %q is not an absolute path", p)
		}
	}
	if w, h := d.loadSize(); x < 0 || y < 0 || x >= w || y >= h {
		return fmt.Errorf("%w: %d,%d is not within %dx%d", ErrDropOutside, x, y, w, h)
	}
	d.drop.mu.Lock()
	defer d.drop.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	target, proxy, version, err := d.dropTarget(d.root, x, y)
	if err != nil {
		return err
	}
	return d.dropLocked(ctx, target, proxy, version, x, y, paths)
}

// dropLocked runs the XDND exchange with target (messages go to proxy)
// for a drop at x,y of the screen. It holds d.drop.mu.
func (d *Desktop) dropLocked(ctx context.Context, target, proxy xproto.Window, version uint32, x, y int, paths []string) error {
	var uris strings.Builder
	for _, p := range paths {
		uris.WriteString((&url.URL{Scheme: "file", Path: p}).String())
		uris.WriteString("\r\n")
	}

	// The source window; InputOnly and never mapped.
	src, err := xproto.NewWindowId(d.conn)
	if err != nil {
		return fmt.Errorf("desktop: drop: %w", err)
	}
	if err := xproto.CreateWindowChecked(d.conn, 0, src, d.root, -10, -10, 1, 1, 0,
		xproto.WindowClassInputOnly, 0, xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{1, xproto.EventMaskPropertyChange}).Check(); err != nil {
		return fmt.Errorf("desktop: drop: source window: %w", err)
	}
	sess := &dropSession{win: src, events: make(chan xgb.Event, 64)}
	d.drop.active.Store(sess)
	defer func() {
		d.drop.active.Store(nil)
		xproto.DestroyWindow(d.conn, src)
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.life, cancel)
	defer stop()

	dr := &dropRun{d: d, ctx: ctx, sess: sess, src: src, target: target, dest: proxy, version: version, uris: uris.String()}
	return dr.run(x, y)
}

// dropTarget finds the XdndAware window at x,y (screen coordinates) within
// top, searching from top down (a window manager's frame is not aware, the
// client inside is); top itself counts unless it is the root. proxy is
// where messages go (XdndProxy, else target).
func (d *Desktop) dropTarget(top xproto.Window, x, y int) (target, proxy xproto.Window, version uint32, err error) {
	w := top
	if top != d.root {
		if target, proxy, version, ok, err := d.xdndAware(top); ok || err != nil {
			return target, proxy, version, err
		}
	}
	for depth := 0; depth < 16; depth++ {
		r, err := xproto.TranslateCoordinates(d.conn, d.root, w, int16(x), int16(y)).Reply()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("desktop: drop: %w", err)
		}
		if r.Child == 0 {
			break
		}
		w = r.Child
		if target, proxy, version, ok, err := d.xdndAware(w); ok || err != nil {
			return target, proxy, version, err
		}
	}
	return 0, 0, 0, ErrDropNoTarget
}

// xdndAware reports whether w takes drops, with the window its messages go
// to and the protocol version to speak.
func (d *Desktop) xdndAware(w xproto.Window) (target, proxy xproto.Window, version uint32, ok bool, err error) {
	a := &d.drop.atoms
	p, err := xproto.GetProperty(d.conn, false, w, a.aware, xproto.AtomAtom, 0, 1).Reply()
	if err != nil || p.Format != 32 || len(p.Value) < 4 {
		return 0, 0, 0, false, nil
	}
	version = xgb.Get32(p.Value)
	if version < 3 {
		return 0, 0, 0, false, fmt.Errorf("%w (XDND version %d)", ErrDropNoTarget, version)
	}
	proxy = w
	if pp, err := xproto.GetProperty(d.conn, false, w, a.proxy, xproto.AtomWindow, 0, 1).Reply(); err == nil && pp.Format == 32 && len(pp.Value) >= 4 {
		proxy = xproto.Window(xgb.Get32(pp.Value))
	}
	return w, proxy, min(version, xdndVersion), true, nil
}

// dropRun is one drop's exchange with the target.
type dropRun struct {
	d       *Desktop
	ctx     context.Context
	sess    *dropSession
	src     xproto.Window
	target  xproto.Window
	dest    xproto.Window
	version uint32
	uris    string
	time    xproto.Timestamp
}

func (r *dropRun) run(x, y int) error {
	d, a := r.d, &r.d.drop.atoms
	// A server timestamp for the selection and the messages: the time of
	// a property change on our window.
	xproto.ChangeProperty(r.d.conn, xproto.PropModeAppend, r.src, a.timestampProp, xproto.AtomString, 8, 0, nil)
	if err := r.wait("the timestamp", func(ev xgb.Event) bool {
		if e, ok := ev.(xproto.PropertyNotifyEvent); ok {
			r.time = e.Time
			return true
		}
		return false
	}); err != nil {
		return err
	}
	if err := xproto.SetSelectionOwnerChecked(d.conn, r.src, a.selection, r.time).Check(); err != nil {
		return fmt.Errorf("desktop: drop: own XdndSelection: %w", err)
	}

	r.send(a.enter, uint32(r.src), r.version<<24, uint32(a.uriList), 0, 0)
	// A target may refuse until it knows what is offered (Chromium asks its
	// page first), expecting the next XdndPosition as the pointer moves; so
	// the position is repeated, each after the previous status, until it
	// accepts or acceptTimeout passes.
	deadline := time.Now().Add(acceptTimeout)
	for {
		r.send(a.position, uint32(r.src), 0, uint32(x)<<16|uint32(y), uint32(r.time), uint32(a.actionCopy))
		accepted := false
		err := r.wait("XdndStatus", func(ev xgb.Event) bool {
			if e, ok := ev.(xproto.ClientMessageEvent); ok && e.Type == a.status {
				accepted = e.Data.Data32[1]&1 != 0
				return true
			}
			return false
		})
		if err != nil {
			r.send(a.leave, uint32(r.src), 0, 0, 0, 0)
			return err
		}
		if accepted {
			break
		}
		if time.Now().After(deadline) {
			r.send(a.leave, uint32(r.src), 0, 0, 0, 0)
			return ErrDropRefused
		}
		if err := r.pause(positionRepeat); err != nil {
			r.send(a.leave, uint32(r.src), 0, 0, 0, 0)
			return err
		}
	}

	r.send(a.drop, uint32(r.src), 0, uint32(r.time), 0, 0)
	ok := true
	if err := r.wait("XdndFinished", func(ev xgb.Event) bool {
		if e, isMsg := ev.(xproto.ClientMessageEvent); isMsg && e.Type == a.finished {
			// Version 5 says whether the drop was accepted.
			ok = r.version < 5 || e.Data.Data32[1]&1 != 0
			return true
		}
		return false
	}); err != nil {
		return err
	}
	if !ok {
		return ErrDropRefused
	}
	d.log.Info("dropped files", "window", r.target, "x", x, "y", y)
	return nil
}

// send sends an XDND client message about the target to its proxy.
func (r *dropRun) send(typ xproto.Atom, data ...uint32) {
	ev := xproto.ClientMessageEvent{
		Format: 32, Window: r.target, Type: typ,
		Data: xproto.ClientMessageDataUnionData32New(data),
	}
	xproto.SendEvent(r.d.conn, false, r.dest, 0, string(ev.Bytes()))
}

// wait serves selection requests until done accepts an event, the target
// takes too long or the context ends.
func (r *dropRun) wait(what string, done func(xgb.Event) bool) error {
	timer := time.NewTimer(dropTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.sess.events:
			if req, ok := ev.(xproto.SelectionRequestEvent); ok {
				r.answer(req)
				continue
			}
			if done(ev) {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("%w: no %s within %v", ErrDropRefused, what, dropTimeout)
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// pause waits for d, serving selection requests meanwhile.
func (r *dropRun) pause(d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.sess.events:
			if req, ok := ev.(xproto.SelectionRequestEvent); ok {
				r.answer(req)
			}
		case <-timer.C:
			return nil
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// answer serves a request for the dropped files' URIs (ICCCM conversion).
func (r *dropRun) answer(req xproto.SelectionRequestEvent) {
	a := &r.d.drop.atoms
	prop := req.Property
	if prop == 0 { // obsolete clients
		prop = req.Target
	}
	switch req.Target {
	case a.uriList:
		data := []byte(r.uris)
		xproto.ChangeProperty(r.d.conn, xproto.PropModeReplace, req.Requestor, prop, a.uriList, 8, uint32(len(data)), data)
	case a.targets:
		data := make([]byte, 8)
		xgb.Put32(data, uint32(a.targets))
		xgb.Put32(data[4:], uint32(a.uriList))
		xproto.ChangeProperty(r.d.conn, xproto.PropModeReplace, req.Requestor, prop, a.atomTy, 32, 2, data)
	default:
		prop = 0 // refused
	}
	ev := xproto.SelectionNotifyEvent{Time: req.Time, Requestor: req.Requestor, Selection: req.Selection, Target: req.Target, Property: prop}
	xproto.SendEvent(r.d.conn, false, req.Requestor, 0, string(ev.Bytes()))
}
