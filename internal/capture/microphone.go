package capture

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// Microphone plays clients' microphones (RTP: Opus, G.722, PCMU or PCMA,
// whichever capture.audio.codec made the audio m-line carry) into a PulseAudio
// sink (capture.microphone.device, "audio_input"), whose monitor the
// desktop's apps use as their microphone. Each client gets its own
// pipeline; PulseAudio mixes them.
type Microphone struct {
	server, device string
	log            *slog.Logger
}

// NewMicrophone returns the microphone sink; server is the PulseAudio
// server ("" = default).
func NewMicrophone(server, device string, log *slog.Logger) *Microphone {
	if log == nil {
		log = slog.Default()
	}
	return &Microphone{server: server, device: device, log: log}
}

// MicrophoneStream is one client's microphone being played.
type MicrophoneStream struct {
	p *gst.Pipeline
}

// micDecoders are the depayloader and decoder of each codec a
// microphone may arrive in. A browser sends its microphone on the audio
// m-line the server offered, so in the codec of capture.audio.codec.
var micDecoders = map[string]struct{ name, chain string }{
	"audio/opus": {"OPUS", "rtpopusdepay ! opusdec plc=true"},
	"audio/g722": {"G722", "rtpg722depay ! avdec_g722"},
	"audio/pcmu": {"PCMU", "rtppcmudepay ! mulawdec"},
	"audio/pcma": {"PCMA", "rtppcmadepay ! alawdec"},
}

// Open starts a pipeline for one RTP audio track: its codec (a MIME type
// such as "audio/opus"), payload type and RTP clock rate.
func (m *Microphone) Open(mimeType string, payloadType uint8, clockRate uint32) (*MicrophoneStream, error) {
	dec, ok := micDecoders[strings.ToLower(mimeType)]
	if !ok {
		return nil, fmt.Errorf("capture: microphone: %w: %s (opus, g722, pcmu or pcma)", ErrUnsupportedCodec, mimeType)
	}
	if clockRate == 0 {
		return nil, fmt.Errorf("capture: microphone: %s without a clock rate", mimeType)
	}
	sink := "pulsesink sync=false"
	if m.server != "" {
		sink += " server=" + quote(m.server)
	}
	if m.device != "" {
		sink += " device=" + quote(m.device)
	}
	// The jitter buffer reorders and paces packets; 60 ms keeps the
	// microphone close to real time.
	desc := fmt.Sprintf("appsrc name=src is-live=true format=time do-timestamp=true "+
		"caps=application/x-rtp,media=audio,encoding-name=%s,clock-rate=%d,payload=%d ! "+
		"rtpjitterbuffer latency=60 drop-on-latency=true ! %s ! "+
		"audioconvert ! audioresample ! %s", dec.name, clockRate, payloadType, dec.chain, sink)
	p, err := gst.New(desc, "", "src", nil)
	if err != nil {
		return nil, fmt.Errorf("capture: microphone: %w", err)
	}
	if err := p.Start(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("capture: microphone: %w", err)
	}
	m.log.Debug("microphone stream started", "device", m.device, "codec", mimeType)
	return &MicrophoneStream{p: p}, nil
}

// WriteRTP plays one RTP packet (the raw bytes as received).
func (s *MicrophoneStream) WriteRTP(pkt []byte) error {
	return s.p.Push(pkt, -1, time.Duration(0))
}

// Close stops the stream.
func (s *MicrophoneStream) Close() { s.p.Stop() }
