package desktop

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// xclipIn makes another client (xclip, in the foreground) own the
// clipboard with data as target, and waits until it does.
func xclipIn(t *testing.T, d *Desktop, display, target string, data []byte) {
	t.Helper()
	before, err := d.clipboardOwner()
	must(t, err)
	cmd := exec.Command("xclip", "-display", display, "-selection", "clipboard", "-in", "-target", target, "-quiet")
	cmd.Stdin = bytes.NewReader(data)
	if err := cmd.Start(); err != nil {
		t.Fatalf("xclip is required: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		owner, err := d.clipboardOwner()
		must(t, err)
		if owner != 0 && owner != before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("xclip did not take the clipboard")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// xclipOut reads the clipboard as another client would.
func xclipOut(t *testing.T, display, target string) []byte {
	t.Helper()
	out, err := exec.Command("xclip", "-display", display, "-selection", "clipboard", "-out", "-target", target).Output()
	if err != nil {
		t.Fatalf("xclip -out -target %s: %v", target, err)
	}
	return out
}

func TestClipboardRoundTrip(t *testing.T) {
	d, display := openTest(t)
	ctx := context.Background()
	var changes atomic.Int64
	d.OnClipboardChange(func() { changes.Add(1) })
	waitChange := func(what string, after int64) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for changes.Load() <= after {
			if time.Now().After(deadline) {
				t.Fatalf("no clipboard change notification after %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Nobody owns the clipboard yet.
	got, err := d.Clipboard(ctx)
	if err != nil || got != (types.ClipboardText{}) {
		t.Fatalf("empty clipboard: %+v, %v", got, err)
	}
	if _, err := d.ClipboardImage(ctx); !errors.Is(err, ErrClipboardNoImage) {
		t.Fatalf("image of an empty clipboard: %v", err)
	}

	// Another application copies text.
	n := changes.Load()
	xclipIn(t, d, display, "UTF8_STRING", []byte("héllo wörld"))
	waitChange("xclip copied text", n)
	got, err = d.Clipboard(ctx)
	if err != nil || got.Text != "héllo wörld" || got.HTML != "" {
		t.Fatalf("Clipboard after xclip text: %+v, %v", got, err)
	}
	if _, err := d.ClipboardImage(ctx); !errors.Is(err, ErrClipboardNoImage) {
		t.Fatalf("image of a text clipboard: %v", err)
	}

	// ... HTML.
	n = changes.Load()
	xclipIn(t, d, display, "text/html", []byte("<b>bold</b>"))
	waitChange("xclip copied HTML", n)
	got, err = d.Clipboard(ctx)
	if err != nil || got.HTML != "<b>bold</b>" {
		t.Fatalf("Clipboard after xclip HTML: %+v, %v", got, err)
	}

	// ... an image.
	img := image.NewRGBA(image.Rect(0, 0, 7, 5))
	img.Set(3, 2, color.RGBA{R: 255, A: 255})
	var pngData bytes.Buffer
	must(t, png.Encode(&pngData, img))
	xclipIn(t, d, display, "image/png", pngData.Bytes())
	b, err := d.ClipboardImage(ctx)
	if err != nil || !bytes.Equal(b, pngData.Bytes()) {
		t.Fatalf("ClipboardImage: %d bytes, %v; want the %d bytes copied", len(b), err, pngData.Len())
	}

	// We copy; other applications paste.
	n = changes.Load()
	must(t, d.SetClipboard(ctx, types.ClipboardText{Text: "from neko ✓"}))
	waitChange("SetClipboard", n)
	if out := xclipOut(t, display, "UTF8_STRING"); string(out) != "from neko ✓" {
		t.Fatalf("xclip read %q", out)
	}
	got, err = d.Clipboard(ctx)
	if err != nil || got.Text != "from neko ✓" {
		t.Fatalf("Clipboard after SetClipboard: %+v, %v", got, err)
	}
	must(t, d.SetClipboard(ctx, types.ClipboardText{Text: "plain", HTML: "<i>rich</i>"}))
	if out := xclipOut(t, display, "text/html"); string(out) != "<i>rich</i>" {
		t.Fatalf("xclip read HTML %q", out)
	}

	// Large contents go through INCR transfers both ways.
	big := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB
	must(t, d.SetClipboard(ctx, types.ClipboardText{Text: big}))
	if out := xclipOut(t, display, "UTF8_STRING"); string(out) != big {
		t.Fatalf("xclip read %d bytes of the %d set", len(out), len(big))
	}
	got, err = d.Clipboard(ctx)
	if err != nil || got.Text != big {
		t.Fatalf("Clipboard read back %d bytes, %v", len(got.Text), err)
	}

	// Beyond the cap: refused when setting, and when reading.
	tooBig := strings.Repeat("x", MaxClipboardSize+1)
	if err := d.SetClipboard(ctx, types.ClipboardText{Text: tooBig}); !errors.Is(err, ErrClipboardTooLarge) {
		t.Fatalf("SetClipboard(too big) = %v", err)
	}
	xclipIn(t, d, display, "UTF8_STRING", []byte(tooBig))
	if _, err := d.Clipboard(ctx); !errors.Is(err, ErrClipboardTooLarge) {
		t.Fatalf("Clipboard(too big) = %v", err)
	}
}

func TestShortcuts(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	km := rec.keymapNow()
	ctrl, _ := km.lookup(keysymControlL, false)
	for _, c := range []struct {
		name string
		fn   func() error
		sym  uint32
	}{{"cut", d.Cut, 'x'}, {"copy", d.Copy, 'c'}, {"paste", d.Paste, 'v'}, {"select all", d.SelectAll, 'a'}} {
		rec.settle(d)
		must(t, c.fn())
		key, _ := km.lookup(c.sym, false)
		evs := only(rec.fence(d), "keydown", "keyup")
		if len(evs) != 4 || evs[0].detail != byte(ctrl) || evs[1].detail != byte(key) ||
			evs[1].state&4 == 0 || evs[2].detail != byte(key) || evs[3].detail != byte(ctrl) {
			t.Errorf("%s: %v, want Control down, %d down and up with Control, Control up", c.name, evs, key)
		}
	}
	// A Control the host holds stays held.
	must(t, d.KeyDown(keysymControlL))
	rec.settle(d)
	must(t, d.Copy())
	if evs := only(rec.fence(d), "keydown", "keyup"); len(evs) != 2 {
		t.Errorf("copy with Control held: %v, want only c down and up", evs)
	}
	must(t, d.KeyUp(keysymControlL))
}
