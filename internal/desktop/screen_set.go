package desktop

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/internal/desktop/modeline"
	"github.com/neko-webrtc/neko/pkg/types"
)

// ErrScreenUnsupported is returned for a screen configuration that the
// output does not offer and that cannot be added (outside the size range
// the server reports, an impossible rate, or refused by the server).
// Nothing has changed when it is returned.
var ErrScreenUnsupported = errors.New("screen configuration not supported")

// maxRate bounds the refresh rates SetScreenSize accepts, in Hz.
const maxRate = 240

// Screen reports the current screen configuration (see ScreenSize).
func (d *Desktop) Screen() (types.ScreenSize, error) {
	w, h, r, err := d.ScreenSize()
	if err != nil {
		return types.ScreenSize{}, err
	}
	return types.ScreenSize{Width: w, Height: h, Rate: r}, nil
}

// ScreenConfigurations lists the modes the screen can be switched to, as
// distinct size and rounded rate, largest first. Like the reference, odd
// rates (above 60 Hz, or above 30 Hz and not a multiple of 10) are left out
// of the list, though SetScreenSize still accepts them. Without RandR 1.2
// the current configuration is the only one.
func (d *Desktop) ScreenConfigurations() ([]types.ScreenSize, error) {
	if d.randrMinor < 2 {
		cur, err := d.Screen()
		if err != nil {
			return nil, err
		}
		return []types.ScreenSize{cur}, nil
	}
	st, err := d.randrState()
	if err != nil {
		return nil, fmt.Errorf("desktop: screen configurations: %w", err)
	}
	var out []types.ScreenSize
	for _, id := range st.output.Modes {
		m, ok := st.mode(id)
		if !ok {
			continue
		}
		s := types.ScreenSize{Width: int(m.Width), Height: int(m.Height), Rate: modeRefresh(m)}
		if s.Rate > 60 || (s.Rate > 30 && s.Rate%10 != 0) || slices.Contains(out, s) {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b types.ScreenSize) int {
		return cmp.Or(b.Width-a.Width, b.Height-a.Height, b.Rate-a.Rate)
	})
	return out, nil
}

// SetScreenSize switches the screen to want. A size and rate the output
// offers is selected; any other size within the range the server reports
// (RandR GetScreenSizeRange) is added first as a GTF mode. A zero rate
// means the current one. It returns the configuration now in effect (the
// rate as the mode really refreshes, rounded).
//
// Screen listeners are told, with actor, before it returns, unless the
// configuration did not change. On error nothing has changed; the error
// wraps ErrScreenUnsupported when want is not possible.
func (d *Desktop) SetScreenSize(want types.ScreenSize, actor string) (types.ScreenSize, error) {
	d.screenMu.Lock()
	defer d.screenMu.Unlock()
	if err := d.usable(); err != nil {
		return types.ScreenSize{}, err
	}
	if d.randrMinor < 2 {
		return types.ScreenSize{}, fmt.Errorf("%w: the X server has no RandR 1.2", ErrScreenUnsupported)
	}
	cur, err := d.Screen()
	if err != nil {
		return types.ScreenSize{}, err
	}
	if want.Rate == 0 {
		want.Rate = cmp.Or(cur.Rate, 30)
	}
	rng, err := randr.GetScreenSizeRange(d.conn, d.root).Reply()
	if err != nil {
		return types.ScreenSize{}, fmt.Errorf("desktop: screen size range: %w", err)
	}
	if want.Width < int(rng.MinWidth) || want.Width > int(rng.MaxWidth) ||
		want.Height < int(rng.MinHeight) || want.Height > int(rng.MaxHeight) {
		return types.ScreenSize{}, fmt.Errorf("%w: %dx%d is outside %dx%d to %dx%d", ErrScreenUnsupported,
			want.Width, want.Height, rng.MinWidth, rng.MinHeight, rng.MaxWidth, rng.MaxHeight)
	}
	if want.Rate < 1 || want.Rate > maxRate {
		return types.ScreenSize{}, fmt.Errorf("%w: rate %d Hz is outside 1-%d", ErrScreenUnsupported, want.Rate, maxRate)
	}

	st, err := d.randrState()
	if err != nil {
		return types.ScreenSize{}, fmt.Errorf("desktop: set screen size: %w", err)
	}
	mode, undo, err := d.modeFor(st, want)
	if err != nil {
		return types.ScreenSize{}, fmt.Errorf("%w: %dx%d@%d: %v", ErrScreenUnsupported, want.Width, want.Height, want.Rate, err)
	}
	if st.crtcInfo.Mode != mode || cur.Width != want.Width || cur.Height != want.Height {
		if err := d.applyMode(st, mode, cur, want); err != nil {
			undo()
			return types.ScreenSize{}, fmt.Errorf("%w: %dx%d@%d: %v", ErrScreenUnsupported, want.Width, want.Height, want.Rate, err)
		}
	}
	got, err := d.Screen()
	if err != nil {
		return types.ScreenSize{}, err
	}
	d.screenNotifyLocked(got, actor)
	return got, nil
}

// screenChanged runs on the screen watcher after a RandR or root
// ConfigureNotify event: changes made by other clients are reported with
// an empty actor; our own were reported by SetScreenSize already.
func (d *Desktop) screenChanged() {
	d.screenMu.Lock()
	defer d.screenMu.Unlock()
	got, err := d.Screen()
	if err != nil {
		return
	}
	d.screenNotifyLocked(got, "")
}

func (d *Desktop) screenNotifyLocked(got types.ScreenSize, actor string) {
	if got == d.screenLast {
		return
	}
	d.screenLast = got
	for _, fn := range snapshot(d, &d.listeners.screen) {
		fn(ScreenChange{ScreenSize: got, Actor: actor})
	}
}

// usable is usableLocked for callers that do not hold d.mu.
func (d *Desktop) usable() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usableLocked()
}

// randrState is what changing the mode needs to know: the screen's modes
// and the output that shows the screen, with its CRTC.
type randrState struct {
	config   xproto.Timestamp
	modes    []randr.ModeInfo
	names    []string // parallel to modes
	outputID randr.Output
	output   *randr.GetOutputInfoReply
	crtc     randr.Crtc
	crtcInfo *randr.GetCrtcInfoReply
}

func (st *randrState) mode(id randr.Mode) (randr.ModeInfo, bool) {
	for _, m := range st.modes {
		if randr.Mode(m.Id) == id {
			return m, true
		}
	}
	return randr.ModeInfo{}, false
}

// randrState reads the screen resources and picks the output: the primary
// one, else the first connected one with a CRTC, else the first connected
// one.
func (d *Desktop) randrState() (st *randrState, err error) {
	defer func() {
		if r := recover(); r != nil { // see ScreenSize on xgb's RandR parsers
			st, err = nil, fmt.Errorf("malformed RandR reply: %v", r)
		}
	}()
	res, err := randr.GetScreenResources(d.conn, d.root).Reply()
	if err != nil {
		return nil, fmt.Errorf("screen resources: %w", err)
	}
	st = &randrState{config: res.ConfigTimestamp, modes: res.Modes}
	off := 0
	for _, m := range res.Modes {
		end := min(off+int(m.NameLen), len(res.Names))
		st.names = append(st.names, string(res.Names[off:end]))
		off = end
	}

	var primary randr.Output
	if d.randrMinor >= 3 {
		if p, err := randr.GetOutputPrimary(d.conn, d.root).Reply(); err == nil {
			primary = p.Output
		}
	}
	var cands []randrState
	for _, o := range res.Outputs {
		info, err := randr.GetOutputInfo(d.conn, o, res.ConfigTimestamp).Reply()
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", o, err)
		}
		crtc := info.Crtc
		if crtc == 0 && len(info.Crtcs) > 0 {
			crtc = info.Crtcs[0]
		}
		if info.Connection != randr.ConnectionConnected || crtc == 0 {
			continue
		}
		c := *st
		c.outputID, c.output, c.crtc = o, info, crtc
		cands = append(cands, c)
	}
	pick := slices.IndexFunc(cands, func(c randrState) bool { return c.outputID == primary })
	if pick < 0 {
		pick = max(0, slices.IndexFunc(cands, func(c randrState) bool { return c.output.Crtc != 0 }))
	}
	if len(cands) == 0 {
		return nil, errors.New("no connected output with a CRTC")
	}
	st = &cands[pick]
	if st.crtcInfo, err = randr.GetCrtcInfo(d.conn, st.crtc, st.config).Reply(); err != nil {
		return nil, fmt.Errorf("crtc %d: %w", st.crtc, err)
	}
	return st, nil
}

// modeFor finds or makes the mode of size and rate want on the output:
// one the output has, else one the screen has (added to the output), else
// a new GTF mode. undo removes what was added.
func (d *Desktop) modeFor(st *randrState, want types.ScreenSize) (randr.Mode, func(), error) {
	match := func(m randr.ModeInfo) bool {
		return int(m.Width) == want.Width && int(m.Height) == want.Height && modeRefresh(m) == want.Rate
	}
	// The one in use first, so re-selecting the current size is a no-op.
	if m, ok := st.mode(st.crtcInfo.Mode); ok && match(m) {
		return st.crtcInfo.Mode, func() {}, nil
	}
	for _, id := range st.output.Modes {
		if m, ok := st.mode(id); ok && match(m) {
			return id, func() {}, nil
		}
	}

	ml := modeline.GTF(want.Width, want.Height, float64(want.Rate))
	var (
		mode    randr.Mode
		created bool
	)
	for i, m := range st.modes {
		if match(m) || st.names[i] == ml.Name {
			mode = randr.Mode(m.Id)
			break
		}
	}
	if mode == 0 {
		info := randr.ModeInfo{
			Width: uint16(want.Width), Height: uint16(want.Height),
			DotClock:   uint32(math.Round(ml.Clock * 1e6)),
			HsyncStart: uint16(ml.HSyncStart), HsyncEnd: uint16(ml.HSyncEnd), Htotal: uint16(ml.HTotal),
			VsyncStart: uint16(ml.VSyncStart), VsyncEnd: uint16(ml.VSyncEnd), Vtotal: uint16(ml.VTotal),
			NameLen:   uint16(len(ml.Name)),
			ModeFlags: randr.ModeFlagHsyncNegative | randr.ModeFlagVsyncPositive,
		}
		r, err := randr.CreateMode(d.conn, d.root, info, ml.Name).Reply()
		if err != nil {
			return 0, nil, fmt.Errorf("create mode %s: %w", ml.Name, err)
		}
		mode, created = r.Mode, true
		d.log.Info("added screen mode", "mode", ml.Name)
	}
	destroy := func() {
		if created {
			if err := randr.DestroyModeChecked(d.conn, mode).Check(); err != nil {
				d.log.Warn("remove screen mode", "mode", ml.Name, "err", err)
			}
		}
	}
	if err := randr.AddOutputModeChecked(d.conn, st.outputID, mode).Check(); err != nil {
		destroy()
		return 0, nil, fmt.Errorf("add mode %s to the output: %w", ml.Name, err)
	}
	return mode, func() {
		if err := randr.DeleteOutputModeChecked(d.conn, st.outputID, mode).Check(); err != nil {
			d.log.Warn("remove screen mode from the output", "mode", ml.Name, "err", err)
		}
		destroy()
	}, nil
}

// applyMode shows mode on the CRTC and resizes the screen to want. The
// screen first grows to hold both the old and the new mode (a CRTC must
// always fit the screen), then shrinks to the new one, so the CRTC is never
// switched off. On error the screen size is restored.
func (d *Desktop) applyMode(st *randrState, mode randr.Mode, cur, want types.ScreenSize) error {
	bigW, bigH := max(cur.Width, want.Width), max(cur.Height, want.Height)
	if bigW != cur.Width || bigH != cur.Height {
		if err := d.setScreenSize(bigW, bigH); err != nil {
			return err
		}
	}
	restore := func() {
		if bigW != cur.Width || bigH != cur.Height {
			if err := d.setScreenSize(cur.Width, cur.Height); err != nil {
				d.log.Warn("restore screen size", "err", err)
			}
		}
	}
	rotation := st.crtcInfo.Rotation
	if rotation == 0 {
		rotation = randr.RotationRotate0
	}
	outputs := st.crtcInfo.Outputs
	if len(outputs) == 0 {
		outputs = []randr.Output{st.outputID}
	}
	r, err := randr.SetCrtcConfig(d.conn, st.crtc, st.crtcInfo.Timestamp, st.config, 0, 0, mode, rotation, outputs).Reply()
	if err != nil {
		restore()
		return fmt.Errorf("set crtc: %w", err)
	}
	if r.Status != randr.SetConfigSuccess {
		restore()
		return fmt.Errorf("set crtc: status %d", r.Status)
	}
	if bigW != want.Width || bigH != want.Height {
		if err := d.setScreenSize(want.Width, want.Height); err != nil {
			// The mode is shown; the screen is only larger than it.
			d.log.Warn("shrink screen to the new mode", "err", err)
		}
	}
	return nil
}

// setScreenSize resizes the screen (the root window), keeping 96 DPI.
func (d *Desktop) setScreenSize(w, h int) error {
	mm := func(px int) uint32 { return uint32(math.Round(float64(px) * 25.4 / 96)) }
	if err := randr.SetScreenSizeChecked(d.conn, d.root, uint16(w), uint16(h), mm(w), mm(h)).Check(); err != nil {
		return fmt.Errorf("screen size %dx%d: %w", w, h, err)
	}
	return nil
}
