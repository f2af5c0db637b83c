package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/viper"
)

// VideoPipeline is one video quality of capture.video.pipelines: either a
// pipeline built from expressions over the screen's width, height and fps
// (Width…GstSuffix), or a whole GStreamer description (GstPipeline).
type VideoPipeline struct {
	Width       string            `json:"width"`  // expression
	Height      string            `json:"height"` // expression
	FPS         string            `json:"fps"`    // expression
	GstPrefix   string            `json:"gst_prefix"`
	GstEncoder  string            `json:"gst_encoder"`
	GstParams   map[string]string `json:"gst_params"` // expressions
	GstSuffix   string            `json:"gst_suffix"`
	GstPipeline string            `json:"gst_pipeline"`
	ShowPointer bool              `json:"show_pointer"`
}

// loadCapture reads the capture.* options.
func loadCapture(v *viper.Viper) (Capture, error) {
	c := Capture{
		VideoCodec:         strings.ToLower(v.GetString("capture.video.codec")),
		VideoDisplay:       v.GetString("capture.video.display"),
		VideoPipeline:      v.GetString("capture.video.pipeline"),
		VideoIDs:           getStrings(v, "capture.video.ids"),
		AudioCodec:         strings.ToLower(v.GetString("capture.audio.codec")),
		AudioDevice:        v.GetString("capture.audio.device"),
		AudioPipeline:      v.GetString("capture.audio.pipeline"),
		Screencast:         v.GetBool("capture.screencast.enabled"),
		ScreencastRate:     v.GetString("capture.screencast.rate"),
		ScreencastQuality:  v.GetString("capture.screencast.quality"),
		ScreencastPipeline: v.GetString("capture.screencast.pipeline"),
		MicrophoneEnabled:  v.GetBool("capture.microphone.enabled"),
		MicrophoneDevice:   v.GetString("capture.microphone.device"),
		WebcamEnabled:      v.GetBool("capture.webcam.enabled"),
		WebcamDevice:       v.GetString("capture.webcam.device"),
		WebcamWidth:        v.GetInt("capture.webcam.width"),
		WebcamHeight:       v.GetInt("capture.webcam.height"),
		BroadcastURL:       v.GetString("capture.broadcast.url"),
		BroadcastAutostart: v.GetBool("capture.broadcast.autostart"),
		BroadcastPipeline:  v.GetString("capture.broadcast.pipeline"),
		BroadcastPreset:    v.GetString("capture.broadcast.preset"),
		BroadcastAudioKbps: v.GetInt("capture.broadcast.audio_bitrate"),
		BroadcastVideoKbps: v.GetInt("capture.broadcast.video_bitrate"),
	}
	switch c.VideoCodec {
	case "vp8", "vp9", "h264", "av1", "h265":
	default:
		return c, fmt.Errorf("config: capture.video.codec %q: want vp8, vp9, h264, av1 or h265", c.VideoCodec)
	}
	switch c.AudioCodec {
	case "opus", "g722", "pcmu", "pcma":
	default:
		return c, fmt.Errorf("config: capture.audio.codec %q: want opus, g722, pcmu or pcma", c.AudioCodec)
	}
	var err error
	if c.VideoPipelines, err = parseVideoPipelines(v.Get("capture.video.pipelines")); err != nil {
		return c, fmt.Errorf("config: capture.video.pipelines: %w", err)
	}
	if len(c.VideoPipelines) == 0 {
		// Nothing configured: one quality "main" (the shorthand
		// capture.video.pipeline, or our default pipeline).
		c.VideoIDs = []string{"main"}
		return c, nil
	}
	if len(c.VideoIDs) == 0 {
		for id := range c.VideoPipelines {
			c.VideoIDs = append(c.VideoIDs, id)
		}
		sort.Strings(c.VideoIDs)
	}
	seen := map[string]bool{}
	for _, id := range c.VideoIDs {
		if seen[id] {
			return c, fmt.Errorf("config: capture.video.ids: %q listed twice", id)
		}
		seen[id] = true
		p, ok := c.VideoPipelines[id]
		if !ok {
			return c, fmt.Errorf("config: capture.video.ids: %q has no entry in capture.video.pipelines", id)
		}
		if p.GstPipeline == "" && p.GstEncoder == "" {
			return c, fmt.Errorf("config: capture.video.pipelines.%s: needs gst_encoder or gst_pipeline", id)
		}
	}
	return c, nil
}

// parseVideoPipelines accepts the JSON string of a flag or environment
// variable, or the map a YAML file gives. Scalars may be numbers or
// booleans where the reference's examples write them so (fps: 25,
// cpu-used: 4, show_pointer: true).
func parseVideoPipelines(raw any) (map[string]VideoPipeline, error) {
	var m map[string]any
	switch t := raw.(type) {
	case nil:
		return nil, nil
	case string:
		s := strings.TrimSpace(t)
		if s == "" || s == "{}" || s == "[]" {
			return nil, nil
		}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
	case map[string]any:
		m = t
	default:
		return nil, fmt.Errorf("unexpected %T", raw)
	}
	out := make(map[string]VideoPipeline, len(m))
	for id, val := range m {
		if id == "" || strings.ContainsAny(id, " ,") {
			return nil, fmt.Errorf("bad id %q", id)
		}
		obj, ok := val.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want an object, got %T", id, val)
		}
		var p VideoPipeline
		for k, fv := range obj {
			var err error
			switch strings.ToLower(k) {
			case "width":
				p.Width, err = scalar(fv)
			case "height":
				p.Height, err = scalar(fv)
			case "fps":
				p.FPS, err = scalar(fv)
			case "gst_prefix":
				p.GstPrefix, err = scalar(fv)
			case "gst_encoder":
				p.GstEncoder, err = scalar(fv)
			case "gst_suffix":
				p.GstSuffix, err = scalar(fv)
			case "gst_pipeline":
				p.GstPipeline, err = scalar(fv)
			case "show_pointer":
				var s string
				if s, err = scalar(fv); err == nil {
					p.ShowPointer, err = strconv.ParseBool(s)
				}
			case "gst_params":
				params, ok := fv.(map[string]any)
				if !ok && fv != nil {
					return nil, fmt.Errorf("%s.gst_params: want an object, got %T", id, fv)
				}
				p.GstParams = make(map[string]string, len(params))
				for pk, pv := range params {
					if p.GstParams[pk], err = scalar(pv); err != nil {
						return nil, fmt.Errorf("%s.gst_params.%s: %w", id, pk, err)
					}
				}
			case "bitrate":
				// Accepted by the reference, not used by it either.
			default:
				return nil, fmt.Errorf("%s: unknown field %q", id, k)
			}
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", id, k, err)
			}
		}
		out[id] = p
	}
	return out, nil
}

func scalar(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("want a string or number, got %T", v)
}
