package api

import (
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

func (a *API) registerRoom(mux *http.ServeMux) {
	mux.Handle("GET /api/room/settings", a.auth(a.settingsGet))
	mux.Handle("POST /api/room/settings", a.admin(a.settingsSet))
}

func (a *API) settingsGet(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, a.opts.Sessions.Settings())
	return nil
}

// settingsSet applies the fields present in the body; absent fields keep
// their value, as the reference decodes onto the current settings.
func (a *API) settingsSet(w http.ResponseWriter, r *http.Request) error {
	next := a.opts.Sessions.Settings()
	if err := decode(r, &next); err != nil {
		return err
	}
	if next.HeartbeatInterval < 0 || next.HeartbeatInterval > 3600 {
		return httpError(http.StatusBadRequest, "heartbeat_interval must be between 1 and 3600 seconds")
	}
	var actor = SessionFrom(r.Context())
	if actor.APIOnly() {
		actor = nil
	}
	a.opts.Sessions.UpdateSettings(actor, func(s *types.Settings) { *s = next })
	w.WriteHeader(http.StatusNoContent)
	return nil
}
