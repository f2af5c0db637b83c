package websocket

import (
	"errors"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

const maxLogEntries = 50

// SignalMedia is the rest of the signalling a media plane may offer:
// switching video quality or turning media off without renegotiation,
// offers from the client, and ICE restarts. Declared apart from WebRTC so
// that implementations without it still satisfy that interface; those
// events are then refused.
type SignalMedia interface {
	Video(s *session.Session, req types.SignalVideoRequest) error
	Audio(s *session.Session, req types.SignalAudioRequest) error
	Offer(s *session.Session, sdp string) error
	Restart(s *session.Session) error
}

func (h *Handler) signalHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventSignalRequest:   handle(h.signalRequest),
		types.EventSignalAnswer:    handle(h.signalAnswer),
		types.EventSignalOffer:     handle(h.signalOffer),
		types.EventSignalCandidate: handle(h.signalCandidate),
		types.EventSignalVideo:     handle(h.signalVideo),
		types.EventSignalAudio:     handle(h.signalAudio),
		types.EventSignalRestart:   noPayload(h.signalRestart),
	}
}

func (h *Handler) media() (SignalMedia, error) {
	m, ok := h.opts.WebRTC.(SignalMedia)
	if !ok || h.opts.WebRTC == nil {
		return nil, errNoWebRTC
	}
	return m, nil
}

func (h *Handler) signalOffer(s *session.Session, p *types.SignalDescription) error {
	m, err := h.media()
	if err != nil {
		return err
	}
	if p.SDP == "" {
		return errors.New("empty sdp")
	}
	return m.Offer(s, p.SDP)
}

func (h *Handler) signalVideo(s *session.Session, p *types.SignalVideoRequest) error {
	m, err := h.media()
	if err != nil {
		return err
	}
	return m.Video(s, *p)
}

func (h *Handler) signalAudio(s *session.Session, p *types.SignalAudioRequest) error {
	m, err := h.media()
	if err != nil {
		return err
	}
	return m.Audio(s, *p)
}

func (h *Handler) signalRestart(s *session.Session) error {
	m, err := h.media()
	if err != nil {
		return err
	}
	return m.Restart(s)
}

func (h *Handler) signalRequest(s *session.Session, p *types.SignalRequest) error {
	prof := s.Profile()
	if !prof.CanWatch {
		return errCannotWatch
	}
	if h.opts.WebRTC == nil {
		return errNoWebRTC
	}
	return h.opts.WebRTC.Request(s, *p)
}

func (h *Handler) signalAnswer(s *session.Session, p *types.SignalDescription) error {
	if h.opts.WebRTC == nil {
		return errNoWebRTC
	}
	if p.SDP == "" {
		return errors.New("empty sdp")
	}
	return h.opts.WebRTC.Answer(s, p.SDP)
}

func (h *Handler) signalCandidate(s *session.Session, p *types.SignalCandidate) error {
	if h.opts.WebRTC == nil {
		return errNoWebRTC
	}
	return h.opts.WebRTC.Candidate(s, *p)
}

type logEntry struct {
	Level   string         `json:"level"`
	Fields  map[string]any `json:"fields"`
	Message string         `json:"message"`
}

// systemLogs records client-side logs at debug level; a client cannot flood
// our log with more than a few entries per message.
func (h *Handler) systemLogs(s *session.Session, p *[]logEntry) error {
	for i, e := range *p {
		if i >= maxLogEntries {
			break
		}
		msg := e.Message
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		h.log.Debug("client log", "session_id", s.ID(), "level", e.Level, "message", msg)
	}
	return nil
}
