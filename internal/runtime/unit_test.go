package runtime

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Reference values printed by `gtf W H R` (x11-xserver-utils 7.7).
var gtfReference = []struct {
	w, h, r int
	line    string
}{
	{1280, 720, 30, `Modeline "1280x720_30.00" 33.78 1280 1288 1408 1536 720 721 724 733 -HSync +Vsync`},
	{1280, 720, 60, `Modeline "1280x720_60.00" 74.48 1280 1336 1472 1664 720 721 724 746 -HSync +Vsync`},
	{1920, 1080, 30, `Modeline "1920x1080_30.00" 80.18 1920 1984 2176 2432 1080 1081 1084 1099 -HSync +Vsync`},
	{1920, 1080, 60, `Modeline "1920x1080_60.00" 172.80 1920 2040 2248 2576 1080 1081 1084 1118 -HSync +Vsync`},
	{1600, 900, 60, `Modeline "1600x900_60.00" 119.00 1600 1696 1864 2128 900 901 904 932 -HSync +Vsync`},
	{2560, 1440, 30, `Modeline "2560x1440_30.00" 146.27 2560 2680 2944 3328 1440 1441 1444 1465 -HSync +Vsync`},
	{800, 600, 60, `Modeline "800x600_60.00" 38.22 800 832 912 1024 600 601 604 622 -HSync +Vsync`},
}

func TestGTFMatchesReference(t *testing.T) {
	for _, c := range gtfReference {
		got := GTF(c.w, c.h, float64(c.r)).String()
		if got != c.line {
			t.Errorf("GTF(%d, %d, %d)\n got %s\nwant %s", c.w, c.h, c.r, got, c.line)
		}
	}
}

// Checks against the gtf binary itself for a wider range of modes.
func TestGTFMatchesTool(t *testing.T) {
	gtf := requireTool(t, "gtf")
	for _, m := range [][3]int{{640, 480, 60}, {1024, 768, 75}, {1280, 1024, 60}, {1440, 900, 50}, {3840, 2160, 30}, {1920, 1200, 25}} {
		out := runTool(t, gtf, strconv.Itoa(m[0]), strconv.Itoa(m[1]), strconv.Itoa(m[2]))
		var want string
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "Modeline") {
				want = strings.Join(strings.Fields(l), " ")
			}
		}
		if got := GTF(m[0], m[1], float64(m[2])).String(); got != want {
			t.Errorf("GTF%v\n got %s\nwant %s", m, got, want)
		}
	}
}

func TestGTFValidTimings(t *testing.T) {
	// gtf itself gives a negative front porch (1024 1008 ...) for this one.
	m := GTF(1024, 576, 30)
	if want := `Modeline "1024x576_30.00" 20.85 1024 1032 1104 1184 576 577 580 587 -HSync +Vsync`; m.String() != want {
		t.Errorf("got %s\nwant %s", m, want)
	}
	// Width not a multiple of 8 keeps its exact size; the rest as for 1368.
	m = GTF(1366, 768, 60)
	if want := `Modeline "1366x768_60.00" 85.86 1366 1440 1584 1800 768 769 772 795 -HSync +Vsync`; m.String() != want {
		t.Errorf("got %s\nwant %s", m, want)
	}
	for w := 64; w <= 4096; w += 62 {
		for _, h := range []int{64, 480, 777, 1080, 2160} {
			for _, rate := range []int{5, 24, 30, 60, 144, 200} {
				m := GTF(w, h, float64(rate))
				ok := m.HDisplay == w && m.HDisplay < m.HSyncStart && m.HSyncStart < m.HSyncEnd && m.HSyncEnd <= m.HTotal &&
					m.VDisplay == h && m.VDisplay < m.VSyncStart && m.VSyncStart < m.VSyncEnd && m.VSyncEnd <= m.VTotal &&
					m.HTotal%8 == 0
				if !ok {
					t.Fatalf("GTF(%d, %d, %d) = %s: invalid timings", w, h, rate, m)
				}
				if got := m.Refresh(); math.Abs(got-float64(rate)) > 0.01*float64(rate) {
					t.Fatalf("GTF(%d, %d, %d) refreshes at %.3f Hz", w, h, rate, got)
				}
			}
		}
	}
}

func TestScreenModes(t *testing.T) {
	initial := Screen{1280, 720, 30}
	got := screenModes(initial, []Screen{{800, 600, 30}, {1280, 720, 30}, {3000, 2000, 30}}, 1920, 1080)
	if got[0] != initial {
		t.Fatalf("initial mode not first: %v", got)
	}
	want := []Screen{initial, {800, 600, 30},
		{1024, 576, 30}, {1024, 576, 60}, {1280, 720, 60}, {1366, 768, 30}, {1366, 768, 60},
		{1600, 900, 30}, {1600, 900, 60}, {1920, 1080, 30}, {1920, 1080, 60}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("modes\n got %v\nwant %v", got, want)
	}
	got = screenModes(Screen{2560, 1440, 60}, nil, 2560, 1440)
	if got[0] != (Screen{2560, 1440, 60}) || got[len(got)-1] != (Screen{2560, 1440, 30}) {
		t.Fatalf("2560x1440 modes: %v", got)
	}
}

func TestXorgConfig(t *testing.T) {
	screens := screenModes(Screen{1280, 720, 30}, nil, 1920, 1080)
	conf := xorgConfig(screens, 1920, 1080)
	for _, want := range []string{
		`Option "AutoAddDevices" "false"`,
		`Option "AutoEnableDevices" "false"`,
		`Option "DontVTSwitch" "true"`,
		`Option "PciForceNone" "true"`,
		`Driver "dummy"`,
		"VideoRam 256000",
		"HorizSync 5.0-1000.0",
		"VertRefresh 5.0-200.0",
		`Modeline "1280x720_30.00" 33.78 1280 1288 1408 1536 720 721 724 733 -HSync +Vsync`,
		`Modeline "1920x1080_60.00" 172.80 1920 2040 2248 2576 1080 1081 1084 1118 -HSync +Vsync`,
		`Modeline "1366x768_60.00"`,
		"DefaultDepth 24",
		"Depth 24",
		`Modes "1280x720_30.00" "1024x576_30.00" "1024x576_60.00" "1280x720_60.00"`,
		"Virtual 1920 1080",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("xorg.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "2560x1440") {
		t.Errorf("xorg.conf has a mode larger than the virtual screen:\n%s", conf)
	}
	if n := strings.Count(conf, "Modeline "); n != len(screens) {
		t.Errorf("%d modelines for %d screens", n, len(screens))
	}
	// A large virtual screen gets enough video memory.
	if conf := xorgConfig([]Screen{{7680, 4320, 30}}, 7680, 4320); !strings.Contains(conf, "VideoRam 259200\n") {
		t.Errorf("VideoRam for 7680x4320:\n%s", conf)
	}
}

func TestFindFreeDisplay(t *testing.T) {
	lockDir := t.TempDir()
	// Sockets must have short paths; t.TempDir can be long.
	sockDir, err := os.MkdirTemp("", "x11")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })

	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(lockDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// :10 locked by a live process (us), :11 by a dead one (stale), :12 has
	// a listening socket, :13 a stale socket file, :14 a garbled lock.
	write(".X10-lock", fmt.Sprintf("%10d\n", os.Getpid()))
	write(".X11-lock", fmt.Sprintf("%10d\n", deadPid(t)))
	l, err := net.Listen("unix", filepath.Join(sockDir, "X12"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stale, err := net.Listen("unix", filepath.Join(sockDir, "X13"))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	write(".X14-lock", "garbage")

	cases := map[int]int{10: 11, 11: 11, 12: 13, 13: 13, 14: 15}
	for start, want := range cases {
		got, err := findFreeDisplay(start, lockDir, sockDir)
		if err != nil || got != want {
			t.Errorf("findFreeDisplay(%d) = %d, %v; want %d", start, got, err, want)
		}
	}
	if _, err := findFreeDisplay(lastDisplay+1, lockDir, sockDir); err == nil {
		t.Error("findFreeDisplay past the last display: no error")
	}
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func TestParseProcStat(t *testing.T) {
	line := "1234 (we ird) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 98765 1000 100 18446744073709551615\n"
	p, err := parseProcStat(1234, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if p.ppid != 1 || p.pgid != 1234 || p.state != 'S' || p.start != 98765 {
		t.Fatalf("parsed %+v", p)
	}
	if _, err := parseProcStat(1, []byte("1 (x) S 1")); err == nil {
		t.Fatal("short stat parsed")
	}
}

func TestNewOptions(t *testing.T) {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.screens[0] != (Screen{1280, 720, 30}) || r.maxW != 1920 || r.maxH != 1080 {
		t.Errorf("defaults: %v %dx%d", r.screens[0], r.maxW, r.maxH)
	}
	dir := r.DataDir()
	if want := "unix:" + filepath.Join(dir, "pulse", "native"); r.PulseServer() != want {
		t.Errorf("PulseServer() = %q, want %q", r.PulseServer(), want)
	}
	if r.Display() != "" {
		t.Errorf("Display() before start = %q", r.Display())
	}
	// Stop without start removes the temporary directory; twice is fine.
	for i := 0; i < 2; i++ {
		if err := r.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir %s not removed: %v", dir, err)
	}
	if err := r.StartDesktop(t.Context()); err == nil {
		t.Error("StartDesktop after Stop succeeded")
	}

	r, err = New(Options{Screen: Screen{Width: 2560, Height: 1600}, Screens: []Screen{{Width: 3000, Height: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.screens[0] != (Screen{2560, 1600, 30}) || r.maxW != 3000 || r.maxH != 1600 {
		t.Errorf("grown max: %v %dx%d", r.screens[0], r.maxW, r.maxH)
	}
	r.Stop(t.Context())

	// A given data dir is kept.
	own := t.TempDir()
	r, err = New(Options{DataDir: own})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop(t.Context())
	if _, err := os.Stat(own); err != nil {
		t.Errorf("given data dir removed: %v", err)
	}

	for _, bad := range []Options{
		{Screen: Screen{10, 10, 30}},
		{Screen: Screen{1280, 720, 500}},
		{Screen: Screen{1280, 720, 4}},
		{Screen: Screen{1920, 1080, 30}, MaxWidth: 1280, MaxHeight: 720},
		{DevToolsPort: 70000},
		{AppCommand: []string{""}},
		{DataDir: "/tmp/" + strings.Repeat("x", 120)},
	} {
		if r, err := New(bad); err == nil {
			r.Stop(t.Context())
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

func TestLevels(t *testing.T) {
	cases := []struct {
		level func(string) slog.Level
		line  string
		want  slog.Level
	}{
		{xorgLevel, `[  1.2] (EE) Failed to load module "kbd" (module does not exist, 0)`, slog.LevelDebug},
		{xorgLevel, "(WW) warning, (EE) error, (NI) not implemented, (??) unknown.", slog.LevelDebug},
		{xorgLevel, "(EE) Fatal server error:", slog.LevelError},
		{xorgLevel, "(EE) something broke", slog.LevelWarn},
		{xorgLevel, "(II) Loading /usr/lib/xorg/modules/drivers/dummy_drv.so", slog.LevelDebug},
		{pulseLevel, "E: [pulseaudio] main.c: failed", slog.LevelWarn},
		{pulseLevel, "W: [pulseaudio] main.c: This program is not intended to be run as root", slog.LevelDebug},
		{chromiumLevel, "[1:2:ERROR:bus.cc(407)] Failed to connect to the bus", slog.LevelDebug},
		{chromiumLevel, "[1:2:FATAL:zygote_host_impl_linux.cc] no", slog.LevelError},
		{genericLevel, "Openbox-Message: Unable to find a valid menu file", slog.LevelDebug},
		{genericLevel, "some Error happened", slog.LevelWarn},
	}
	for _, c := range cases {
		if got := c.level(c.line); got != c.want {
			t.Errorf("level(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}
