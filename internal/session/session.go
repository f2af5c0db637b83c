package session

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Conn is a session's WebSocket as the session manager needs it. Send
// must not block: a connection that cannot keep up is closed by its owner.
type Conn interface {
	Send(raw []byte)
	Close(reason string)
}

// Session is one logged-in member's presence in the room.
type Session struct {
	id      string
	token   string
	manager *Manager
	apiOnly bool

	mu      sync.RWMutex
	profile types.MemberProfile
	state   types.SessionState
	conn    Conn
}

func (s *Session) ID() string { return s.id }

// Token is the session's secret; only login returns it to the client.
func (s *Session) Token() string { return s.token }

// APIOnly is true for the session.api_token identity: admin over REST, but
// it can never join media or the WebSocket.
func (s *Session) APIOnly() bool { return s.apiOnly }

// Profile is a copy of the session's profile: its plugins map too, so a
// caller that decodes into it changes nothing shared.
func (s *Session) Profile() types.MemberProfile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.profile
	p.Plugins = maps.Clone(p.Plugins)
	return p
}

func (s *Session) State() types.SessionState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state
}

func (s *Session) Data() types.SessionData {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return types.SessionData{ID: s.id, Profile: s.profile, State: s.state}
}

func (s *Session) IsConnected() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.IsConnected
}

// IsHost reports whether this session controls the desktop.
func (s *Session) IsHost() bool { return s.manager.Host() == s }

// Send marshals and queues one event for this session's WebSocket.
func (s *Session) Send(event types.Event, payload any) {
	raw, err := Marshal(event, payload)
	if err != nil {
		s.manager.log.Error("marshal event", "event", event, "err", err)
		return
	}
	s.SendRaw(raw)
}

// SendRaw queues an already marshalled message.
func (s *Session) SendRaw(raw []byte) {
	s.mu.RLock()
	conn := s.conn
	s.mu.RUnlock()
	if conn != nil {
		conn.Send(raw)
	}
}

// Marshal builds the wire envelope of one event.
func Marshal(event types.Event, payload any) ([]byte, error) {
	return json.Marshal(types.OutMessage{Event: event, Payload: payload})
}

func stamp() *time.Time {
	t := time.Now().UTC()
	return &t
}
