package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Layout of DataDir.
func (r *Runtime) path(elem ...string) string {
	return filepath.Join(append([]string{r.dataDir}, elem...)...)
}

func (r *Runtime) home() string { return r.path("home") }

// writeConfigs creates the directories and generated files in DataDir.
func (r *Runtime) writeConfigs() error {
	for _, d := range []string{"pulse", "pulse-state", "home", "openbox", "chromium", "tmp"} {
		if err := os.MkdirAll(r.path(d), 0o700); err != nil {
			return err
		}
	}
	files := map[string]string{
		"xorg.conf":         xorgConfig(r.screens, r.maxW, r.maxH),
		"default.pa":        pulseConfig(r.pulse),
		"pulse-client.conf": pulseClientConfig,
		"openbox/rc.xml":    openboxConfig,
	}
	for name, content := range files {
		if err := os.WriteFile(r.path(name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func lookPaths(names ...string) ([]string, error) {
	out := make([]string, len(names))
	var missing []string
	for i, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing = append(missing, n)
			continue
		}
		out[i] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("required programs not found in PATH: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Variables that would tie a child to the user's own session, or that we set.
var scrubbedEnv = []string{
	"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_SESSION_TYPE",
	"PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH",
	"PULSE_COOKIE", "PULSE_CLIENTCONFIG", "PULSE_SYSTEM",
	"DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
	"XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR",
}

// env returns neko's environment without scrubbedEnv, plus the private
// home directory and kv ("KEY=value").
func (r *Runtime) env(kv ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if !containsString(scrubbedEnv, k) {
			out = append(out, e)
		}
	}
	home := r.home()
	out = append(out,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		// Chromium leaves org.chromium.* directories in the temporary
		// directory; keep them where Stop cleans up.
		"TMPDIR="+r.path("tmp"),
		// An address nobody serves: D-Bus clients fail fast instead of
		// joining the user's session bus or auto-launching a daemon.
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"PULSE_CLIENTCONFIG="+r.path("pulse-client.conf"),
	)
	return append(out, kv...)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// --- Xorg ---

func (r *Runtime) xorgSpec(bin string, display int) procSpec {
	disp := ":" + strconv.Itoa(display)
	return procSpec{
		name:  NameXorg,
		level: xorgLevel,
		build: func() (*launch, error) {
			rd, wr, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			cmd := exec.Command(bin, disp,
				"-config", r.path("xorg.conf"),
				"-logfile", r.path("xorg.log"),
				"-noreset", "-novtswitch", "-nolisten", "tcp",
				"+extension", "RANDR", "+extension", "XTEST",
				"-displayfd", "3")
			cmd.ExtraFiles = []*os.File{wr} // fd 3
			cmd.Env = r.env()
			cmd.Dir = r.dataDir
			return &launch{
				cmd:     cmd,
				closers: []io.Closer{wr, rd},
				ready: func(ctx context.Context, inst *instance) error {
					_ = wr.Close() // only Xorg may hold the write end now
					return r.xorgReady(ctx, inst, rd, display)
				},
			}, nil
		},
	}
}

// xorgReady waits until Xorg reports its display number on the -displayfd
// pipe (it does so once it accepts connections), checks the socket, and
// selects the initial mode.
func (r *Runtime) xorgReady(ctx context.Context, inst *instance, rd *os.File, display int) error {
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(rd).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case s := <-got:
		if s == "" {
			select {
			case <-inst.exited:
			case <-ctx.Done():
				return fmt.Errorf("waiting for display :%d: %w", display, context.Cause(ctx))
			}
			return fmt.Errorf("%w before the display was ready: %w (see %s)",
				errExited, inst.exitError(), r.path("xorg.log"))
		}
		if s != strconv.Itoa(display) {
			return fmt.Errorf("xorg reported display %q, want %d", s, display)
		}
	case <-ctx.Done():
		_ = rd.Close() // unblocks the reader
		<-got
		return fmt.Errorf("waiting for display :%d: %w", display, context.Cause(ctx))
	}
	if err := waitUntil(ctx, func() bool { return canConnect(displaySocket(display)) }); err != nil {
		return fmt.Errorf("connecting to %s: %w", displaySocket(display), err)
	}
	return r.selectInitialMode(ctx, display)
}

var (
	xrandrCurrent = regexp.MustCompile(`current (\d+) x (\d+)`)
	xrandrOutput  = regexp.MustCompile(`(?m)^(\S+) connected`)
)

// selectInitialMode makes sure the screen uses the initial mode. Xorg
// normally starts with the first mode of the Modes line already.
func (r *Runtime) selectInitialMode(ctx context.Context, display int) error {
	xrandr, err := exec.LookPath("xrandr")
	if err != nil {
		r.log.Warn("xrandr not found, cannot verify the initial screen mode", "proc", NameXorg)
		return nil
	}
	want := r.screens[0]
	disp := ":" + strconv.Itoa(display)
	query := func() (string, string, error) {
		out, err := exec.CommandContext(ctx, xrandr, "-display", disp, "--query").Output()
		if err != nil {
			return "", "", fmt.Errorf("xrandr --query: %w", err)
		}
		cur := xrandrCurrent.FindSubmatch(out)
		outp := xrandrOutput.FindSubmatch(out)
		if cur == nil || outp == nil {
			return "", "", fmt.Errorf("unexpected xrandr output: %q", out)
		}
		return string(cur[1]) + "x" + string(cur[2]), string(outp[1]), nil
	}
	cur, output, err := query()
	if err != nil {
		return err
	}
	size := fmt.Sprintf("%dx%d", want.Width, want.Height)
	if cur == size {
		return nil
	}
	r.log.Info("selecting initial screen mode", "proc", NameXorg, "from", cur, "mode", ModeName(want))
	if out, err := exec.CommandContext(ctx, xrandr, "-display", disp,
		"--output", output, "--mode", ModeName(want)).CombinedOutput(); err != nil {
		return fmt.Errorf("xrandr --mode %s: %w: %s", ModeName(want), err, strings.TrimSpace(string(out)))
	}
	if cur, _, err = query(); err != nil {
		return err
	}
	if cur != size {
		return fmt.Errorf("screen is %s after selecting %s", cur, ModeName(want))
	}
	return nil
}

// waitX waits until the X display accepts connections (before starting an
// X client, e.g. while Xorg restarts).
func (r *Runtime) waitX(ctx context.Context) error {
	r.mu.Lock()
	display := r.display
	r.mu.Unlock()
	if err := waitUntil(ctx, func() bool { return canConnect(displaySocket(display)) }); err != nil {
		return fmt.Errorf("waiting for X display :%d: %w", display, err)
	}
	return nil
}

// --- PulseAudio ---

func (r *Runtime) pulseSpec(bin string) procSpec {
	return procSpec{
		name:  NamePulseAudio,
		level: pulseLevel,
		build: func() (*launch, error) {
			// A socket left by a killed daemon would make the bind fail.
			_ = os.Remove(r.pulse)
			cmd := exec.Command(bin, "-n", "-F", r.path("default.pa"),
				"--exit-idle-time=-1", "--disallow-exit", "--daemonize=no",
				"--use-pid-file=no", "--system=false")
			cmd.Env = r.env(
				"PULSE_RUNTIME_PATH="+r.path("pulse"),
				"PULSE_STATE_PATH="+r.path("pulse-state"),
			)
			cmd.Dir = r.dataDir
			return &launch{cmd: cmd, ready: r.pulseReady}, nil
		},
	}
}

// pulseReady waits until `pactl info` works against the socket and the
// audio_output sink exists.
func (r *Runtime) pulseReady(ctx context.Context, inst *instance) error {
	pactl, err := exec.LookPath("pactl")
	if err != nil {
		r.log.Warn("pactl not found, only checking the PulseAudio socket", "proc", NamePulseAudio)
		return r.waitAlive(ctx, inst, "the PulseAudio socket", func() bool { return canConnect(r.pulse) })
	}
	run := func(args ...string) ([]byte, error) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, pactl, append([]string{"-s", r.PulseServer()}, args...)...)
		cmd.Env = r.env()
		return cmd.Output()
	}
	return r.waitAlive(ctx, inst, "PulseAudio sink audio_output", func() bool {
		if _, err := run("info"); err != nil {
			return false
		}
		out, err := run("list", "short", "sinks")
		return err == nil && hasField(out, 1, "audio_output")
	})
}

// hasField reports whether some line of out has value as its i-th
// tab/space separated field.
func hasField(out []byte, i int, value string) bool {
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > i && f[i] == value {
			return true
		}
	}
	return false
}

// --- openbox ---

func (r *Runtime) openboxSpec(bin string) procSpec {
	return procSpec{
		name:   NameOpenbox,
		level:  genericLevel,
		before: r.waitX,
		build: func() (*launch, error) {
			cmd := exec.Command(bin, "--config-file", r.path("openbox", "rc.xml"), "--sm-disable")
			cmd.Env = r.env("DISPLAY=" + r.Display())
			cmd.Dir = r.dataDir
			return &launch{cmd: cmd, ready: r.openboxReady}, nil
		},
	}
}

// openboxReady waits until a window manager announces itself on the root
// window (EWMH _NET_SUPPORTING_WM_CHECK).
func (r *Runtime) openboxReady(ctx context.Context, inst *instance) error {
	xprop, err := exec.LookPath("xprop")
	if err != nil {
		r.log.Debug("xprop not found, not waiting for the window manager", "proc", NameOpenbox)
		return nil
	}
	return r.waitAlive(ctx, inst, "the window manager", func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		out, err := exec.CommandContext(c, xprop, "-display", r.Display(), "-root",
			"_NET_SUPPORTING_WM_CHECK").Output()
		return err == nil && strings.Contains(string(out), "window id #")
	})
}

// --- app ---

// chromiumFlags are always passed to Chromium.
var chromiumFlags = []string{
	"--kiosk",
	"--ozone-platform=x11",
	"--window-position=0,0",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-default-apps",
	"--disable-breakpad",
	"--disable-crash-reporter",
	"--disable-domain-reliability",
	"--metrics-recording-only",
	"--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
	"--password-store=basic",
	"--disable-gpu",
	"--disable-dev-shm-usage",
	"--autoplay-policy=no-user-gesture-required",
	"--disable-session-crashed-bubble",
	"--hide-crash-restore-bubble",
	"--noerrdialogs",
}

// chromiumArgs returns Chromium's command line after the program name.
func (r *Runtime) chromiumArgs(root bool) []string {
	args := []string{}
	if root {
		// Chromium refuses to run as root with its sandbox. --test-type
		// hides the "unsupported command-line flag" bar --no-sandbox
		// would show above the page.
		args = append(args, "--no-sandbox", "--test-type")
	}
	args = append(args, chromiumFlags...)
	s := r.screens[0]
	args = append(args,
		fmt.Sprintf("--window-size=%d,%d", s.Width, s.Height),
		"--user-data-dir="+r.path("chromium"))
	if r.opts.DevToolsPort > 0 {
		args = append(args,
			"--remote-debugging-port="+strconv.Itoa(r.opts.DevToolsPort),
			"--remote-debugging-address=127.0.0.1")
	}
	if r.opts.URL != "" {
		args = append(args, r.opts.URL)
	}
	return args
}

func (r *Runtime) appSpec() (procSpec, error) {
	if len(r.opts.AppCommand) > 0 {
		bin, err := exec.LookPath(r.opts.AppCommand[0])
		if err != nil {
			return procSpec{}, fmt.Errorf("app command: %w", err)
		}
		args := r.opts.AppCommand[1:]
		return procSpec{
			name:   filepath.Base(r.opts.AppCommand[0]),
			level:  genericLevel,
			before: r.waitX,
			build: func() (*launch, error) {
				cmd := exec.Command(bin, args...)
				cmd.Env = r.appEnv()
				cmd.Dir = r.home()
				return &launch{cmd: cmd}, nil
			},
		}, nil
	}
	bin, err := lookChromium()
	if err != nil {
		return procSpec{}, err
	}
	args := r.chromiumArgs(os.Geteuid() == 0)
	var ready func(context.Context, *instance) error
	if r.opts.DevToolsPort > 0 {
		ready = r.devToolsReady
	}
	return procSpec{
		name:   NameChromium,
		level:  chromiumLevel,
		before: r.waitX,
		build: func() (*launch, error) {
			// The profile lock of a killed instance would make the new one
			// hand its URL to a process that no longer exists. Nothing else
			// uses this profile.
			for _, f := range []string{"SingletonLock", "SingletonSocket", "SingletonCookie"} {
				_ = os.Remove(r.path("chromium", f))
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = r.appEnv()
			cmd.Dir = r.home()
			return &launch{cmd: cmd, ready: ready}, nil
		},
	}, nil
}

func (r *Runtime) appEnv() []string {
	return r.env("DISPLAY="+r.Display(), "PULSE_SERVER="+r.PulseServer())
}

func lookChromium() (string, error) {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found in PATH")
}

// devToolsReady waits until Chromium's DevTools endpoint answers.
func (r *Runtime) devToolsReady(ctx context.Context, inst *instance) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/json/version", r.opts.DevToolsPort)
	client := &http.Client{Timeout: time.Second}
	return r.waitAlive(ctx, inst, "the DevTools endpoint", func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// --- helpers ---

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// waitAlive polls cond like waitUntil but fails as soon as inst exits.
func (r *Runtime) waitAlive(ctx context.Context, inst *instance, what string, cond func() bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-inst.exited:
			cancel(fmt.Errorf("%w: %w", errExited, inst.exitError()))
		case <-ctx.Done():
		}
	}()
	if err := waitUntil(ctx, cond); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// Log levels of the children's output: everything at Debug except lines
// that report real problems.

var xorgNoise = []string{
	"(WW) warning, (EE) error", // the legend printed at start-up
	"dbus-core",
	"Failed to load module",
	"No input driver matching",
}

func xorgLevel(line string) slog.Level {
	switch {
	case strings.Contains(line, "Fatal server error"):
		return slog.LevelError
	case strings.Contains(line, "(EE)"):
		for _, n := range xorgNoise {
			if strings.Contains(line, n) {
				return slog.LevelDebug
			}
		}
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func pulseLevel(line string) slog.Level {
	if strings.HasPrefix(line, "E: ") {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func chromiumLevel(line string) slog.Level {
	if strings.Contains(line, ":FATAL:") {
		return slog.LevelError
	}
	return slog.LevelDebug
}

func genericLevel(line string) slog.Level {
	l := strings.ToLower(line)
	if strings.Contains(l, "error") || strings.Contains(l, "fatal") {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
