package desktop

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// TestFileChooserDetect runs synthetic dialogs under openbox: only open
// file dialogs are taken over (reported, cut from their parent, kept
// below), and closing one reports it and asks it to close.
func TestFileChooserDetect(t *testing.T) {
	d, display := openTest(t)
	conn, err := xgb.NewConnDisplay(display)
	must(t, err)
	t.Cleanup(conn.Close)
	startOpenbox(t, display, conn)
	screen := xproto.Setup(conn).DefaultScreen(conn)
	atom := func(name string) xproto.Atom {
		a, err := internAtom(conn, name)
		must(t, err)
		return a
	}
	deleteWindow := atom("WM_DELETE_WINDOW")
	// The test client closes a window when asked to.
	go func() {
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			if m, ok := ev.(xproto.ClientMessageEvent); ok && xproto.Atom(m.Data.Data32[0]) == deleteWindow {
				xproto.DestroyWindow(conn, m.Window)
			}
		}
	}()
	text := func(w xproto.Window, prop, typ xproto.Atom, v string) {
		must(t, xproto.ChangePropertyChecked(conn, xproto.PropModeReplace, w, prop, typ, 8, uint32(len(v)), []byte(v)).Check())
	}
	parent := xproto.Window(0)
	window := func(title, role string, dialogType bool) xproto.Window {
		t.Helper()
		w, err := xproto.NewWindowId(conn)
		must(t, err)
		must(t, xproto.CreateWindowChecked(conn, screen.RootDepth, w, screen.Root, 100, 100, 600, 400, 0,
			xproto.WindowClassInputOutput, screen.RootVisual, 0, nil).Check())
		text(w, atom("_NET_WM_NAME"), atom("UTF8_STRING"), title)
		if role != "" {
			text(w, atom("WM_WINDOW_ROLE"), xproto.AtomString, role)
		}
		if dialogType {
			v := make([]byte, 4)
			xgb.Put32(v, uint32(atom("_NET_WM_WINDOW_TYPE_DIALOG")))
			must(t, xproto.ChangePropertyChecked(conn, xproto.PropModeReplace, w, atom("_NET_WM_WINDOW_TYPE"), xproto.AtomAtom, 32, 1, v).Check())
		}
		v := make([]byte, 4)
		xgb.Put32(v, uint32(deleteWindow))
		must(t, xproto.ChangePropertyChecked(conn, xproto.PropModeReplace, w, atom("WM_PROTOCOLS"), xproto.AtomAtom, 32, 1, v).Check())
		if parent != 0 {
			xgb.Put32(v, uint32(parent))
			must(t, xproto.ChangePropertyChecked(conn, xproto.PropModeReplace, w, xproto.AtomWmTransientFor, xproto.AtomWindow, 32, 1, v).Check())
		}
		// openbox can drop a MapRequest while it is still starting up.
		waitUntil(t, "the window is managed", func() bool {
			must(t, xproto.MapWindowChecked(conn, w).Check())
			for range 50 {
				if d.wmState(w) == wmStateNormal {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
			return false
		})
		return w
	}
	events := make(chan bool, 16)
	d.OnFileChooser(func(open bool) { events <- open })
	noEvent := func(what string) {
		t.Helper()
		select {
		case open := <-events:
			t.Fatalf("%s: event open=%v", what, open)
		case <-time.After(300 * time.Millisecond):
		}
	}

	parent = window("app", "browser", false)
	// Off: dialogs are left alone.
	window("Open File", fileChooserRoleGTK, true)
	noEvent("a dialog while off")
	if d.FileChooserOpen() {
		t.Fatal("a dialog recorded while off")
	}
	if err := d.FileChooserClose(context.Background()); err != ErrFileChooserDisabled {
		t.Fatalf("close while off: %v", err)
	}

	must(t, d.SetFileChooserDialog(true))
	// The dialog that was open already is taken over.
	expectEvent(t, events, true, "turning on with a dialog open")
	must(t, d.FileChooserClose(context.Background()))
	expectEvent(t, events, false, "closing it")

	window("Save File", fileChooserRoleGTK, true)
	window("Open", "", true)
	window("Open Files", "pop-up", false)
	noEvent("other windows")

	// GTK's dialog.
	dlg := window("Open Files", fileChooserRoleGTK, true)
	expectEvent(t, events, true, "a GTK dialog")
	if win, _ := d.fc.current(); win != dlg {
		t.Fatalf("recorded window %d, want %d", win, dlg)
	}
	waitUntil(t, "the dialog is kept below and cut from its parent", func() bool {
		st, err := xproto.GetProperty(conn, false, dlg, atom("_NET_WM_STATE"), xproto.AtomAtom, 0, 16).Reply()
		if err != nil {
			return false
		}
		below := false
		for i := 0; i+4 <= len(st.Value); i += 4 {
			below = below || xproto.Atom(xgb.Get32(st.Value[i:])) == atom("_NET_WM_STATE_BELOW")
		}
		tr, err := xproto.GetProperty(conn, false, dlg, xproto.AtomWmTransientFor, xproto.AtomWindow, 0, 1).Reply()
		return below && err == nil && len(tr.Value) == 0
	})
	// Another dialog while one is open is not ours.
	window("Open File", fileChooserRoleGTK, true)
	noEvent("a second dialog")
	must(t, xproto.DestroyWindowChecked(conn, dlg).Check())
	expectEvent(t, events, false, "the dialog destroyed")
	if d.FileChooserOpen() {
		t.Fatal("a destroyed dialog is still recorded")
	}

	// Any toolkit's dialog, by type and title.
	other := window("Open File - Editor", "", true)
	expectEvent(t, events, true, "a dialog by type")
	must(t, xproto.UnmapWindowChecked(conn, other).Check())
	expectEvent(t, events, false, "the dialog withdrawn")
	if err := d.FileChooserClose(context.Background()); err != ErrNoFileChooser {
		t.Fatalf("close without a dialog: %v", err)
	}

	// Turning off forgets the open dialog.
	window("Open File", fileChooserRoleGTK, true)
	expectEvent(t, events, true, "another dialog")
	must(t, d.SetFileChooserDialog(false))
	expectEvent(t, events, false, "turning off")
}

func TestCheckChooserPaths(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	must(t, os.WriteFile(a, nil, 0o600))
	must(t, os.WriteFile(b, nil, 0o600))
	for _, ok := range [][]string{{a}, {a, b}, {filepath.Join(t.TempDir(), "one")}} {
		if err := checkChooserPaths(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	other := filepath.Join(t.TempDir(), "c")
	must(t, os.WriteFile(other, nil, 0o600))
	for _, bad := range [][]string{nil, {"rel"}, {a, other}, {a, "b"}} {
		if err := checkChooserPaths(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, "extra"), nil, 0o600))
	if err := checkChooserPaths([]string{a, b}); err == nil {
		t.Error("a directory with another file accepted")
	}
}
