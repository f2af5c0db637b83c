package api

import (
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Every control endpoint needs can_host (deviations.md); take, reset and
// giving control to someone else need admin, except that the host may give
// its own control away.
func (a *API) registerControl(mux *http.ServeMux) {
	mux.Handle("GET /api/room/control", a.canHost(a.controlStatus))
	mux.Handle("POST /api/room/control/request", a.canHost(a.controlRequest))
	mux.Handle("POST /api/room/control/release", a.canHost(a.controlRelease))
	mux.Handle("POST /api/room/control/take", a.canHost(a.controlTake))
	mux.Handle("POST /api/room/control/give/{sessionId}", a.canHost(a.controlGive))
	mux.Handle("POST /api/room/control/reset", a.canHost(a.controlReset))
}

func (a *API) controlStatus(w http.ResponseWriter, r *http.Request) error {
	st := types.ControlStatus{}
	if h := a.opts.Sessions.Host(); h != nil {
		st.HasHost, st.HostID = true, h.ID()
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

// controlRequest takes control when nobody has it (or at once with
// implicit hosting). When someone does, the running reference answers 202
// and asks the host (control/request {id}).
func (a *API) controlRequest(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if err := a.opts.Sessions.MayHost(s); err != nil {
		return &HTTPError{Code: http.StatusForbidden, Msg: err.Error(), Err: err}
	}
	switch host := a.opts.Sessions.Host(); {
	case host == s:
	case host != nil && !a.opts.Sessions.Settings().ImplicitHosting:
		host.Send(types.EventControlRequest, types.ControlRequest{ID: s.ID()})
		WriteJSON(w, http.StatusAccepted, types.ErrorMessage{Message: "control request sent"})
		return nil
	default:
		a.opts.Sessions.SetHost(s)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) controlRelease(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Sessions.Host() != SessionFrom(r.Context()) {
		return httpError(http.StatusUnprocessableEntity, "session is not the host")
	}
	a.opts.Sessions.SetHost(nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// controlTake makes an admin the host whatever the current state.
func (a *API) controlTake(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if !s.Profile().IsAdmin {
		return httpError(http.StatusForbidden, "session is not an admin")
	}
	if s.APIOnly() {
		return httpError(http.StatusBadRequest, "the API token cannot host")
	}
	a.opts.Sessions.SetHost(s)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) controlGive(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if !s.Profile().IsAdmin && a.opts.Sessions.Host() != s {
		return httpError(http.StatusForbidden, "only admins or the host can give control")
	}
	target, ok := a.opts.Sessions.Get(r.PathValue("sessionId"))
	if !ok {
		return httpError(http.StatusNotFound, "target session not found")
	}
	if err := a.opts.Sessions.MayHost(target); err != nil {
		return &HTTPError{Code: http.StatusBadRequest, Msg: "target session cannot host", Err: err}
	}
	a.opts.Sessions.SetHost(target)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) controlReset(w http.ResponseWriter, r *http.Request) error {
	if !SessionFrom(r.Context()).Profile().IsAdmin {
		return httpError(http.StatusForbidden, "session is not an admin")
	}
	a.opts.Sessions.SetHost(nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
