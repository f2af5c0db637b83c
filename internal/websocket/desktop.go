package websocket

import (
	"errors"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

var (
	errNotAdmin    = errors.New("session is not an admin")
	errNoClipboard = errors.New("session may not access the clipboard")
)

// desktopHandlers are the events that act on the desktop beyond input:
// screen size, clipboard, the editing shortcuts, keyboard map and
// modifiers. Everything but screen/set needs control, as input does (the
// host, or with implicit hosting anyone who may host); clipboard events
// also need can_access_clipboard.
func (h *Handler) desktopHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventScreenSet: handle(h.screenSet),

		types.EventClipboardSet: handle(clipboard(input(h, func(d Desktop, p *types.ClipboardData) error {
			return d.SetClipboard(h.ctx, types.ClipboardText{Text: p.Text})
		}))),
		types.EventControlCut:  noPayload(shortcut(h, Desktop.Cut, true)),
		types.EventControlCopy: noPayload(shortcut(h, Desktop.Copy, true)),
		types.EventControlPaste: handle(clipboard(input(h, func(d Desktop, p *types.ClipboardData) error {
			if p.Text != "" {
				if err := d.SetClipboard(h.ctx, types.ClipboardText{Text: p.Text}); err != nil {
					return err
				}
			}
			return d.Paste()
		}))),
		types.EventControlSelectAll: noPayload(shortcut(h, Desktop.SelectAll, false)),

		types.EventKeyboardMap: handle(input(h, func(d Desktop, p *types.KeyboardMap) error {
			return d.SetKeyboardMap(h.ctx, *p)
		})),
		types.EventKeyboardModifiers: handle(input(h, func(d Desktop, p *types.KeyboardModifiers) error {
			return d.SetKeyboardModifiers(*p)
		})),
	}
}

// screenSet changes the screen for an admin; the desktop's screen listener
// broadcasts screen/updated with the admin's id.
func (h *Handler) screenSet(s *session.Session, p *types.ScreenSize) error {
	if !s.Profile().IsAdmin {
		return errNotAdmin
	}
	if h.opts.Desktop == nil {
		return errNoDesktop
	}
	_, err := h.opts.Desktop.SetScreenSize(*p, s.ID())
	return err
}

// clipboard adds the clipboard permission in front of fn.
func clipboard[T any](fn func(*session.Session, T) error) func(*session.Session, T) error {
	return func(s *session.Session, p T) error {
		if !s.Profile().CanAccessClipboard {
			return errNoClipboard
		}
		return fn(s, p)
	}
}

// shortcut is an input action without payload, which may touch the
// clipboard.
func shortcut(h *Handler, fn func(Desktop) error, usesClipboard bool) func(*session.Session) error {
	act := input(h, func(d Desktop, _ *struct{}) error { return fn(d) })
	if usesClipboard {
		act = clipboard(act)
	}
	return func(s *session.Session) error { return act(s, &struct{}{}) }
}
