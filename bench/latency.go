package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/viewer"
)

// The key page's two colours: far apart on every channel, so no frame
// can be mistaken for the other colour.
var (
	colourA = rgb{230, 220, 40} // yellow
	colourB = rgb{30, 40, 200}  // blue
)

// keyPage is a solid colour that flips between colourA and colourB on
// every keydown. Repeats are ignored: a key held a little long must not
// flip it twice.
var keyPage = `<!doctype html>
<html><head><style>html,body{margin:0;height:100%;overflow:hidden;cursor:none}</style></head>
<body style="background:` + colourA.css() + `"><script>
let b = false;
document.addEventListener('keydown', e => {
  if (e.repeat) return;
  b = !b;
  document.body.style.background = b ? '` + colourB.css() + `' : '` + colourA.css() + `';
});
</script></body></html>`

// colourTol is the per-channel tolerance for recognising a colour after
// VP8 and scaling.
const colourTol = 50

// keysym 0x61 is 'a'.
const keyA = 0x61

// latencyResult is one server's latency samples, per input path
// ("data channel", "WebSocket").
type latencyResult struct {
	decoded, complete map[string][]time.Duration
	decode            []time.Duration // the viewer's decode of the frames that showed a change
	lost              map[string]int
}

// Input paths, in the order presses alternate between them.
var inputPaths = []string{"data channel", "WebSocket"}

// benchLatency measures input-to-photon latency with our pipeline and,
// unless skipped, with the reference's settings, each on its own server.
func benchLatency(ctx context.Context, bin, dir string, presses int, spacing time.Duration, withRef bool) ([]row, error) {
	o, err := measureLatency(ctx, bin, dir, "latency", ours, presses, spacing)
	if err != nil {
		return nil, err
	}
	var r *latencyResult
	if withRef {
		if r, err = measureLatency(ctx, bin, dir, "latency-ref", reference, presses, spacing); err != nil {
			return nil, fmt.Errorf("reference settings: %w", err)
		}
	}
	cell := func(res *latencyResult, samples func(*latencyResult) []time.Duration, path string) string {
		if res == nil {
			return ""
		}
		v := samples(res)
		if len(v) == 0 {
			return "no samples"
		}
		out := summarize(v).String()
		if n := res.lost[path]; n > 0 {
			out += fmt.Sprintf(" (%d presses lost)", n)
		}
		return out
	}
	const target = "p50 ≤ 50 ms, p95 ≤ 80 ms"
	met := func(v []time.Duration, lost int) bool {
		s := summarize(v)
		return len(v) > 0 && lost == 0 && s.p50 <= 50*time.Millisecond && s.p95 <= 80*time.Millisecond
	}
	var rows []row
	for _, path := range inputPaths {
		dec := func(res *latencyResult) []time.Duration { return res.decoded[path] }
		cmp := func(res *latencyResult) []time.Duration { return res.complete[path] }
		rows = append(rows,
			row{fmt.Sprintf("Key press → first decoded frame showing it, %s (n=%d) p50 / p95 / max", path, len(o.decoded[path])),
				cell(o, dec, path), cell(r, dec, path), verdict(target, met(o.decoded[path], o.lost[path]))},
			row{fmt.Sprintf("… the same minus the viewer's decode (frame complete), %s", path),
				cell(o, cmp, path), cell(r, cmp, path), verdict(target, met(o.complete[path], o.lost[path]))},
		)
	}
	decodeCell := func(res *latencyResult) string {
		if res == nil {
			return ""
		}
		return summarize(res.decode).String()
	}
	rows = append(rows, row{"Viewer decode per frame (VP8 " + screenMode + " → 64x36 RGB) p50 / p95 / max", decodeCell(o), decodeCell(r), ""})
	return rows, nil
}

// measureLatency runs one key-page server: presses key presses on each
// input path, alternating between them so both see the same conditions.
func measureLatency(ctx context.Context, bin, dir, name string, opts serverOpts, presses int, spacing time.Duration) (*latencyResult, error) {
	srv, err := startServer(ctx, bin, dir, name, dataURL(keyPage), opts)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()

	c, err := join(ctx, srv.URL, "driver", adminPassword)
	if err != nil {
		return nil, err
	}
	md, err := startMedia(ctx, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	defer leave(c, md)
	if _, err := md.WaitColour(sampleX, sampleY, colourA.r, colourA.g, colourA.b, colourTol, 45*time.Second); err != nil {
		return nil, fmt.Errorf("key page not shown: %w; server log:\n%s", err, srv.logTail(10))
	}
	dc, err := openDataChannel(md, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := takeControl(ctx, c); err != nil {
		return nil, err
	}
	// Click the page once so Chromium's document has keyboard focus
	// (away from the screen centre, as everywhere else).
	x, y := 1280/4, 720/4
	if err := c.Send(ctx, types.EventControlButtonPress, types.ControlButton{Code: 1, X: &x, Y: &y}); err != nil {
		return nil, fmt.Errorf("click: %w", err)
	}
	time.Sleep(300 * time.Millisecond)

	send := map[string]func() error{
		"WebSocket": func() error {
			key := types.ControlKey{Keysym: keyA}
			if err := c.Send(ctx, types.EventControlKeyDown, key); err != nil {
				return fmt.Errorf("keydown: %w", err)
			}
			// Release at once: a key held past the autorepeat delay would
			// repeat.
			return c.Send(ctx, types.EventControlKeyUp, key)
		},
		"data channel": func() error {
			if err := dc.Send(keyMessage(true, keyA)); err != nil {
				return fmt.Errorf("key down: %w", err)
			}
			return dc.Send(keyMessage(false, keyA))
		},
	}

	// One unmeasured press on each path proves the page reacts (has focus)
	// and the path works.
	state := colourA
	for _, path := range inputPaths {
		next := colourB
		if state == colourB {
			next = colourA
		}
		if _, _, err := press(send[path], md, next, 5*time.Second); err != nil {
			return nil, fmt.Errorf("the page did not react to a key press over the %s (no focus?): %w", path, err)
		}
		state = next
		time.Sleep(spacing)
	}

	res := &latencyResult{decoded: map[string][]time.Duration{}, complete: map[string][]time.Duration{}, lost: map[string]int{}}
	for i := range presses * len(inputPaths) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		path := inputPaths[i%len(inputPaths)]
		next := colourA
		if state == colourA {
			next = colourB
		}
		start := time.Now()
		f, sent, err := press(send[path], md, next, 2*time.Second)
		switch {
		case err == nil:
			d := f.At.Sub(sent)
			logf("%s %s press %d: %s (complete %s, decode %s)", name, path, i/len(inputPaths)+1, ms(d), ms(f.Arrived.Sub(sent)), ms(f.Decode))
			res.decoded[path] = append(res.decoded[path], d)
			res.complete[path] = append(res.complete[path], f.Arrived.Sub(sent))
			res.decode = append(res.decode, f.Decode)
			state = next
		default:
			// A lost press: find out which colour shows now and go on.
			res.lost[path]++
			logf("%s %s press %d: %v", name, path, i/len(inputPaths)+1, err)
			if f, err := firstFrame(md, time.Second); err == nil && colourNear(f, colourB, colourTol) {
				state = colourB
			} else {
				state = colourA
			}
		}
		// Jitter the spacing by up to one capture interval (25 or 30 fps):
		// a fixed spacing that is a multiple of the tick (300 ms is 9 at
		// 30 fps) keeps every press at nearly the same capture phase, so
		// the samples would drift together instead of covering the tick.
		jitter := time.Duration(rand.Int64N(int64(time.Second / 25)))
		if rest := spacing + jitter - time.Since(start); rest > 0 {
			time.Sleep(rest)
		}
	}
	return res, nil
}

// takeControl asks for control and waits until the server names this
// session host.
func takeControl(ctx context.Context, c *viewer.Client) error {
	hosts := c.Subscribe(types.EventControlHost)
	if err := c.Send(ctx, types.EventControlRequest, nil); err != nil {
		return fmt.Errorf("control/request: %w", err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case raw := <-hosts:
			var h types.ControlHost
			if json.Unmarshal(raw, &h) == nil && h.HasHost && (h.HostID == c.SessionID || h.ID == c.SessionID) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("control/host naming %s not received", c.SessionID)
		}
	}
}

// press sends a key press with send and returns the first decoded frame
// showing want (its At is when it was decoded, its Arrived when it was
// complete) and when the key down was sent.
func press(send func() error, md *viewer.Media, want rgb, timeout time.Duration) (f viewer.Frame, sent time.Time, err error) {
	drainFrames(md)
	sent = time.Now()
	if err := send(); err != nil {
		return f, sent, err
	}
	deadline := time.After(timeout)
	for {
		select {
		case f = <-md.Frames():
			if f.At.After(sent) && colourNear(f, want, colourTol) {
				return f, sent, nil
			}
		case <-deadline:
			return viewer.Frame{}, sent, fmt.Errorf("colour %v not seen within %v", want, timeout)
		}
	}
}
