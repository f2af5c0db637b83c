package websocket

import (
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

func (h *Handler) controlHandlers() map[types.Event]handlerFunc {
	return map[types.Event]handlerFunc{
		types.EventControlRequest: noPayload(h.controlRequest),
		types.EventControlRelease: noPayload(h.controlRelease),
	}
}

// controlRequest takes control when nobody has it, or at once with
// implicit hosting; otherwise the host is asked (control/request with the
// requester's id), as the reference does.
func (h *Handler) controlRequest(s *session.Session) error {
	if err := h.opts.Sessions.MayHost(s); err != nil {
		return err
	}
	host := h.opts.Sessions.Host()
	switch {
	case host == nil || (host != s && h.opts.Sessions.Settings().ImplicitHosting):
		h.opts.Sessions.SetHost(s)
	case host != s:
		host.Send(types.EventControlRequest, types.ControlRequest{ID: s.ID()})
	}
	return nil
}

func (h *Handler) controlRelease(s *session.Session) error {
	if !s.Profile().CanHost {
		return session.ErrCannotHost
	}
	if h.opts.Sessions.Host() != s {
		return session.ErrNotHost
	}
	h.opts.Sessions.SetHost(nil)
	return nil
}
