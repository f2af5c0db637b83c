package session

import (
	"sort"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// cursorFlush batches inactive-cursor moves: at most one session/cursors
// message per interval, whatever the number of moving pointers.
const cursorFlush = 50 * time.Millisecond

// cursorQuiet is how long a pointer that stopped moving stays in the
// list. Clients replace their whole list with each message, so every
// message carries every pointer still shown, and once the last one
// expires an empty list clears them (the position of a viewer who became
// host or left included).
const cursorQuiet = 750 * time.Millisecond

type cursors struct {
	mu    sync.Mutex
	last  map[*Session]cursorAt // the pointers shown
	timer *time.Timer           // the next flush, while pointers are shown
	dirty bool                  // a pointer moved since the last message
	shown bool                  // the last message listed pointers
}

type cursorAt struct {
	pos types.Cursor
	at  time.Time
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
	if c.last == nil {
		c.last = map[*Session]cursorAt{}
	}
	c.last[s] = cursorAt{pos: types.Cursor{X: x, Y: y}, at: time.Now()}
	c.dirty = true
	if c.timer == nil {
		c.timer = time.AfterFunc(cursorFlush, m.flushCursors)
	}
}

// flushCursors sends the pointers still shown when one moved or one
// expired since the last message, and runs again while any is shown.
func (m *Manager) flushCursors() {
	host := m.Host()
	on := m.Settings().InactiveCursors
	c := &m.cursors
	c.mu.Lock()
	now := time.Now()
	changed := c.dirty
	list := make([]types.SessionCursors, 0, len(c.last))
	for s, p := range c.last {
		// Gone: it rested, hosts, left, was deleted, or the room (or its
		// profile) stopped showing pointers.
		if now.Sub(p.at) > cursorQuiet || s == host || !on || !s.IsConnected() ||
			!s.Profile().SendsInactiveCursor || !m.isCurrent(s) {
			delete(c.last, s)
			changed = true
			continue
		}
		list = append(list, types.SessionCursors{ID: s.id, Cursors: []types.Cursor{p.pos}})
	}
	c.dirty = false
	send := changed && (len(list) > 0 || c.shown)
	c.shown = len(list) > 0
	if len(c.last) > 0 {
		c.timer = time.AfterFunc(cursorFlush, m.flushCursors)
	} else {
		c.timer = nil
	}
	c.mu.Unlock()
	if !send {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	m.sendCursors(list)
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

// isCurrent reports whether s is still the manager's session of its id.
func (m *Manager) isCurrent(s *Session) bool {
	got, ok := m.Get(s.id)
	return ok && got == s
}
