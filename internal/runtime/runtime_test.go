package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const redPage = `data:text/html,<body style="background:rgb(255,0,0)"></body>`

// TestDesktop runs the whole desktop: Xorg, PulseAudio, openbox and
// Chromium, and checks display, modes, audio, DevTools, restarts and Stop.
func TestDesktop(t *testing.T) {
	for _, tool := range []string{"Xorg", "pulseaudio", "openbox", "chromium", "xdpyinfo", "xrandr", "pactl", "gst-launch-1.0"} {
		requireTool(t, tool)
	}
	baseGoroutines := goruntime.NumGoroutine()
	log, logs := testLogger(t)
	port := freePort(t)
	r, err := New(Options{
		Screen:       Screen{Width: 1280, Height: 720, Rate: 30},
		URL:          redPage,
		DevToolsPort: port,
		Logger:       log,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			r.Stop(context.Background())
		}
	}()
	dataDir := r.DataDir()

	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := r.StartDesktop(ctx); err != nil {
		t.Fatalf("StartDesktop: %v", err)
	}
	t.Logf("desktop ready on %s in %s", r.Display(), time.Since(t0).Round(time.Millisecond))
	display := r.Display()
	if !strings.HasPrefix(display, ":") {
		t.Fatalf("Display() = %q", display)
	}

	// The display works and has the initial size and the extensions neko needs.
	info := runTool(t, "xdpyinfo", "-display", display)
	if !strings.Contains(info, "dimensions:    1280x720 pixels") {
		t.Fatalf("xdpyinfo: not 1280x720:\n%s", grepLines(info, "dimensions"))
	}
	for _, ext := range []string{"RANDR", "XTEST"} {
		if !strings.Contains(info, "    "+ext+"\n") {
			t.Errorf("extension %s missing", ext)
		}
	}

	// RandR offers our modes and switches between them.
	modes := runTool(t, "xrandr", "-display", display)
	for _, m := range []string{"1280x720_30.00", "1920x1080_60.00", "1366x768_60.00", "1024x576_30.00"} {
		if !strings.Contains(modes, m) {
			t.Errorf("xrandr does not list %s:\n%s", m, modes)
		}
	}
	output := xrandrOutput.FindStringSubmatch(modes)
	if output == nil {
		t.Fatalf("no connected output:\n%s", modes)
	}
	for _, m := range []struct{ mode, size string }{
		{"1920x1080_60.00", "1920x1080"}, {"1366x768_60.00", "1366x768"}, {"1280x720_30.00", "1280x720"},
	} {
		runTool(t, "xrandr", "-display", display, "--output", output[1], "--mode", m.mode)
		if dim := grepLines(runTool(t, "xdpyinfo", "-display", display), "dimensions"); !strings.Contains(dim, m.size+" pixels") {
			t.Errorf("after switching to %s: %s", m.mode, dim)
		}
	}

	// PulseAudio: sinks and sources exist, the output monitor is capturable.
	server := r.PulseServer()
	if sinks := runTool(t, "pactl", "-s", server, "list", "short", "sinks"); !hasField([]byte(sinks), 1, "audio_output") {
		t.Errorf("no audio_output sink:\n%s", sinks)
	}
	sources := runTool(t, "pactl", "-s", server, "list", "short", "sources")
	for _, s := range []string{"audio_output.monitor", "microphone"} {
		if !hasField([]byte(sources), 1, s) {
			t.Errorf("no %s source:\n%s", s, sources)
		}
	}
	runTool(t, "gst-launch-1.0", "-q", "pulsesrc", "server="+server, "device=audio_output.monitor",
		"num-buffers=5", "!", "fakesink")

	// The window manager runs.
	if wm := runTool(t, "xprop", "-display", display, "-root", "_NET_SUPPORTING_WM_CHECK"); !strings.Contains(wm, "window id #") {
		t.Errorf("no window manager: %s", wm)
	}

	// Chromium: DevTools answers, the page fills the screen from 0,0.
	t0 = time.Now()
	if err := r.StartApp(ctx); err != nil {
		t.Fatalf("StartApp: %v", err)
	}
	t.Logf("app ready in %s", time.Since(t0).Round(time.Millisecond))
	if err := r.StartApp(ctx); err == nil {
		t.Error("second StartApp succeeded")
	}
	version := devToolsVersion(t, port)
	if !strings.Contains(version["Browser"], "Chrom") {
		t.Errorf("json/version: %v", version)
	}
	checkScreenRed(t, display, 1280, 720)
	// The page follows a mode switch.
	runTool(t, "xrandr", "-display", display, "--output", output[1], "--mode", "1920x1080_60.00")
	checkScreenRed(t, display, 1920, 1080)
	runTool(t, "xrandr", "-display", display, "--output", output[1], "--mode", "1280x720_30.00")

	app := r.procs[len(r.procs)-1]
	if app.spec.name != NameChromium {
		t.Fatalf("last child is %s", app.spec.name)
	}

	// kill -9 of Chromium's main process: it comes back.
	first := app.current()
	if err := syscall.Kill(first.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if !eventually(15*time.Second, func() bool {
		in := app.current()
		return in != nil && in != first && devToolsAnswers(port)
	}) {
		t.Fatal("chromium not restarted after kill -9")
	}
	t.Logf("chromium restarted in %s", time.Since(t0).Round(time.Millisecond))
	if first.key.alive() {
		t.Error("killed chromium still running")
	}

	// kill -9 of Xorg: it comes back on the same display, and so do the
	// X clients.
	xorg := r.procs[0]
	firstX := xorg.current()
	chromiumBefore := app.current()
	if err := syscall.Kill(firstX.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if !eventually(20*time.Second, func() bool {
		in := xorg.current()
		c := app.current()
		return in != nil && in != firstX && c != nil && c != chromiumBefore && devToolsAnswers(port)
	}) {
		t.Fatal("xorg or chromium not restarted after killing Xorg")
	}
	t.Logf("xorg and chromium restarted in %s", time.Since(t0).Round(time.Millisecond))
	if r.Display() != display {
		t.Errorf("display changed from %s to %s", display, r.Display())
	}
	if dim := grepLines(runTool(t, "xdpyinfo", "-display", display), "dimensions"); !strings.Contains(dim, "1280x720 pixels") {
		t.Errorf("after Xorg restart: %s", dim)
	}
	checkScreenRed(t, display, 1280, 720)

	// Stop leaves nothing behind.
	pids := allPids(r)
	if len(pids) < 5 {
		t.Errorf("only %d processes recorded: %v", len(pids), pids)
	}
	t0 = time.Now()
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	stopped = true
	t.Logf("stopped %d processes in %s", len(pids), time.Since(t0).Round(time.Millisecond))
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	checkAllGone(t, pids)
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s not removed: %v", dataDir, err)
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(display, ":"))
	if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); !os.IsNotExist(err) {
		t.Errorf("X lock file left: %v", err)
	}
	if devToolsAnswers(port) {
		t.Error("DevTools still answers after Stop")
	}
	if !strings.Contains(logs.String(), "proc=chromium") || !strings.Contains(logs.String(), "proc=xorg") {
		t.Error("children's output not logged")
	}
	checkGoroutines(t, baseGoroutines)
}

// TestStartCancelled cancels StartDesktop half way: it fails and nothing
// keeps running.
func TestStartCancelled(t *testing.T) {
	requireTool(t, "Xorg")
	base := goruntime.NumGoroutine()
	log, _ := testLogger(t)
	r, err := New(Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	// Cancel once Xorg runs, before the desktop is complete.
	go func() {
		eventually(10*time.Second, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.procs) > 0 && r.procs[0].current() != nil
		})
		cancel()
	}()
	var pids []pidKey
	err = r.StartDesktop(ctx)
	if err == nil {
		t.Fatal("StartDesktop succeeded despite cancellation")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error does not say it was cancelled: %v", err)
	}
	r.mu.Lock()
	for _, p := range r.procs {
		if in := p.current(); in != nil {
			pids = append(pids, in.key)
		}
	}
	r.mu.Unlock()
	checkAllGone(t, pids)
	if err := r.StartApp(t.Context()); err == nil {
		t.Error("StartApp after failed StartDesktop succeeded")
	}
	dir := r.DataDir()
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir not removed: %v", err)
	}
	checkGoroutines(t, base)
}

// TestStopDuringStart calls Stop while StartDesktop waits for Xorg.
func TestStopDuringStart(t *testing.T) {
	requireTool(t, "Xorg")
	base := goruntime.NumGoroutine()
	log, _ := testLogger(t)
	r, err := New(Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- r.StartDesktop(t.Context()) }()
	eventually(10*time.Second, func() bool { return len(allPids(r)) > 0 })
	pids := allPids(r)
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("StartDesktop succeeded despite Stop")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StartDesktop did not return after Stop")
	}
	checkAllGone(t, append(pids, allPids(r)...))
	checkGoroutines(t, base)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

func devToolsAnswers(port int) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/json/version", port))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func devToolsVersion(t *testing.T, port int) map[string]string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/version", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkScreenRed grabs the root window and checks that the page's red
// background covers it from corner to corner, i.e. the page content starts
// at 0,0 and fills the screen (no window decoration, no bars).
func checkScreenRed(t *testing.T, display string, w, h int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "screen.rgb")
	var img []byte
	var bad string
	ok := eventually(15*time.Second, func() bool {
		cmd := exec.Command("gst-launch-1.0", "-q", "ximagesrc", "display-name="+display, "use-damage=false", "show-pointer=false",
			"num-buffers=1", "!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", "location="+file)
		if out, err := cmd.CombinedOutput(); err != nil {
			bad = fmt.Sprintf("ximagesrc: %v: %s", err, out)
			return false
		}
		var err error
		if img, err = os.ReadFile(file); err != nil || len(img) < w*h*3 {
			bad = fmt.Sprintf("screenshot of %d bytes: %v", len(img), err)
			return false
		}
		// GStreamer pads RGB rows to a multiple of 4 bytes.
		stride := (w*3 + 3) &^ 3
		for _, p := range [][2]int{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}, {w / 2, h / 2}, {w / 2, 1}, {1, h / 2}} {
			i := p[1]*stride + p[0]*3
			if px := img[i : i+3]; px[0] < 250 || px[1] > 5 || px[2] > 5 {
				bad = fmt.Sprintf("pixel %v is %v, want red", p, px)
				return false
			}
		}
		return true
	})
	if !ok {
		t.Errorf("screen not filled by the page: %s", bad)
	}
}
