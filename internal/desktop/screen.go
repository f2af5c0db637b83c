package desktop

import (
	"fmt"
	"math"

	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
)

// ScreenSize reports the screen's width and height (the root window, which
// RandR resizes along with the mode) and the refresh rate in Hz of the mode
// shown on the primary output (else the first active CRTC), rounded. The
// rate is 0 when it cannot be known: no RandR 1.2, or a mode without timings
// such as Xvfb's.
//
// RandR 1.0 GetScreenInfo would answer in one request, but xgb v1.1.1
// mis-sizes its refresh-rate list and panics on the replies of real servers
// (seen with Xorg's dummy driver), so the CRTC requests are used instead.
func (d *Desktop) ScreenSize() (width, height, rate int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usableLocked(); err != nil {
		return 0, 0, 0, err
	}
	geom, err := xproto.GetGeometry(d.conn, xproto.Drawable(d.root)).Reply()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("desktop: screen size: %w", err)
	}
	width, height = int(geom.Width), int(geom.Height)
	// Also the moment to catch up if a ConfigureNotify is still in flight.
	d.storeSize(width, height)

	if d.randrMinor >= 0 {
		rate, err = d.refreshRateLocked()
		if err != nil {
			d.log.Warn("screen refresh rate unavailable", "err", err)
			rate = 0
		}
	}
	return width, height, rate, nil
}

func (d *Desktop) refreshRateLocked() (rate int, err error) {
	// A malformed reply must not take the server down with it (see
	// ScreenSize on xgb's RandR parsers).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed RandR reply: %v", r)
		}
	}()

	var (
		crtcs  []randr.Crtc
		modes  []randr.ModeInfo
		config xproto.Timestamp
	)
	if d.randrMinor >= 3 {
		res, err := randr.GetScreenResourcesCurrent(d.conn, d.root).Reply()
		if err != nil {
			return 0, fmt.Errorf("screen resources: %w", err)
		}
		crtcs, modes, config = res.Crtcs, res.Modes, res.ConfigTimestamp
	} else {
		res, err := randr.GetScreenResources(d.conn, d.root).Reply()
		if err != nil {
			return 0, fmt.Errorf("screen resources: %w", err)
		}
		crtcs, modes, config = res.Crtcs, res.Modes, res.ConfigTimestamp
	}

	if d.randrMinor >= 3 {
		if prim, err := randr.GetOutputPrimary(d.conn, d.root).Reply(); err == nil && prim.Output != 0 {
			info, err := randr.GetOutputInfo(d.conn, prim.Output, config).Reply()
			if err == nil && info.Crtc != 0 {
				crtcs = []randr.Crtc{info.Crtc}
			}
		}
	}
	for _, c := range crtcs {
		info, err := randr.GetCrtcInfo(d.conn, c, config).Reply()
		if err != nil {
			return 0, fmt.Errorf("crtc %d: %w", c, err)
		}
		if info.Mode == 0 {
			continue
		}
		for _, m := range modes {
			if randr.Mode(m.Id) == info.Mode {
				return modeRefresh(m), nil
			}
		}
	}
	return 0, nil
}

// modeRefresh computes a mode's vertical refresh in Hz, rounded, the way
// xrandr prints it; 0 for modes without timings.
func modeRefresh(m randr.ModeInfo) int {
	if m.DotClock == 0 || m.Htotal == 0 || m.Vtotal == 0 {
		return 0
	}
	v := float64(m.Vtotal)
	if m.ModeFlags&randr.ModeFlagDoubleScan != 0 {
		v *= 2
	}
	if m.ModeFlags&randr.ModeFlagInterlace != 0 {
		v /= 2
	}
	return int(math.Round(float64(m.DotClock) / (float64(m.Htotal) * v)))
}
