package desktop

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// chooserPage covers the window with a file input on a green page; choosing
// files puts their names and sizes into the title, cancelling says so.
const chooserPage = `data:text/html,<title>ready</title>` +
	`<body style="margin:0;overflow:hidden;background:%2300ff00">` +
	`<input id=f type=file multiple style="position:fixed;left:0;top:0;width:100vw;height:100vh;opacity:0">` +
	`<script>let n=0;` +
	`f.onchange=()=>{n++;document.title='FILES'+n+':'+[...f.files].map(x=>x.name+':'+x.size).join(',')};` +
	`f.oncancel=()=>{n++;document.title='CANCEL'+n}</script></body>`

// TestFileChooserChromium opens Chromium's real GTK file dialog by clicking
// a file input, as the product runs it (Xorg dummy, openbox, kiosk
// Chromium): the dialog is reported and kept off the screen, uploads reach
// the page, and closing it cancels the choice.
func TestFileChooserChromium(t *testing.T) {
	display := startXorgDummy(t, hd30Mode)
	conn, err := xgb.NewConnDisplay(display)
	must(t, err)
	t.Cleanup(conn.Close)
	startOpenbox(t, display, conn)
	d := openOn(t, display)
	must(t, d.SetFileChooserDialog(true))
	events := make(chan bool, 16)
	d.OnFileChooser(func(open bool) { events <- open })
	startChromium(t, display, chooserPage)
	waitTitle(t, d, "ready", 30*time.Second)

	open := func(what string) xproto.Window {
		t.Helper()
		must(t, d.Move(640, 360))
		must(t, d.ButtonPress(1))
		expectEvent(t, events, true, what)
		win, _ := d.fc.current()
		if win == 0 || !d.FileChooserOpen() {
			t.Fatalf("%s: no dialog recorded", what)
		}
		return win
	}

	// The dialog is open and mapped, but the screen shows only the page.
	win := open("the first dialog")
	if a, err := xproto.GetWindowAttributes(conn, win).Reply(); err != nil || a.MapState != xproto.MapStateViewable {
		t.Fatalf("the dialog is not mapped: %v %v", a, err)
	}
	assertOnlyPage(t, d)

	// Two files through the desktop method.
	dir, err := d.UploadDir()
	must(t, err)
	paths := []string{filepath.Join(dir, "hello world.txt"), filepath.Join(dir, "ü #1.bin")}
	must(t, os.WriteFile(paths[0], []byte("hello"), 0o600))
	must(t, os.WriteFile(paths[1], []byte("12345678"), 0o600))
	must(t, d.FileChooserUpload(context.Background(), paths))
	expectEvent(t, events, false, "closing after the upload")
	if d.FileChooserOpen() {
		t.Fatal("a dialog is still recorded after the upload")
	}
	waitTitle(t, d, "FILES1:hello world.txt:5,ü #1.bin:8", 10*time.Second)

	// One file, in a dialog that starts in the previous upload's folder
	// with its files selected.
	open("the second dialog")
	assertOnlyPage(t, d)
	dir, err = d.UploadDir()
	must(t, err)
	one := filepath.Join(dir, "report.pdf")
	must(t, os.WriteFile(one, []byte("%PDF-1.4"), 0o600))
	must(t, d.FileChooserUpload(context.Background(), []string{one}))
	expectEvent(t, events, false, "closing after the second upload")
	waitTitle(t, d, "FILES2:report.pdf:8", 10*time.Second)

	// Closing cancels.
	open("the third dialog")
	must(t, d.FileChooserClose(context.Background()))
	expectEvent(t, events, false, "closing on request")
	waitTitle(t, d, "CANCEL3", 10*time.Second)
	if err := d.FileChooserClose(context.Background()); err != ErrNoFileChooser {
		t.Fatalf("closing without a dialog: %v", err)
	}
	if err := d.FileChooserUpload(context.Background(), []string{one}); err != ErrNoFileChooser {
		t.Fatalf("uploading without a dialog: %v", err)
	}

	// Off: a dialog is left alone, on the screen.
	must(t, d.SetFileChooserDialog(false))
	if err := d.FileChooserClose(context.Background()); err != ErrFileChooserDisabled {
		t.Fatalf("closing while disabled: %v", err)
	}
	must(t, d.Move(640, 360))
	must(t, d.ButtonPress(1))
	waitUntil(t, "an unhandled dialog shows", func() bool {
		img, err := d.Screenshot()
		return err == nil && !onlyGreen(img)
	})
	select {
	case open := <-events:
		t.Fatalf("event %v while disabled", open)
	default:
	}
}

func startChromium(t *testing.T, display, page string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required: %v", err)
	}
	cmd := exec.Command(bin, "--no-sandbox", "--test-type", "--ozone-platform=x11", "--disable-gpu",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-breakpad", "--user-data-dir="+t.TempDir(), "--window-position=0,0",
		"--window-size=1280,720", "--kiosk", page)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group
		cmd.Wait()
	})
}

// waitTitle waits until a client window's title starts with prefix.
func waitTitle(t *testing.T, d *Desktop, prefix string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var titles []string
	for {
		titles = titles[:0]
		for _, w := range d.clientWindows() {
			title := d.textProperty(w, d.fc.atoms.netWMName)
			if strings.HasPrefix(title, prefix) {
				return
			}
			titles = append(titles, title)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window titled %q within %v; titles: %q", prefix, timeout, titles)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func expectEvent(t *testing.T, events <-chan bool, want bool, what string) {
	t.Helper()
	select {
	case got := <-events:
		if got != want {
			t.Fatalf("%s: event open=%v, want %v", what, got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event", what)
	}
}

// assertOnlyPage checks that the screen shows the green page and nothing
// else (the window manager restacks the dialog shortly after it is told).
func assertOnlyPage(t *testing.T, d *Desktop) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		img, err := d.Screenshot()
		must(t, err)
		if onlyGreen(img) {
			// And it stays so.
			time.Sleep(300 * time.Millisecond)
			img, err = d.Screenshot()
			must(t, err)
			if !onlyGreen(img) {
				t.Fatal("the dialog came back on the screen")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the screen shows more than the page while the dialog is open")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func onlyGreen(img image.Image) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 > 40 || g>>8 < 215 || bl>>8 > 40 {
				return false
			}
		}
	}
	return true
}
