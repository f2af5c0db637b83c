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

// benchLatency measures input-to-photon latency: from sending
// control/keydown on the WebSocket to the first decoded frame that shows
// the page's new colour.
func benchLatency(ctx context.Context, bin, dir string, presses int, spacing time.Duration) ([]row, error) {
	srv, err := startServer(ctx, bin, dir, "latency", dataURL(keyPage))
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

	// One unmeasured press proves the page reacts (has focus).
	if _, err := press(ctx, c, md, colourB, 5*time.Second); err != nil {
		return nil, fmt.Errorf("the page did not react to a key press (no focus?): %w", err)
	}
	state := colourB
	time.Sleep(spacing)

	var times []time.Duration
	misses := 0
	for range presses {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		next := colourA
		if state == colourA {
			next = colourB
		}
		start := time.Now()
		d, err := press(ctx, c, md, next, 2*time.Second)
		switch {
		case err == nil:
			logf("press %d: %s", len(times)+misses+1, ms(d))
			times = append(times, d)
			state = next
		default:
			// A lost press: find out which colour shows now and go on.
			misses++
			logf("press %d: %v", len(times)+misses, err)
			if f, err := firstFrame(md, time.Second); err == nil && colourNear(f, colourB, colourTol) {
				state = colourB
			} else {
				state = colourA
			}
		}
		// Jitter the spacing by up to one capture interval: a fixed
		// spacing that is a multiple of the 33 ms tick (300 ms is 9) keeps
		// every press at nearly the same capture phase, so the samples
		// would drift together instead of covering the tick.
		jitter := time.Duration(rand.Int64N(int64(time.Second / captureFPS)))
		if rest := spacing + jitter - time.Since(start); rest > 0 {
			time.Sleep(rest)
		}
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("no key press was seen in %d tries", presses)
	}
	s := summarize(times)
	name := fmt.Sprintf("Input-to-photon latency (n=%d) p50 / p95 / max", len(times))
	value := s.String()
	if misses > 0 {
		value += fmt.Sprintf(" (%d presses lost)", misses)
	}
	return []row{
		{name, value, "p50 ≤ 126 ms (reference: 80–126)", verdict(s.p50 <= 126*time.Millisecond && misses == 0)},
	}, nil
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

// press sends keydown+keyup for 'a' and returns the time from sending the
// keydown to the first decoded frame showing want.
func press(ctx context.Context, c *viewer.Client, md *viewer.Media, want rgb, timeout time.Duration) (time.Duration, error) {
	drainFrames(md)
	key := types.ControlKey{Keysym: keyA}
	sent := time.Now()
	if err := c.Send(ctx, types.EventControlKeyDown, key); err != nil {
		return 0, fmt.Errorf("keydown: %w", err)
	}
	// Release at once: a key held past the autorepeat delay would repeat.
	if err := c.Send(ctx, types.EventControlKeyUp, key); err != nil {
		return 0, fmt.Errorf("keyup: %w", err)
	}
	deadline := time.After(timeout)
	for {
		select {
		case f := <-md.Frames():
			if f.At.After(sent) && colourNear(f, want, colourTol) {
				return f.At.Sub(sent), nil
			}
		case <-deadline:
			return 0, fmt.Errorf("colour %v not seen within %v", want, timeout)
		}
	}
}
