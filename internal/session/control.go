package session

import "errors"

var (
	ErrCannotHost     = errors.New("session may not host")
	ErrControlsLocked = errors.New("controls are locked")
	ErrNotHost        = errors.New("session is not the host")
)

// MayHost reports whether s may take control at all.
func (m *Manager) MayHost(s *Session) error {
	p := s.Profile()
	if !p.CanHost {
		return ErrCannotHost
	}
	if m.Settings().LockedControls && !p.IsAdmin {
		return ErrControlsLocked
	}
	return nil
}

// AuthorizeInput decides whether input from s may reach the desktop: the
// host's always does; with implicit hosting, a session that may host
// becomes host by driving.
func (m *Manager) AuthorizeInput(s *Session) error {
	if m.Host() == s {
		return nil
	}
	if !m.Settings().ImplicitHosting {
		return ErrNotHost
	}
	if err := m.MayHost(s); err != nil {
		return err
	}
	m.SetHost(s)
	return nil
}
