package capture

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/neko-webrtc/neko/internal/config"
)

// VideoParams describe a generated video pipeline.
type VideoParams struct {
	// Width and Height are the screen's: the frames fed in.
	Width, Height int
	Codec         string
	FPS           int
	BitrateKbps   int
	// ShowPointer draws the cursor into the video. Clients that draw the
	// cursor themselves from the data channel don't need it.
	ShowPointer bool
}

// VideoPipeline returns the default low-latency pipeline for p, fed with
// the screen's frames as the returned Feed says. The settings come from
// measurements on a 2-core machine (docs/architecture.md): single-threaded
// realtime encoders, no B-frames, CBR, a keyframe at least every 4 s worth
// of frames (a still screen sends fewer frames, see Feed.Sparse: viewers
// ask for keyframes when they lose one), no queue that could hold more
// than a frame.
func VideoPipeline(p VideoParams) (string, Feed, error) {
	if p.FPS <= 0 {
		p.FPS = 30
	}
	if p.BitrateKbps <= 0 {
		p.BitrateKbps = 3000
	}
	gop := p.FPS * 4
	feed := Feed{Width: p.Width, Height: p.Height, FPS: float64(p.FPS), Pointer: p.ShowPointer}
	src := feed.Appsrc() + " ! videoconvert ! video/x-raw,format=I420"
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
	case "av1":
		// In CBR with its default quantizers aom aborts (ratectrl.c);
		// the quantizer range avoids that. ~70 % of a core at 720p30.
		enc = fmt.Sprintf("av1enc usage-profile=realtime cpu-used=10 threads=1 end-usage=cbr target-bitrate=%d lag-in-frames=0 keyframe-max-dist=%d min-quantizer=4 max-quantizer=56 ! av1parse ! video/x-av1,stream-format=obu-stream,alignment=tu",
			p.BitrateKbps, gop)
	case "h265":
		// ~90 % of a core at 720p30 here: usable for one small stream.
		enc = fmt.Sprintf("x265enc speed-preset=ultrafast tune=zerolatency bitrate=%d key-int-max=%d option-string=repeat-headers=1:bframes=0 ! h265parse ! video/x-h265,stream-format=byte-stream,alignment=au,profile=main",
			p.BitrateKbps, gop)
	default:
		return "", Feed{}, fmt.Errorf("%w: video codec %q", ErrUnsupportedCodec, p.Codec)
	}
	// These encoders put out each frame as it comes in (no lookahead,
	// no parser waiting for the next frame): a still screen may skip
	// frames. av1parse and h265parse end a unit at the next one.
	feed.Sparse = p.Codec == "vp8" || p.Codec == "vp9" || p.Codec == "h264"
	return src + " ! " + enc + " ! appsink name=appsink sync=false", feed, nil
}

// VideoEncoder is the GStreamer element of the default pipeline of codec.
func VideoEncoder(codec string) string {
	switch codec {
	case "vp8":
		return "vp8enc"
	case "vp9":
		return "vp9enc"
	case "h264":
		return "x264enc"
	case "av1":
		return "av1enc"
	case "h265":
		return "x265enc"
	}
	return ""
}

// Screen is the size and rate of the display being captured.
type Screen struct{ Width, Height, Rate int }

// QualityPipeline builds the pipeline of a configured quality for the
// current screen (capture.video.pipelines): either its whole description
// with {display} filled in (it captures by itself: no Feed), or
//
//	frames (appsrc) → convert → [scale] → gst_prefix → gst_encoder
//	name=encoder gst_params… → gst_suffix → appsink
//
// fed as the returned Feed says, where fps, width, height and every
// parameter are expressions over the screen's width, height and fps.
func QualityPipeline(q config.VideoPipeline, display string, screen Screen) (string, *Feed, error) {
	if q.GstPipeline != "" {
		d, err := CustomPipeline(q.GstPipeline, display, "")
		return d, nil, err
	}
	d, feed, err := qualityPipeline(q, screen)
	if err != nil {
		return "", nil, err
	}
	return d, &feed, nil
}

func qualityPipeline(q config.VideoPipeline, screen Screen) (string, Feed, error) {
	if q.GstEncoder == "" {
		return "", Feed{}, errors.New("no gst_encoder")
	}
	if screen.Rate <= 0 {
		screen.Rate = 30
	}
	vars := map[string]float64{"width": float64(screen.Width), "height": float64(screen.Height), "fps": float64(screen.Rate)}
	fps := float64(screen.Rate)
	if q.FPS != "" {
		f, err := evalNumber(q.FPS, vars)
		if err != nil {
			return "", Feed{}, fmt.Errorf("fps: %w", err)
		}
		if f <= 0 || f > 1000 {
			return "", Feed{}, fmt.Errorf("fps %v out of range", f)
		}
		fps = f
	}
	feed := Feed{Width: screen.Width, Height: screen.Height, FPS: math.Round(fps*100) / 100, Pointer: q.ShowPointer}
	var b strings.Builder
	b.WriteString(feed.Appsrc() + " ! videoconvert")
	var caps []string
	if q.Width != "" && q.Height != "" {
		w, err := evalNumber(q.Width, vars)
		if err != nil {
			return "", Feed{}, fmt.Errorf("width: %w", err)
		}
		h, err := evalNumber(q.Height, vars)
		if err != nil {
			return "", Feed{}, fmt.Errorf("height: %w", err)
		}
		// Encoders want even sizes for 4:2:0.
		wi, hi := int(w)&^1, int(h)&^1
		if wi < 2 || hi < 2 || wi > 16384 || hi > 16384 {
			return "", Feed{}, fmt.Errorf("size %dx%d out of range", wi, hi)
		}
		b.WriteString(" ! videoscale")
		caps = append(caps, fmt.Sprintf("width=%d,height=%d", wi, hi))
	}
	// Browsers decode 4:2:0; without this vp9enc, av1enc and x265enc
	// negotiate 4:4:4. A prefix that sets a format wins.
	if !strings.Contains(q.GstPrefix, "format=") {
		caps = append(caps, "format=I420")
	}
	if len(caps) > 0 {
		// An explicit capsfilter, so that a prefix starting with caps
		// still follows an element.
		fmt.Fprintf(&b, " ! capsfilter caps=video/x-raw,%s", strings.Join(caps, ","))
	}
	if p := strings.TrimSpace(q.GstPrefix); p != "" {
		b.WriteString(" " + ensureBang(p))
	}
	fmt.Fprintf(&b, " ! %s name=encoder", q.GstEncoder)
	keys := make([]string, 0, len(q.GstParams))
	for k := range q.GstParams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if q.GstParams[k] == "" {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", k, paramValue(q.GstParams[k], vars))
	}
	if s := strings.TrimSpace(q.GstSuffix); s != "" {
		b.WriteString(" " + ensureBang(s))
	}
	b.WriteString(" ! appsink name=appsink sync=false")
	return b.String(), feed, nil
}

func ensureBang(s string) string {
	if strings.HasPrefix(s, "!") {
		return s
	}
	return "! " + s
}

// AudioParams describe a generated audio pipeline.
type AudioParams struct {
	Server string // PulseAudio server; empty = the default
	Device string
	Codec  string
	// BitrateKbps sets Opus's bit rate (the v2 option audio_bitrate);
	// 0: 128.
	BitrateKbps int
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
		// 20 ms frames, as browsers send: 10 ms ones would double the
		// packets (and the send calls, the main per-viewer cost) for
		// 10 ms less delay on sound, which video does not need.
		kbps := p.BitrateKbps
		if kbps <= 0 {
			kbps = 128
		}
		enc = fmt.Sprintf("audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=%d frame-size=20", min(max(kbps, 6), 510)*1000)
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
