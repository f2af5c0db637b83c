package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// ErrWebcamInUse is returned by Webcam.Open while another client's webcam
// plays into the device.
var ErrWebcamInUse = errors.New("webcam in use by another client")

// WebcamOptions configure a Webcam.
type WebcamOptions struct {
	// Device is the v4l2loopback device (capture.webcam.device).
	Device string
	// Width and Height are the size written to the device
	// (capture.webcam.width/height); a client's picture is scaled to it,
	// with borders when the aspect ratios differ.
	Width, Height int
	// Frames, if set, receives every decoded frame (YUY2, Width x Height)
	// instead of the device. Tests only: machines without the
	// v4l2loopback module have no device to write to, and tests need the
	// frames themselves to check them.
	Frames func(frame []byte)
	Logger *slog.Logger
}

// Webcam plays a client's camera (VP8, VP9 or H.264 over RTP) into a
// v4l2loopback device, which the desktop's apps open as their camera.
// PulseAudio mixes any number of microphones, but a video device shows one
// picture: one client at a time owns the webcam, and a second one is
// refused rather than having two pipelines fight over the device.
type Webcam struct {
	opts WebcamOptions
	log  *slog.Logger

	mu     sync.Mutex
	active *WebcamStream
}

// NewWebcam returns the webcam sink; nothing opens the device until a
// client's stream starts.
func NewWebcam(opts WebcamOptions) *Webcam {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Webcam{opts: opts, log: log}
}

// WebcamStream is one client's webcam being played.
type WebcamStream struct {
	w     *Webcam
	p     *gst.Pipeline
	close sync.Once
}

// webcamCodec is how one RTP video codec is depayloaded and decoded.
type webcamCodec struct {
	encodingName string
	depay        string
	decoders     []string // the first one installed is used
}

// webcamCodecs are keyed by upper-cased MIME type. The depayloaders wait
// for a keyframe after a loss so that no smeared picture reaches the
// device (peers ask the client for one); the decoders never give up on
// errors (max-errors=-1), since a lossy link must not end the webcam.
var webcamCodecs = map[string]webcamCodec{
	"VIDEO/VP8":  {"VP8", "rtpvp8depay wait-for-keyframe=true", []string{"vp8dec"}},
	"VIDEO/VP9":  {"VP9", "rtpvp9depay wait-for-keyframe=true", []string{"vp9dec"}},
	"VIDEO/H264": {"H264", "rtph264depay wait-for-keyframe=true ! h264parse", []string{"avdec_h264", "openh264dec"}},
}

// webcamPipeline describes the pipeline from an appsrc named "src" of RTP
// packets to sink.
func webcamPipeline(mimeType string, payloadType uint8, clockRate uint32, width, height int, sink string) (string, error) {
	c, ok := webcamCodecs[strings.ToUpper(mimeType)]
	if !ok {
		return "", fmt.Errorf("codec %q is not supported (VP8, VP9 or H264)", mimeType)
	}
	decoder := ""
	for _, d := range c.decoders {
		if gst.ElementExists(d) {
			decoder = d
			break
		}
	}
	if decoder == "" {
		return "", fmt.Errorf("no %s decoder installed (%s)", c.encodingName, strings.Join(c.decoders, ", "))
	}
	// YUY2 needs an even width; odd sizes would fail only when the first
	// frame is negotiated, far from the configuration that caused it.
	if width <= 0 || height <= 0 || width%2 != 0 {
		return "", fmt.Errorf("size %dx%d: want a positive size with an even width", width, height)
	}
	if clockRate == 0 {
		clockRate = 90000
	}
	// The jitter buffer reorders and paces packets; 100 ms keeps the
	// camera close to real time while absorbing ordinary jitter. YUY2 is
	// the format every V4L2 reader (browsers, conferencing apps) takes;
	// pixel-aspect-ratio=1/1 makes videoscale add borders instead of
	// stretching a picture of another aspect ratio.
	return fmt.Sprintf("appsrc name=src is-live=true format=time do-timestamp=true "+
		"caps=application/x-rtp,media=video,encoding-name=%s,clock-rate=%d,payload=%d ! "+
		"rtpjitterbuffer latency=100 drop-on-latency=true ! %s ! %s max-errors=-1 ! "+
		"videoconvert ! videoscale ! video/x-raw,format=YUY2,width=%d,height=%d,pixel-aspect-ratio=1/1 ! %s",
		c.encodingName, clockRate, payloadType, c.depay, decoder, width, height, sink), nil
}

// Open starts playing one client's RTP video of the given codec (a MIME
// type such as "video/VP8"), payload type and clock rate. It fails with
// ErrWebcamInUse while another stream plays.
func (w *Webcam) Open(mimeType string, payloadType uint8, clockRate uint32) (*WebcamStream, error) {
	sink := "identity drop-allocation=true ! v4l2sink sync=false device=" + quote(w.opts.Device)
	var onFrame func(gst.Sample)
	if w.opts.Frames != nil {
		sink = "appsink name=frames sync=false"
		frames := w.opts.Frames
		onFrame = func(s gst.Sample) { frames(s.Data) }
	}
	desc, err := webcamPipeline(mimeType, payloadType, clockRate, w.opts.Width, w.opts.Height, sink)
	if err != nil {
		return nil, fmt.Errorf("capture: webcam: %w", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active != nil {
		return nil, fmt.Errorf("capture: webcam: %w", ErrWebcamInUse)
	}
	sinkName := ""
	if onFrame != nil {
		sinkName = "frames"
	}
	p, err := gst.New(desc, sinkName, "src", onFrame)
	if err != nil {
		return nil, fmt.Errorf("capture: webcam: %w", err)
	}
	// v4l2sink opens the device while the pipeline starts: a missing or
	// busy device fails here, not on the first frame.
	if err := p.Start(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("capture: webcam: %s: %w", w.opts.Device, err)
	}
	s := &WebcamStream{w: w, p: p}
	w.active = s
	go s.watch()
	w.log.Debug("webcam stream started", "device", w.opts.Device, "codec", mimeType)
	return s, nil
}

// watch logs the pipeline's failure once: the peer writing packets only
// sees each write refused, which it cannot explain.
func (s *WebcamStream) watch() {
	select {
	case err := <-s.p.Errors():
		s.w.log.Warn("webcam pipeline failed", "device", s.w.opts.Device, "err", err)
	case <-s.p.Done():
	}
}

// WriteRTP plays one RTP packet (the raw bytes as received).
func (s *WebcamStream) WriteRTP(pkt []byte) error {
	if err := s.p.Push(pkt, -1, time.Duration(0)); err != nil {
		return fmt.Errorf("capture: webcam: %w", err)
	}
	return nil
}

// Close stops the stream and frees the device for another client.
func (s *WebcamStream) Close() {
	s.close.Do(func() {
		s.p.Stop()
		s.w.mu.Lock()
		if s.w.active == s {
			s.w.active = nil
		}
		s.w.mu.Unlock()
	})
}
