package websocket

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

type handlerFunc func(s *session.Session, payload json.RawMessage) error

// HandlerFunc handles one client event; payload is the raw JSON payload
// (nil when absent). Returned errors are logged at debug level.
type HandlerFunc = handlerFunc

var (
	errCannotWatch = errors.New("session may not watch")
	errNoDesktop   = errors.New("no desktop attached")
	errNoWebRTC    = errors.New("media is not available")
)

// handle decodes the payload into T and calls fn. A missing or null payload
// leaves T at its zero value; a payload of the wrong shape is an error.
func handle[T any](fn func(s *session.Session, p *T) error) handlerFunc {
	return func(s *session.Session, raw json.RawMessage) error {
		var p T
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("decode payload: %w", err)
			}
		}
		return fn(s, &p)
	}
}

func noPayload(fn func(s *session.Session) error) handlerFunc {
	return func(s *session.Session, _ json.RawMessage) error { return fn(s) }
}

// table merges the handlers of each area (one file per area).
func (h *Handler) table() map[types.Event]handlerFunc {
	t := map[types.Event]handlerFunc{}
	for _, part := range []map[types.Event]handlerFunc{
		h.systemHandlers(),
		h.signalHandlers(),
		h.controlHandlers(),
		h.inputHandlers(),
		h.desktopHandlers(),
		h.opts.Extra,
	} {
		for ev, fn := range part {
			if _, dup := t[ev]; dup {
				panic("websocket: two handlers for " + string(ev))
			}
			t[ev] = fn
		}
	}
	return t
}

func (h *Handler) systemHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventClientHeartbeat: noPayload(func(*session.Session) error { return nil }),
		types.EventSystemLogs:      handle(h.systemLogs),
		types.EventSendUnicast:     handle(h.sendUnicast),
		types.EventSendBroadcast:   handle(h.sendBroadcast),
	}
}

// sendUnicast relays an opaque message to one session, with the sender
// set by us (a client cannot pretend to be someone else).
func (h *Handler) sendUnicast(s *session.Session, p *types.SendUnicast) error {
	target, ok := h.opts.Sessions.Get(p.Receiver)
	if !ok {
		return session.ErrNotFound
	}
	p.Sender = s.ID()
	target.Send(types.EventSendUnicast, p)
	return nil
}

func (h *Handler) sendBroadcast(s *session.Session, p *types.SendBroadcast) error {
	p.Sender = s.ID()
	h.opts.Sessions.Broadcast(types.EventSendBroadcast, p, s)
	return nil
}

func (h *Handler) inputHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventControlMove: handle(h.move),
		types.EventControlScroll: handle(input(h, func(d Desktop, p *types.ControlScroll) error {
			dx, dy := p.DeltaX, p.DeltaY
			if dx == 0 && dy == 0 { // legacy clients send x/y
				dx, dy = p.X, p.Y
			}
			return d.Scroll(dx, dy, p.ControlKey)
		})),
		types.EventControlButtonDown:  handle(input(h, button(Desktop.ButtonDown))),
		types.EventControlButtonUp:    handle(input(h, button(Desktop.ButtonUp))),
		types.EventControlButtonPress: handle(input(h, button(Desktop.ButtonPress))),
		types.EventControlKeyDown:     handle(input(h, key(Desktop.KeyDown))),
		types.EventControlKeyUp:       handle(input(h, key(Desktop.KeyUp))),
		types.EventControlKeyPress:    handle(input(h, key(Desktop.KeyPress))),
		types.EventControlTouchBegin:  handle(input(h, touch(Desktop.TouchBegin))),
		types.EventControlTouchUpdate: handle(input(h, touch(Desktop.TouchUpdate))),
		types.EventControlTouchEnd:    handle(input(h, touch(Desktop.TouchEnd))),
	}
}

// move drives the pointer for the host; anyone else's pointer becomes an
// inactive cursor that others may see.
func (h *Handler) move(s *session.Session, p *types.ControlPos) error {
	if !h.opts.Sessions.MovePointer(s) {
		h.opts.Sessions.InactiveCursor(s, p.X, p.Y)
		return nil
	}
	if h.opts.Desktop == nil {
		return errNoDesktop
	}
	return h.opts.Desktop.Move(p.X, p.Y)
}

func touch(fn func(Desktop, uint32, int, int, uint8) error) func(Desktop, *types.ControlTouch) error {
	return func(d Desktop, p *types.ControlTouch) error {
		return fn(d, p.TouchID, p.X, p.Y, p.Pressure)
	}
}

func button(fn func(Desktop, uint32) error) func(Desktop, *types.ControlButton) error {
	return func(d Desktop, p *types.ControlButton) error {
		if p.X != nil && p.Y != nil {
			if err := d.Move(*p.X, *p.Y); err != nil {
				return err
			}
		}
		return fn(d, p.Code)
	}
}

func key(fn func(Desktop, uint32) error) func(Desktop, *types.ControlKey) error {
	return func(d Desktop, p *types.ControlKey) error {
		if p.X != nil && p.Y != nil {
			if err := d.Move(*p.X, *p.Y); err != nil {
				return err
			}
		}
		return fn(d, p.Keysym)
	}
}

// input wraps a desktop action with the host check: only the host drives,
// or, with implicit hosting, anyone who may host (and thereby becomes host).
func input[T any](h *Handler, fn func(Desktop, *T) error) func(*session.Session, *T) error {
	return func(s *session.Session, p *T) error {
		if err := h.opts.Sessions.AuthorizeInput(s); err != nil {
			return err
		}
		if h.opts.Desktop == nil {
			return errNoDesktop
		}
		return fn(h.opts.Desktop, p)
	}
}
