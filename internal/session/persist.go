package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/neko-webrtc/neko/pkg/types"
)

// stored is a session as session.file keeps it: enough to accept its
// token again after a restart.
type stored struct {
	ID      string              `json:"id"`
	Token   string              `json:"token"`
	Profile types.MemberProfile `json:"profile"`
}

// load reads session.file; a missing file is an empty one.
func (m *Manager) load() error {
	if m.file == "" {
		return nil
	}
	data, err := os.ReadFile(m.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: read session.file: %w", err)
	}
	var list []stored
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("session: session.file %s: %w", m.file, err)
	}
	for _, st := range list {
		if st.ID == "" || st.Token == "" {
			continue
		}
		s := &Session{id: st.ID, token: st.Token, manager: m, profile: st.Profile}
		s.state.NotConnectedSince = stamp()
		m.sessions[s.id] = s
		m.tokens[s.token] = s
	}
	return nil
}

// save writes session.file atomically (temp file + rename), so a crash
// never leaves a half-written file.
func (m *Manager) save() {
	if m.file == "" {
		return
	}
	m.mu.RLock()
	list := make([]stored, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, stored{ID: s.id, Token: s.token, Profile: s.Profile()})
	}
	m.mu.RUnlock()

	m.fileMu.Lock()
	defer m.fileMu.Unlock()
	if err := writeAtomic(m.file, list); err != nil {
		m.log.Error("save sessions", "file", m.file, "err", err)
	}
}

func writeAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
