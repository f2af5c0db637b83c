package webrtc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/webrtc/payload"
	"github.com/neko-webrtc/neko/pkg/types"
)

// peer is one session's WebRTC connection. Its video and audio tracks are
// negotiated once; which source feeds them (and whether any does) changes
// without renegotiation.
type peer struct {
	m       *Manager
	session *session.Session
	log     *slog.Logger
	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	video   *viewerTrack // nil when no video is configured
	audio   *viewerTrack

	// sig serialises the offer/answer exchanges of this peer; videoMu the
	// changes of its video (client requests, quality adaptation), audioMu
	// those of its audio.
	sig     sync.Mutex
	videoMu sync.Mutex
	audioMu sync.Mutex

	// bwe is the peer's bandwidth estimator (webrtc.estimator.enabled).
	bwe      cc.BandwidthEstimator
	probes   *probeMeter  // with bwe: what the viewer's feedback says of probes
	estimate atomic.Int64 // bit/s, last read
	// reports is what the viewer's RTCP says of its video, for metrics.
	reports rtcpStats
	done    chan struct{}
	// mediaReady is closed once the first request's capture has started
	// (or failed), in the background; nil for a peer made without newPeer.
	mediaReady chan struct{}
	// provided is closed once signal/provide is sent.
	provided chan struct{}

	mu            sync.Mutex
	videoID       string // selected quality, also while disabled
	videoDisabled bool
	auto          bool // quality follows the bandwidth estimate
	audioDisabled bool
	// paused keeps all media from the viewer whatever it asked for
	// (private mode for non-admins); the asked-for state is kept.
	paused     bool
	pending    []webrtc.ICECandidateInit // arrived before the remote description
	hasRemote  bool
	closed     bool
	connected  bool
	webcam     RTPPlayer   // the client's camera being played, if any
	restarting *time.Timer // ICE restart after failure, until connected
	unanswered *time.Timer // ends the peer if it never connects
}

func (m *Manager) newPeer(s *session.Session, req types.SignalRequest) (*peer, error) {
	cert, err := m.certs.get()
	if err != nil {
		return nil, err
	}
	cfg := webrtc.Configuration{Certificates: []webrtc.Certificate{cert}}
	for _, srv := range m.opts.Config.ICEServersBackend {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	var (
		pc  *webrtc.PeerConnection
		bwe cc.BandwidthEstimator
	)
	if m.opts.Config.Estimator.Enabled {
		m.pcMu.Lock()
		pc, err = m.api.NewPeerConnection(cfg)
		bwe, m.nextBWE = m.nextBWE, nil
		m.pcMu.Unlock()
	} else {
		// No estimator handed over: concurrent joins build their peers
		// in parallel.
		pc, err = m.api.NewPeerConnection(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("webrtc: new peer: %w", err)
	}
	p := &peer{m: m, session: s, log: m.log.With("session_id", s.ID()), pc: pc, bwe: bwe, done: make(chan struct{}), provided: make(chan struct{})}
	// In private mode a non-admin gets a connected peer without media
	// (the reference pauses it), so capture is not even started for it.
	p.paused = m.privateFor(s)
	p.unanswered = time.AfterFunc(m.opts.ConnectTimeout, func() {
		if !p.isConnected() {
			p.log.Info("peer did not connect in time; closing it", "timeout", m.opts.ConnectTimeout)
			p.close(true)
		}
	})
	fail := func(err error) (*peer, error) {
		p.unanswered.Stop()
		p.closeTracks()
		_ = pc.Close()
		return nil, err
	}

	// Both tracks are always negotiated (as the reference does), so that
	// turning video or audio on later needs no renegotiation.
	if len(m.videos) > 0 {
		p.video = newViewerTrack(webrtc.RTPCodecTypeVideo, m.vcodec, videoQueue)
		p.video.log = p.log
		if bwe != nil {
			p.probes = &probeMeter{}
			p.video.meter = p.probes
		}
		sender, err := pc.AddTrack(p.video)
		if err != nil {
			return fail(fmt.Errorf("webrtc: add video track: %w", err))
		}
		go p.readRTCP(sender, p.video)
	}
	if m.audio != nil {
		p.audio = newViewerTrack(webrtc.RTPCodecTypeAudio, m.acodec, audioQueue)
		p.audio.log = p.log
		sender, err := pc.AddTrack(p.audio)
		if err != nil {
			return fail(fmt.Errorf("webrtc: add audio track: %w", err))
		}
		go p.readRTCP(sender, nil)
	}
	// Existing clients send input over this channel: it is faster than the
	// WebSocket and keeps ordering.
	if p.dc, err = pc.CreateDataChannel("data", nil); err != nil {
		return fail(fmt.Errorf("webrtc: data channel: %w", err))
	}
	p.dc.OnMessage(p.onData)
	p.dc.OnOpen(p.onDataOpen)

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
	// The viewer starts at a keyframe once DTLS is up: the source's most
	// recent one if it is a few frames old (see startRecent), else a new
	// one. On a short path, one asked for once ICE connects is made while
	// the handshake runs and is recent when it ends, instead of a whole
	// capture tick and encode after it. On a longer one the handshake (two
	// round trips) outlasts recent's few frames: that keyframe would come
	// too early and cost every viewer of the stream one more. Nor is one
	// needed when the newest frame is a keyframe (many viewers joining).
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s != webrtc.ICEConnectionStateConnected || p.video == nil {
			return
		}
		go func() {
			if src := p.video.source(); src != nil {
				if n, ok := src.recentKeyframe(); ok && n == 1 {
					return
				}
			}
			if rtt, ok := p.iceRTT(); ok && 2*rtt <= earlyKeyframeRTT {
				p.video.requestKeyframe(true)
			}
		}()
	})
	// Media a client sends (microphone, webcam) is played on the desktop
	// or, if refused, read and dropped so pion's buffers do not fill.
	pc.OnTrack(p.upstream)

	// Capture starts now, so encoding warms up while ICE and DTLS
	// connect, and beside the offer: a cold pipeline takes tens of
	// milliseconds to start, and provide waits for it only before it
	// reports the media state.
	p.startMedia(req)
	return p, nil
}

// earlyKeyframeRTT is the longest DTLS handshake (two round trips) after
// which a keyframe asked for when ICE connects is still in the source's
// recent frames: made a capture tick and an encode after the request, it
// stays there for maxRecentFrames-1 more frames (about 130 ms at 30 fps).
const earlyKeyframeRTT = 100 * time.Millisecond

// iceRTT is the round-trip time ICE measured on the selected pair.
func (p *peer) iceRTT() (time.Duration, bool) {
	st, ok := p.selectedPair()
	if !ok || st.CurrentRoundTripTime <= 0 {
		return 0, false
	}
	return time.Duration(st.CurrentRoundTripTime * float64(time.Second)), true
}

// selectedPair has the statistics of the ICE candidate pair in use.
func (p *peer) selectedPair() (webrtc.ICECandidatePairStats, bool) {
	sctp := p.pc.SCTP()
	if sctp == nil {
		return webrtc.ICECandidatePairStats{}, false
	}
	return sctp.Transport().ICETransport().GetSelectedCandidatePairStats()
}

// startMedia settles the request's video and audio state now (the offer
// reports it) and starts their capture in the background, returning at
// once: a cold pipeline takes tens of milliseconds to start, which the
// offer, ICE and DTLS need not wait for. The media locks stay held until
// the capture has started, so a client's later request applies after it.
func (p *peer) startMedia(req types.SignalRequest) {
	video := req.Video
	if video.Disabled == nil {
		off := false
		video.Disabled = &off
	}
	if video.Auto == nil && req.Auto {
		video.Auto = &req.Auto
	}
	audio := req.Audio
	if audio.Disabled == nil {
		off := false
		audio.Disabled = &off
	}
	p.videoMu.Lock()
	startVideo, err := p.resolveVideo(video)
	var sel *selectorError
	if errors.As(err, &sel) {
		// A selector the client got wrong: the default quality.
		p.log.Debug("video selector refused; using the default quality", "err", err)
		video.Selector = nil
		startVideo, err = p.resolveVideo(video)
	}
	if err != nil && !errors.Is(err, ErrNoVideo) {
		p.log.Error("video request", "err", err)
	}
	p.audioMu.Lock()
	startAudio := p.resolveAudio(audio)

	p.mediaReady = make(chan struct{})
	go func() {
		defer close(p.mediaReady)
		videoFailed := false
		if startVideo != nil {
			if err := startVideo(); err != nil {
				p.log.Error("video capture failed", "err", err)
				p.mu.Lock()
				if p.videoID == "" {
					p.videoID = p.m.videos[0].id
				}
				p.videoDisabled = true
				p.mu.Unlock()
				videoFailed = true
			}
		}
		p.videoMu.Unlock()
		audioFailed := !startAudio()
		p.audioMu.Unlock()
		if videoFailed || audioFailed {
			go p.reportMedia(videoFailed, audioFailed)
		}
		if p.bwe != nil && p.video != nil {
			go p.adapt()
		}
	}()
}

// reportMedia tells the client, after the offer, that the video or audio
// the offer announced could not start (signal/provide reports the state
// before capture has started).
func (p *peer) reportMedia(video, audio bool) {
	select {
	case <-p.provided:
	case <-p.done:
		return
	}
	if video {
		p.session.Send(types.EventSignalVideo, p.videoState())
	}
	if audio {
		p.session.Send(types.EventSignalAudio, p.audioState())
	}
}

// setVideo applies a video request (quality selector, on/off, auto) and
// reports the new state as signal/video when anything changed; a request
// that changes nothing is not answered, as by the reference. The state
// is read and reported under videoMu, as the estimator's switches are,
// so that no change goes unreported and no older state overtakes a newer
// one.
func (p *peer) setVideo(req types.SignalVideoRequest) error {
	p.videoMu.Lock()
	defer p.videoMu.Unlock()
	before := p.videoState()
	start, err := p.resolveVideo(req)
	if err == nil && start != nil {
		err = start()
	}
	if err != nil {
		return err
	}
	if after := p.videoState(); after != before {
		p.session.Send(types.EventSignalVideo, after)
	}
	return nil
}

// resolveVideo works out what req asks for and records it as the peer's
// video state; the returned function (nil when there is no video) makes
// the track follow it, which may start a capture pipeline. On failure the
// state is what it was. The caller holds videoMu until that has run.
func (p *peer) resolveVideo(req types.SignalVideoRequest) (func() error, error) {
	if p.video == nil {
		p.mu.Lock()
		p.videoDisabled, p.auto = true, false
		p.mu.Unlock()
		if req.Disabled != nil && !*req.Disabled {
			return nil, ErrNoVideo
		}
		return nil, nil
	}
	p.mu.Lock()
	prevID, prevDisabled, prevAuto := p.videoID, p.videoDisabled, p.auto
	p.mu.Unlock()
	id, disabled, auto := prevID, prevDisabled, prevAuto
	if req.Selector != nil {
		src, err := p.m.selectVideo(req.Selector)
		if err != nil {
			return nil, err
		}
		id = src.id
		// auto changes only when asked, as in the reference: a client
		// that picks a quality by hand and wants it kept says auto: false.
	}
	if id == "" {
		id = p.m.videos[0].id
	}
	if req.Disabled != nil {
		disabled = *req.Disabled
	}
	if req.Auto != nil {
		auto = *req.Auto
	}
	// Without the estimator there is nothing to follow: auto stays off,
	// as the reference reports when its estimator is off.
	auto = auto && p.bwe != nil

	p.mu.Lock()
	p.videoID, p.videoDisabled, p.auto = id, disabled, auto
	p.mu.Unlock()
	return func() error {
		if err := p.applyVideo(id, disabled); err != nil {
			p.mu.Lock()
			if p.videoID == id && p.videoDisabled == disabled && p.auto == auto {
				p.videoID, p.videoDisabled, p.auto = prevID, prevDisabled, prevAuto
			}
			p.mu.Unlock()
			return err
		}
		return nil
	}, nil
}

// applyVideo makes quality id feed the video track (or nothing). The
// caller holds videoMu.
func (p *peer) applyVideo(id string, disabled bool) error {
	return p.applyVideoCut(id, disabled, false)
}

// applyVideoCut is applyVideo; with cut the old quality stops at once
// instead of at the new one's first keyframe.
func (p *peer) applyVideoCut(id string, disabled, cut bool) error {
	if disabled || p.isPaused() {
		p.video.clearSource()
		return nil
	}
	if cur := p.video.source(); cur != nil && cur.id == id {
		return nil
	}
	src := p.m.byID[id]
	if err := src.stream.Acquire(); err != nil {
		return fmt.Errorf("webrtc: video %s: %w", id, err)
	}
	if cut {
		p.video.cutSource(src)
	} else {
		p.video.setSource(src)
	}
	return nil
}

// setAudio applies an audio request and reports the new state as
// signal/audio when it changed, or when it is not what was asked for (the
// audio capture failed to start), under audioMu.
func (p *peer) setAudio(req types.SignalAudioRequest) {
	p.audioMu.Lock()
	defer p.audioMu.Unlock()
	before := p.audioState()
	p.resolveAudio(req)()
	after := p.audioState()
	if after != before || (req.Disabled != nil && *req.Disabled != after.Disabled) {
		p.session.Send(types.EventSignalAudio, after)
	}
}

// resolveAudio records the audio state req asks for; the returned
// function makes the track follow it (starting the audio capture if
// needed) and reports false when the capture failed, which turns audio
// off. The caller holds audioMu until that has run.
func (p *peer) resolveAudio(req types.SignalAudioRequest) func() bool {
	p.mu.Lock()
	disabled := p.audioDisabled
	if req.Disabled != nil {
		disabled = *req.Disabled
	}
	if p.audio == nil {
		disabled = true
	}
	p.audioDisabled = disabled
	p.mu.Unlock()
	return func() bool {
		if p.audio == nil {
			return true
		}
		if disabled || p.isPaused() {
			p.audio.clearSource()
			return true
		}
		if p.audio.source() == nil {
			if err := p.m.audio.stream.Acquire(); err != nil {
				p.log.Error("audio capture failed", "err", err)
				p.mu.Lock()
				p.audioDisabled = true
				p.mu.Unlock()
				return false
			}
			p.audio.setSource(p.m.audio)
		}
		return true
	}
}

func (p *peer) isConnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connected
}

func (p *peer) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// setPaused pauses or resumes the peer's media (Manager.SyncPaused). On
// resume each track starts again at a keyframe, as on a quality switch.
func (p *peer) setPaused(paused bool) {
	p.mu.Lock()
	if p.paused == paused || p.closed {
		p.mu.Unlock()
		return
	}
	p.paused = paused
	p.mu.Unlock()
	p.log.Info("media paused", "paused", paused)
	videoFailed := false
	if p.video != nil {
		p.videoMu.Lock()
		p.mu.Lock()
		id, disabled := p.videoID, p.videoDisabled
		p.mu.Unlock()
		if err := p.applyVideo(id, disabled); err != nil {
			p.log.Error("video capture failed", "err", err)
			p.mu.Lock()
			p.videoDisabled = true
			p.mu.Unlock()
			videoFailed = true
		}
		p.videoMu.Unlock()
	}
	p.audioMu.Lock()
	audioFailed := !p.resolveAudio(types.SignalAudioRequest{})()
	p.audioMu.Unlock()
	if videoFailed || audioFailed {
		go p.reportMedia(videoFailed, audioFailed)
	}
}

func (p *peer) videoState() types.SignalVideo {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A passive estimator only reports what it would do (the log), so the
	// client is told, as by the reference, that nothing switches for it.
	auto := p.auto && !p.m.opts.Config.Estimator.Passive
	return types.SignalVideo{Disabled: p.videoDisabled, ID: p.videoID, Video: p.videoID, Auto: auto}
}

func (p *peer) audioState() types.SignalAudio {
	p.mu.Lock()
	defer p.mu.Unlock()
	return types.SignalAudio{Disabled: p.audioDisabled}
}

// localDescription sets desc and, without trickle ICE, waits for the
// candidates to be gathered into it.
func (p *peer) localDescription(desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("webrtc: set local description: %w", err)
	}
	if !p.m.opts.Config.ICETrickle {
		select {
		case <-gathered:
		case <-time.After(5 * time.Second):
			p.log.Warn("ICE gathering did not complete in 5s; sending the description anyway")
		}
	}
	return p.pc.LocalDescription().SDP, nil
}

// provide sends the first offer (signal/provide, then the media state).
func (p *peer) provide() error {
	p.sig.Lock()
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.sig.Unlock()
		p.close(true)
		return fmt.Errorf("webrtc: create offer: %w", err)
	}
	sdp, err := p.localDescription(offer)
	p.sig.Unlock()
	if err != nil {
		p.close(true)
		return err
	}
	ice := p.m.opts.Config.ICEServersFrontend
	if ice == nil {
		ice = []types.ICEServer{}
	}
	video, audio := p.videoState(), p.audioState()
	p.session.Send(types.EventSignalProvide, types.SignalProvide{SDP: sdp, ICEServers: ice, Video: video, Audio: audio})
	p.session.Send(types.EventSignalAudio, audio)
	p.session.Send(types.EventSignalVideo, video)
	close(p.provided)
	// Registered after the first offer, so that it cannot fire for it.
	p.pc.OnNegotiationNeeded(p.renegotiate)
	return nil
}

// renegotiate sends a new offer as signal/offer when the session's media
// changes in a way that needs one.
func (p *peer) renegotiate() {
	p.sig.Lock()
	defer p.sig.Unlock()
	if p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.log.Debug("negotiation needed while not stable; postponed")
		return
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.log.Warn("renegotiation offer", "err", err)
		return
	}
	sdp, err := p.localDescription(offer)
	if err != nil {
		p.log.Warn("renegotiation offer", "err", err)
		return
	}
	p.session.Send(types.EventSignalOffer, types.SignalDescription{SDP: sdp})
}

// restartICE sends an offer with new ICE credentials as signal/restart.
func (p *peer) restartICE() error {
	p.sig.Lock()
	defer p.sig.Unlock()
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// A previous offer is unanswered: replace it.
		if err := p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err != nil {
			return fmt.Errorf("webrtc: rollback: %w", err)
		}
	}
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return fmt.Errorf("webrtc: ice restart offer: %w", err)
	}
	sdp, err := p.localDescription(offer)
	if err != nil {
		return err
	}
	p.session.Send(types.EventSignalRestart, types.SignalDescription{SDP: sdp})
	return nil
}

// answer applies the client's answer to our last offer.
func (p *peer) answer(sdp string) error {
	p.sig.Lock()
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	p.sig.Unlock()
	if err != nil {
		return fmt.Errorf("webrtc: set remote description: %w", err)
	}
	p.remoteSet()
	return nil
}

// acceptOffer answers an offer from the client (signal/offer →
// signal/answer). If our own offer is outstanding, the client's wins.
func (p *peer) acceptOffer(sdp string) error {
	p.sig.Lock()
	defer p.sig.Unlock()
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		if err := p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err != nil {
			return fmt.Errorf("webrtc: rollback: %w", err)
		}
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("webrtc: set remote offer: %w", err)
	}
	p.remoteSet()
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("webrtc: create answer: %w", err)
	}
	local, err := p.localDescription(ans)
	if err != nil {
		return err
	}
	p.session.Send(types.EventSignalAnswer, types.SignalDescription{SDP: local})
	return nil
}

// remoteSet adds the candidates that arrived before a remote description.
func (p *peer) remoteSet() {
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
	// After an ICE restart, candidates of the old generation may still
	// arrive; pion would log each as an error.
	if u := c.UsernameFragment; u != nil && *u != "" {
		if rd := p.pc.RemoteDescription(); rd != nil {
			if cur := sdpUfrag(rd.SDP); cur != "" && cur != *u {
				return nil
			}
		}
	}
	if err := p.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("webrtc: add candidate: %w", err)
	}
	return nil
}

func sdpUfrag(sdp string) string {
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

func (p *peer) onState(state webrtc.PeerConnectionState) {
	p.log.Debug("peer state", "state", state.String())
	switch state {
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		if p.closed {
			// A replaced peer's late news is not the session's state.
			p.mu.Unlock()
			return
		}
		first := !p.connected
		p.connected = true
		if p.unanswered != nil {
			p.unanswered.Stop()
		}
		if p.restarting != nil {
			p.restarting.Stop()
			p.restarting = nil
		}
		p.mu.Unlock()
		if first {
			p.m.opts.Sessions.SetWatching(p.session, true)
		}
		// Packets sent before went nowhere: start each viewer at a
		// keyframe now.
		for _, t := range []*viewerTrack{p.video, p.audio} {
			if t != nil {
				t.setReady(true)
			}
		}
	case webrtc.PeerConnectionStateFailed:
		p.onFailed()
	case webrtc.PeerConnectionStateClosed:
		p.close(true)
	}
}

// onFailed tries one ICE restart (the network may have changed under the
// viewer) before giving the peer up; the client then gets signal/close and
// requests a new one.
func (p *peer) onFailed() {
	// Without a socket the restart offer cannot reach the client.
	reachable := p.session.State().IsConnected
	p.mu.Lock()
	if p.closed || p.restarting != nil || !p.connected || !reachable {
		p.mu.Unlock()
		p.close(true)
		return
	}
	p.restarting = time.AfterFunc(p.m.opts.RestartTimeout, func() {
		p.log.Info("ICE restart did not reconnect; closing the peer")
		p.close(true)
	})
	p.mu.Unlock()
	p.log.Info("transport failed; sending an ICE restart offer")
	if err := p.restartICE(); err != nil {
		p.log.Warn("ICE restart", "err", err)
		p.close(true)
	}
}

// readRTCP turns a viewer's keyframe requests into encoder keyframes,
// serves its retransmission requests, and keeps the RTCP interceptors
// (reports, estimator) running.
func (p *peer) readRTCP(sender *webrtc.RTPSender, video *viewerTrack) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return
			}
			// An interceptor refused one packet (pion's estimator
			// rejects feedback it cannot match, "invalid feedback"):
			// the next ones still need reading, or keyframe requests and
			// all feedback would stop being handled.
			select {
			case <-p.done:
				return
			default:
			}
			p.log.Debug("rtcp", "err", err)
			continue
		}
		for _, pkt := range pkts {
			if fb, ok := pkt.(*rtcp.TransportLayerCC); ok && p.probes != nil {
				// Feedback may name either sender's SSRC.
				p.probes.feedback(fb)
			}
		}
		if video == nil {
			continue
		}
		if b := video.bound.Load(); b != nil {
			p.reports.record(pkts, b.ssrc, time.Now())
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				video.requestKeyframe(false)
			case *rtcp.TransportLayerNack:
				video.resend(pkt)
			}
		}
	}
}

// onData handles one data-channel message from the client.
func (p *peer) onData(msg webrtc.DataChannelMessage) {
	if !msg.IsString {
		m, err := p.decode(msg.Data) // v3 layout, or v2 (legacy.go)
		if err != nil {
			p.m.malformed.Add(1)
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
	if m.Op == payload.OpMove {
		if !p.m.opts.Sessions.MovePointer(p.session) {
			// Not host: the pointer becomes an inactive cursor.
			p.m.opts.Sessions.InactiveCursor(p.session, int(m.X), int(m.Y))
			return nil
		}
	} else if err := p.m.opts.Sessions.AuthorizeInput(p.session); err != nil {
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
	case payload.OpTouchBegin:
		return d.TouchBegin(m.TouchID, int(m.X), int(m.Y), m.Pressure)
	case payload.OpTouchUpdate:
		return d.TouchUpdate(m.TouchID, int(m.X), int(m.Y), m.Pressure)
	case payload.OpTouchEnd:
		return d.TouchEnd(m.TouchID, int(m.X), int(m.Y), m.Pressure)
	}
	return fmt.Errorf("op 0x%02x not supported", uint8(m.Op))
}

func (p *peer) closeTracks() {
	for _, t := range []*viewerTrack{p.video, p.audio} {
		if t != nil {
			t.close()
		}
	}
}

// close ends the peer once. notify tells the client with signal/close,
// which it answers by requesting a new peer.
func (p *peer) close(notify bool) { p.end(notify, true) }

// end is close; unwatch also records that the session stopped watching,
// which a peer replaced by a newer one of the same session does not.
func (p *peer) end(notify, unwatch bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.unanswered != nil {
		p.unanswered.Stop()
	}
	if p.restarting != nil {
		p.restarting.Stop()
		p.restarting = nil
	}
	webcam := p.webcam
	p.mu.Unlock()
	if webcam != nil {
		webcam.Close()
	}
	close(p.done)
	// A capture start still running would acquire streams after the
	// tracks released theirs.
	if p.mediaReady != nil {
		<-p.mediaReady
	}

	p.m.removed(p)
	// Closing the tracks releases their capture streams.
	p.closeTracks()
	go func() { _ = p.pc.Close() }()
	if unwatch {
		p.m.opts.Sessions.SetWatching(p.session, false)
	}
	if notify {
		p.session.Send(types.EventSignalClose, types.NullPayload)
	}
}
