package capture

import (
	"fmt"
	"strings"
)

// VideoParams describe a generated video pipeline.
type VideoParams struct {
	Display     string
	Codec       string
	FPS         int
	BitrateKbps int
	// ShowPointer draws the cursor into the video. Clients that draw the
	// cursor themselves from the data channel don't need it.
	ShowPointer bool
}

// VideoPipeline returns the default low-latency pipeline for p. The
// settings come from measurements on a 2-core machine (docs/performance.md):
// single-threaded realtime encoders, no B-frames, CBR, a keyframe at least
// every four seconds, no queue that could hold more than a frame.
func VideoPipeline(p VideoParams) (string, error) {
	if p.FPS <= 0 {
		p.FPS = 30
	}
	if p.BitrateKbps <= 0 {
		p.BitrateKbps = 3000
	}
	gop := p.FPS * 4
	src := fmt.Sprintf("ximagesrc display-name=%s show-pointer=%t use-damage=false ! video/x-raw,framerate=%d/1 ! videoconvert ! video/x-raw,format=I420",
		p.Display, p.ShowPointer, p.FPS)
	var enc string
	switch p.Codec {
	case "vp8":
		enc = fmt.Sprintf("vp8enc deadline=1 cpu-used=16 threads=1 end-usage=cbr target-bitrate=%d lag-in-frames=0 error-resilient=partitions keyframe-max-dist=%d buffer-size=1000 buffer-initial-size=500 buffer-optimal-size=600",
			p.BitrateKbps*1000, gop)
	case "vp9":
		enc = fmt.Sprintf("vp9enc deadline=1 cpu-used=8 row-mt=true threads=1 end-usage=cbr target-bitrate=%d lag-in-frames=0 error-resilient=default keyframe-max-dist=%d",
			p.BitrateKbps*1000, gop)
	case "h264":
		enc = fmt.Sprintf("x264enc tune=zerolatency speed-preset=ultrafast threads=1 bframes=0 key-int-max=%d bitrate=%d byte-stream=true ! video/x-h264,stream-format=byte-stream,profile=constrained-baseline",
			gop, p.BitrateKbps)
	default:
		return "", fmt.Errorf("%w: video codec %q", ErrUnsupportedCodec, p.Codec)
	}
	return src + " ! " + enc + " ! appsink name=appsink sync=false", nil
}

// AudioParams describe a generated audio pipeline.
type AudioParams struct {
	Server string // PulseAudio server; empty = the default
	Device string
	Codec  string
}

// AudioPipeline returns the default audio pipeline for p.
func AudioPipeline(p AudioParams) (string, error) {
	src := "pulsesrc"
	if p.Server != "" {
		src += " server=" + quote(p.Server)
	}
	if p.Device != "" {
		src += " device=" + quote(p.Device)
	}
	// Small PulseAudio buffers keep sound in step with the low-latency video.
	src += " buffer-time=100000 latency-time=10000 ! audioconvert ! audioresample"
	var enc string
	switch p.Codec {
	case "opus":
		enc = "audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=128000 frame-size=10"
	case "g722":
		enc = "audio/x-raw,rate=16000,channels=1 ! avenc_g722"
	case "pcmu":
		enc = "audio/x-raw,rate=8000,channels=1,format=S16LE ! mulawenc"
	case "pcma":
		enc = "audio/x-raw,rate=8000,channels=1,format=S16LE ! alawenc"
	default:
		return "", fmt.Errorf("%w: audio codec %q", ErrUnsupportedCodec, p.Codec)
	}
	return src + " ! " + enc + " ! appsink name=appsink sync=false", nil
}

// CustomPipeline fills the {display} and {device} placeholders of a
// user-supplied pipeline, which must end in an appsink named appsink.
func CustomPipeline(desc, display, device string) (string, error) {
	if !strings.Contains(desc, "appsink") || !strings.Contains(desc, "name=appsink") {
		return "", fmt.Errorf("custom pipeline must end in 'appsink name=appsink'")
	}
	r := strings.NewReplacer("{display}", display, "{device}", device)
	return r.Replace(desc), nil
}

func quote(s string) string {
	if strings.ContainsAny(s, " !\"'") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}
