package session

import (
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// cursorFlush batches inactive-cursor moves: at most one session/cursors
// message per interval, whatever the number of moving pointers.
const cursorFlush = 50 * time.Millisecond

type cursors struct {
	mu      sync.Mutex
	pending map[*Session]types.Cursor
	timer   *time.Timer
}

// InactiveCursor records the pointer of a session that is not host. With
// settings.inactive_cursors and the session's sends_inactive_cursor, the
// position reaches sessions whose profile has can_see_inactive_cursors.
func (m *Manager) InactiveCursor(s *Session, x, y int) {
	if !m.Settings().InactiveCursors || !s.Profile().SendsInactiveCursor {
		return
	}
	c := &m.cursors
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[*Session]types.Cursor{}
	}
	c.pending[s] = types.Cursor{X: x, Y: y}
	if c.timer == nil {
		c.timer = time.AfterFunc(cursorFlush, m.flushCursors)
	}
}

func (m *Manager) flushCursors() {
	c := &m.cursors
	c.mu.Lock()
	pending := c.pending
	c.pending, c.timer = nil, nil
	c.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	list := make([]types.SessionCursors, 0, len(pending))
	for s, pos := range pending {
		list = append(list, types.SessionCursors{ID: s.id, Cursors: []types.Cursor{pos}})
	}
	raw, err := Marshal(types.EventSessionCursors, list)
	if err != nil {
		return
	}
	// Clients skip their own entry.
	for _, s := range m.List() {
		if s.Profile().CanSeeInactiveCursors {
			s.SendRaw(raw)
		}
	}
}
