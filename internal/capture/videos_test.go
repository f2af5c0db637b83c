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
