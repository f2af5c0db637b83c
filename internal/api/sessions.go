package api

import (
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

func (a *API) registerSessions(mux *http.ServeMux) {
	mux.Handle("GET /api/sessions", a.auth(a.sessionsList))
	mux.Handle("GET /api/sessions/{sessionId}", a.admin(a.sessionsGet))
	mux.Handle("DELETE /api/sessions/{sessionId}", a.admin(a.sessionsDelete))
	mux.Handle("POST /api/sessions/{sessionId}/disconnect", a.admin(a.sessionsDisconnect))
	mux.Handle("GET /api/stats", a.auth(a.stats))
	mux.Handle("POST /api/profile", a.auth(a.profile))
}

func (a *API) sessionsList(w http.ResponseWriter, r *http.Request) error {
	list := a.opts.Sessions.List()
	out := make([]types.SessionData, 0, len(list))
	for _, s := range list {
		out = append(out, s.Data())
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) sessionsGet(w http.ResponseWriter, r *http.Request) error {
	s, ok := a.opts.Sessions.Get(r.PathValue("sessionId"))
	if !ok {
		return httpError(http.StatusNotFound, "session not found")
	}
	WriteJSON(w, http.StatusOK, s.Data())
	return nil
}

// sessionsDelete answers 400 for an unknown session, as the running
// reference does (not the 404 its docs say).
func (a *API) sessionsDelete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("sessionId")
	if id == SessionFrom(r.Context()).ID() {
		return httpError(http.StatusBadRequest, "cannot delete own session")
	}
	if err := a.opts.Sessions.Delete(id); err != nil {
		return &HTTPError{Code: http.StatusBadRequest, Msg: "session not found", Err: err}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) sessionsDisconnect(w http.ResponseWriter, r *http.Request) error {
	s, ok := a.opts.Sessions.Get(r.PathValue("sessionId"))
	if !ok {
		return httpError(http.StatusBadRequest, "session not found")
	}
	a.opts.Sessions.Kick(s, "disconnected by an admin")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, a.opts.Sessions.Stats())
	return nil
}

// profile updates the caller's runtime profile (not the stored member).
// The running reference answers 200 with `true`. Only admins may change
// permission flags; anyone may rename themselves — otherwise any user could
// make themselves admin.
func (a *API) profile(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if s.APIOnly() {
		return httpError(http.StatusBadRequest, "the API token has no profile")
	}
	cur := s.Profile()
	next := cloneProfile(cur) // decoding must not reach cur's plugins
	if err := decode(r, &next); err != nil {
		return err
	}
	if !cur.IsAdmin {
		renamed := cur
		renamed.Name = next.Name
		renamed.Plugins = cur.Plugins
		next.Plugins = cur.Plugins
		if !equalProfiles(renamed, next) {
			return httpError(http.StatusForbidden, "only admins can change permissions")
		}
	}
	if next.Name == "" {
		next.Name = cur.Name
	}
	if err := a.opts.Sessions.UpdateProfile(s.ID(), next); err != nil {
		return &HTTPError{Code: http.StatusBadRequest, Msg: "session not found", Err: err}
	}
	WriteJSON(w, http.StatusOK, true)
	return nil
}

// equalProfiles compares the permission flags and name (not plugins).
func equalProfiles(a, b types.MemberProfile) bool {
	return a.Name == b.Name && a.IsAdmin == b.IsAdmin && a.CanLogin == b.CanLogin &&
		a.CanConnect == b.CanConnect && a.CanWatch == b.CanWatch && a.CanHost == b.CanHost &&
		a.CanShareMedia == b.CanShareMedia && a.CanAccessClipboard == b.CanAccessClipboard &&
		a.SendsInactiveCursor == b.SendsInactiveCursor && a.CanSeeInactiveCursors == b.CanSeeInactiveCursors
}
