package session

import "errors"

var (
	ErrCannotHost     = errors.New("session may not host")
	ErrControlsLocked = errors.New("controls are locked")
	ErrNotHost        = errors.New("session is not the host")
	// ErrControlProtected: control protection and no admin is present.
	ErrControlProtected = errors.New("control is protected: no admin is connected")
	// ErrPrivateMode: in private mode only admins see the screen, so only
	// they may drive it.
	ErrPrivateMode = errors.New("private mode is enabled")
)

// MayHost reports whether s may take control at all. With control
// protection, users may only gain control while an admin is connected.
func (m *Manager) MayHost(s *Session) error {
	p := s.Profile()
	if !p.CanHost || s.apiOnly {
		return ErrCannotHost
	}
	settings := m.Settings()
	if settings.PrivateMode && !p.IsAdmin {
		return ErrPrivateMode
	}
	if settings.LockedControls && !p.IsAdmin {
		return ErrControlsLocked
	}
	if settings.ControlProtection && !p.IsAdmin && !m.adminConnected() {
		return ErrControlProtected
	}
	return nil
}

func (m *Manager) adminConnected() bool {
	for _, s := range m.List() {
		if s.IsConnected() && s.Profile().IsAdmin {
			return true
		}
	}
	return false
}

// MovePointer decides whether a pointer move from s reaches the desktop:
// the host's does; with implicit hosting and nobody hosting, one from a
// session that may host does too, without making it host (hovering is
// not taking control, but its next click lands where it points). Other
// moves are inactive cursors.
func (m *Manager) MovePointer(s *Session) bool {
	host := m.Host()
	if host == s {
		return true
	}
	return host == nil && m.Settings().ImplicitHosting && m.MayHost(s) == nil
}

// AuthorizeInput decides whether input from s may reach the desktop: the
// host's always does; with implicit hosting, a session that may host
// becomes host by driving while nobody hosts (taking control from a host
// is a control/request: input alone would make control flap between
// everyone moving a mouse).
func (m *Manager) AuthorizeInput(s *Session) error {
	host := m.Host()
	if host == s {
		return nil
	}
	if host != nil || !m.Settings().ImplicitHosting {
		return ErrNotHost
	}
	if err := m.MayHost(s); err != nil {
		return err
	}
	m.SetHost(s)
	return nil
}
