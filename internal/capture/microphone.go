package capture

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// Microphone plays clients' microphones (Opus over RTP) into a PulseAudio
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

// Open starts a pipeline for RTP Opus with the given payload type.
func (m *Microphone) Open(payloadType uint8) (*MicrophoneStream, error) {
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
		"caps=application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=%d ! "+
		"rtpjitterbuffer latency=60 drop-on-latency=true ! rtpopusdepay ! opusdec plc=true ! "+
		"audioconvert ! audioresample ! %s", payloadType, sink)
	p, err := gst.New(desc, "", "src", nil)
	if err != nil {
		return nil, fmt.Errorf("capture: microphone: %w", err)
	}
	if err := p.Start(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("capture: microphone: %w", err)
	}
	m.log.Debug("microphone stream started", "device", m.device)
	return &MicrophoneStream{p: p}, nil
}

// WriteRTP plays one RTP packet (the raw bytes as received).
func (s *MicrophoneStream) WriteRTP(pkt []byte) error {
	return s.p.Push(pkt, -1, time.Duration(0))
}

// Close stops the stream.
func (s *MicrophoneStream) Close() { s.p.Stop() }
