package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// playTone plays a sine of freq Hz into the stack's PulseAudio sink
// audio_output (what the server captures) until the test ends.
func playTone(t *testing.T, s *stack.Stack, freq int) {
	t.Helper()
	if s.PulseServer == "" {
		t.Fatal("the stack reports no PulseAudio server")
	}
	for _, el := range []string{"audiotestsrc", "pulsesink", "opusdec"} {
		if !gst.ElementExists(el) {
			t.Fatalf("GStreamer element %s is not installed (deploy/install.sh)", el)
		}
	}
	bin, err := exec.LookPath("gst-launch-1.0")
	if err != nil {
		t.Fatalf("gst-launch-1.0 is not installed (deploy/install.sh: gstreamer1.0-tools): %v", err)
	}
	cmd := exec.Command(bin, "-q", "audiotestsrc", "is-live=true", "wave=sine", fmt.Sprintf("freq=%d", freq), "volume=0.5",
		"!", "audio/x-raw,rate=48000,channels=2", "!", "pulsesink", "server="+s.PulseServer, "device=audio_output")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the tone: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	select {
	case <-exited:
		t.Fatalf("the tone stopped at once: %s", stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
}

// audioDecoders are the caps and decoder of each audio codec the server
// can send (capture.audio.codec), and its RTP clock rate (G.722's is
// 8000 though it samples at 16 kHz, RFC 3551).
var audioDecoders = map[string]struct {
	mime, decode string
	clock        int
}{
	"opus": {webrtc.MimeTypeOpus, "audio/x-opus,channel-mapping-family=0,channels=2,rate=48000 ! opusdec plc=true", 48000},
	"pcmu": {webrtc.MimeTypePCMU, "audio/x-mulaw,channels=1,rate=8000 ! mulawdec", 8000},
	"pcma": {webrtc.MimeTypePCMA, "audio/x-alaw,channels=1,rate=8000 ! alawdec", 8000},
	"g722": {webrtc.MimeTypeG722, "audio/G722,channels=1,rate=16000 ! avdec_g722", 8000},
}

// audioPeer is a WebRTC viewer that keeps only the audio: it decodes the
// RTP (one encoded frame per payload) to 48 kHz mono PCM.
type audioPeer struct {
	pc    *webrtc.PeerConnection
	dec   *gst.Pipeline
	clock int // the RTP clock rate

	mu      sync.Mutex
	pcm     []int16
	pkts    int
	started bool
	ts0     uint32
	mime    string
	closed  bool
	stopped chan struct{}
}

func startAudioPeer(ctx context.Context, t *testing.T, c *viewer.Client, codec string) *audioPeer {
	t.Helper()
	d := audioDecoders[codec]
	a := &audioPeer{stopped: make(chan struct{}), clock: d.clock}
	var err error
	a.dec, err = gst.New("appsrc name=src is-live=true format=time do-timestamp=false "+
		"caps="+d.decode+" ! audioconvert ! audioresample "+
		"! audio/x-raw,format=S16LE,channels=1,rate=48000 ! appsink name=appsink sync=false", "appsink", "src", a.onPCM)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.dec.Start(); err != nil {
		a.dec.Stop()
		t.Fatal(err)
	}

	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	a.pc, err = api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if track.Kind() != webrtc.RTPCodecTypeAudio {
			for { // drain the video
				if _, _, err := track.ReadRTP(); err != nil {
					return
				}
			}
		}
		a.mu.Lock()
		a.mime = track.Codec().MimeType
		a.mu.Unlock()
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			a.onRTP(pkt)
		}
	})
	a.pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		_ = c.Send(context.Background(), types.EventSignalCandidate, types.SignalCandidate{
			Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment})
	})
	provide := c.Subscribe(types.EventSignalProvide)
	cands := c.Subscribe(types.EventSignalCandidate)
	// No video: only the audio pipeline runs for this viewer.
	off := true
	if err := c.Send(ctx, types.EventSignalRequest, types.SignalRequest{Video: types.SignalVideoRequest{Disabled: &off}}); err != nil {
		t.Fatal(err)
	}
	raw, err := viewer.Wait(provide, 10*time.Second)
	if err != nil {
		t.Fatalf("signal/provide: %v", err)
	}
	var p types.SignalProvide
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.SDP}); err != nil {
		t.Fatal(err)
	}
	answer, err := a.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, types.EventSignalAnswer, types.SignalDescription{SDP: answer.SDP}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			var raw json.RawMessage
			select {
			case raw = <-cands:
			case <-a.stopped:
				return
			}
			var cand types.SignalCandidate
			if json.Unmarshal(raw, &cand) == nil {
				_ = a.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex})
			}
		}
	}()
	return a
}

// onRTP feeds one packet's frame to the decoder, timed by its RTP
// timestamp.
func (a *audioPeer) onRTP(pkt *rtp.Packet) {
	a.mu.Lock()
	if a.closed || len(pkt.Payload) == 0 {
		a.mu.Unlock()
		return
	}
	if !a.started {
		a.started, a.ts0 = true, pkt.Timestamp
	}
	a.pkts++
	pts := time.Duration(pkt.Timestamp-a.ts0) * time.Second / time.Duration(a.clock)
	a.mu.Unlock()
	_ = a.dec.Push(append([]byte(nil), pkt.Payload...), pts, 0)
}

func (a *audioPeer) onPCM(s gst.Sample) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i+1 < len(s.Data); i += 2 {
		a.pcm = append(a.pcm, int16(binary.LittleEndian.Uint16(s.Data[i:])))
	}
}

// samples returns the PCM decoded so far and how many packets arrived.
func (a *audioPeer) samples() ([]int16, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int16(nil), a.pcm...), a.pkts
}

func (a *audioPeer) close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	close(a.stopped)
	a.mu.Unlock()
	_ = a.pc.Close()
	a.dec.Stop()
}

// zeroCrossingFreq estimates the frequency of a clean tone from its sign
// changes.
func zeroCrossingFreq(pcm []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(pcm)) / float64(rate))
}

// dominantFreq is the strongest frequency between lo and hi Hz (step Hz
// apart), by the Goertzel algorithm (one DFT bin per frequency).
func dominantFreq(pcm []int16, rate int, lo, hi, step float64) (best, share float64) {
	power := func(f float64) float64 {
		w := 2 * math.Pi * f / float64(rate)
		coeff := 2 * math.Cos(w)
		var s1, s2 float64
		for _, v := range pcm {
			s0 := float64(v) + coeff*s1 - s2
			s2, s1 = s1, s0
		}
		return s1*s1 + s2*s2 - coeff*s1*s2
	}
	var bestP, total float64
	for f := lo; f <= hi; f += step {
		p := power(f)
		total += p
		if p > bestP {
			best, bestP = f, p
		}
	}
	return best, bestP / total
}

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// TestAudioTone plays a 1 kHz tone into the desktop's sound card and
// checks that a WebRTC viewer decodes a 1 kHz tone from the audio track,
// in every audio codec the server can send.
func TestAudioTone(t *testing.T) {
	for _, codec := range []string{"opus", "pcmu", "pcma", "g722"} {
		t.Run(codec, func(t *testing.T) { testAudioTone(t, codec) })
	}
}

func testAudioTone(t *testing.T, codec string) {
	const freq = 1000
	s := stack.Start(t, map[string]any{"capture.audio.codec": codec})
	playTone(t, s, freq)
	listenForTone(t, s, codec, freq)
}

// TestCustomAudioPipeline: capture.audio.pipeline replaces the PulseAudio
// capture; its 440 Hz test tone is what viewers hear.
func TestCustomAudioPipeline(t *testing.T) {
	s := stack.Start(t, map[string]any{"capture.audio.pipeline": "audiotestsrc is-live=true freq=440 volume=0.5 ! " +
		"audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20 ! appsink name=appsink"})
	listenForTone(t, s, "opus", 440)
}

// listenForTone has a viewer decode the server's audio track (in codec)
// and checks that it is a tone of freq Hz.
func listenForTone(t *testing.T, s *stack.Stack, codec string, freq float64) {
	t.Helper()
	const rate = 48000
	c := login(t, s, "listener", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := startAudioPeer(ctx, t, c, codec)

	// Skip the first half second (the encoder and decoder settling), then
	// analyse one second.
	const skip, window = rate / 2, rate
	deadline := time.Now().Add(20 * time.Second)
	var pcm []int16
	for {
		var pkts int
		pcm, pkts = a.samples()
		if len(pcm) >= skip+window {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoded %d samples from %d audio packets in 20s", len(pcm), pkts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.mu.Lock()
	mime := a.mime
	a.mu.Unlock()
	if want := audioDecoders[codec].mime; !strings.EqualFold(mime, want) {
		t.Fatalf("audio track is %q, want %s", mime, want)
	}
	pcm = pcm[skip : skip+window]
	level := rms(pcm)
	zc := zeroCrossingFreq(pcm, rate)
	peak, share := dominantFreq(pcm[:8192], rate, 50, 8000, 5)
	t.Logf("decoded tone: rms %.0f, zero crossings %.1f Hz, DFT peak %.0f Hz (%.0f%% of the power)", level, zc, peak, share*100)
	if level < 1000 {
		t.Fatalf("decoded audio is (nearly) silent: rms %.0f", level)
	}
	if math.Abs(zc-freq) > freq*0.05 {
		t.Fatalf("zero crossings give %.1f Hz, want %.0f Hz ± 5%%", zc, freq)
	}
	if math.Abs(peak-freq) > freq*0.05 {
		t.Fatalf("DFT peak at %.0f Hz, want %.0f Hz ± 5%%", peak, freq)
	}
}
