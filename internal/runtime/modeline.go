package runtime

import (
	"fmt"

	"github.com/neko-webrtc/neko/internal/desktop/modeline"
)

// Modeline is one X video mode timing; the formula lives in package
// modeline, shared with the desktop, which adds modes at run time.
type Modeline = modeline.Modeline

// GTF computes a mode's timings with the VESA Generalized Timing Formula
// (see modeline.GTF).
func GTF(width, height int, rate float64) Modeline { return modeline.GTF(width, height, rate) }

// ModeName is the name under which a mode is registered with the X server
// (and listed by xrandr), e.g. "1280x720_30.00".
func ModeName(s Screen) string {
	return fmt.Sprintf("%dx%d_%.2f", s.Width, s.Height, float64(s.Rate))
}
