package websocket

import "github.com/neko-webrtc/neko/pkg/types"

// desktopHandlers are the events that act on the desktop beyond input:
// screen size, clipboard, keyboard map and modifiers.
func (h *Handler) desktopHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{}
}
