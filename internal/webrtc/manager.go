// Package webrtc is the media plane: one pion peer per watching session,
// fed by shared tracks (one per video quality, one for audio) so that
// encoding never grows with viewers; signalling over the session's
// WebSocket; the binary data channel for input.
package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

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
	VideoCodec   string
	AudioCodec   string
	Video        Stream // the "main" quality
	Audio        Stream
	FPS          int
	Sessions     *session.Manager
	Desktop      Desktop
	Logger       *slog.Logger
}

// Manager owns the peers.
type Manager struct {
	opts  Options
	log   *slog.Logger
	net   *network
	api   *webrtc.API
	video *webrtc.TrackLocalStaticSample
	audio *webrtc.TrackLocalStaticSample

	mu     sync.Mutex
	peers  map[*session.Session]*peer
	closed bool
}

// New builds the manager and connects the shared tracks to the streams.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FPS <= 0 {
		opts.FPS = 30
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
	n, err := newNetwork(opts.Config, opts.BindLoopback, log)
	if err != nil {
		return nil, err
	}
	api, err := newAPI(n, vc, ac)
	if err != nil {
		n.close()
		return nil, err
	}
	m := &Manager{opts: opts, log: log, net: n, api: api, peers: map[*session.Session]*peer{}}
	if m.video, err = webrtc.NewTrackLocalStaticSample(vc, "video", "stream"); err != nil {
		return nil, fmt.Errorf("webrtc: video track: %w", err)
	}
	if m.audio, err = webrtc.NewTrackLocalStaticSample(ac, "audio", "stream"); err != nil {
		return nil, fmt.Errorf("webrtc: audio track: %w", err)
	}
	frame := time.Second / time.Duration(opts.FPS)
	if opts.Video != nil {
		opts.Video.SetHandler(func(s capture.Sample) {
			d := s.Duration
			if d <= 0 {
				d = frame
			}
			// WriteSample packetises once and writes to every bound peer;
			// errors only mean no peer is bound yet.
			_ = m.video.WriteSample(media.Sample{Data: s.Data, Duration: d})
		})
	}
	if opts.Audio != nil {
		opts.Audio.SetHandler(func(s capture.Sample) {
			d := s.Duration
			if d <= 0 {
				d = 10 * time.Millisecond
			}
			_ = m.audio.WriteSample(media.Sample{Data: s.Data, Duration: d})
		})
	}
	return m, nil
}

// VideoIDs lists the video qualities.
func (m *Manager) VideoIDs() []string {
	if m.opts.Video == nil {
		return []string{}
	}
	return []string{m.opts.Video.ID()}
}

var errClosed = errors.New("webrtc: manager closed")

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
		old.close(false)
	}

	p, err := m.newPeer(s, req)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		p.close(false)
		return errClosed
	}
	m.peers[s] = p
	m.mu.Unlock()
	return p.offer()
}

func (m *Manager) peer(s *session.Session) (*peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[s]
	if !ok {
		return nil, errors.New("webrtc: no peer for this session; send signal/request first")
	}
	return p, nil
}

// Answer applies the client's answer.
func (m *Manager) Answer(s *session.Session, sdp string) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.answer(sdp)
}

// Candidate adds a remote ICE candidate.
func (m *Manager) Candidate(s *session.Session, c types.SignalCandidate) error {
	p, err := m.peer(s)
	if err != nil {
		return err
	}
	return p.candidate(c)
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
