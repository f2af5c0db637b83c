// Package session keeps the room's sessions: who is logged in, their
// tokens, connection state, which one hosts, and the room settings. It fans
// session and control events out to every connected WebSocket.
package session

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"reflect"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

var (
	ErrNotFound         = errors.New("session not found")
	ErrAlreadyConnected = errors.New("session is already connected")
	ErrLoginLocked      = errors.New("logins are locked")
)

// Options configure the manager.
type Options struct {
	Settings types.Settings
	APIToken string
	// File, if set, keeps sessions across restarts (session.file).
	File   string
	Logger *slog.Logger
}

// Manager owns every session.
type Manager struct {
	log *slog.Logger

	mu       sync.RWMutex
	sessions map[string]*Session
	tokens   map[string]*Session
	host     *Session
	settings types.Settings
	apiSess  *Session

	file   string
	fileMu sync.Mutex

	cursors cursors

	startedAt     time.Time
	lastUserLeft  *time.Time
	lastAdminLeft *time.Time

	hostListeners       []func(host, prev *Session)
	disconnectListeners []func(s *Session)
	kickListeners       []func(s *Session)
	deleteListeners     []func(s *Session)
	settingsListeners   []func(prev, next types.Settings)
	profileListeners    []func(s *Session, prev, next types.MemberProfile)
}

// New builds the manager; Restore then loads session.file when set.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{
		log:       opts.Logger,
		sessions:  map[string]*Session{},
		tokens:    map[string]*Session{},
		settings:  opts.Settings,
		startedAt: time.Now().UTC(),
		file:      opts.File,
	}
	if opts.APIToken != "" {
		m.apiSess = &Session{
			id: "API", token: opts.APIToken, manager: m, apiOnly: true,
			// As the running reference: it cannot connect (no WebSocket, no media).
			profile: types.MemberProfile{Name: "API Session", IsAdmin: true, CanLogin: true, CanWatch: true, CanHost: true, CanAccessClipboard: true},
		}
	}
	return m
}

// Restore loads the sessions kept in session.file (if any).
func (m *Manager) Restore() error { return m.load() }

// OnHostChanged registers fn to run after the host changes (host may be nil).
func (m *Manager) OnHostChanged(fn func(host, prev *Session)) {
	m.mu.Lock()
	m.hostListeners = append(m.hostListeners, fn)
	m.mu.Unlock()
}

// OnDisconnected registers fn to run after a session's WebSocket closes.
func (m *Manager) OnDisconnected(fn func(s *Session)) {
	m.mu.Lock()
	m.disconnectListeners = append(m.disconnectListeners, fn)
	m.mu.Unlock()
}

// OnProfileChanged registers fn to run after a session's profile changes
// (UpdateProfile, or a re-login that brings another profile).
func (m *Manager) OnProfileChanged(fn func(s *Session, prev, next types.MemberProfile)) {
	m.mu.Lock()
	m.profileListeners = append(m.profileListeners, fn)
	m.mu.Unlock()
}

// OnSettingsChanged registers fn to run after the room settings change.
func (m *Manager) OnSettingsChanged(fn func(prev, next types.Settings)) {
	m.mu.Lock()
	m.settingsListeners = append(m.settingsListeners, fn)
	m.mu.Unlock()
}

// OnKicked registers fn to run after Kick closed a session's WebSocket.
func (m *Manager) OnKicked(fn func(s *Session)) {
	m.mu.Lock()
	m.kickListeners = append(m.kickListeners, fn)
	m.mu.Unlock()
}

// OnDeleted registers fn to run after a session is removed.
func (m *Manager) OnDeleted(fn func(s *Session)) {
	m.mu.Lock()
	m.deleteListeners = append(m.deleteListeners, fn)
	m.mu.Unlock()
}

// Create adds a session for a member that just logged in. A member id that
// already has a session gets that session back with its token, so a
// re-login does not strand the old one.
func (m *Manager) Create(id string, profile types.MemberProfile) (*Session, error) {
	m.mu.Lock()
	if m.settings.LockedLogins && !profile.IsAdmin {
		m.mu.Unlock()
		return nil, ErrLoginLocked
	}
	if s, ok := m.sessions[id]; ok {
		s.mu.Lock()
		prev := s.profile
		s.profile = profile
		s.mu.Unlock()
		listeners := append([]func(*Session, types.MemberProfile, types.MemberProfile){}, m.profileListeners...)
		m.mu.Unlock()
		// A re-login takes the provider's profile, which may differ
		// (private mode, watching rights depend on it).
		if !reflect.DeepEqual(prev, profile) {
			for _, l := range listeners {
				l(s, prev, profile)
			}
		}
		return s, nil
	}
	s := &Session{id: id, token: newToken(), manager: m, profile: profile}
	s.state.NotConnectedSince = stamp()
	m.sessions[id] = s
	m.tokens[s.token] = s
	m.mu.Unlock()

	m.save()
	m.Broadcast(types.EventSessionCreated, s.Data(), nil)
	return s, nil
}

// Transient makes a session for a single request of a member that logs in
// with every request (the v2 HTTP routes): it is not listed, saved or
// announced, has no token, and is forgotten with the request. Locked
// logins refuse non-admins, as Create does.
func (m *Manager) Transient(id string, profile types.MemberProfile) (*Session, error) {
	if m.Settings().LockedLogins && !profile.IsAdmin {
		return nil, ErrLoginLocked
	}
	s := &Session{id: id, manager: m, profile: profile}
	s.state.NotConnectedSince = stamp()
	return s, nil
}

// Delete removes a session, closing its connection.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	s, ok := m.sessions[id]
	if !ok {
		m.mu.Unlock()
		return ErrNotFound
	}
	delete(m.sessions, id)
	delete(m.tokens, s.token)
	wasHost := m.host == s
	if wasHost {
		m.host = nil
	}
	listeners := append([]func(*Session){}, m.deleteListeners...)
	m.mu.Unlock()

	s.mu.Lock()
	conn := s.conn
	s.conn = nil
	wasConnected := s.state.IsConnected
	s.mu.Unlock()
	if conn != nil {
		conn.Close("session deleted")
	}
	if wasConnected {
		m.noteLeft(s)
	}
	m.save()
	if wasHost {
		m.hostChanged(nil, s)
	}
	for _, fn := range listeners {
		fn(s)
	}
	m.Broadcast(types.EventSessionDeleted, types.SessionID{ID: id}, nil)
	return nil
}

// Get returns a session by id.
func (m *Manager) Get(id string) (*Session, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.sessions[id]
	return s, ok
}

// Authenticate finds the session of a token (or the API identity).
func (m *Manager) Authenticate(token string) (*Session, bool) {
	if token == "" {
		return nil, false
	}
	if m.apiSess != nil && equalToken(token, m.apiSess.token) {
		return m.apiSess, true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.tokens[token]
	return s, ok
}

// List returns every session (not the API identity).
func (m *Manager) List() []*Session {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Settings returns the room settings.
func (m *Manager) Settings() types.Settings {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := m.settings
	st.Plugins = maps.Clone(st.Plugins) // the caller may decode into it
	return st
}

// Host returns the hosting session or nil.
func (m *Manager) Host() *Session {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.host
}

// SetHost makes s the host (nil clears it) and tells everyone.
func (m *Manager) SetHost(s *Session) {
	m.mu.Lock()
	prev := m.host
	if prev == s {
		m.mu.Unlock()
		return
	}
	m.host = s
	m.mu.Unlock()
	m.hostChanged(s, prev)
}

func (m *Manager) hostChanged(host, prev *Session) {
	m.mu.RLock()
	listeners := append([]func(host, prev *Session){}, m.hostListeners...)
	m.mu.RUnlock()
	for _, fn := range listeners {
		fn(host, prev)
	}
	m.Broadcast(types.EventControlHost, ControlHost(host), nil)
}

// ControlHost is the control/host payload for a host (nil: nobody).
func ControlHost(host *Session) types.ControlHost {
	if host == nil {
		return types.ControlHost{}
	}
	return types.ControlHost{ID: host.id, HasHost: true, HostID: host.id}
}

// Connect attaches a WebSocket to s. If s already has one, merciful
// reconnect replaces it; otherwise the new one is refused.
func (m *Manager) Connect(s *Session, conn Conn) error {
	// Read before s.mu: Create holds m.mu while it takes s.mu.
	merciful := m.Settings().MercifulReconnect
	s.mu.Lock()
	old := s.conn
	if old != nil && !merciful && !gone(old) {
		s.mu.Unlock()
		return ErrAlreadyConnected
	}
	s.conn = conn
	wasConnected := s.state.IsConnected
	if !wasConnected {
		s.state.IsConnected = true
		s.state.ConnectedSince = stamp()
		s.state.NotConnectedSince = nil
	}
	s.mu.Unlock()
	if old != nil {
		old.Close("connection replaced by a new one")
	}
	if !wasConnected {
		m.noteJoined(s)
	}
	// Also on a replaced connection: the new socket learns its state
	// from it, as from the reference.
	m.broadcastState(s)
	return nil
}

// gone reports whether conn has ended already (a dropped socket whose
// session waits for a reconnect, see websocket.Options.DisconnectGrace).
func gone(conn Conn) bool {
	g, ok := conn.(interface{ Gone() bool })
	return ok && g.Gone()
}

// Disconnect detaches conn from s if it is still s's connection.
func (m *Manager) Disconnect(s *Session, conn Conn) {
	s.mu.Lock()
	if s.conn != conn {
		s.mu.Unlock()
		return // replaced by a newer connection
	}
	s.conn = nil
	s.state.IsConnected = false
	s.state.NotConnectedSince = stamp()
	s.state.ConnectedSince = nil
	// Watching is the media's state: the peer outlives the socket (a
	// client that reconnects keeps its picture) and reports when it ends.
	s.mu.Unlock()

	m.mu.RLock()
	listeners := append([]func(*Session){}, m.disconnectListeners...)
	m.mu.RUnlock()
	for _, fn := range listeners {
		fn(s)
	}
	// A host that left cannot drive; free control for the others.
	if m.Host() == s {
		m.SetHost(nil)
	}
	m.noteLeft(s)
	m.broadcastState(s)
}

// SetWatching records whether s receives media.
func (m *Manager) SetWatching(s *Session, watching bool) {
	s.mu.Lock()
	if s.state.IsWatching == watching {
		s.mu.Unlock()
		return
	}
	s.state.IsWatching = watching
	if watching {
		s.state.WatchingSince, s.state.NotWatchingSince = stamp(), nil
	} else {
		s.state.NotWatchingSince, s.state.WatchingSince = stamp(), nil
	}
	s.mu.Unlock()
	m.broadcastState(s)
}

func (m *Manager) broadcastState(s *Session) {
	m.Broadcast(types.EventSessionState, types.SessionStateEvent{ID: s.id, SessionState: s.State()}, nil)
}

// Broadcast sends one event to every connected session except except.
// The message is marshalled once for all receivers.
func (m *Manager) Broadcast(event types.Event, payload any, except *Session) {
	raw, err := Marshal(event, payload)
	if err != nil {
		m.log.Error("marshal broadcast", "event", event, "err", err)
		return
	}
	for _, s := range m.List() {
		if s != except {
			s.SendRaw(raw)
		}
	}
}

// BroadcastAdmins sends one event to every connected admin.
func (m *Manager) BroadcastAdmins(event types.Event, payload any) {
	raw, err := Marshal(event, payload)
	if err != nil {
		return
	}
	for _, s := range m.List() {
		if s.Profile().IsAdmin {
			s.SendRaw(raw)
		}
	}
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
