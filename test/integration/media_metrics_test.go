package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// scrape reads /metrics into a map from series (name{labels} as the
// text format writes it) to value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMediaMetrics: while a viewer with the bandwidth estimator watches,
// /metrics has its quality's encoder output and viewer count, and its
// peer's traffic, estimate and round-trip time.
func TestMediaMetrics(t *testing.T) {
	s := stack.Start(t, map[string]any{"webrtc.estimator.enabled": true})
	paint, err := stack.NewPainter(s.Display, 40, 160, 90)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()

	c := login(t, s, "viewer", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auto := true
	md, err := c.StartMediaWith(ctx, viewer.MediaOptions{Request: types.SignalRequest{Video: types.SignalVideoRequest{Auto: &auto}}})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	video := md.Provide.Video
	if video.ID == "" || video.Disabled || !video.Auto {
		t.Fatalf("signal/provide video = %+v, want an automatic quality", video)
	}
	if err := md.WaitFrames(60, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	q := fmt.Sprintf("{video_id=%q}", video.ID)
	p := fmt.Sprintf("{session_id=%q}", c.SessionID)
	// The rates are measured over one-second windows, and the peer's
	// round-trip time once the ICE checks (or receiver reports) give one:
	// wait for them, a bounded while.
	var m map[string]float64
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		m = scrape(t, s.URL)
		missing = missing[:0]
		for _, name := range []string{
			"neko_video_frames_total" + q, "neko_video_bytes_total" + q, "neko_video_keyframes_total" + q,
			"neko_video_bitrate_bits" + q, "neko_video_fps" + q,
			"neko_webrtc_sent_bytes_total" + p, "neko_webrtc_estimated_bitrate_bits" + p, "neko_webrtc_rtt_seconds" + p,
			"neko_video_encoder_latency_seconds" + q,
		} {
			if m[name] <= 0 {
				missing = append(missing, name)
			}
		}
		// Loss is reported once the viewer's first reception report
		// came (pion sends one a second); 0 is a value.
		if _, ok := m["neko_webrtc_packets_lost"+p]; !ok {
			missing = append(missing, "neko_webrtc_packets_lost"+p)
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("not in /metrics (or not positive) after 10s: %v", missing)
	}
	if v, ok := m["neko_video_viewers"+q]; !ok || v != 1 {
		t.Errorf("neko_video_viewers%s = %v (present %v), want 1", q, v, ok)
	}
	if v, ok := m["neko_video_queued_samples"+q]; !ok || v < 0 {
		t.Errorf("neko_video_queued_samples%s = %v (present %v)", q, v, ok)
	}
	// The appsrc keeps at most two frames.
	if v, ok := m["neko_video_encoder_queue_frames"+q]; !ok || v < 0 || v > 2 {
		t.Errorf("neko_video_encoder_queue_frames%s = %v (present %v), want 0 to 2", q, v, ok)
	}
	// A running time, not a clock time: seconds since the pipeline
	// started would be a wrong base (this is no speed check).
	if v := m["neko_video_encoder_latency_seconds"+q]; v > 10 {
		t.Errorf("neko_video_encoder_latency_seconds%s = %v: not a frame's time in the pipeline", q, v)
	}
	for _, name := range []string{"neko_webrtc_dropped_samples_total", "neko_webrtc_padding_packets_total"} {
		if _, ok := m[name+p]; !ok {
			t.Errorf("/metrics has no %s%s", name, p)
		}
	}
	if m["neko_video_keyframes_total"+q] > m["neko_video_frames_total"+q] {
		t.Errorf("more keyframes (%v) than frames (%v)", m["neko_video_keyframes_total"+q], m["neko_video_frames_total"+q])
	}
	t.Logf("%s: %.0f frames, %.1f fps, %.0f bit/s, encoder latency %.1f ms; peer: %.0f bytes sent, estimate %.0f bit/s, rtt %.2f ms",
		video.ID, m["neko_video_frames_total"+q], m["neko_video_fps"+q], m["neko_video_bitrate_bits"+q], m["neko_video_encoder_latency_seconds"+q]*1000,
		m["neko_webrtc_sent_bytes_total"+p], m["neko_webrtc_estimated_bitrate_bits"+p], m["neko_webrtc_rtt_seconds"+p]*1000)
	for _, name := range []string{"neko_webrtc_fraction_lost", "neko_webrtc_nacks_total", "neko_webrtc_plis_total"} {
		if _, ok := m[name+p]; !ok {
			t.Errorf("/metrics has no %s%s beside the packets lost", name, p)
		}
	}
	t.Logf("from the viewer's RTCP: %v packets lost, %v NACKs, %v PLIs",
		m["neko_webrtc_packets_lost"+p], m["neko_webrtc_nacks_total"+p], m["neko_webrtc_plis_total"+p])

	// The peer goes with the viewer's connection; the quality stays,
	// with no viewer.
	md.Close()
	c.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		m = scrape(t, s.URL)
		_, peer := m["neko_webrtc_sent_bytes_total"+p]
		if !peer && m["neko_video_viewers"+q] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the viewer left: peer listed %v, %v viewers", peer, m["neko_video_viewers"+q])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m["neko_video_frames_total"+q] <= 0 {
		t.Fatalf("neko_video_frames_total%s gone after the viewer left", q)
	}
}
