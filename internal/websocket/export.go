package websocket

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// ErrUnknownEvent is returned by Dispatch for an event no handler serves.
var ErrUnknownEvent = errors.New("websocket: unknown event")

// Dispatch runs one client event of s through the v3 handler table, as if
// it had arrived on s's own WebSocket. The v2 bridge (internal/legacy)
// feeds the events it translates from its clients through here, so both
// protocols share one implementation. A nil payload is an absent one; the
// handler's refusal is returned, a panicking handler becomes an error.
func (h *Handler) Dispatch(s *session.Session, event types.Event, payload json.RawMessage) (err error) {
	fn, ok := h.handlers[event]
	if !ok {
		h.opts.Metrics.eventIn("unknown")
		return fmt.Errorf("%w %q", ErrUnknownEvent, event)
	}
	h.opts.Metrics.eventIn(string(event))
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("websocket handler panic", "event", event, "panic", fmt.Sprint(r))
			err = fmt.Errorf("websocket: handler of %q panicked", event)
		}
	}()
	return fn(s, payload)
}

// Connected sends s what every new connection receives after it is
// attached: system/init, system/admin for admins, then the events of the
// OnConnect hooks (plugins).
func (h *Handler) Connected(s *session.Session) {
	h.sendInit(s)
	for _, fn := range h.opts.OnConnect {
		fn(s)
	}
}

// ScreenSize is the current screen size as system/init reports it.
func (h *Handler) ScreenSize() types.ScreenSize { return h.screen() }

// ScreenSizes are the sizes system/admin offers (none when unknown).
func (h *Handler) ScreenSizes() []types.ScreenSize {
	if h.opts.Screens == nil {
		return nil
	}
	return h.opts.Screens()
}
