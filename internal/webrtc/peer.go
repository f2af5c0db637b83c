package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/webrtc/payload"
	"github.com/neko-webrtc/neko/pkg/types"
)

// peer is one session's WebRTC connection.
type peer struct {
	m       *Manager
	session *session.Session
	log     *slog.Logger
	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	video   Stream
	audio   Stream

	mu        sync.Mutex
	pending   []webrtc.ICECandidateInit // arrived before the answer
	hasRemote bool
	closed    bool
	connected bool
}

func (m *Manager) newPeer(s *session.Session, req types.SignalRequest) (*peer, error) {
	cfg := webrtc.Configuration{}
	for _, srv := range m.opts.Config.ICEServersBackend {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	pc, err := m.api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("webrtc: new peer: %w", err)
	}
	p := &peer{m: m, session: s, log: m.log.With("session_id", s.ID()), pc: pc}

	videoOff := req.Video.Disabled != nil && *req.Video.Disabled
	audioOff := req.Audio.Disabled != nil && *req.Audio.Disabled
	if m.opts.Video != nil && !videoOff {
		sender, err := pc.AddTrack(m.video)
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("webrtc: add video track: %w", err)
		}
		go p.readRTCP(sender, true)
		p.video = m.opts.Video
	}
	if m.opts.Audio != nil && !audioOff {
		sender, err := pc.AddTrack(m.audio)
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("webrtc: add audio track: %w", err)
		}
		go p.readRTCP(sender, false)
		p.audio = m.opts.Audio
	}
	// Existing clients send input over this channel: it is faster than the
	// WebSocket and keeps ordering.
	if p.dc, err = pc.CreateDataChannel("data", nil); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("webrtc: data channel: %w", err)
	}
	p.dc.OnMessage(p.onData)

	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || !m.opts.Config.ICETrickle {
			return
		}
		init := c.ToJSON()
		s.Send(types.EventSignalCandidate, types.SignalCandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
		})
	})
	pc.OnConnectionStateChange(p.onState)

	// Start capture now, so encoding warms up while ICE and DTLS connect.
	if p.video != nil {
		if err := p.video.Acquire(); err != nil {
			p.log.Error("video capture failed", "err", err)
			p.video = nil
		}
	}
	if p.audio != nil {
		if err := p.audio.Acquire(); err != nil {
			p.log.Error("audio capture failed", "err", err)
			p.audio = nil
		}
	}
	return p, nil
}

func (p *peer) streams() (video, audio Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.video, p.audio
}

func (p *peer) offer() error {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.close(true)
		return fmt.Errorf("webrtc: create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.close(true)
		return fmt.Errorf("webrtc: set local description: %w", err)
	}
	if !p.m.opts.Config.ICETrickle {
		select {
		case <-gathered:
		case <-time.After(5 * time.Second):
			p.log.Warn("ICE gathering did not complete in 5s; sending the offer anyway")
		}
	}
	ice := p.m.opts.Config.ICEServersFrontend
	if ice == nil {
		ice = []types.ICEServer{}
	}
	v, a := p.streams()
	video := types.SignalVideo{Disabled: v == nil}
	if v != nil {
		video.ID, video.Video = v.ID(), v.ID()
	}
	audio := types.SignalAudio{Disabled: a == nil}
	p.session.Send(types.EventSignalProvide, types.SignalProvide{
		SDP: p.pc.LocalDescription().SDP, ICEServers: ice, Video: video, Audio: audio,
	})
	p.session.Send(types.EventSignalAudio, audio)
	p.session.Send(types.EventSignalVideo, video)
	return nil
}

func (p *peer) answer(sdp string) error {
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		return fmt.Errorf("webrtc: set remote description: %w", err)
	}
	p.mu.Lock()
	p.hasRemote = true
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Debug("add buffered candidate", "err", err)
		}
	}
	return nil
}

func (p *peer) candidate(c types.SignalCandidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	p.mu.Lock()
	if !p.hasRemote {
		if len(p.pending) < 64 {
			p.pending = append(p.pending, init)
		}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := p.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("webrtc: add candidate: %w", err)
	}
	return nil
}

func (p *peer) onState(state webrtc.PeerConnectionState) {
	p.log.Debug("peer state", "state", state.String())
	switch state {
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		first := !p.connected
		p.connected = true
		p.mu.Unlock()
		if first {
			p.m.opts.Sessions.SetWatching(p.session, true)
		}
		// The keyframe sent when capture started went nowhere; this one
		// lets the viewer start decoding at once.
		if v, _ := p.streams(); v != nil {
			v.RequestKeyframe()
		}
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		p.close(true)
	}
}

// readRTCP turns viewers' keyframe requests into encoder keyframes and
// keeps the RTCP interceptors running.
func (p *peer) readRTCP(sender *webrtc.RTPSender, video bool) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		if !video {
			continue
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if v, _ := p.streams(); v != nil {
					v.RequestKeyframe()
				}
			}
		}
	}
}

// onData handles one data-channel message from the client.
func (p *peer) onData(msg webrtc.DataChannelMessage) {
	if !msg.IsString {
		m, err := p.decode(msg.Data) // v3 layout, or v2 (legacy.go)
		if err != nil {
			p.log.Debug("malformed data channel message", "err", err)
			return
		}
		if m.Op == payload.OpPing {
			_ = p.dc.Send(payload.Pong(m, uint64(time.Now().UnixMilli())))
			return
		}
		if err := p.input(m); err != nil {
			p.log.Debug("data channel input refused", "op", m.Op, "err", err)
		}
	}
}

func (p *peer) input(m payload.Message) error {
	if err := p.m.opts.Sessions.AuthorizeInput(p.session); err != nil {
		return err
	}
	d := p.m.opts.Desktop
	if d == nil {
		return errors.New("no desktop")
	}
	switch m.Op {
	case payload.OpMove:
		return d.Move(int(m.X), int(m.Y))
	case payload.OpScroll:
		return d.Scroll(int(m.DeltaX), int(m.DeltaY), m.ControlKey)
	case payload.OpKeyDown:
		return d.KeyDown(m.Key)
	case payload.OpKeyUp:
		return d.KeyUp(m.Key)
	case payload.OpButtonDown:
		return d.ButtonDown(m.Key)
	case payload.OpButtonUp:
		return d.ButtonUp(m.Key)
	}
	return fmt.Errorf("op 0x%02x not supported", uint8(m.Op))
}

// close ends the peer once. notify tells the client with signal/close,
// which it answers by requesting a new peer.
func (p *peer) close(notify bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	video, audio := p.video, p.audio
	p.video, p.audio = nil, nil
	p.mu.Unlock()

	p.m.removed(p)
	if video != nil {
		video.Release()
	}
	if audio != nil {
		audio.Release()
	}
	go func() { _ = p.pc.Close() }()
	p.m.opts.Sessions.SetWatching(p.session, false)
	if notify {
		p.session.Send(types.EventSignalClose, nil)
	}
}
