package webrtc

import (
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/webrtc/payload"
)

// CursorImage is the desktop's cursor as the data channel carries it.
type CursorImage struct {
	Width, Height, Xhot, Yhot int
	PNG                       []byte
}

// maxDataBacklog is how much may wait in a viewer's data channel before
// cursor positions to it are dropped (each one supersedes the last).
const maxDataBacklog = 256 << 10

// SetCursorImage sends a new cursor image to every viewer (encoded once).
func (m *Manager) SetCursorImage(c CursorImage) {
	msg, err := encodeCursor(c)
	if err != nil {
		m.log.Debug("cursor image not sent", "err", err)
		return
	}
	for _, p := range m.livePeers() {
		p.sendData(msg, 4*maxDataBacklog)
	}
}

// SetCursorPosition sends the host's pointer position to every viewer but
// the host (whose own pointer is already there). It runs on the input
// path: sends never block, and a viewer that falls behind misses
// positions, not input.
func (m *Manager) SetCursorPosition(x, y int) {
	msg := payload.CursorPosition(clampU16(x), clampU16(y))
	for _, p := range m.livePeers() {
		if p.session.IsHost() {
			continue
		}
		p.sendData(msg, maxDataBacklog)
	}
}

func encodeCursor(c CursorImage) ([]byte, error) {
	return payload.CursorImage(clampU16(c.Width), clampU16(c.Height), clampU16(c.Xhot), clampU16(c.Yhot), c.PNG)
}

func clampU16(v int) uint16 {
	switch {
	case v < 0:
		return 0
	case v > 0xffff:
		return 0xffff
	}
	return uint16(v)
}

func (m *Manager) livePeers() []*peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		out = append(out, p)
	}
	return out
}

// sendData sends a binary message on the peer's data channel unless it is
// not open or more than backlog bytes already wait in it.
func (p *peer) sendData(msg []byte, backlog uint64) {
	dc := p.dc
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen || dc.BufferedAmount() > backlog {
		return
	}
	_ = dc.Send(msg)
}

// onDataOpen sends a new viewer the current cursor and pointer position.
func (p *peer) onDataOpen() {
	if fn := p.m.opts.Cursor; fn != nil {
		if c, ok := fn(); ok {
			if msg, err := encodeCursor(c); err == nil {
				p.sendData(msg, 4*maxDataBacklog)
			}
		}
	}
	if fn := p.m.opts.Pointer; fn != nil && !p.session.IsHost() {
		if x, y, ok := fn(); ok {
			p.sendData(payload.CursorPosition(clampU16(x), clampU16(y)), maxDataBacklog)
		}
	}
}
