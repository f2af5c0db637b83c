package desktop

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// xdndTarget is an application window that accepts (or refuses) dropped
// files the way XDND version 5 targets do, as a second X client.
type xdndTarget struct {
	conn   *xgb.Conn
	win    xproto.Window
	accept bool
	atoms  map[string]xproto.Atom

	mu      sync.Mutex
	types   []xproto.Atom
	pos     [2]int
	left    bool
	dropped string // the text/uri-list received
	// pendingSource is the source of the drop being converted.
	pendingSource xproto.Window
	done          chan struct{}
}

func newXdndTarget(t *testing.T, display string, x, y, w, h int, accept bool) *xdndTarget {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	must(t, err)
	tg := &xdndTarget{conn: conn, accept: accept, atoms: map[string]xproto.Atom{}, done: make(chan struct{})}
	for _, name := range []string{"XdndAware", "XdndEnter", "XdndPosition", "XdndStatus", "XdndLeave", "XdndDrop",
		"XdndFinished", "XdndSelection", "XdndActionCopy", "text/uri-list", "NEKO_TEST_DROP"} {
		tg.atoms[name], err = internAtom(conn, name)
		must(t, err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	tg.win, err = xproto.NewWindowId(conn)
	must(t, err)
	must(t, xproto.CreateWindowChecked(conn, screen.RootDepth, tg.win, screen.Root, int16(x), int16(y), uint16(w), uint16(h), 0,
		xproto.WindowClassInputOutput, screen.RootVisual, xproto.CwOverrideRedirect, []uint32{1}).Check())
	version := make([]byte, 4)
	xgb.Put32(version, 5)
	must(t, xproto.ChangePropertyChecked(conn, xproto.PropModeReplace, tg.win, tg.atoms["XdndAware"], xproto.AtomAtom, 32, 1, version).Check())
	must(t, xproto.MapWindowChecked(conn, tg.win).Check())

	loopDone := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-loopDone })
	go func() {
		defer close(loopDone)
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			switch e := ev.(type) {
			case xproto.ClientMessageEvent:
				tg.message(e)
			case xproto.SelectionNotifyEvent:
				tg.selection(e)
			}
		}
	}()
	return tg
}

func (tg *xdndTarget) reply(to xproto.Window, typ string, data ...uint32) {
	ev := xproto.ClientMessageEvent{Format: 32, Window: to, Type: tg.atoms[typ], Data: xproto.ClientMessageDataUnionData32New(data)}
	xproto.SendEvent(tg.conn, false, to, 0, string(ev.Bytes()))
}

func (tg *xdndTarget) message(e xproto.ClientMessageEvent) {
	d := e.Data.Data32
	src := xproto.Window(d[0])
	tg.mu.Lock()
	defer tg.mu.Unlock()
	switch e.Type {
	case tg.atoms["XdndEnter"]:
		tg.types = nil
		for _, a := range d[2:5] {
			if a != 0 {
				tg.types = append(tg.types, xproto.Atom(a))
			}
		}
	case tg.atoms["XdndPosition"]:
		tg.pos = [2]int{int(d[2] >> 16), int(d[2] & 0xffff)}
		if tg.accept {
			tg.reply(src, "XdndStatus", uint32(tg.win), 1, 0, 0, uint32(tg.atoms["XdndActionCopy"]))
		} else {
			tg.reply(src, "XdndStatus", uint32(tg.win), 0, 0, 0, 0)
		}
	case tg.atoms["XdndLeave"]:
		tg.left = true
	case tg.atoms["XdndDrop"]:
		xproto.ConvertSelection(tg.conn, tg.win, tg.atoms["XdndSelection"], tg.atoms["text/uri-list"],
			tg.atoms["NEKO_TEST_DROP"], xproto.Timestamp(d[2]))
		tg.pendingSource = src
	}
}

func (tg *xdndTarget) selection(e xproto.SelectionNotifyEvent) {
	if e.Property == 0 {
		return
	}
	r, err := xproto.GetProperty(tg.conn, true, tg.win, e.Property, xproto.AtomAny, 0, 1<<20).Reply()
	if err != nil {
		return
	}
	tg.mu.Lock()
	tg.dropped = string(r.Value)
	src := tg.pendingSource
	tg.mu.Unlock()
	tg.reply(src, "XdndFinished", uint32(tg.win), 1, uint32(tg.atoms["XdndActionCopy"]), 0, 0)
	close(tg.done)
}

func TestDropFiles(t *testing.T) {
	d, display := openTest(t)
	ctx := context.Background()
	tg := newXdndTarget(t, display, 100, 100, 400, 300, true)
	newXdndTarget(t, display, 600, 100, 200, 200, false)

	dir, err := d.UploadDir()
	must(t, err)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("upload dir %s: %v, %v; want private", dir, fi.Mode(), err)
	}
	var paths []string
	for name, content := range map[string]string{"a b.txt": "first", "ü #1.txt": "second"} {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(content), 0o600))
		paths = append(paths, p)
	}

	if err := d.DropFiles(ctx, 200, 200, paths); !errors.Is(err, ErrDropDisabled) {
		t.Fatalf("drop while disabled: %v", err)
	}
	d.SetUploadDrop(true)
	must(t, d.DropFiles(ctx, 200, 250, paths))
	<-tg.done
	tg.mu.Lock()
	if tg.pos != [2]int{200, 250} || len(tg.types) != 1 || tg.types[0] != tg.atoms["text/uri-list"] {
		t.Errorf("target saw position %v, types %v", tg.pos, tg.types)
	}
	lines := strings.Split(strings.TrimSuffix(tg.dropped, "\r\n"), "\r\n")
	tg.mu.Unlock()
	if len(lines) != len(paths) {
		t.Fatalf("dropped %q, want %d URIs", lines, len(paths))
	}
	for i, l := range lines {
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "file" || u.Path != paths[i] {
			t.Fatalf("URI %q (%v), want file://%s", l, err, paths[i])
		}
		if b, err := os.ReadFile(u.Path); err != nil || len(b) == 0 {
			t.Fatalf("dropped file %s: %v", u.Path, err)
		}
	}

	// A window that refuses, no window at all, and outside the screen.
	if err := d.DropFiles(ctx, 700, 200, paths); !errors.Is(err, ErrDropRefused) {
		t.Errorf("drop on a refusing window: %v", err)
	}
	if err := d.DropFiles(ctx, 1000, 600, paths); !errors.Is(err, ErrDropNoTarget) {
		t.Errorf("drop on the bare root: %v", err)
	}
	for _, p := range [][2]int{{-1, 10}, {10, -1}, {1280, 10}, {10, 720}} {
		if err := d.DropFiles(ctx, p[0], p[1], paths); !errors.Is(err, ErrDropOutside) {
			t.Errorf("drop at %v: %v", p, err)
		}
	}
	if err := d.DropFiles(ctx, 200, 200, []string{"relative.txt"}); err == nil {
		t.Error("a relative path was dropped")
	}

	// The uploads go away with the Desktop.
	must(t, d.Close())
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("upload dir after Close: %v", err)
	}
}
