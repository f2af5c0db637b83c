package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// fpsResult is one server's frame rate and cost.
type fpsResult struct {
	fps, distinct float64 // decoded frames per second; those with new content
	received      float64 // complete frames received per second
	maxGap        time.Duration
	kbps          float64            // received video payload
	cpu           map[string]float64 // % of one core: "server" is neko, the rest its desktop
	rssMiB        float64            // neko
	pssMiB        float64            // neko and its desktop
}

func (r *fpsResult) String() string {
	return fmt.Sprintf("%.1f fps (%.1f received, %.1f distinct) / %.0f %% / %.0f MiB / %.1f Mbit/s",
		r.fps, r.received, r.distinct, r.cpu["server"], r.rssMiB, r.kbps/1000)
}

// cpuPerFrame is neko's CPU time per decoded frame, in ms: the fair
// comparison between 30 and 25 fps.
func (r *fpsResult) cpuPerFrame() float64 {
	if r.fps <= 0 {
		return 0
	}
	return r.cpu["server"] * 10 / r.fps // % of a core = 10 ms per second
}

// benchFPS measures the frame rate and neko's CPU and memory for every
// screen size and codec, and with the reference's settings (VP8).
func benchFPS(ctx context.Context, bin, dir string, window time.Duration, sizes, codecs []string, withRef bool) ([]row, error) {
	var rows []row
	for _, size := range sizes {
		want, err := modeRate(size)
		if err != nil {
			return nil, err
		}
		var ref *fpsResult
		refErr := ""
		if withRef {
			if ref, err = measureFPS(ctx, bin, dir, "fps-ref-"+size, serverOpts{screen: size, pipeline: "ref"}, window, true); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				fmt.Fprintf(os.Stderr, "bench: fps %s reference settings: %v\n", size, err)
				refErr = "could not run: " + firstLine(err.Error())
			}
		}
		for _, codec := range codecs {
			name := fmt.Sprintf("Sustained fps / neko CPU / neko RSS / bitrate, %s %s, 1 viewer", size, codec)
			target := fmt.Sprintf("≥ %.1f fps", 0.95*want)
			r, err := measureFPS(ctx, bin, dir, "fps-"+size+"-"+codec, serverOpts{screen: size, codec: codec}, window, true)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				fmt.Fprintf(os.Stderr, "bench: fps %s %s: %v\n", size, codec, err)
				rows = append(rows, row{name, "could not run: " + firstLine(err.Error()), "", "**error**"})
				continue
			}
			refCell := ""
			if codec == "vp8" {
				switch {
				case ref != nil:
					refCell = fmt.Sprintf("%s; CPU %s, per frame %s (%.1f vs %.1f ms)", ref, ratio(r.cpu["server"], ref.cpu["server"]),
						ratio(r.cpuPerFrame(), ref.cpuPerFrame()), ref.cpuPerFrame(), r.cpuPerFrame())
				case refErr != "":
					refCell = refErr
				}
			}
			// Distinct frames only prove that frames are not repeats: an
			// encoder may leave the sample point unchanged now and then.
			rows = append(rows, row{name, r.String(), refCell, verdict(target, r.fps >= 0.95*want && r.distinct >= 0.75*r.fps)})
		}
	}
	still, err := benchStill(ctx, bin, dir, window, withRef)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(os.Stderr, "bench: still page: %v\n", err)
		still = row{stillName, "could not run: " + firstLine(err.Error()), "", "**error**"}
	}
	return append(rows, still), nil
}

const stillName = "Still page, 1280x720@30 vp8, 1 viewer: fps received / neko CPU / RSS"

// benchStill measures what a page that does not change costs: the
// reference encodes every frame anyway; ours sends a few a second.
func benchStill(ctx context.Context, bin, dir string, window time.Duration, withRef bool) (row, error) {
	r, err := measureFPS(ctx, bin, dir, "still", serverOpts{screen: screenMode, codec: "vp8"}, window, false)
	if err != nil {
		return row{}, err
	}
	cell := func(r *fpsResult) string {
		return fmt.Sprintf("%.1f fps / %.0f %% / %.0f MiB", r.received, r.cpu["server"], r.rssMiB)
	}
	refCell := ""
	if withRef {
		ref, err := measureFPS(ctx, bin, dir, "still-ref", serverOpts{screen: screenMode, pipeline: "ref"}, window, false)
		if err != nil {
			if ctx.Err() != nil {
				return row{}, ctx.Err()
			}
			refCell = "could not run: " + firstLine(err.Error())
		} else {
			refCell = fmt.Sprintf("%s; CPU %s", cell(ref), ratio(r.cpu["server"], ref.cpu["server"]))
		}
	}
	return row{stillName, cell(r), refCell, ""}, nil
}

// stillPage shows text and nothing that moves.
const stillPage = `<!doctype html><html><body style="margin:0;background:#f4f1ea;font:32px sans-serif"><p style="margin:200px">A page that stands still.</p></body></html>`

// modeRate is the refresh rate of a WxH@R screen mode.
func modeRate(mode string) (float64, error) {
	_, r, ok := strings.Cut(mode, "@")
	if !ok {
		return 30, nil
	}
	v, err := strconv.ParseFloat(r, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad screen mode %q", mode)
	}
	return v, nil
}

// measureFPS streams the animated page (or, not animated, the still one)
// to one viewer for window and measures the decoded and distinct frame
// rates, the received bitrate and the server's CPU and memory.
func measureFPS(ctx context.Context, bin, dir, name string, o serverOpts, window time.Duration, animated bool) (*fpsResult, error) {
	page := stillPage
	if animated {
		page = animatedPage
	}
	srv, err := startServer(ctx, bin, dir, name, dataURL(page), o)
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
	if animated {
		if err := waitAnimating(md, 10, 45*time.Second); err != nil {
			return nil, fmt.Errorf("%w; server log:\n%s", err, srv.logTail(10))
		}
	} else if _, err := firstFrame(md, 45*time.Second); err != nil {
		return nil, fmt.Errorf("%w; server log:\n%s", err, srv.logTail(10))
	}
	// Let the encoder's rate control and Chromium settle before measuring
	// (a still page: until the browser finished drawing it).
	settleFor := 2 * time.Second
	if !animated {
		settleFor = 6 * time.Second
	}
	settle := time.After(settleFor)
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
	asm0 := md.Assembled()
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
	asm1 := md.Assembled()
	after, err := sampleTree(srv.Pid())
	if err != nil {
		return nil, fmt.Errorf("proc sample: %w", err)
	}
	rss, err := statusKiB(srv.Pid(), "VmRSS")
	if err != nil {
		return nil, fmt.Errorf("server RSS: %w", err)
	}
	r := &fpsResult{
		fps:      float64(frames1-frames0) / elapsed,
		received: float64(asm1-asm0) / elapsed,
		distinct: float64(distinct) / elapsed,
		maxGap:   maxGap,
		kbps:     float64(bytes1-bytes0) * 8 / elapsed / 1000,
		cpu:      cpuUsage(before, after),
		rssMiB:   float64(rss) / 1024,
		pssMiB:   float64(treePSSKiB(after)) / 1024,
	}
	logf("%s: %s; longest gap %s; desktop CPU Xorg %.0f / Chromium %.0f / PulseAudio %.0f / other %.0f %%; tree PSS %.0f MiB",
		name, r, ms(maxGap), r.cpu["Xorg"], r.cpu["Chromium"], r.cpu["PulseAudio"], r.cpu["other"], r.pssMiB)
	return r, nil
}
