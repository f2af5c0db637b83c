// Package runtime starts and supervises the desktop processes (X server,
// PulseAudio, window manager, app) that neko streams when no display is given.
//
// The X server is Xorg with the dummy video driver (unlike Xvfb it supports
// RandR mode switches at run time); its modes are computed with the VESA
// GTF (see GTF). PulseAudio offers the null sink "audio_output" (capture its
// monitor "audio_output.monitor") and a "microphone" source fed by the null
// sink "audio_input". openbox keeps every normal window maximised without
// decorations, and Chromium runs in kiosk mode, so the page covers the
// screen from 0,0 in every mode.
//
// Every child runs in a process group of its own and carries a unique
// environment tag, so that Stop finds all of its processes, even daemons
// that left the group (Chromium's crashpad handler does). Its output is
// logged line by line. A child that exits on its own is restarted after
// 0.5s, 1s, 2s, ... up to 30s (reset after 30s of uptime); Xorg comes back
// on the same display number, in the initial mode, and the X clients follow
// it. Children are also killed (Pdeathsig) if neko dies without calling Stop.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Screen is a video mode.
type Screen struct{ Width, Height, Rate int }

func (s Screen) String() string { return fmt.Sprintf("%dx%d@%d", s.Width, s.Height, s.Rate) }

// Options configures a Runtime. The zero value is usable.
type Options struct {
	// Screen is the initial mode; zero fields default to 1280x720@30.
	Screen Screen
	// Screens are extra modes to make available, besides Screen and the
	// defaults (1024x576, 1280x720, 1366x768, 1600x900, 1920x1080 and
	// 2560x1440, each at 30 and 60 Hz; the ones larger than the virtual
	// screen are left out). A zero Rate means 30.
	Screens []Screen
	// MaxWidth and MaxHeight are the virtual screen size, the largest mode
	// that can be selected. Zero means the largest of 1920x1080, Screen and
	// Screens.
	MaxWidth, MaxHeight int
	// URL is the page Chromium opens.
	URL string
	// AppCommand, when not empty, is run (argv) instead of Chromium.
	AppCommand []string
	// DevToolsPort > 0 enables Chromium's DevTools protocol on
	// 127.0.0.1:DevToolsPort.
	DevToolsPort int
	// DataDir holds the generated configuration, PulseAudio's socket and the
	// Chromium profile. Empty means a fresh temporary directory, removed by
	// Stop. A given directory is created if needed and kept (Stop only
	// empties its tmp subdirectory), so the Chromium profile persists.
	DataDir string
	// Logger receives the children's output, one record per line at Debug
	// level (lines that look like errors at Warn or Error) with the
	// attribute proc=<child name>, and the supervision events. Nil discards.
	Logger *slog.Logger
}

// Child names, as used in the "proc" log attribute.
const (
	NameXorg       = "xorg"
	NamePulseAudio = "pulseaudio"
	NameOpenbox    = "openbox"
	NameChromium   = "chromium"
)

const (
	startTimeout = 20 * time.Second
	// maxSocketPath is the longest path a unix socket address can hold.
	maxSocketPath = 107
)

// Runtime owns the desktop processes. Create it with New; the methods are
// safe for concurrent use.
type Runtime struct {
	opts    Options
	log     *slog.Logger
	screens []Screen // initial first
	maxW    int
	maxH    int
	dataDir string
	ownDir  bool
	pulse   string // PulseAudio socket path

	life     context.Context // ends on Stop
	endLife  context.CancelFunc
	stopOnce sync.Once
	stopErr  error

	mu      sync.Mutex
	stopped bool
	desktop bool // StartDesktop called
	ready   bool // StartDesktop succeeded
	app     bool // StartApp called
	display int  // -1 until chosen
	spawner *spawner
	procs   []*proc // start order
}

// New validates opts, fills in defaults and prepares DataDir. It starts no
// process; call Stop to remove a temporary DataDir even if nothing was
// started.
func New(opts Options) (*Runtime, error) {
	initial := opts.Screen
	if initial.Width == 0 && initial.Height == 0 {
		initial.Width, initial.Height = 1280, 720
	}
	if initial.Rate == 0 {
		initial.Rate = 30
	}
	if err := validScreen(initial); err != nil {
		return nil, fmt.Errorf("runtime: screen: %w", err)
	}
	extra := make([]Screen, 0, len(opts.Screens))
	maxW, maxH := max(1920, initial.Width), max(1080, initial.Height)
	for _, s := range opts.Screens {
		if s.Rate == 0 {
			s.Rate = 30
		}
		if err := validScreen(s); err != nil {
			return nil, fmt.Errorf("runtime: screens: %w", err)
		}
		extra = append(extra, s)
		maxW, maxH = max(maxW, s.Width), max(maxH, s.Height)
	}
	if opts.MaxWidth != 0 || opts.MaxHeight != 0 {
		if opts.MaxWidth < initial.Width || opts.MaxHeight < initial.Height {
			return nil, fmt.Errorf("runtime: max size %dx%d is smaller than the screen %s",
				opts.MaxWidth, opts.MaxHeight, initial)
		}
		if opts.MaxWidth > 16384 || opts.MaxHeight > 16384 {
			return nil, fmt.Errorf("runtime: max size %dx%d is too large", opts.MaxWidth, opts.MaxHeight)
		}
		maxW, maxH = opts.MaxWidth, opts.MaxHeight
	}
	if opts.DevToolsPort < 0 || opts.DevToolsPort > 65535 {
		return nil, fmt.Errorf("runtime: invalid DevTools port %d", opts.DevToolsPort)
	}
	if len(opts.AppCommand) > 0 && opts.AppCommand[0] == "" {
		return nil, errors.New("runtime: empty app command")
	}

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	dir, own := opts.DataDir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "neko-")
		if err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
		dir, own = d, true
	} else {
		d, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("runtime: data dir: %w", err)
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runtime: data dir: %w", err)
		}
		dir = d
	}
	pulse := filepath.Join(dir, "pulse", "native")
	if len(pulse) > maxSocketPath {
		if own {
			_ = os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("runtime: data dir %q is too long for a unix socket path", dir)
	}

	life, end := context.WithCancelCause(context.Background())
	return &Runtime{
		opts:    opts,
		log:     log,
		screens: screenModes(initial, extra, maxW, maxH),
		maxW:    maxW,
		maxH:    maxH,
		dataDir: dir,
		ownDir:  own,
		pulse:   pulse,
		life:    life,
		endLife: func() { end(errStopped) },
		display: -1,
	}, nil
}

func validScreen(s Screen) error {
	if s.Width < 64 || s.Height < 64 || s.Width > 16384 || s.Height > 16384 {
		return fmt.Errorf("invalid size %s", s)
	}
	if s.Rate < 5 || s.Rate > 200 { // the monitor's VertRefresh range
		return fmt.Errorf("invalid refresh rate %s", s)
	}
	return nil
}

// Display returns the X display, e.g. ":10"; empty until StartDesktop has
// chosen one.
func (r *Runtime) Display() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.display < 0 {
		return ""
	}
	return ":" + strconv.Itoa(r.display)
}

// PulseServer returns the value for the PULSE_SERVER environment variable,
// e.g. "unix:/tmp/neko-123/pulse/native".
func (r *Runtime) PulseServer() string { return "unix:" + r.pulse }

// DataDir returns the directory holding the generated files.
func (r *Runtime) DataDir() string { return r.dataDir }

// Screens returns the modes offered by the X server, the initial one first.
func (r *Runtime) Screens() []Screen { return slices.Clone(r.screens) }

// startContext bounds a start phase by timeout and by Stop.
func (r *Runtime) startContext(ctx context.Context, what string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	tctx, tcancel := context.WithTimeoutCause(ctx, startTimeout,
		fmt.Errorf("%s: timed out after %s", what, startTimeout))
	unhook := context.AfterFunc(r.life, func() { cancel(errStopped) })
	return tctx, func() {
		unhook()
		tcancel()
		cancel(nil)
	}
}

// addProc registers a child for supervision, unless the runtime stopped.
func (r *Runtime) addProc(spec procSpec) (*proc, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, errStopped
	}
	if r.spawner == nil {
		r.spawner = newSpawner()
	}
	spec.timeout = startTimeout
	p := newProc(spec, r.log, r.spawner, r.life)
	r.procs = append(r.procs, p)
	return p, nil
}

// StartDesktop starts Xorg and waits until the display accepts connections
// with the initial mode set, then PulseAudio (waits until its null sink
// audio_output exists) and openbox. It returns when all are ready, or with
// an error when ctx ends, Stop is called or 20 seconds pass; on error
// nothing it started is left running.
func (r *Runtime) StartDesktop(ctx context.Context) error {
	r.mu.Lock()
	switch {
	case r.stopped:
		r.mu.Unlock()
		return fmt.Errorf("runtime: start desktop: %w", errStopped)
	case r.desktop:
		r.mu.Unlock()
		return errors.New("runtime: desktop already started")
	}
	r.desktop = true
	r.mu.Unlock()

	ctx, cancel := r.startContext(ctx, "start desktop")
	defer cancel()
	if err := r.startDesktop(ctx); err != nil {
		r.mu.Lock()
		procs := slices.Clone(r.procs)
		r.mu.Unlock()
		for _, p := range procs {
			p.markStopping()
		}
		for _, p := range slices.Backward(procs) {
			_ = p.stop(context.Background())
		}
		return fmt.Errorf("runtime: %w", err)
	}
	r.mu.Lock()
	r.ready = true
	r.mu.Unlock()
	return nil
}

func (r *Runtime) startDesktop(ctx context.Context) error {
	bins, err := lookPaths("Xorg", "pulseaudio", "openbox")
	if err != nil {
		return err
	}
	if err := r.writeConfigs(); err != nil {
		return err
	}
	if err := r.startXorg(ctx, bins[0]); err != nil {
		return err
	}
	p, err := r.addProc(r.pulseSpec(bins[1]))
	if err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return fmt.Errorf("pulseaudio: %w", err)
	}
	p, err = r.addProc(r.openboxSpec(bins[2]))
	if err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return fmt.Errorf("openbox: %w", err)
	}
	return nil
}

// startXorg picks a free display and starts Xorg on it. When another X
// server grabs the number first, it moves on to the next one.
func (r *Runtime) startXorg(ctx context.Context, bin string) error {
	next := firstDisplay
	for attempt := 0; ; attempt++ {
		n, err := findFreeDisplay(next, x11LockDir, x11SocketDir)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.display = n
		r.mu.Unlock()
		p, err := r.addProc(r.xorgSpec(bin, n))
		if err != nil {
			return err
		}
		err = p.start(ctx)
		if err == nil {
			return nil
		}
		if attempt < 5 && errors.Is(err, errExited) && ctx.Err() == nil &&
			displayInUse(n, x11LockDir, x11SocketDir) {
			r.log.Info("X display taken meanwhile, trying the next one", "display", n)
			r.dropProc(p)
			next = n + 1
			continue
		}
		return fmt.Errorf("xorg: %w", err)
	}
}

// dropProc forgets a child whose first start failed.
func (r *Runtime) dropProc(p *proc) {
	p.markStopping()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs = slices.DeleteFunc(r.procs, func(q *proc) bool { return q == p })
}

// StartApp starts Chromium (or AppCommand) on the display, with DISPLAY,
// PULSE_SERVER and a private HOME. With DevToolsPort set it waits until the
// DevTools endpoint answers. It fails after 20 seconds, when ctx ends or on
// Stop; a failed StartApp can be retried.
func (r *Runtime) StartApp(ctx context.Context) error {
	r.mu.Lock()
	switch {
	case r.stopped:
		r.mu.Unlock()
		return fmt.Errorf("runtime: start app: %w", errStopped)
	case !r.ready:
		r.mu.Unlock()
		return errors.New("runtime: start app: desktop is not running")
	case r.app:
		r.mu.Unlock()
		return errors.New("runtime: app already started")
	}
	r.app = true
	r.mu.Unlock()

	ctx, cancel := r.startContext(ctx, "start app")
	defer cancel()
	spec, err := r.appSpec()
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	p, err := r.addProc(spec)
	if err != nil {
		return fmt.Errorf("runtime: start app: %w", err)
	}
	if err := p.start(ctx); err != nil {
		_ = p.stop(context.Background())
		r.dropProc(p)
		r.mu.Lock()
		r.app = false // may be retried
		r.mu.Unlock()
		return fmt.Errorf("runtime: %s: %w", spec.name, err)
	}
	return nil
}

// Stop stops the children in reverse start order: SIGTERM to each child's
// whole process tree, SIGKILL after 3 seconds (or at once when ctx ends),
// and waits for them. It removes DataDir if New created it. Stop is
// idempotent; later calls return the first call's result.
func (r *Runtime) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { r.stopErr = r.stop(ctx) })
	return r.stopErr
}

func (r *Runtime) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	procs := slices.Clone(r.procs)
	sp := r.spawner
	display := r.display
	r.mu.Unlock()
	r.endLife()

	// No restarts from here on, for anyone.
	for _, p := range procs {
		p.markStopping()
	}
	var errs []error
	for _, p := range slices.Backward(procs) {
		if err := p.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if sp != nil {
		sp.close()
	}
	if display >= 0 {
		removeStaleDisplay(display)
	}
	dir := r.dataDir
	if !r.ownDir {
		dir = r.path("tmp") // the children's TMPDIR; the rest is kept
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runtime: stop: %w", err)
	}
	return nil
}

// removeStaleDisplay deletes the lock file and socket of display n if they
// were left behind by a killed X server.
func removeStaleDisplay(n int) {
	lock := filepath.Join(x11LockDir, fmt.Sprintf(".X%d-lock", n))
	pid, err := readLockPid(lock)
	if err != nil || pidAlive(pid) {
		return
	}
	_ = os.Remove(lock)
	if !canConnect(displaySocket(n)) {
		_ = os.Remove(displaySocket(n))
	}
}
