package viewer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/pkg/types"
)

// FrameW and FrameH are the size decoded frames are scaled to: enough to
// check colours, cheap to compare.
const FrameW, FrameH = 64, 36

// Frame is one decoded video frame, scaled to FrameW x FrameH, RGB.
type Frame struct {
	RGB []byte
	At  time.Time
	Seq int
}

// Pixel returns the colour at (x, y) of the scaled frame.
func (f Frame) Pixel(x, y int) (r, g, b uint8) {
	i := (y*FrameW + x) * 3
	return f.RGB[i], f.RGB[i+1], f.RGB[i+2]
}

// Media is a viewer's peer connection with a decoding pipeline.
type Media struct {
	c       *Client
	pc      *webrtc.PeerConnection
	decoder *gst.Pipeline

	// RequestedAt is when signal/request was sent.
	RequestedAt time.Time
	frames      chan Frame
	seq         atomic.Int64
	videoPkts   atomic.Int64
	audioPkts   atomic.Int64
	videoBytes  atomic.Int64
	DataChannel chan *webrtc.DataChannel
	connected   chan struct{}
	once        sync.Once
}

// StartMedia sends signal/request and answers the server's offer.
func (c *Client) StartMedia(ctx context.Context) (*Media, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	md := &Media{c: c, pc: pc, frames: make(chan Frame, 64), DataChannel: make(chan *webrtc.DataChannel, 1), connected: make(chan struct{})}
	md.decoder, err = gst.New(fmt.Sprintf(
		"appsrc name=src is-live=true format=time do-timestamp=true caps=video/x-vp8 ! vp8dec ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=%d,height=%d ! appsink name=appsink sync=false",
		FrameW, FrameH), "appsink", "src", md.onFrame)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	if err := md.decoder.Start(); err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnTrack(md.onTrack)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		select {
		case md.DataChannel <- dc:
		default:
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			md.once.Do(func() { close(md.connected) })
		}
	})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		_ = c.Send(context.Background(), types.EventSignalCandidate, types.SignalCandidate{
			Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment})
	})

	provide := c.Subscribe(types.EventSignalProvide)
	cands := c.Subscribe(types.EventSignalCandidate)
	md.RequestedAt = time.Now()
	if err := c.Send(ctx, types.EventSignalRequest, types.SignalRequest{}); err != nil {
		md.Close()
		return nil, err
	}
	raw, err := Wait(provide, 10*time.Second)
	if err != nil {
		md.Close()
		return nil, fmt.Errorf("signal/provide: %w", err)
	}
	var offer types.SignalProvide
	if err := json.Unmarshal(raw, &offer); err != nil {
		md.Close()
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		md.Close()
		return nil, err
	}
	go func() {
		for raw := range cands {
			var cand types.SignalCandidate
			if json.Unmarshal(raw, &cand) == nil {
				_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex})
			}
		}
	}()
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		md.Close()
		return nil, err
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		md.Close()
		return nil, err
	}
	if err := c.Send(ctx, types.EventSignalAnswer, types.SignalDescription{SDP: answer.SDP}); err != nil {
		md.Close()
		return nil, err
	}
	return md, nil
}

func (md *Media) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if track.Kind() == webrtc.RTPCodecTypeAudio {
		for {
			if _, _, err := track.ReadRTP(); err != nil {
				return
			}
			md.audioPkts.Add(1)
		}
	}
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	lastPLI := time.Time{}
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		md.videoPkts.Add(1)
		md.videoBytes.Add(int64(len(pkt.Payload)))
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if s.PacketTimestamp == 0 && len(s.Data) == 0 {
				continue
			}
			if err := md.decoder.Push(s.Data, -1, s.Duration); err != nil {
				return
			}
		}
		// Like a browser: ask for a keyframe while nothing decodes.
		if md.seq.Load() == 0 && time.Since(lastPLI) > 500*time.Millisecond {
			lastPLI = time.Now()
			_ = md.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(track.SSRC())}})
		}
	}
}

func (md *Media) onFrame(s gst.Sample) {
	if len(s.Data) != FrameW*FrameH*3 {
		return
	}
	f := Frame{RGB: s.Data, At: time.Now(), Seq: int(md.seq.Add(1))}
	select {
	case md.frames <- f:
	default:
		// Keep the newest frames: drop the oldest.
		select {
		case <-md.frames:
		default:
		}
		select {
		case md.frames <- f:
		default:
		}
	}
}

// Frames delivers decoded frames (the oldest are dropped if not read).
func (md *Media) Frames() <-chan Frame { return md.frames }

// Connected is closed when the peer connects.
func (md *Media) Connected() <-chan struct{} { return md.connected }

// Stats are counters of what arrived.
func (md *Media) Stats() (videoPkts, videoBytes, audioPkts, frames int64) {
	return md.videoPkts.Load(), md.videoBytes.Load(), md.audioPkts.Load(), md.seq.Load()
}

// WaitColour waits for a frame whose pixel at (x, y) of the scaled frame is
// within tol of (r, g, b) per channel.
func (md *Media) WaitColour(x, y int, r, g, b uint8, tol int, timeout time.Duration) (Frame, error) {
	deadline := time.After(timeout)
	var last Frame
	for {
		select {
		case f := <-md.frames:
			last = f
			fr, fg, fb := f.Pixel(x, y)
			if near(fr, r, tol) && near(fg, g, tol) && near(fb, b, tol) {
				return f, nil
			}
		case <-deadline:
			if last.RGB == nil {
				return last, errors.New("no frame decoded")
			}
			lr, lg, lb := last.Pixel(x, y)
			return last, fmt.Errorf("colour (%d,%d,%d) not seen; last frame had (%d,%d,%d)", r, g, b, lr, lg, lb)
		}
	}
}

func near(a, b uint8, tol int) bool {
	d := int(a) - int(b)
	return d <= tol && d >= -tol
}

// Close ends the peer and the decoder.
func (md *Media) Close() {
	_ = md.pc.Close()
	md.decoder.Stop()
}
