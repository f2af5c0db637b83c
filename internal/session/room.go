package session

import (
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// UpdateProfile replaces a session's profile (a member's profile changed,
// or POST /api/profile) and tells everyone. A host that may no longer host
// loses control.
func (m *Manager) UpdateProfile(id string, p types.MemberProfile) error {
	s, ok := m.Get(id)
	if !ok {
		return ErrNotFound
	}
	s.mu.Lock()
	prev := s.profile
	s.profile = p
	s.mu.Unlock()
	m.save()
	m.Broadcast(types.EventSessionProfile, types.SessionProfileEvent{ID: id, MemberProfile: p}, nil)
	if !p.CanHost && m.Host() == s {
		m.SetHost(nil)
	}
	if !p.CanConnect || !p.CanLogin {
		m.DisconnectConn(s, "your profile no longer allows this connection")
	}
	m.mu.RLock()
	listeners := append([]func(*Session, types.MemberProfile, types.MemberProfile){}, m.profileListeners...)
	m.mu.RUnlock()
	for _, l := range listeners {
		l(s, prev, p)
	}
	return nil
}

// UpdateSettings applies fn to the room settings and tells everyone who
// changed them (actor may be nil for the server itself).
func (m *Manager) UpdateSettings(actor *Session, fn func(*types.Settings)) types.Settings {
	m.mu.Lock()
	prev := m.settings
	fn(&m.settings)
	if m.settings.HeartbeatInterval <= 0 {
		m.settings.HeartbeatInterval = 10
	}
	settings := m.settings
	listeners := append([]func(prev, next types.Settings){}, m.settingsListeners...)
	m.mu.Unlock()
	for _, l := range listeners {
		l(prev, settings)
	}
	id := ""
	if actor != nil {
		id = actor.id
	}
	m.Broadcast(types.EventSystemSettings, types.SystemSettingsEvent{ID: id, Settings: settings}, nil)
	// Locked controls, and private mode (non-admins no longer see the
	// screen), take control away from a non-admin host.
	if settings.LockedControls || settings.PrivateMode {
		if h := m.Host(); h != nil && !h.Profile().IsAdmin {
			m.SetHost(nil)
		}
	}
	return settings
}

// DisconnectConn closes a session's WebSocket (the session stays).
func (m *Manager) DisconnectConn(s *Session, reason string) {
	s.mu.RLock()
	conn := s.conn
	s.mu.RUnlock()
	switch {
	case conn == nil:
	case gone(conn):
		// Its socket dropped and it waits for a reconnect: end the wait.
		m.Disconnect(s, conn)
	default:
		conn.Close(reason)
	}
}

// Kick disconnects a session the way an admin's disconnect does, as the
// reference does: its WebSocket closes with reason and its media ends
// (OnKicked). A socket that merely drops keeps its peer for a reconnect;
// a kicked session's picture should not go on. The session stays: its
// client may log in again.
func (m *Manager) Kick(s *Session, reason string) {
	// Media first: once the socket is closed the client may reconnect
	// and ask for a new peer, which a late listener would end. A peer it
	// asks for in between never connects, and ends with the socket.
	m.mu.RLock()
	listeners := append([]func(*Session){}, m.kickListeners...)
	m.mu.RUnlock()
	for _, fn := range listeners {
		fn(s)
	}
	m.DisconnectConn(s, reason)
}

// Stats reports room statistics.
func (m *Manager) Stats() types.Stats {
	m.mu.RLock()
	st := types.Stats{ServerStartedAt: m.startedAt, LastUserLeftAt: m.lastUserLeft, LastAdminLeftAt: m.lastAdminLeft}
	if m.host != nil {
		st.HasHost, st.HostID = true, m.host.id
	}
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.RUnlock()
	for _, s := range sessions {
		if !s.IsConnected() {
			continue
		}
		if s.Profile().IsAdmin {
			st.TotalAdmins++
		} else {
			st.TotalUsers++
		}
	}
	return st
}

// noteLeft records when the last connected user (or admin) left, as the
// reference's stats report it: set when the last one leaves, cleared when
// one connects (noteJoined). Orchestrators shut idle rooms down by it.
func (m *Manager) noteLeft(s *Session) {
	admin := s.Profile().IsAdmin
	// One critical section with the check, so that a connect cannot slip
	// in between (m.mu before s.mu, as everywhere).
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.sessions {
		if o != s && o.IsConnected() && o.Profile().IsAdmin == admin {
			return // others of its kind are still here
		}
	}
	now := time.Now().UTC()
	if admin {
		m.lastAdminLeft = &now
	} else {
		m.lastUserLeft = &now
	}
}

func (m *Manager) noteJoined(s *Session) {
	admin := s.Profile().IsAdmin
	m.mu.Lock()
	if admin {
		m.lastAdminLeft = nil
	} else {
		m.lastUserLeft = nil
	}
	m.mu.Unlock()
}
