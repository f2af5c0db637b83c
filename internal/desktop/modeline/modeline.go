// Package modeline computes X video mode timings (VESA GTF) for modes that
// an X server with a dummy driver is to offer: the runtime writes them into
// xorg.conf, the desktop adds them through RandR at run time.
package modeline

import (
	"fmt"
	"math"
)

// Modeline is one X video mode timing, as written into an xorg.conf Monitor
// section.
type Modeline struct {
	Name  string  // e.g. "1280x720_30.00"
	Clock float64 // pixel clock in MHz

	HDisplay, HSyncStart, HSyncEnd, HTotal int
	VDisplay, VSyncStart, VSyncEnd, VTotal int
}

// String renders the mode as an xorg.conf Modeline entry, in the same layout
// as the gtf(1) tool (negative horizontal, positive vertical sync).
func (m Modeline) String() string {
	return fmt.Sprintf("Modeline %q %.2f %d %d %d %d %d %d %d %d -HSync +Vsync",
		m.Name, m.Clock,
		m.HDisplay, m.HSyncStart, m.HSyncEnd, m.HTotal,
		m.VDisplay, m.VSyncStart, m.VSyncEnd, m.VTotal)
}

// Refresh is the vertical refresh rate the timings really produce, in Hz.
func (m Modeline) Refresh() float64 {
	return m.Clock * 1e6 / float64(m.HTotal) / float64(m.VTotal)
}

// Constants of the VESA Generalized Timing Formula (default parameters, as
// used by the gtf(1) utility).
const (
	gtfCellGran      = 8.0   // character cell granularity, pixels
	gtfMinPorch      = 1.0   // minimum vertical front porch, lines
	gtfVSyncLines    = 3.0   // vertical sync width, lines
	gtfHSyncPercent  = 8.0   // horizontal sync width, % of line period
	gtfMinVSyncBP    = 550.0 // minimum vertical sync + back porch time, µs
	gtfCPrime        = 30.0  // blanking formula offset: ((C-J)*K/256)+J with C=40, J=20, K=128
	gtfMPrime        = 300.0 // blanking formula gradient: K/256*M with M=600, K=128
	gtfMinFrontPorch = 8.0   // see GTF below: the smallest horizontal front porch we emit
)

// GTF computes the timings of a progressive (non-interlaced) mode without
// margins using the VESA Generalized Timing Formula. For widths that are a
// multiple of 8 the result is identical to `gtf W H R` (the x11-xserver-utils
// tool), with one deliberate deviation: gtf can produce a negative horizontal
// front porch for small, low-refresh modes (e.g. 1024x576@30 gives
// "1024 1008 1104 1184", which the X server rejects); here the sync pulse is
// shortened instead so that the front porch is at least 8 pixels.
//
// Widths that are not a multiple of 8 (e.g. 1366) keep their exact active
// width, the blanking is computed for the width rounded up to a multiple of
// 8 (so the line total stays cell aligned).
func GTF(width, height int, rate float64) Modeline {
	hPixelsRnd := math.Ceil(float64(width)/gtfCellGran) * gtfCellGran
	vLines := float64(height)

	// Estimate the line period from the requested field rate.
	hPeriodEst := ((1 / rate) - (gtfMinVSyncBP / 1e6)) / (vLines + gtfMinPorch) * 1e6
	// At least one line of back porch (only matters far outside the
	// formula's intended range, e.g. tiny modes at a few Hz).
	vSyncBP := max(math.RoundToEven(gtfMinVSyncBP/hPeriodEst), gtfVSyncLines+1)
	totalVLines := vLines + vSyncBP + gtfMinPorch

	// Correct the line period so the frame rate comes out right.
	vFieldRateEst := 1 / hPeriodEst / totalVLines * 1e6
	hPeriod := hPeriodEst / (rate / vFieldRateEst)

	// Horizontal blanking from the ideal duty cycle, in whole double cells.
	idealDuty := gtfCPrime - (gtfMPrime * hPeriod / 1000)
	hBlank := math.RoundToEven(hPixelsRnd*idealDuty/(100-idealDuty)/(2*gtfCellGran)) * (2 * gtfCellGran)
	// Room for the minimum front porch and a sync pulse of one cell (again
	// only relevant outside the intended range, where the duty cycle
	// computed above becomes tiny or negative).
	hBlank = max(hBlank, 2*(gtfMinFrontPorch+gtfCellGran))
	totalPixels := hPixelsRnd + hBlank
	pixelFreq := totalPixels / hPeriod // MHz, the period is in µs

	hSync := math.RoundToEven(gtfHSyncPercent/100*totalPixels/gtfCellGran) * gtfCellGran
	frontPorch := hBlank/2 - hSync
	if frontPorch < gtfMinFrontPorch {
		frontPorch = gtfMinFrontPorch
		hSync = hBlank/2 - frontPorch
	}

	return Modeline{
		Name:       fmt.Sprintf("%dx%d_%.2f", width, height, rate),
		Clock:      pixelFreq,
		HDisplay:   width,
		HSyncStart: int(hPixelsRnd + frontPorch),
		HSyncEnd:   int(hPixelsRnd + frontPorch + hSync),
		HTotal:     int(totalPixels),
		VDisplay:   height,
		VSyncStart: int(vLines + gtfMinPorch),
		VSyncEnd:   int(vLines + gtfMinPorch + gtfVSyncLines),
		VTotal:     int(totalVLines),
	}
}
