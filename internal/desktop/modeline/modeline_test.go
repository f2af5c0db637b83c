package modeline

import (
	"math"
	"testing"
)

func TestGTFMatchesGtfTool(t *testing.T) {
	// Printed by `gtf W H R` (x11-xserver-utils 7.7).
	for _, c := range []struct {
		w, h, r int
		want    string
	}{
		{1280, 720, 30, `Modeline "1280x720_30.00" 33.78 1280 1288 1408 1536 720 721 724 733 -HSync +Vsync`},
		{1920, 1080, 60, `Modeline "1920x1080_60.00" 172.80 1920 2040 2248 2576 1080 1081 1084 1118 -HSync +Vsync`},
		{720, 1280, 30, `Modeline "720x1280_30.00" 36.25 720 752 824 928 1280 1281 1284 1302 -HSync +Vsync`},
	} {
		if got := GTF(c.w, c.h, float64(c.r)).String(); got != c.want {
			t.Errorf("GTF(%d, %d, %d)\n got %s\nwant %s", c.w, c.h, c.r, got, c.want)
		}
	}
}

func TestGTFRefresh(t *testing.T) {
	for _, c := range [][3]int{{720, 1280, 30}, {1366, 768, 60}, {64, 64, 5}, {4096, 2160, 144}} {
		m := GTF(c[0], c[1], float64(c[2]))
		if got := m.Refresh(); math.Abs(got-float64(c[2])) > 0.01*float64(c[2]) {
			t.Errorf("GTF%v refreshes at %.3f Hz", c, got)
		}
		if m.HDisplay != c[0] || m.VDisplay != c[1] || m.HSyncStart <= m.HDisplay || m.HTotal < m.HSyncEnd {
			t.Errorf("GTF%v = %s: invalid timings", c, m)
		}
	}
}
