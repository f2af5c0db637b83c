package capture

import (
	"strings"
	"testing"

	"github.com/neko-webrtc/neko/internal/config"
)

func TestNewVideos(t *testing.T) {
	// Default: one quality "main" for every codec with an encoder here.
	for _, codec := range []string{"vp8", "vp9", "h264", "av1", "h265"} {
		v, err := NewVideos(VideoOptions{Config: config.Capture{VideoCodec: codec, VideoIDs: []string{"main"}}, Display: ":99"})
		if err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		if len(v.Streams()) != 1 || v.Streams()[0].ID() != "main" {
			t.Fatalf("%s: streams %v", codec, v.Streams())
		}
		if v.Streams()[0].Running() {
			t.Fatal("a pipeline runs before any viewer")
		}
	}

	cfg := config.Capture{VideoCodec: "vp8", VideoIDs: []string{"hq", "lq"}, VideoPipelines: map[string]config.VideoPipeline{
		"hq": {GstEncoder: "vp8enc"},
		"lq": {GstEncoder: "vp8enc", Width: "width / 2", Height: "height / 2"},
	}}
	v, err := NewVideos(VideoOptions{Config: cfg, Display: ":99"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := []string{v.Streams()[0].ID(), v.Streams()[1].ID()}; ids[0] != "hq" || ids[1] != "lq" {
		t.Fatalf("order %v", ids)
	}
	if _, ok := v.Get("lq"); !ok {
		t.Fatal("Get lq")
	}

	cfg.VideoPipelines["lq"] = config.VideoPipeline{GstEncoder: "nosuchenc"}
	if _, err := NewVideos(VideoOptions{Config: cfg, Display: ":99"}); err == nil || !strings.Contains(err.Error(), `"lq"`) {
		t.Fatalf("missing encoder: %v", err)
	}
}

// TestVideosV2Rate: the v2 options max_fps and video_bitrate shape the
// default pipeline.
func TestVideosV2Rate(t *testing.T) {
	v, err := NewVideos(VideoOptions{Config: config.Capture{VideoCodec: "vp8", VideoIDs: []string{"main"}}, Display: ":99",
		Screen: func() Screen { return Screen{Width: 640, Height: 360, Rate: 60} }, MaxFPS: 25, BitrateKbps: 1500})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := v.Streams()[0].build()
	if err != nil {
		t.Fatal(err)
	}
	if spec.feed == nil || spec.feed.FPS != 25 || !strings.Contains(spec.desc, "target-bitrate=1500000") {
		t.Fatalf("pipeline %q feed %+v", spec.desc, spec.feed)
	}
	if d, err := AudioPipeline(AudioParams{Codec: "opus", BitrateKbps: 64}); err != nil || !strings.Contains(d, "bitrate=64000") {
		t.Fatalf("audio %q %v", d, err)
	}
}
