package viewer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/pkg/types"
)

// FrameW and FrameH are the size decoded frames are scaled to: enough to
// check colours, cheap to compare.
const FrameW, FrameH = 64, 36

// Frame is one decoded video frame, scaled to FrameW x FrameH, RGB.
type Frame struct {
	RGB []byte
	At  time.Time // when the decoder delivered it
	Seq int
	// Arrived is when the encoded frame was complete (its last packet
	// arrived) and was handed to the decoder; FirstPacket when its first
	// packet arrived. Decode is At - Arrived: the viewer's decode, convert
	// and scale. Zero when the decoder's output could not be matched to
	// its input.
	Arrived, FirstPacket time.Time
	Decode               time.Duration
	Keyframe             bool
}

// Pixel returns the colour at (x, y) of the scaled frame.
func (f Frame) Pixel(x, y int) (r, g, b uint8) {
	i := (y*FrameW + x) * 3
	return f.RGB[i], f.RGB[i+1], f.RGB[i+2]
}

// MediaOptions tune a viewer's peer.
type MediaOptions struct {
	// Request is sent as signal/request (zero: the server's defaults).
	Request types.SignalRequest
	// NetworkTypes limits the viewer's ICE (e.g. TCP only); empty: UDP.
	NetworkTypes []webrtc.NetworkType
	// Candidate, if set, may rewrite each remote candidate before use
	// (tests put a proxy between the viewer and the server).
	Candidate func(string) string
	// Decode says which frames are decoded (default: all).
	Decode DecodeMode
	// Net, if set, is the network the viewer's ICE uses instead of the
	// host's (e.g. netns.Link.ClientNet()).
	Net transport.Net
}

// DecodeMode says how much of the video a viewer decodes.
type DecodeMode int

const (
	// DecodeAll decodes every frame.
	DecodeAll DecodeMode = iota
	// DecodeFirst decodes until the first frame is out, then stops its
	// decoder: frames are still assembled, counted and checked for
	// keyframes. For many viewers in one process.
	DecodeFirst
	// DecodeNone never decodes: frames are only assembled and counted.
	DecodeNone
)

// FirstVideo describes the first complete video frame a viewer received.
type FirstVideo struct {
	// FirstPacket is when the track's first packet arrived; Complete when
	// the first frame was complete (decodable).
	FirstPacket, Complete time.Time
	// Keyframe: the first frame was a keyframe. Clean: nothing before it
	// was lost or discarded, i.e. the first packet received started it.
	Keyframe, Clean bool
}

// Media is a viewer's peer connection with a decoding pipeline.
type Media struct {
	c    *Client
	pc   *webrtc.PeerConnection
	opts MediaOptions

	// RequestedAt is when signal/request was sent; ProvidedAt when the
	// server's signal/provide (its offer) arrived.
	RequestedAt, ProvidedAt time.Time
	// Provide is the server's signal/provide.
	Provide     types.SignalProvide
	connectedAt atomic.Int64 // UnixNano of the first "connected" state
	// UnixNano of the first answer sent and of the first ICE "connected"
	// state: with connectedAt, they split a join into its phases.
	answeredAt, iceConnectedAt atomic.Int64

	decMu   sync.Mutex
	decoder *gst.Pipeline
	closed  bool

	epoch     time.Time // PTS origin of the frames pushed to the decoder
	pushMu    sync.Mutex
	pushed    map[time.Duration]pushInfo // by PTS, until decoded
	assembled atomic.Int64
	firstMu   sync.Mutex
	first     *FirstVideo
	firstCh   chan struct{} // closed when first is set

	// Freezes: the longest time without a decodable frame since
	// ResetFreeze.
	freezeMu  sync.Mutex
	lastShown time.Time
	maxFreeze time.Duration
	freezeEnd time.Time

	stopped  chan struct{} // closed by Close
	stopOnce sync.Once

	frames      chan Frame
	seq         atomic.Int64
	videoPkts   atomic.Int64
	audioPkts   atomic.Int64
	videoBytes  atomic.Int64
	keyframes   atomic.Int64
	lost        atomic.Int64
	keySize     atomic.Uint32 // width<<16 | height of the last VP8 keyframe
	codec       atomic.Value  // string: the video track's mime type
	DataChannel chan *webrtc.DataChannel
	data        chan []byte
	connected   chan struct{}
	once        sync.Once
	done        chan struct{}
	closeOnce   sync.Once
	states      chan webrtc.PeerConnectionState
}

// StartMedia sends signal/request and answers the server's offer.
func (c *Client) StartMedia(ctx context.Context) (*Media, error) {
	return c.StartMediaWith(ctx, MediaOptions{})
}

// StartMediaWith is StartMedia with options.
func (c *Client) StartMediaWith(ctx context.Context, opts MediaOptions) (*Media, error) {
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
	if len(opts.NetworkTypes) > 0 {
		se.SetNetworkTypes(opts.NetworkTypes)
	}
	if opts.Net != nil {
		se.SetNet(opts.Net)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	md := &Media{c: c, pc: pc, opts: opts, stopped: make(chan struct{}), frames: make(chan Frame, 64), DataChannel: make(chan *webrtc.DataChannel, 1),
		data: make(chan []byte, 1024), done: make(chan struct{}), connected: make(chan struct{}), states: make(chan webrtc.PeerConnectionState, 32),
		epoch: time.Now(), pushed: map[time.Duration]pushInfo{}, firstCh: make(chan struct{})}
	md.codec.Store("")
	pc.OnTrack(md.onTrack)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(msg webrtc.DataChannelMessage) {
			if msg.IsString {
				return
			}
			select {
			case md.data <- msg.Data:
			default:
			}
		})
		select {
		case md.DataChannel <- dc:
		default:
		}
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			md.iceConnectedAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		select {
		case md.states <- s:
		default:
		}
		if s == webrtc.PeerConnectionStateConnected {
			md.once.Do(func() {
				md.connectedAt.Store(time.Now().UnixNano())
				close(md.connected)
			})
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
	offers := c.Subscribe(types.EventSignalOffer)
	restarts := c.Subscribe(types.EventSignalRestart)
	md.RequestedAt = time.Now()
	if err := c.Send(ctx, types.EventSignalRequest, opts.Request); err != nil {
		md.Close()
		return nil, err
	}
	raw, err := Wait(provide, 10*time.Second)
	if err != nil {
		md.Close()
		return nil, fmt.Errorf("signal/provide: %w", err)
	}
	md.ProvidedAt = time.Now()
	if err := json.Unmarshal(raw, &md.Provide); err != nil {
		md.Close()
		return nil, err
	}
	if err := md.acceptOffer(ctx, md.Provide.SDP); err != nil {
		md.Close()
		return nil, err
	}
	go func() {
		for {
			// Ends with the media: a goroutine left on the subscription
			// would keep the peer and its decoder (and the decoder's
			// descriptors) alive forever.
			var raw json.RawMessage
			select {
			case raw = <-cands:
			case <-md.stopped:
				return
			}
			var cand types.SignalCandidate
			if json.Unmarshal(raw, &cand) != nil {
				continue
			}
			if opts.Candidate != nil {
				cand.Candidate = opts.Candidate(cand.Candidate)
			}
			_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex})
		}
	}()
	// Later offers (renegotiation, ICE restart) are answered like the
	// first, as browser clients do.
	go func() {
		for {
			var raw json.RawMessage
			select {
			case raw = <-offers:
			case raw = <-restarts:
			case <-md.done:
				return
			case <-c.Closed():
				return
			}
			var d types.SignalDescription
			if json.Unmarshal(raw, &d) == nil {
				_ = md.acceptOffer(context.Background(), d.SDP)
			}
		}
	}()
	return md, nil
}

func (md *Media) acceptOffer(ctx context.Context, sdp string) error {
	if md.opts.Candidate != nil {
		sdp = rewriteSDPCandidates(sdp, md.opts.Candidate)
	}
	if err := md.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	answer, err := md.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := md.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	md.answeredAt.CompareAndSwap(0, time.Now().UnixNano())
	return md.c.Send(ctx, types.EventSignalAnswer, types.SignalDescription{SDP: answer.SDP})
}

func rewriteSDPCandidates(sdp string, fn func(string) string) string {
	lines := strings.Split(sdp, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "a=candidate:") {
			lines[i] = "a=" + fn(strings.TrimPrefix(l, "a="))
		}
	}
	return strings.Join(lines, "\r\n")
}

// decoderFor returns the GStreamer decoder of a codec.
func decoderFor(mime string) (string, error) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return "video/x-vp8 ! vp8dec", nil
	case strings.ToLower(webrtc.MimeTypeVP9):
		return "video/x-vp9 ! vp9dec", nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return "video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! avdec_h264", nil
	case strings.ToLower(webrtc.MimeTypeH265):
		return "video/x-h265,stream-format=byte-stream,alignment=au ! h265parse ! avdec_h265", nil
	case strings.ToLower(webrtc.MimeTypeAV1):
		return "video/x-av1,stream-format=obu-stream,alignment=tu ! av1parse ! av1dec", nil
	}
	return "", fmt.Errorf("viewer: no decoder for %s", mime)
}

func (md *Media) startDecoder(dec string) (*gst.Pipeline, error) {
	md.decMu.Lock()
	defer md.decMu.Unlock()
	if md.closed {
		return nil, errors.New("closed")
	}
	// The viewer stamps each frame itself (do-timestamp=false) so that a
	// decoded frame can be matched to when it was pushed. Scaling before
	// converting keeps the conversion to RGB at 64x36.
	p, err := gst.New(fmt.Sprintf(
		"appsrc name=src is-live=true format=time do-timestamp=false caps=%s ! videoscale ! videoconvert ! video/x-raw,format=RGB,width=%d,height=%d ! appsink name=appsink sync=false",
		dec, FrameW, FrameH), "appsink", "src", md.onFrame)
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		p.Stop()
		return nil, err
	}
	md.decoder = p
	return p, nil
}

// stopDecoder stops the decoder (DecodeFirst, after the first frame). Not
// on GStreamer's streaming thread: stopping waits for it.
func (md *Media) stopDecoder() {
	md.decMu.Lock()
	d := md.decoder
	md.decoder = nil
	md.decMu.Unlock()
	if d != nil {
		d.Stop()
	}
}

// pushInfo is what the viewer knew of a frame when it pushed it to the
// decoder.
type pushInfo struct {
	pushed, arrived, first time.Time
	key                    bool
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
	mime := track.Codec().MimeType
	md.codec.Store(mime)
	dec, err := decoderFor(mime)
	if err != nil {
		return
	}
	// Like a browser, give up on a missing packet after 200 ms.
	asm, err := NewAssembler(mime, 200*time.Millisecond)
	if err != nil {
		return
	}
	var decoder *gst.Pipeline
	if md.opts.Decode != DecodeNone {
		if decoder, err = md.startDecoder(dec); err != nil {
			return
		}
	}
	vp8 := strings.EqualFold(mime, webrtc.MimeTypeVP8)
	_, known := isKeyframe(mime, nil)
	lastPLI := time.Time{}
	pli := func() {
		if time.Since(lastPLI) > 300*time.Millisecond {
			lastPLI = time.Now()
			_ = md.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(track.SSRC())}})
		}
	}
	// Until a keyframe, and after a loss until the next one, frames are
	// skipped (as a browser does) where the codec's keyframes can be told
	// apart, and a keyframe is asked for.
	broken := known
	lastPID := -1 // picture ID of the last decodable VP8 frame
	var firstPacket, firstPushed time.Time
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		if firstPacket.IsZero() {
			firstPacket = now
		}
		md.videoPkts.Add(1)
		md.videoBytes.Add(int64(len(pkt.Payload)))
		asm.Push(pkt, now)
		for f := asm.Pop(now); f != nil; f = asm.Pop(now) {
			md.assembled.Add(1)
			md.recordFirst(FirstVideo{FirstPacket: firstPacket, Complete: f.CompleteAt, Keyframe: f.Keyframe,
				Clean: f.Lost == 0 && f.Dropped == 0 && f.FirstAt.Equal(firstPacket)})
			if f.Lost > 0 || f.Dropped > 0 {
				md.lost.Add(int64(f.Lost))
				// VP8 with picture IDs: only a missing frame breaks the
				// chain, not lost packets between frames (padding).
				if f.PictureID < 0 || lastPID < 0 || f.PictureID != (lastPID+1)&0x7fff {
					broken = known
				}
			}
			if f.Keyframe {
				md.keyframes.Add(1)
				broken = false
			}
			if broken {
				pli()
				lastPID = -1
				continue
			}
			lastPID = f.PictureID
			md.shown(f.CompleteAt)
			// A VP8 keyframe carries the frame size in its header.
			if vp8 && f.Keyframe && len(f.Data) >= 10 {
				w := binary.LittleEndian.Uint16(f.Data[6:8]) & 0x3fff
				h := binary.LittleEndian.Uint16(f.Data[8:10]) & 0x3fff
				md.keySize.Store(uint32(w)<<16 | uint32(h))
			}
			if decoder == nil {
				continue
			}
			if md.opts.Decode == DecodeFirst && md.seq.Load() > 0 {
				decoder = nil
				go md.stopDecoder()
				continue
			}
			if firstPushed.IsZero() {
				firstPushed = now
			}
			if err := md.push(decoder, f); err != nil {
				return
			}
		}
		// Ask for a keyframe while frames go in but nothing comes out
		// (a decoder that cannot start, e.g. H.264 without parameter sets).
		if decoder != nil && md.seq.Load() == 0 && !firstPushed.IsZero() && now.Sub(firstPushed) > 500*time.Millisecond {
			pli()
		}
	}
}

// push hands a frame to the decoder, stamped with the time since the
// media started so that onFrame finds out when it went in.
func (md *Media) push(decoder *gst.Pipeline, f *AssembledFrame) error {
	now := time.Now()
	pts := now.Sub(md.epoch)
	md.pushMu.Lock()
	if len(md.pushed) > 256 {
		// Frames the decoder dropped are never matched: forget them.
		for k := range md.pushed {
			if k < pts-10*time.Second {
				delete(md.pushed, k)
			}
		}
	}
	md.pushed[pts] = pushInfo{pushed: now, arrived: f.CompleteAt, first: f.FirstAt, key: f.Keyframe}
	md.pushMu.Unlock()
	return decoder.Push(f.Data, pts, 0)
}

func (md *Media) recordFirst(fv FirstVideo) {
	md.firstMu.Lock()
	defer md.firstMu.Unlock()
	if md.first == nil {
		md.first = &fv
		close(md.firstCh)
	}
}

// FirstVideo returns the first complete video frame's description, once
// there is one.
func (md *Media) FirstVideo() (FirstVideo, bool) {
	md.firstMu.Lock()
	defer md.firstMu.Unlock()
	if md.first == nil {
		return FirstVideo{}, false
	}
	return *md.first, true
}

// FirstVideoReady is closed when the first complete video frame arrived.
func (md *Media) FirstVideoReady() <-chan struct{} { return md.firstCh }

// Assembled is the number of complete video frames received (decoded or
// not).
func (md *Media) Assembled() int64 { return md.assembled.Load() }

// isKeyframe tells keyframes of VP8, VP9 and H.264 (known reports whether
// the codec's keyframes can be told here).
func isKeyframe(mime string, b []byte) (key, known bool) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		// The frame tag's P bit (RFC 6386 9.1): 0 for a keyframe.
		return len(b) > 0 && b[0]&1 == 0, true
	case strings.ToLower(webrtc.MimeTypeVP9):
		// Uncompressed header (profiles 0–2): frame marker 0b10, profile,
		// show_existing_frame, frame_type (0 = key).
		return len(b) > 0 && b[0]&0xc0 == 0x80 && b[0]&0x30 != 0x30 && b[0]&0x0c == 0, true
	case strings.ToLower(webrtc.MimeTypeH264):
		for i := 0; i+3 < len(b); i++ {
			if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 && b[i+3]&0x1f == 5 {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func (md *Media) onFrame(s gst.Sample) {
	if len(s.Data) != FrameW*FrameH*3 {
		return
	}
	now := time.Now()
	f := Frame{RGB: s.Data, At: now, Arrived: now, Seq: int(md.seq.Add(1))}
	md.pushMu.Lock()
	if in, ok := md.pushed[s.PTS]; ok {
		delete(md.pushed, s.PTS)
		f.Arrived, f.FirstPacket, f.Keyframe = in.arrived, in.first, in.key
		f.Decode = now.Sub(in.pushed)
	}
	md.pushMu.Unlock()
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

// DataMessages delivers the binary messages the server sends on the data
// channel (cursor image and position, pong); extra ones are dropped if not
// read.
func (md *Media) DataMessages() <-chan []byte { return md.data }

// Connected is closed when the peer connects.
func (md *Media) Connected() <-chan struct{} { return md.connected }

// AnsweredAt is when the first answer was made (before it was sent);
// ICEConnectedAt when ICE first connected (DTLS then starts). Zero until
// then.
func (md *Media) AnsweredAt() time.Time { return unixNano(md.answeredAt.Load()) }

func (md *Media) ICEConnectedAt() time.Time { return unixNano(md.iceConnectedAt.Load()) }

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// ConnectedAt is when the peer first connected (ICE and DTLS done); zero
// before.
func (md *Media) ConnectedAt() time.Time {
	if ns := md.connectedAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// States delivers the peer's connection state changes.
func (md *Media) States() <-chan webrtc.PeerConnectionState { return md.states }

// PC is the viewer's peer connection.
func (md *Media) PC() *webrtc.PeerConnection { return md.pc }

// SelectedPair is the ICE candidate pair the peer sends on, as
// "address:port" of the local (viewer) and remote (server) candidates; an
// error before one is selected.
func (md *Media) SelectedPair() (local, remote string, err error) {
	sctp := md.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return "", "", errors.New("viewer: no ICE transport")
	}
	p, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return "", "", err
	}
	if p == nil || p.Local == nil || p.Remote == nil {
		return "", "", errors.New("viewer: no selected candidate pair")
	}
	return net.JoinHostPort(p.Local.Address, strconv.Itoa(int(p.Local.Port))),
		net.JoinHostPort(p.Remote.Address, strconv.Itoa(int(p.Remote.Port))), nil
}

// Codec is the mime type of the video track received ("" before it).
func (md *Media) Codec() string { return md.codec.Load().(string) }

// KeyframeSize is the size in the last VP8 keyframe (0, 0 before one).
func (md *Media) KeyframeSize() (w, h int) {
	v := md.keySize.Load()
	return int(v >> 16), int(v & 0xffff)
}

// Keyframes is the number of keyframes received (VP8, VP9, H.264).
func (md *Media) Keyframes() int64 { return md.keyframes.Load() }

// Lost is the number of video packets the viewer gave up waiting for.
func (md *Media) Lost() int64 { return md.lost.Load() }

// Stats are counters of what arrived.
func (md *Media) Stats() (videoPkts, videoBytes, audioPkts, frames int64) {
	return md.videoPkts.Load(), md.videoBytes.Load(), md.audioPkts.Load(), md.seq.Load()
}

// Signal sends ev with payload and waits for the server's reply event.
func (md *Media) Signal(ctx context.Context, ev types.Event, payload any, reply types.Event) (json.RawMessage, error) {
	ch := md.c.Subscribe(reply)
	if err := md.c.Send(ctx, ev, payload); err != nil {
		return nil, err
	}
	return Wait(ch, 10*time.Second)
}

// SetVideo sends signal/video and returns the server's signal/video. The
// server answers only a request that changes something (Signal waits 10 s
// for it).
func (md *Media) SetVideo(ctx context.Context, req types.SignalVideoRequest) (types.SignalVideo, error) {
	var v types.SignalVideo
	raw, err := md.Signal(ctx, types.EventSignalVideo, req, types.EventSignalVideo)
	if err != nil {
		return v, err
	}
	err = json.Unmarshal(raw, &v)
	return v, err
}

// SetAudio sends signal/audio and returns the server's signal/audio, which
// comes only when the request changes something.
func (md *Media) SetAudio(ctx context.Context, req types.SignalAudioRequest) (types.SignalAudio, error) {
	var a types.SignalAudio
	raw, err := md.Signal(ctx, types.EventSignalAudio, req, types.EventSignalAudio)
	if err != nil {
		return a, err
	}
	err = json.Unmarshal(raw, &a)
	return a, err
}

// WaitFrames waits until n more frames than now were decoded.
func (md *Media) WaitFrames(n int, timeout time.Duration) error {
	target := md.seq.Load() + int64(n)
	deadline := time.Now().Add(timeout)
	for md.seq.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("decoded %d of %d frames in %v", int(md.seq.Load()-target)+n, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
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
	md.stopOnce.Do(func() { close(md.stopped) })
	_ = md.pc.Close()
	md.decMu.Lock()
	md.closed = true
	d := md.decoder
	md.decMu.Unlock()
	if d != nil {
		d.Stop()
		// A stopped GStreamer pipeline gives its descriptors back when the
		// garbage collector finalizes it; tests that count descriptors
		// should not depend on when that happens.
		go runtime.GC()
	}
}

// shown records a decodable frame (complete, and its references too)
// completed at at.
func (md *Media) shown(at time.Time) {
	md.freezeMu.Lock()
	defer md.freezeMu.Unlock()
	if !md.lastShown.IsZero() {
		if gap := at.Sub(md.lastShown); gap > md.maxFreeze {
			md.maxFreeze, md.freezeEnd = gap, at
		}
	}
	md.lastShown = at
}

// ResetFreeze starts measuring freezes anew from now.
func (md *Media) ResetFreeze() {
	md.freezeMu.Lock()
	defer md.freezeMu.Unlock()
	md.lastShown, md.maxFreeze, md.freezeEnd = time.Now(), 0, time.Time{}
}

// FreezeEnd is when the longest freeze measured so far ended (zero if
// none did).
func (md *Media) FreezeEnd() time.Time {
	md.freezeMu.Lock()
	defer md.freezeMu.Unlock()
	return md.freezeEnd
}

// MaxFreeze is the longest time since ResetFreeze without a new decodable
// video frame (a frame that is complete and whose references were all
// complete: what a browser could show), counting the time since the last
// one.
func (md *Media) MaxFreeze() time.Duration {
	md.freezeMu.Lock()
	defer md.freezeMu.Unlock()
	worst := md.maxFreeze
	if !md.lastShown.IsZero() {
		if gap := time.Since(md.lastShown); gap > worst {
			worst = gap
		}
	}
	return worst
}
