package main

import (
	"context"
	"fmt"
	"time"

	"github.com/neko-webrtc/neko/test/viewer"
)

// animatedPage repaints the whole window on every animation frame with a
// full-width gradient whose hues turn 360°/s: each 30 fps capture differs
// from the last by ~12° everywhere, so every captured frame is new to the
// encoder (no static-screen shortcut) and the change is visible at the
// viewer's sample point. A smooth gradient is cheap for VP8, so the
// bitrate is a floor for busier pages, not a typical figure.
const animatedPage = `<!doctype html>
<html><head><style>html,body{margin:0;height:100%;overflow:hidden;cursor:none}canvas{display:block}</style></head>
<body><canvas id="c"></canvas><script>
const c = document.getElementById('c'), x = c.getContext('2d');
function size() { c.width = innerWidth; c.height = innerHeight; }
addEventListener('resize', size); size();
function draw(t) {
  const h = (t * 0.36) % 360, g = x.createLinearGradient(0, 0, c.width, c.height);
  g.addColorStop(0, 'hsl(' + h + ',85%,50%)');
  g.addColorStop(1, 'hsl(' + (h + 150) + ',85%,50%)');
  x.fillStyle = g; x.fillRect(0, 0, c.width, c.height);
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script></body></html>`

// distinctDiff is how much the sample point must change (sum over RGB) for
// a frame to count as new: above VP8's noise on a static picture.
const distinctDiff = 6

// waitAnimating reads frames until n consecutive ones differ: the
// animated page is loaded and painting (Chromium shows a static blank
// window first).
func waitAnimating(md *viewer.Media, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	var prev viewer.Frame
	run := 0
	for run < n {
		select {
		case f := <-md.Frames():
			if prev.RGB != nil && colourDiff(prev, f) >= distinctDiff {
				run++
			} else {
				run = 0
			}
			prev = f
		case <-deadline:
			return fmt.Errorf("the animated page did not show within %v", timeout)
		}
	}
	return nil
}

// benchFPS streams the animated page to one viewer for window and reports
// decoded and distinct frame rates, received bitrate and the server's CPU
// and memory.
func benchFPS(ctx context.Context, bin, dir string, window time.Duration) ([]row, error) {
	srv, err := startServer(ctx, bin, dir, "fps", dataURL(animatedPage))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()

	c, err := join(ctx, srv.URL, "fps", userPassword)
	if err != nil {
		return nil, err
	}
	md, err := startMedia(ctx, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	defer leave(c, md)
	if err := waitAnimating(md, 10, 45*time.Second); err != nil {
		return nil, fmt.Errorf("%w; server log:\n%s", err, srv.logTail(10))
	}
	// Let the encoder's rate control and Chromium settle before measuring.
	settle := time.After(2 * time.Second)
settling:
	for {
		select {
		case <-md.Frames():
		case <-settle:
			break settling
		}
	}

	before, err := sampleTree(srv.Pid())
	if err != nil {
		return nil, fmt.Errorf("proc sample: %w", err)
	}
	_, bytes0, _, frames0 := md.Stats()
	start := time.Now()
	end := time.After(window)
	var prev viewer.Frame
	distinct := 0
	var maxGap time.Duration
measuring:
	for {
		select {
		case f := <-md.Frames():
			if prev.RGB != nil {
				if colourDiff(prev, f) >= distinctDiff {
					distinct++
				}
				if gap := f.At.Sub(prev.At); gap > maxGap {
					maxGap = gap
				}
			}
			prev = f
		case <-end:
			break measuring
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	elapsed := time.Since(start).Seconds()
	_, bytes1, _, frames1 := md.Stats()
	after, err := sampleTree(srv.Pid())
	if err != nil {
		return nil, fmt.Errorf("proc sample: %w", err)
	}
	rss, err := statusKiB(srv.Pid(), "VmRSS")
	if err != nil {
		return nil, fmt.Errorf("server RSS: %w", err)
	}
	pss := treePSSKiB(after)

	fps := float64(frames1-frames0) / elapsed
	cpu := cpuUsage(before, after)
	var desktop float64
	for g, v := range cpu {
		if g != "server" {
			desktop += v
		}
	}
	win := fmt.Sprintf("%.0f s", window.Seconds())
	return []row{
		{"Decoded fps (" + screenMode + ", " + win + ", 1 viewer)", fmt.Sprintf("%.1f fps", fps), "30 fps", verdict(fps >= 28.5)},
		{"Distinct frames (sample point changed)", fmt.Sprintf("%.1f fps", float64(distinct)/elapsed), "= decoded fps", verdict(float64(distinct)/elapsed >= 0.95*fps)},
		{"Longest gap between decoded frames", ms(maxGap), "—", ""},
		{"Received video bitrate (RTP payload)", fmt.Sprintf("%.0f kbit/s", float64(bytes1-bytes0)*8/elapsed/1000), "—", ""},
		{"neko process CPU (% of one core)", fmt.Sprintf("%.0f %%", cpu["server"]), "—", ""},
		{"Desktop CPU: Xorg / Chromium / PulseAudio / other", fmt.Sprintf("%.0f / %.0f / %.0f / %.0f %% (sum %.0f %%)",
			cpu["Xorg"], cpu["Chromium"], cpu["PulseAudio"], cpu["other"], desktop), "—", ""},
		{"neko process RSS", fmt.Sprintf("%.0f MiB", float64(rss)/1024), "—", ""},
		{"Whole server tree PSS (neko + desktop)", fmt.Sprintf("%.0f MiB", float64(pss)/1024), "—", ""},
	}, nil
}
