// Package webrtc is the media plane: one pion peer per watching session.
// Each capture stream is packetised once (source) and fanned out to a track
// per viewer (viewerTrack) with its own bounded queue and writer, so
// encoding never grows with viewers and a slow viewer delays nobody else.
// Signalling goes over the session's WebSocket; input over the binary data
// channel.
package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Desktop is the input side of the desktop, for data-channel input.
type Desktop interface {
	Move(x, y int) error
	Scroll(deltaX, deltaY int, controlKey bool) error
	ButtonDown(code uint32) error
	ButtonUp(code uint32) error
	KeyDown(keysym uint32) error
	KeyUp(keysym uint32) error
	TouchBegin(id uint32, x, y int, pressure uint8) error
	TouchUpdate(id uint32, x, y int, pressure uint8) error
	TouchEnd(id uint32, x, y int, pressure uint8) error
}

// Stream is a capture stream as a peer needs it.
type Stream interface {
	ID() string
	Acquire() error
	Release()
	RequestKeyframe()
	SetHandler(func(capture.Sample))
}

// Options wire the manager.
type Options struct {
	Config       config.WebRTC
	BindLoopback bool // the HTTP server listens on loopback only
	// PublicIP, when valid and webrtc.nat1to1 gives no public address, is
	// offered beside the local addresses (FetchPublicIP).
	PublicIP   netip.Addr
	VideoCodec string
	AudioCodec string
	// Videos are the video qualities in the order of capture.video.ids:
	// the first is the default.
	Videos   []Stream
	Audio    Stream
	FPS      int
	Sessions *session.Manager
	Desktop  Desktop
	// Cursor and Pointer report the current cursor image and pointer
	// position, sent to each viewer when its data channel opens (later
	// changes come through SetCursorImage and SetCursorPosition).
	Cursor  func() (CursorImage, bool)
	Pointer func() (x, y int, ok bool)
	// Microphone plays the audio a client with can_share_media sends
	// (nil: upstream audio is refused).
	Microphone Microphone
	// Webcam plays the video a client with can_share_media sends (nil:
	// upstream video is refused, for the reason in WebcamError).
	Webcam      Webcam
	WebcamError string
	// Net, if set, is the network ICE uses instead of the host's (tests
	// put the media path into a network namespace with a limited link).
	Net transport.Net
	// ConnectTimeout ends a peer that has not connected by then (an offer
	// never answered); 0: defaultConnectTimeout.
	ConnectTimeout time.Duration
	// RestartTimeout is how long a peer whose transport failed may take
	// to reconnect after the server's ICE-restart offer before it is
	// closed; 0: defaultRestartTimeout.
	RestartTimeout time.Duration
	Logger         *slog.Logger
}

// defaultConnectTimeout bounds how long an offer may wait for a viewer:
// ICE and DTLS take well under a second, and a peer that never started
// its transport would otherwise never end (it holds a capture stream).
const defaultConnectTimeout = 30 * time.Second

// defaultRestartTimeout leaves a client time to get the restart offer
// over its WebSocket, answer it and run ICE again, on a network that has
// just changed under it.
const defaultRestartTimeout = 15 * time.Second

// Microphone opens a player for one client's upstream audio track of the
// given codec (a MIME type such as "audio/opus"); it refuses a codec it
// cannot decode.
type Microphone interface {
	Open(mimeType string, payloadType uint8, clockRate uint32) (RTPPlayer, error)
}

// Webcam opens a player for one client's upstream video track of the
// given codec (a MIME type such as "video/VP8"). It refuses a codec it
// cannot decode, and a second client while one plays (there is one
// device).
type Webcam interface {
	// Open's player may be closed more than once (the peer closes it
	// when it ends, its reader when the track ends).
	Open(mimeType string, payloadType uint8, clockRate uint32) (RTPPlayer, error)
}

// RTPPlayer plays raw RTP packets of one upstream track.
type RTPPlayer interface {
	WriteRTP(pkt []byte) error
	Close()
}

// Manager owns the peers.
type Manager struct {
	opts   Options
	log    *slog.Logger
	net    *network
	api    *webrtc.API
	vcodec webrtc.RTPCodecCapability
	acodec webrtc.RTPCodecCapability
	videos []*source
	// ladder is videos without the v2 clients' own quality (the first
	// one with the cursor drawn in): what "lower", "higher" and the
	// bandwidth estimator move along.
	ladder []*source
	byID   map[string]*source
	audio  *source

	mu     sync.Mutex
	peers  map[*session.Session]*peer
	closed bool

	// pcMu serialises peer creation, with the estimator on, so that the
	// bandwidth estimator pion builds for a new peer (handed over in a
	// callback) is that peer's.
	pcMu    sync.Mutex
	nextBWE cc.BandwidthEstimator

	certs dtlsCerts

	// malformed counts data-channel messages that did not decode, over
	// every peer the manager had.
	malformed atomic.Uint64
}

// MalformedMessages is how many data-channel messages were dropped as
// malformed (short, unknown op, length mismatch) since start.
func (m *Manager) MalformedMessages() uint64 { return m.malformed.Load() }

// New builds the manager and attaches a source to every stream.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FPS <= 0 {
		opts.FPS = 30
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.RestartTimeout <= 0 {
		opts.RestartTimeout = defaultRestartTimeout
	}
	log := opts.Logger
	vc, err := Codec(opts.VideoCodec)
	if err != nil {
		return nil, err
	}
	ac, err := Codec(opts.AudioCodec)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, log: log, vcodec: vc, acodec: ac, byID: map[string]*source{}, peers: map[*session.Session]*peer{}}
	for _, st := range opts.Videos {
		if _, dup := m.byID[st.ID()]; dup {
			return nil, fmt.Errorf("webrtc: video id %q listed twice", st.ID())
		}
		src, err := newSource(st.ID(), webrtc.RTPCodecTypeVideo, st, vc, time.Second/time.Duration(opts.FPS))
		if err != nil {
			return nil, err
		}
		m.videos = append(m.videos, src)
		if st.ID() != capture.LegacyID {
			m.ladder = append(m.ladder, src)
		}
		m.byID[st.ID()] = src
	}
	if opts.Audio != nil {
		if m.audio, err = newSource(opts.Audio.ID(), webrtc.RTPCodecTypeAudio, opts.Audio, ac, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
	n, err := newNetwork(opts.Config, opts.BindLoopback, opts.PublicIP, opts.Net, log)
	if err != nil {
		return nil, err
	}
	var est *config.Estimator
	if e := opts.Config.Estimator; e.Enabled {
		est = &e
	}
	if m.api, err = newAPI(n, vc, ac, est, func(b cc.BandwidthEstimator) { m.nextBWE = b }); err != nil {
		n.close()
		return nil, err
	}
	m.net = n
	return m, nil
}

// VideoIDs lists the video qualities, the default first.
func (m *Manager) VideoIDs() []string {
	ids := make([]string, 0, len(m.videos))
	for _, s := range m.videos {
		ids = append(ids, s.id)
	}
	return ids
}

// Errors of video selection.
var (
	ErrVideoNotFound = errors.New("webrtc: no such video")
	ErrNoVideo       = errors.New("webrtc: no video configured")
	errClosed        = errors.New("webrtc: manager closed")
	errNoPeer        = errors.New("webrtc: no peer for this session; send signal/request first")
)

// selectVideo resolves a selector among the qualities. Qualities are
// listed best first (capture.video.ids): "lower" is the next id in the
// list, "higher" the previous one; "nearest" is the id itself or, if
// unknown, the default.
func (m *Manager) selectVideo(sel *types.VideoSelector) (*source, error) {
	if len(m.videos) == 0 {
		return nil, ErrNoVideo
	}
	if sel == nil || sel.ID == "" {
		return m.videos[0], nil
	}
	exact := m.byID[sel.ID]
	idx := m.videoIndex(sel.ID)
	// The reference reads the type in any case.
	switch strings.ToLower(sel.Type) {
	case "", "exact", "best":
		if exact != nil {
			return exact, nil
		}
	case "nearest":
		if exact != nil {
			return exact, nil
		}
		return m.videos[0], nil
	case "lower":
		if idx >= 0 && idx+1 < len(m.ladder) {
			return m.ladder[idx+1], nil
		}
	case "higher":
		if idx > 0 {
			return m.ladder[idx-1], nil
		}
	default:
		return nil, &selectorError{fmt.Errorf("webrtc: video selector type %q: want exact, nearest, lower or higher", sel.Type)}
	}
	return nil, &selectorError{fmt.Errorf("%w: %s %q", ErrVideoNotFound, sel.Type, sel.ID)}
}

// selectorError is a video selector that names no quality.
type selectorError struct{ err error }

func (e *selectorError) Error() string { return e.err.Error() }
func (e *selectorError) Unwrap() error { return e.err }

// Request starts (or restarts) the session's peer and sends the offer.
func (m *Manager) Request(s *session.Session, req types.SignalRequest) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	old := m.peers[s]
	delete(m.peers, s)
	m.mu.Unlock()
	if old != nil {
		// Replaced, not ended: the session goes on watching through
		// the new peer, so nobody is told it stopped.
		old.end(false, false)
	}

	p, err := m.newPeer(s, req)
	if err != nil {
		if old != nil {
			m.opts.Sessions.SetWatching(s, false)
		}
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		p.close(false)
		return errClosed
	}
	// A request that raced this one for the same session lost: one peer
	// per session, so that pausing and ending reach every one.
	raced := m.peers[s]
	m.peers[s] = p
	m.mu.Unlock()
	if raced != nil {
		raced.end(false, false)
	}
	// Private mode may have changed while the peer was being built,
	// before SyncPaused could find it.
	p.setPaused(m.privateFor(s))
	return p.provide()
}

func (m *Manager) peer(s *session.Session) (*peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[s]
	if !ok {
		return nil, errNoPeer
	}
	return p, nil
}

// Answer applies the client's answer to our offer.
func (m *Manager) Answer(s *session.Session, sdp string) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.answer(sdp)
}

// Offer applies an offer from the client (it renegotiates) and sends our
// answer as signal/answer.
func (m *Manager) Offer(s *session.Session, sdp string) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.acceptOffer(sdp)
}

// Restart sends an ICE-restart offer as signal/restart.
func (m *Manager) Restart(s *session.Session) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.restartICE()
}

// Candidate adds a remote ICE candidate.
func (m *Manager) Candidate(s *session.Session, c types.SignalCandidate) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.candidate(c)
}

// Video changes the session's video (quality, on/off, auto) without
// renegotiation and reports the new state as signal/video when anything
// changed; a request that changes nothing is not answered, as by the
// reference.
func (m *Manager) Video(s *session.Session, req types.SignalVideoRequest) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.setVideo(req)
}

// Audio turns the session's audio on or off and reports it as
// signal/audio when that changed (as the reference does; see setAudio).
func (m *Manager) Audio(s *session.Session, req types.SignalAudioRequest) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	p.setAudio(req)
	return nil
}

// Close ends the session's peer, if any.
func (m *Manager) Close(s *session.Session) {
	m.mu.Lock()
	p := m.peers[s]
	delete(m.peers, s)
	m.mu.Unlock()
	if p != nil {
		p.close(false)
	}
}

// End closes s's peer, if it has one, and tells the client with
// signal/close (its profile may no longer watch).
func (m *Manager) End(s *session.Session) {
	m.mu.Lock()
	p := m.peers[s]
	delete(m.peers, s)
	m.mu.Unlock()
	if p != nil {
		p.close(true)
	}
}

// SyncPaused pauses or resumes the media of s's peer, if it has one, as
// private mode and s's profile say now (read here, so that changes
// applied in any order end in the current state). A paused peer stays
// connected (data channel, signalling) but gets no video or audio, and
// what the client asked for (qualities, on/off) is kept for when it
// resumes. Private mode pauses non-admins, as the reference does.
func (m *Manager) SyncPaused(s *session.Session) {
	m.mu.Lock()
	p := m.peers[s]
	m.mu.Unlock()
	if p != nil {
		p.setPaused(m.privateFor(s))
	}
}

// CloseUnconnected closes s's peer if it never connected: its client's
// socket is gone, so its offer will not be answered. (A connected peer
// outlives the socket, as in the reference.)
func (m *Manager) CloseUnconnected(s *session.Session) {
	m.mu.Lock()
	p := m.peers[s]
	m.mu.Unlock()
	if p != nil && !p.isConnected() {
		p.close(false)
	}
}

// privateFor reports whether private mode keeps media from s.
func (m *Manager) privateFor(s *session.Session) bool {
	return m.opts.Sessions != nil && m.opts.Sessions.Settings().PrivateMode && !s.Profile().IsAdmin
}

// removed is called by a peer that ended by itself.
func (m *Manager) removed(p *peer) {
	m.mu.Lock()
	if m.peers[p.session] == p {
		delete(m.peers, p.session)
	}
	m.mu.Unlock()
}

// Peers is the number of live peers.
func (m *Manager) Peers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.peers)
}

// Stats are fan-out counters for metrics and tests.
type Stats struct {
	// Viewers per video id (tracks attached to its source).
	Viewers map[string]int
	// Dropped samples and written packets over all live viewers.
	Dropped, Sent uint64
}

// Stats returns the current fan-out counters.
func (m *Manager) Stats() Stats {
	st := Stats{Viewers: map[string]int{}}
	for _, s := range m.videos {
		st.Viewers[s.id] = s.subscribers()
	}
	m.mu.Lock()
	peers := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		peers = append(peers, p)
	}
	m.mu.Unlock()
	for _, p := range peers {
		for _, t := range []*viewerTrack{p.video, p.audio} {
			if t != nil {
				st.Dropped += t.drops.Load()
				st.Sent += t.sent.Load()
			}
		}
	}
	return st
}

// Shutdown closes every peer and the shared sockets.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	peers := m.peers
	m.peers = map[*session.Session]*peer{}
	m.mu.Unlock()
	for _, p := range peers {
		p.close(false)
	}
	m.net.close()
}
