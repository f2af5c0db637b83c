package integration

import (
	"context"
	"encoding/binary"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// micCodec is how a test client sends its microphone in one codec: the
// track's capability and the GStreamer encoder after a 1 kHz tone.
type micCodec struct {
	capability webrtc.RTPCodecCapability
	encode     string
	// bytesPerSecond of the encoded stream, for the samples' durations
	// (0: every buffer is 20 ms, as opusenc frame-size=20 makes them).
	bytesPerSecond int
}

var micCodecs = map[string]micCodec{
	"opus": {webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20", 0},
	// G.711 and G.722 are 8000 bytes a second at 8 and 16 kHz.
	"pcmu": {webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		"audio/x-raw,rate=8000,channels=1 ! mulawenc", 8000},
	"pcma": {webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000},
		"audio/x-raw,rate=8000,channels=1 ! alawenc", 8000},
	"g722": {webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000},
		"audio/x-raw,rate=16000,channels=1 ! avenc_g722", 8000},
}

// sendMicrophone answers the server's offer with a 1 kHz tone (Opus) on
// the audio transceiver, as a browser sharing its microphone does.
func sendMicrophone(t *testing.T, c *viewer.Client) func() {
	return sendMicrophoneIn(t, c, "opus")
}

// sendMicrophoneIn is sendMicrophone in one of micCodecs, which must be
// the server's capture.audio.codec: the microphone goes out on the audio
// m-line the server offered.
func sendMicrophoneIn(t *testing.T, c *viewer.Client, codec string) func() {
	t.Helper()
	mc := micCodecs[codec]
	track, err := webrtc.NewTrackLocalStaticSample(mc.capability, "mic", "mic")
	if err != nil {
		t.Fatal(err)
	}
	// 20 ms buffers (960 samples at 48 kHz, resampled for the G.7xx
	// codecs), as a browser's packets.
	tone, err := gst.New("audiotestsrc freq=1000 volume=0.5 is-live=true samplesperbuffer=960 ! audio/x-raw,rate=48000 ! audioconvert ! audioresample ! "+
		mc.encode+" ! appsink name=appsink sync=false", "appsink", "",
		func(s gst.Sample) {
			d := 20 * time.Millisecond
			if mc.bytesPerSecond > 0 {
				d = time.Duration(len(s.Data)) * time.Second / time.Duration(mc.bytesPerSecond)
			}
			_ = track.WriteSample(media.Sample{Data: s.Data, Duration: d})
		})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := upstreamPeer(t, c, track)
	if err := tone.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { tone.Stop(); _ = pc.Close() }
}

// recordFrequency records the microphone sink's monitor for a while and
// returns the dominant frequency (zero crossings) and the RMS level.
func recordFrequency(t *testing.T, server string) (hz, rms float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "parec", "--server="+server, "-d", "audio_input.monitor",
		"--format=s16le", "--rate=48000", "--channels=1", "--raw", "--latency-msec=20").Output()
	n := len(out) / 2
	if n < 48000/5 {
		t.Fatalf("parec recorded only %d samples (is pulseaudio-utils installed?)", n)
	}
	samples := make([]float64, n)
	for i := range samples {
		samples[i] = float64(int16(binary.LittleEndian.Uint16(out[2*i:])))
	}
	crossings, sum := 0, 0.0
	for i := 1; i < n; i++ {
		if (samples[i-1] < 0) != (samples[i] < 0) {
			crossings++
		}
		sum += samples[i] * samples[i]
	}
	return float64(crossings) / 2 / (float64(n) / 48000), math.Sqrt(sum / float64(n))
}

// TestMicrophoneUpstream: a client with can_share_media sends its
// microphone; the desktop's microphone (audio_input) plays it, in each
// audio codec the server can be set to (the microphone shares the
// offered audio m-line, so its codec).
func TestMicrophoneUpstream(t *testing.T) {
	for _, codec := range []string{"opus", "pcmu", "pcma", "g722"} {
		t.Run(codec, func(t *testing.T) {
			s := stack.Start(t, map[string]any{"capture.audio.codec": codec})
			if s.PulseServer == "" {
				t.Fatal("the stack reports no PulseAudio server")
			}
			c := login(t, s, "speaker", "neko")
			stop := sendMicrophoneIn(t, c, codec)
			defer stop()
			deadline := time.Now().Add(15 * time.Second)
			for {
				hz, rms := recordFrequency(t, s.PulseServer)
				if rms > 500 && math.Abs(hz-1000) < 50 {
					t.Logf("microphone (%s): %.0f Hz, rms %.0f", codec, hz, rms)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no 1 kHz tone on the desktop's microphone: %.0f Hz, rms %.0f", hz, rms)
				}
			}
		})
	}
}

// TestMicrophoneNeedsPermission: without can_share_media nothing plays.
func TestMicrophoneNeedsPermission(t *testing.T) {
	s := stack.Start(t, map[string]any{"member.multiuser.user_profile": `{"can_share_media": false}`})
	c := login(t, s, "muted", "neko")
	stop := sendMicrophone(t, c)
	defer stop()
	time.Sleep(2 * time.Second)
	if hz, rms := recordFrequency(t, s.PulseServer); rms > 200 {
		t.Fatalf("audio from a session without can_share_media played: %.0f Hz, rms %.0f", hz, rms)
	}
}
