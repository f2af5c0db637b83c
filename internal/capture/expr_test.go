package capture

import (
	"strings"
	"testing"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/internal/config"
)

var screen720 = map[string]float64{"width": 1280, "height": 720, "fps": 30}

func TestEvalExpr(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"25", "25"},
		{"round(3072 * 650)", "1996800"},
		{"(3072 * 4)", "12288"},
		{"(width / 3) * 2", "853.3333333333334"},
		{"round((width / 3) * 2)", "853"},
		{"height / 2", "360"},
		{"fps * 2 - 10", "50"},
		{"-width + 1", "-1279"},
		{"min(width, 1920, 800)", "800"},
		{"max(height, 1080)", "1080"},
		{"floor(7 / 2) + ceil(0.2) + abs(-1)", "5"},
		{"10 % 4", "2"},
		{"true", "true"},
		{`"zero" + "latency"`, "zerolatency"},
		{"1.5e3", "1500"},
	}
	for _, tt := range tests {
		v, err := evalExpr(tt.src, screen720)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got := formatValue(v); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.src, got, tt.want)
		}
	}
	for _, bad := range []string{"", "1 +", "(1", "round(1, 2)", "nope(1)", "width /", "1 / 0", "cbr", "video/x-raw", "2 3", "'open"} {
		if _, err := evalExpr(bad, screen720); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParamValue(t *testing.T) {
	for src, want := range map[string]string{
		"cbr":                  "cbr",
		"zerolatency":          "zerolatency",
		"round(1024 * 650)":    "665600",
		"true":                 "true",
		" 4 ":                  "4",
		"video/x-raw":          "video/x-raw",
		"width * height / 100": "9216",
	} {
		if got := paramValue(src, screen720); got != want {
			t.Errorf("%q = %q, want %q", src, got, want)
		}
	}
}

func TestQualityPipeline(t *testing.T) {
	q := config.VideoPipeline{
		Width: "(width / 3) * 2", Height: "(height / 3) * 2", FPS: "20",
		GstPrefix: "! video/x-raw,format=I420", GstEncoder: "x264enc",
		GstParams: map[string]string{"threads": "4", "bitrate": "4096", "key-int-max": "15", "byte-stream": "true", "tune": "zerolatency", "speed-preset": "veryfast"},
		GstSuffix: "! video/x-h264,stream-format=byte-stream",
	}
	got, feed, err := QualityPipeline(q, ":5", Screen{Width: 1280, Height: 720, Rate: 30})
	if err != nil {
		t.Fatal(err)
	}
	if feed == nil || *feed != (Feed{Width: 1280, Height: 720, FPS: 20}) {
		t.Fatalf("feed %+v", feed)
	}
	want := "appsrc name=src is-live=true format=time do-timestamp=true max-buffers=2 max-bytes=0 leaky-type=downstream" +
		" caps=video/x-raw,format=BGRx,width=1280,height=720,framerate=2000/100 ! videoconvert" +
		" ! videoscale ! capsfilter caps=video/x-raw,width=852,height=480 ! video/x-raw,format=I420" +
		" ! x264enc name=encoder bitrate=4096 byte-stream=true key-int-max=15 speed-preset=veryfast threads=4 tune=zerolatency" +
		" ! video/x-h264,stream-format=byte-stream ! appsink name=appsink sync=false"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if err := gst.Check(got); err != nil {
		t.Fatal(err)
	}

	// No fps: the screen's rate; no format in the prefix: I420 is forced.
	got, feed, err = QualityPipeline(config.VideoPipeline{GstEncoder: "vp8enc", ShowPointer: true,
		GstParams: map[string]string{"target-bitrate": "round(3072 * 650)"}}, ":1", Screen{Width: 1920, Height: 1080, Rate: 60})
	if err != nil {
		t.Fatal(err)
	}
	if feed == nil || !feed.Pointer || feed.FPS != 60 || !strings.Contains(got, "framerate=6000/100") ||
		!strings.Contains(got, "capsfilter caps=video/x-raw,format=I420 ! vp8enc name=encoder target-bitrate=1996800 ! appsink") {
		t.Fatalf("got %s", got)
	}

	got, feed, err = QualityPipeline(config.VideoPipeline{GstPipeline: "ximagesrc display-name={display} ! vp8enc ! appsink name=appsink"}, ":3", Screen{})
	if err != nil || got != "ximagesrc display-name=:3 ! vp8enc ! appsink name=appsink" || feed != nil {
		t.Fatalf("gst_pipeline: %q %v %v", got, feed, err)
	}

	for name, q := range map[string]config.VideoPipeline{
		"bad fps":    {GstEncoder: "vp8enc", FPS: "fast"},
		"zero fps":   {GstEncoder: "vp8enc", FPS: "0"},
		"bad width":  {GstEncoder: "vp8enc", Width: "wide", Height: "10"},
		"tiny":       {GstEncoder: "vp8enc", Width: "1", Height: "1"},
		"no encoder": {FPS: "10"},
		"no appsink": {GstPipeline: "ximagesrc ! fakesink"},
	} {
		if _, _, err := QualityPipeline(q, ":1", Screen{Width: 1280, Height: 720, Rate: 30}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzEvalExpr(f *testing.F) {
	for _, s := range []string{"round(width*0.5)", "(1+2)*3", "'a'+'b'", "max(1,2,3)", "-(-1)", "1e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = evalExpr(s, screen720)
		_ = paramValue(s, screen720)
	})
}
