package desktop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/internal/desktop/modeline"
	"github.com/neko-webrtc/neko/pkg/types"

	"github.com/neko-webrtc/neko/test/xserver"
)

var (
	hd30Mode     = types.ScreenSize{Width: 1280, Height: 720, Rate: 30}
	portraitMode = types.ScreenSize{Width: 720, Height: 1280, Rate: 30}
)

// startXorgDummy runs Xorg with the dummy driver and the given modes (the
// first is the initial one), configured the way the runtime does.
func startXorgDummy(tb testing.TB, modes ...types.ScreenSize) string {
	tb.Helper()
	var lines, names []string
	maxW, maxH := 0, 0
	for _, m := range modes {
		ml := modeline.GTF(m.Width, m.Height, float64(m.Rate))
		lines = append(lines, "\t"+ml.String())
		names = append(names, fmt.Sprintf("%q", ml.Name))
		maxW, maxH = max(maxW, m.Width), max(maxH, m.Height)
	}
	conf := fmt.Sprintf(`
Section "ServerFlags"
	Option "AutoAddDevices" "false"
	Option "AutoEnableDevices" "false"
	Option "DontVTSwitch" "true"
	Option "PciForceNone" "true"
EndSection
Section "Device"
	Identifier "dummy"
	Driver "dummy"
	VideoRam 256000
EndSection
Section "Monitor"
	Identifier "monitor"
	HorizSync 5.0-1000.0
	VertRefresh 5.0-200.0
%s
EndSection
Section "Screen"
	Identifier "screen"
	Device "dummy"
	Monitor "monitor"
	DefaultDepth 24
	SubSection "Display"
		Depth 24
		Modes %s
		Virtual %d %d
	EndSubSection
EndSection
`, strings.Join(lines, "\n"), strings.Join(names, " "), maxW, maxH)
	dir := tb.TempDir()
	path := filepath.Join(dir, "xorg.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	return xserver.Start(tb, "Xorg", "-config", path, "-logfile", filepath.Join(dir, "xorg.log"),
		"-noreset", "-novtswitch", "-nolisten", "tcp", "+extension", "RANDR", "+extension", "XTEST")
}

// rootSize asks the server for the root window's size over a connection
// of its own, as an application would see it.
func rootSize(tb testing.TB, display string) (int, int) {
	tb.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	g, err := xproto.GetGeometry(conn, xproto.Drawable(root)).Reply()
	if err != nil {
		tb.Fatal(err)
	}
	return int(g.Width), int(g.Height)
}

// screenEvents records what screen listeners are told.
type screenEvents struct {
	mu  sync.Mutex
	got []ScreenChange
}

func (s *screenEvents) add(c ScreenChange) {
	s.mu.Lock()
	s.got = append(s.got, c)
	s.mu.Unlock()
}

func (s *screenEvents) take() []ScreenChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

func TestSetScreenSizeXorg(t *testing.T) {
	hd30 := types.ScreenSize{Width: 1280, Height: 720, Rate: 30}
	fhd30 := types.ScreenSize{Width: 1920, Height: 1080, Rate: 30}
	fhd60 := types.ScreenSize{Width: 1920, Height: 1080, Rate: 60}
	display := startXorgDummy(t, hd30, fhd30, fhd60)
	d := openOn(t, display)
	var events screenEvents
	d.OnScreenChange(events.add)

	configs, err := d.ScreenConfigurations()
	must(t, err)
	for _, want := range []types.ScreenSize{hd30, fhd30, fhd60} {
		if !slices.Contains(configs, want) {
			t.Errorf("configurations %v lack %v", configs, want)
		}
	}
	for _, c := range configs {
		if c.Rate > 60 || (c.Rate > 30 && c.Rate%10 != 0) {
			t.Errorf("configurations list the odd rate %v", c)
		}
	}

	set := func(want types.ScreenSize, actor string) {
		t.Helper()
		got, err := d.SetScreenSize(want, actor)
		if err != nil {
			t.Fatalf("SetScreenSize(%v): %v", want, err)
		}
		if got != want {
			t.Fatalf("SetScreenSize(%v) = %v", want, got)
		}
		if w, h := rootSize(t, display); w != want.Width || h != want.Height {
			t.Fatalf("after SetScreenSize(%v) the root is %dx%d", want, w, h)
		}
		if cur, err := d.Screen(); err != nil || cur != want {
			t.Fatalf("Screen() = %v, %v; want %v", cur, err, want)
		}
		// Told once, with the actor, before SetScreenSize returned.
		if evs := events.take(); len(evs) != 1 || evs[0] != (ScreenChange{want, actor}) {
			t.Fatalf("screen events after SetScreenSize(%v): %v", want, evs)
		}
	}
	set(fhd30, "admin")
	set(hd30, "admin")
	set(fhd60, "other")
	set(hd30, "admin")

	// Re-selecting the current mode changes nothing and tells nobody.
	if got, err := d.SetScreenSize(hd30, "admin"); err != nil || got != hd30 {
		t.Fatalf("SetScreenSize(current) = %v, %v", got, err)
	}
	// A zero rate keeps the current one.
	if got, err := d.SetScreenSize(types.ScreenSize{Width: 1920, Height: 1080}, "admin"); err != nil || got != fhd30 {
		t.Fatalf("SetScreenSize(1920x1080, rate 0) = %v, %v; want %v", got, err, fhd30)
	}
	if evs := events.take(); len(evs) != 1 || evs[0] != (ScreenChange{fhd30, "admin"}) {
		t.Fatalf("screen events after a rate 0 change: %v", evs)
	}
	time.Sleep(100 * time.Millisecond) // let the RandR events of our own changes pass
	if evs := events.take(); len(evs) != 0 {
		t.Fatalf("our own changes were reported again by the watcher: %v", evs)
	}

	// A portrait phone size the server does not have is added.
	phone := types.ScreenSize{Width: 720, Height: 1280, Rate: 30}
	set(phone, "phone")
	configs, err = d.ScreenConfigurations()
	must(t, err)
	if !slices.Contains(configs, phone) {
		t.Errorf("configurations %v lack the added %v", configs, phone)
	}
	set(hd30, "admin")
	set(phone, "phone") // now an existing mode

	// Impossible requests change nothing and tell nobody.
	before := len(configs)
	for _, bad := range []types.ScreenSize{
		{Width: 40000, Height: 720, Rate: 30}, // beyond the server's maximum
		{Width: 10, Height: 10, Rate: 30},     // below its minimum
		{Width: -1280, Height: 720, Rate: 30},
		{Width: 1280, Height: 720, Rate: 1000},
		{Width: 1280, Height: 720, Rate: -5},
		{Width: 9000, Height: 9000, Rate: 30}, // in range, but more than the video memory
	} {
		_, err := d.SetScreenSize(bad, "admin")
		if !errors.Is(err, ErrScreenUnsupported) {
			t.Errorf("SetScreenSize(%v) = %v, want ErrScreenUnsupported", bad, err)
		}
		if w, h := rootSize(t, display); w != phone.Width || h != phone.Height {
			t.Fatalf("after refused %v the root is %dx%d", bad, w, h)
		}
	}
	if cur, _ := d.Screen(); cur != phone {
		t.Fatalf("after refused requests Screen() = %v", cur)
	}
	configs, err = d.ScreenConfigurations()
	must(t, err)
	if len(configs) != before {
		t.Errorf("a refused size left a mode behind: %v", configs)
	}
	time.Sleep(100 * time.Millisecond)
	if evs := events.take(); len(evs) != 0 {
		t.Fatalf("refused requests were reported: %v", evs)
	}

	// A change by another client is reported without an actor.
	out, err := exec.Command("xrandr", "-d", display, "--output", "DUMMY0", "--mode", modeline.GTF(1920, 1080, 60).Name).CombinedOutput()
	if err != nil {
		t.Fatalf("xrandr: %v: %s", err, out)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		evs := events.take()
		if len(evs) > 0 {
			if last := evs[len(evs)-1]; last != (ScreenChange{fhd60, ""}) {
				t.Fatalf("external change reported as %v", evs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("external change not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScreenConfigurationsXvfb(t *testing.T) {
	d, _ := openTest(t)
	configs, err := d.ScreenConfigurations()
	must(t, err)
	if len(configs) != 1 || configs[0] != (types.ScreenSize{Width: 1280, Height: 720}) {
		t.Fatalf("ScreenConfigurations = %v, want the one 1280x720 mode without a rate", configs)
	}
	if _, err := d.SetScreenSize(types.ScreenSize{Width: 1920, Height: 1080, Rate: 30}, ""); !errors.Is(err, ErrScreenUnsupported) {
		t.Fatalf("Xvfb resize: %v, want ErrScreenUnsupported", err)
	}
}
