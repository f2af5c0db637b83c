package integration

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/netns"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// estimatorQualities: a full-size quality the limited link cannot carry
// and a small one it can (with noise on screen, CBR encoders run at their
// targets).
var estimatorQualities = map[string]any{
	"capture.video.ids": []string{"hq", "lq"},
	"capture.video.pipelines": `{
		"hq": {"gst_encoder": "vp8enc", "gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr",
			"target-bitrate": 2500000, "lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}},
		"lq": {"width": "width / 4", "height": "height / 4", "gst_encoder": "vp8enc",
			"gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr", "target-bitrate": 300000,
			"lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}}
	}`,
	"webrtc.estimator.enabled": true,
	// Quicker than the defaults, so that the test takes seconds; the
	// behaviour is the same.
	"webrtc.estimator.read_interval":     "250ms",
	"webrtc.estimator.stable_duration":   "3s",
	"webrtc.estimator.unstable_duration": "1s",
	"webrtc.estimator.stalled_duration":  "4s",
	"webrtc.estimator.downgrade_backoff": "2s",
	"webrtc.estimator.upgrade_backoff":   "2s",
	// What a laptop-on-the-LAN client would say in its config: the
	// limited link must not matter.
	"webrtc.nat1to1": []string{},
}

// noisyStackOnLink starts a stack whose media goes over a netns link and
// paints noise on its screen (30 fps, 480x270) until the test ends. ctx
// bounds the test.
func noisyStackOnLink(t *testing.T, opts map[string]any, timeout time.Duration) (*netns.Link, *stack.Stack, context.Context) {
	t.Helper()
	// First, so that its cleanup runs after the stack's and the viewers'.
	link := netns.New(t)
	s := stack.StartWith(t, opts, stack.Extra{Net: link.ServerNet()})
	paint, err := stack.NewPainter(s.Display, 30, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	noise := make(chan error, 1)
	go func() { noise <- paint.Noise(ctx, 0, 0, 480, 270, 30) }()
	// Registered after the stack's: runs before it stops.
	t.Cleanup(func() {
		cancel()
		if err := <-noise; err != nil {
			t.Errorf("painting noise: %v", err)
		}
		paint.Close()
	})
	return link, s, ctx
}

// videoSwitches collects the signal/video events a client receives.
type videoSwitches struct {
	ch <-chan json.RawMessage
	t  *testing.T
}

// next waits for the next signal/video; ok false on timeout.
func (v videoSwitches) next(timeout time.Duration) (types.SignalVideo, bool) {
	select {
	case raw := <-v.ch:
		return decode[types.SignalVideo](v.t, raw), true
	case <-time.After(timeout):
		return types.SignalVideo{}, false
	}
}

// none fails if a signal/video arrives within d.
func (v videoSwitches) none(what string, d time.Duration) {
	v.t.Helper()
	if sv, ok := v.next(d); ok {
		v.t.Fatalf("%s: the viewer was switched to %+v", what, sv)
	}
}

// TestEstimatorFollowsLimitedLink: a viewer with "auto" video watches
// through a real link between two network namespaces. When tc limits the
// link below the full quality, the bandwidth estimator moves the viewer to
// the small quality within seconds; when the limit goes, a probe shows the
// path is free again and the viewer goes back up. The viewer never goes
// more than a second without a decodable frame.
func TestEstimatorFollowsLimitedLink(t *testing.T) {
	link, s, ctx := noisyStackOnLink(t, estimatorQualities, 150*time.Second)

	c := login(t, s, "auto", "neko")
	switches := videoSwitches{ch: c.Subscribe(types.EventSignalVideo), t: t}
	auto := true
	md, err := c.StartMediaWith(ctx, viewer.MediaOptions{
		Net:     link.ClientNet(),
		Request: types.SignalRequest{Video: types.SignalVideoRequest{Auto: &auto}},
		Decode:  viewer.DecodeNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if v := md.Provide.Video; v.ID != "hq" || !v.Auto {
		t.Fatalf("signal/provide video = %+v, want hq with auto", v)
	}
	if sv, ok := switches.next(5 * time.Second); !ok || sv.ID != "hq" || !sv.Auto {
		t.Fatalf("first signal/video = %+v (%v), want hq with auto", sv, ok)
	}
	waitAssembled(t, md, 30, 20*time.Second)

	// A free path: the estimate ramps up from its initial 1 Mbit/s past
	// the stream's 2.5 Mbit/s, and the viewer stays where it is.
	md.ResetFreeze()
	switches.none("free path", 8*time.Second)
	if f := md.MaxFreeze(); f > time.Second {
		t.Fatalf("the viewer froze for %v on a free path", f)
	}

	// A link of 1 Mbit/s with a 200 ms buffer, like a slow uplink.
	limited := time.Now()
	if err := link.Limit(1000, 10<<10, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sv, ok := switches.next(15 * time.Second)
	if !ok || sv.ID != "lq" || !sv.Auto {
		t.Fatalf("after limiting the link: signal/video %+v (%v), want lq with auto", sv, ok)
	}
	down := time.Since(limited)
	t.Logf("moved down %v after the limit", down.Round(10*time.Millisecond))
	// It stays down while the limit holds (probes may fail, they must
	// not move it up).
	switches.none("limited link", 12*time.Second)
	if st, err := link.QdiscStats(); err == nil {
		t.Logf("qdisc while limited: %s", st)
	}

	t.Logf("longest time without a decodable frame so far: %v, ended %v after the limit",
		md.MaxFreeze().Round(time.Millisecond), md.FreezeEnd().Sub(limited).Round(10*time.Millisecond))
	unlimited := time.Now()
	if err := link.Unlimit(); err != nil {
		t.Fatal(err)
	}
	sv, ok = switches.next(45 * time.Second)
	if !ok || sv.ID != "hq" || !sv.Auto {
		t.Fatalf("after lifting the limit: signal/video %+v (%v), want hq with auto", sv, ok)
	}
	t.Logf("moved up %v after the limit was lifted", time.Since(unlimited).Round(10*time.Millisecond))
	waitAssembled(t, md, 30, 10*time.Second)
	freeze := md.MaxFreeze()
	t.Logf("longest time without a decodable frame, free, limited and freed again: %v", freeze.Round(time.Millisecond))
	if freeze > time.Second {
		t.Fatalf("the viewer froze for %v (want at most 1s)", freeze)
	}
}

// waitAssembled waits for n more complete video frames.
func waitAssembled(t *testing.T, md *viewer.Media, n int64, timeout time.Duration) {
	t.Helper()
	target := md.Assembled() + n
	deadline := time.Now().Add(timeout)
	for md.Assembled() < target {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames in %v", md.Assembled()-target+n, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowViewerOnLimitedLink: two viewers watch the same quality over
// the namespaces' link; tc gives one of them (its flow, by the server's
// port) 400 kbit/s for a 2.5 Mbit/s stream. The other one keeps getting
// every frame, decodable, at full rate: a viewer that cannot keep up costs
// the others nothing.
func TestSlowViewerOnLimitedLink(t *testing.T) {
	opts := maps.Clone(estimatorQualities)
	opts["webrtc.estimator.enabled"] = false
	link, s, ctx := noisyStackOnLink(t, opts, 90*time.Second)

	start := func(name string) *viewer.Media {
		c := login(t, s, name, "neko")
		md, err := c.StartMediaWith(ctx, viewer.MediaOptions{Net: link.ClientNet(), Decode: viewer.DecodeNone})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(md.Close)
		waitAssembled(t, md, 30, 20*time.Second)
		return md
	}
	fast, slow := start("fast"), start("slow")

	// Only the slow viewer's flow goes through the limit: htb on S's
	// veth, its server-side port selects the class.
	_, remote, err := slow.SelectedPair()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(remote, ":")
	dev := link.ServerDev()
	for _, args := range [][]string{
		{"qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "10"},
		{"class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit"},
		{"class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "400kbit", "ceil", "400kbit"},
		{"qdisc", "add", "dev", dev, "parent", "1:20", "bfifo", "limit", "20000"},
		{"filter", "add", "dev", dev, "protocol", "ip", "parent", "1:", "prio", "1", "u32",
			"match", "ip", "sport", port, "0xffff", "flowid", "1:20"},
	} {
		if out, err := link.InServer("tc", args...); err != nil {
			t.Fatalf("tc %v: %v: %s", args, err, out)
		}
	}

	fast.ResetFreeze()
	slowBefore, fastBefore, fastLost := slow.Assembled(), fast.Assembled(), fast.Lost()
	const window = 6 * time.Second
	time.Sleep(window)
	fastFrames, slowFrames := fast.Assembled()-fastBefore, slow.Assembled()-slowBefore
	t.Logf("in %v: fast viewer %d frames (lost %d packets, longest gap %v), slow viewer %d frames",
		window, fastFrames, fast.Lost()-fastLost, fast.MaxFreeze().Round(time.Millisecond), slowFrames)
	if st, err := link.InServer("tc", "-s", "class", "show", "dev", dev); err == nil {
		t.Logf("tc classes:\n%s", st)
	}
	// 30 fps less scheduling noise on a loaded machine (lost packets and
	// freezes, checked below, are what a stalled fan-out would cause).
	if fastFrames < int64(window.Seconds()*20) {
		t.Errorf("the fast viewer got %d frames in %v", fastFrames, window)
	}
	if f := fast.MaxFreeze(); f > time.Second {
		t.Errorf("the fast viewer froze for %v", f)
	}
	if n := fast.Lost() - fastLost; n > 0 {
		t.Errorf("the fast viewer lost %d packets", n)
	}
	if slowFrames >= fastFrames {
		t.Errorf("the limit did not slow the slow viewer down (%d frames vs %d)", slowFrames, fastFrames)
	}
}
