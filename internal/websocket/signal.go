package websocket

import (
	"errors"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

const maxLogEntries = 50

func (h *Handler) signalHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventSignalRequest:   handle(h.signalRequest),
		types.EventSignalAnswer:    handle(h.signalAnswer),
		types.EventSignalCandidate: handle(h.signalCandidate),
	}
}

func (h *Handler) signalRequest(s *session.Session, p *types.SignalRequest) error {
	prof := s.Profile()
	if !prof.CanWatch {
		return errCannotWatch
	}
	if h.opts.Sessions.Settings().PrivateMode && !prof.IsAdmin {
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
