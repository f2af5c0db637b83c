package desktop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jezek/xgb/randr"

	"github.com/neko-webrtc/neko/test/xserver"
)

func TestScreenSizeXvfb(t *testing.T) {
	d, _ := openTest(t)
	w, h, rate, err := d.ScreenSize()
	if err != nil {
		t.Fatal(err)
	}
	// Xvfb's only mode has no timings, so there is no rate to report.
	if w != 1280 || h != 720 || rate != 0 {
		t.Errorf("ScreenSize = %dx%d@%d, want 1280x720@0", w, h, rate)
	}
}

// xorgDummyConf has two modes with exact refresh rates: 74.25 MHz /
// (1650×750) = 60 Hz and 21.6 MHz / (1200×600) = 30 Hz.
const xorgDummyConf = `
Section "Device"
	Identifier "dummy"
	Driver "dummy"
	VideoRam 65536
EndSection
Section "Monitor"
	Identifier "monitor"
	HorizSync 5.0-1000.0
	VertRefresh 5.0-200.0
	Modeline "1280x720_60" 74.25 1280 1390 1430 1650 720 725 730 750 +hsync +vsync
	Modeline "1024x576_30" 21.60 1024 1048 1080 1200 576 579 584 600 +hsync +vsync
EndSection
Section "Screen"
	Identifier "screen"
	Device "dummy"
	Monitor "monitor"
	DefaultDepth 24
	SubSection "Display"
		Depth 24
		Modes "1280x720_60" "1024x576_30"
		Virtual 1920 1080
	EndSubSection
EndSection
Section "ServerFlags"
	Option "AutoAddDevices" "false"
	Option "AutoEnableDevices" "false"
EndSection
`

// TestScreenResizeXorg runs the Xorg dummy driver, the server the product
// uses, because Xvfb can neither change modes nor report a refresh rate.
func TestScreenResizeXorg(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "xorg.conf")
	if err := os.WriteFile(conf, []byte(xorgDummyConf), 0o644); err != nil {
		t.Fatal(err)
	}
	display := xserver.Start(t, "Xorg", "-config", conf, "-logfile", filepath.Join(dir, "xorg.log"),
		"-noreset", "-novtswitch", "-nolisten", "tcp")
	d := openOn(t, display)

	w, h, rate, err := d.ScreenSize()
	if err != nil {
		t.Fatal(err)
	}
	if w != 1280 || h != 720 || rate != 60 {
		t.Errorf("ScreenSize = %dx%d@%d, want 1280x720@60", w, h, rate)
	}

	out, err := exec.Command("xrandr", "-d", display, "--output", "DUMMY0", "--mode", "1024x576_30").CombinedOutput()
	if err != nil {
		t.Fatalf("xrandr: %v: %s", err, out)
	}
	// Move clamps to the new size as soon as the root's ConfigureNotify
	// arrives, without anyone calling ScreenSize.
	deadline := time.Now().Add(3 * time.Second)
	for {
		if w, h := d.loadSize(); w == 1024 && h == 576 {
			break
		}
		if time.Now().After(deadline) {
			w, h := d.loadSize()
			t.Fatalf("cached size still %dx%d after the mode change", w, h)
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, d.Move(5000, 5000))
	if x, y, err := d.CursorPosition(); err != nil || x != 1023 || y != 575 {
		t.Errorf("CursorPosition after Move(5000, 5000) = %d,%d (%v), want 1023,575", x, y, err)
	}
	w, h, rate, err = d.ScreenSize()
	if err != nil {
		t.Fatal(err)
	}
	if w != 1024 || h != 576 || rate != 30 {
		t.Errorf("after resize ScreenSize = %dx%d@%d, want 1024x576@30", w, h, rate)
	}
}

func TestModeRefresh(t *testing.T) {
	cases := []struct {
		name string
		m    randr.ModeInfo
		want int
	}{
		{"720p60", randr.ModeInfo{DotClock: 74250000, Htotal: 1650, Vtotal: 750}, 60},
		{"CVT 59.86 rounds up", randr.ModeInfo{DotClock: 74500000, Htotal: 1664, Vtotal: 748}, 60},
		{"interlaced 1080i", randr.ModeInfo{DotClock: 74250000, Htotal: 2200, Vtotal: 1125, ModeFlags: randr.ModeFlagInterlace}, 60},
		{"doublescan", randr.ModeInfo{DotClock: 25175000, Htotal: 800, Vtotal: 525, ModeFlags: randr.ModeFlagDoubleScan}, 30},
		{"no timings (Xvfb)", randr.ModeInfo{Htotal: 1280, Vtotal: 720}, 0},
		{"zero totals", randr.ModeInfo{DotClock: 1}, 0},
	}
	for _, c := range cases {
		if got := modeRefresh(c.m); got != c.want {
			t.Errorf("%s: modeRefresh = %d, want %d", c.name, got, c.want)
		}
	}
}
