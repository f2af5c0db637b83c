package session

import (
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// cursorFlush batches inactive-cursor moves: at most one session/cursors
// message per interval, whatever the number of moving pointers.
const cursorFlush = 50 * time.Millisecond

// cursorQuiet is how long after the last move the inactive cursors are
// cleared (an empty session/cursors): clients replace their whole list
// with each message, so without it the last positions would stay on
// screen, those of a viewer who became host or left included.
const cursorQuiet = 750 * time.Millisecond

type cursors struct {
	mu      sync.Mutex
	pending map[*Session]types.Cursor
	timer   *time.Timer
	clear   *time.Timer // armed by each flush that sent positions
	sent    uint64      // flushes that sent positions
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
	if len(pending) > 0 {
		c.sent++
		gen := c.sent
		if c.clear != nil {
			c.clear.Stop()
		}
		c.clear = time.AfterFunc(cursorQuiet, func() { m.clearCursors(gen) })
	}
	c.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	list := make([]types.SessionCursors, 0, len(pending))
	for s, pos := range pending {
		list = append(list, types.SessionCursors{ID: s.id, Cursors: []types.Cursor{pos}})
	}
	m.sendCursors(list)
}

// clearCursors sends an empty list once no position was sent for
// cursorQuiet (gen is the flush that armed it).
func (m *Manager) clearCursors(gen uint64) {
	c := &m.cursors
	c.mu.Lock()
	current := c.sent == gen
	if current {
		c.clear = nil
	}
	c.mu.Unlock()
	if current {
		m.sendCursors([]types.SessionCursors{})
	}
}

func (m *Manager) sendCursors(list []types.SessionCursors) {
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
