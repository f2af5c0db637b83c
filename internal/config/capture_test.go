package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCaptureDefaultQuality(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Capture.VideoIDs, []string{"main"}) || len(c.Capture.VideoPipelines) != 0 {
		t.Fatalf("default qualities: ids %v pipelines %v", c.Capture.VideoIDs, c.Capture.VideoPipelines)
	}
}

func TestCapturePipelinesYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "neko.yaml")
	yaml := `
capture:
  video:
    codec: vp8
    ids: [ hq, lq ]
    pipelines:
      hq:
        fps: 25
        gst_encoder: vp8enc
        gst_params:
          target-bitrate: round(3072 * 650)
          cpu-used: 4
          end-usage: cbr
      lq:
        width: (width / 3) * 2
        height: (height / 3) * 2
        gst_encoder: vp8enc
        show_pointer: true
        gst_params:
          deadline: 1
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Capture.VideoIDs, []string{"hq", "lq"}) {
		t.Fatalf("ids %v", c.Capture.VideoIDs)
	}
	hq := c.Capture.VideoPipelines["hq"]
	want := VideoPipeline{FPS: "25", GstEncoder: "vp8enc", GstParams: map[string]string{
		"target-bitrate": "round(3072 * 650)", "cpu-used": "4", "end-usage": "cbr"}}
	if !reflect.DeepEqual(hq, want) {
		t.Fatalf("hq = %+v", hq)
	}
	lq := c.Capture.VideoPipelines["lq"]
	if lq.Width != "(width / 3) * 2" || !lq.ShowPointer || lq.GstParams["deadline"] != "1" {
		t.Fatalf("lq = %+v", lq)
	}
}

func TestCapturePipelinesEnvJSON(t *testing.T) {
	c, err := load(t, nil, map[string]string{
		"NEKO_CAPTURE_VIDEO_PIPELINES": `{"b": {"gst_pipeline": "ximagesrc display-name={display} ! vp8enc ! appsink name=appsink"}, "a": {"gst_encoder": "vp8enc", "fps": 10.5}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without capture.video.ids the ids are sorted.
	if !reflect.DeepEqual(c.Capture.VideoIDs, []string{"a", "b"}) {
		t.Fatalf("ids %v", c.Capture.VideoIDs)
	}
	if c.Capture.VideoPipelines["a"].FPS != "10.5" || !strings.HasPrefix(c.Capture.VideoPipelines["b"].GstPipeline, "ximagesrc") {
		t.Fatalf("pipelines %+v", c.Capture.VideoPipelines)
	}
}

func TestCapturePipelinesErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"bad json":      {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": `},
		"not an object": {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": 5}`},
		"unknown field": {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": {"gst_encoder": "vp8enc", "colour": "red"}}`},
		"no encoder":    {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": {"fps": "30"}}`},
		"unknown id":    {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": {"gst_encoder": "vp8enc"}}`, "NEKO_CAPTURE_VIDEO_IDS": "a,b"},
		"duplicate id":  {"NEKO_CAPTURE_VIDEO_PIPELINES": `{"a": {"gst_encoder": "vp8enc"}}`, "NEKO_CAPTURE_VIDEO_IDS": "a,a"},
		"bad codec":     {"NEKO_CAPTURE_VIDEO_CODEC": "theora"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, nil, env); err == nil {
				t.Error("no error")
			} else if !strings.Contains(err.Error(), "capture.") {
				t.Errorf("error does not name the option: %v", err)
			}
		})
	}
}
