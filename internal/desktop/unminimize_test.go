package desktop

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// startOpenbox runs the window manager the runtime uses and waits until it
// manages the screen.
func startOpenbox(t *testing.T, display string, conn *xgb.Conn) {
	t.Helper()
	bin, err := exec.LookPath("openbox")
	if err != nil {
		t.Fatalf("openbox is required: %v", err)
	}
	cmd := exec.Command(bin, "--sm-disable")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	var logs limitedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openbox: %s", logs.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	check, err := internAtom(conn, "_NET_SUPPORTING_WM_CHECK")
	must(t, err)
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	waitUntil(t, "openbox manages the screen", func() bool {
		r, err := xproto.GetProperty(conn, false, root, check, xproto.AtomWindow, 0, 1).Reply()
		return err == nil && len(r.Value) == 4
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnminimize(t *testing.T) {
	d, display := openTest(t)
	conn, err := xgb.NewConnDisplay(display)
	must(t, err)
	t.Cleanup(conn.Close)
	startOpenbox(t, display, conn)

	// A normal, managed application window.
	screen := xproto.Setup(conn).DefaultScreen(conn)
	w, err := xproto.NewWindowId(conn)
	must(t, err)
	must(t, xproto.CreateWindowChecked(conn, screen.RootDepth, w, screen.Root, 0, 0, 400, 300, 0,
		xproto.WindowClassInputOutput, screen.RootVisual, 0, nil).Check())
	state := func() uint32 { return d.wmState(w) }
	// openbox can drop a MapRequest that arrives while it is still
	// starting up, so ask again until it manages the window.
	waitUntil(t, "the window is managed", func() bool {
		must(t, xproto.MapWindowChecked(conn, w).Check())
		for range 50 {
			if state() == wmStateNormal {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	})

	minimize := func() {
		t.Helper()
		if out, err := exec.Command("xdotool", "windowminimize", strconv.Itoa(int(w))).CombinedOutput(); err != nil {
			t.Fatalf("xdotool windowminimize: %v: %s", err, out)
		}
	}
	// Off (the default): a minimised window stays minimised.
	t.Setenv("DISPLAY", display)
	minimize()
	waitUntil(t, "the window is minimised", func() bool { return state() == wmStateIconic })

	// On: the window comes back, and again after the next minimise.
	must(t, xproto.ChangeWindowAttributesChecked(conn, w, xproto.CwEventMask, []uint32{xproto.EventMaskStructureNotify}).Check())
	var unmaps, maps atomic.Int64
	go func() {
		for {
			ev, err := conn.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			switch ev.(type) {
			case xproto.UnmapNotifyEvent:
				unmaps.Add(1)
			case xproto.MapNotifyEvent:
				maps.Add(1)
			}
		}
	}()
	restored := func() bool {
		a, err := xproto.GetWindowAttributes(conn, w).Reply()
		return err == nil && a.MapState == xproto.MapStateViewable && state() == wmStateNormal
	}
	must(t, d.SetUnminimize(true))
	waitUntil(t, "the window is restored when turned on", restored)
	for i := range 3 {
		u, m := unmaps.Load(), maps.Load()
		minimize()
		waitUntil(t, "openbox unmaps the minimised window", func() bool { return unmaps.Load() > u })
		waitUntil(t, "the window is mapped again", func() bool { return maps.Load() > m })
		waitUntil(t, fmt.Sprintf("the window is restored after minimise %d", i+1), restored)
	}

	must(t, d.SetUnminimize(false))
	minimize()
	waitUntil(t, "the window is minimised once off", func() bool { return state() == wmStateIconic })
	time.Sleep(200 * time.Millisecond)
	if state() != wmStateIconic {
		t.Fatal("a window was restored with unminimize off")
	}
}
