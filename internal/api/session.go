package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

func (a *API) registerSession(mux *http.ServeMux) {
	mux.Handle("POST /api/login", a.public(a.login))
	mux.Handle("POST /api/logout", a.auth(a.logout))
	mux.Handle("GET /api/whoami", a.auth(a.whoami))
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req types.LoginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id, profile, err := a.opts.Members.Authenticate(req.Username, req.Password)
	switch {
	case errors.Is(err, member.ErrInvalidCredentials):
		return &HTTPError{Code: http.StatusUnauthorized, Msg: "invalid username or password", Err: err}
	case errors.Is(err, member.ErrUsernameRequired):
		return &HTTPError{Code: http.StatusBadRequest, Msg: "username is required", Err: err}
	case err != nil:
		return &HTTPError{Code: http.StatusInternalServerError, Msg: "login failed", Err: err}
	}
	if !profile.CanLogin {
		return httpError(http.StatusForbidden, "login is not allowed for this member")
	}
	s, err := a.opts.Sessions.Create(id, profile)
	if errors.Is(err, session.ErrLoginLocked) {
		return &HTTPError{Code: http.StatusForbidden, Msg: "logins are locked", Err: err}
	} else if err != nil {
		return &HTTPError{Code: http.StatusInternalServerError, Msg: "cannot create session", Err: err}
	}
	resp := types.LoginResponse{SessionData: s.Data()}
	if a.opts.Cookie.Enabled {
		a.setCookie(w, r, s.Token(), time.Now().Add(a.opts.Cookie.Expiration))
	} else {
		resp.Token = s.Token()
	}
	a.log.Info("login", "session_id", s.ID(), "admin", profile.IsAdmin, "remote", r.RemoteAddr)
	WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if s.APIOnly() {
		return httpError(http.StatusBadRequest, "the API token has no session to log out of")
	}
	if err := a.opts.Sessions.Delete(s.ID()); err != nil && !errors.Is(err, session.ErrNotFound) {
		return &HTTPError{Code: http.StatusInternalServerError, Msg: "logout failed", Err: err}
	}
	if a.opts.Cookie.Enabled {
		a.setCookie(w, r, "", time.Unix(0, 0))
	}
	WriteJSON(w, http.StatusOK, true)
	return nil
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, SessionFrom(r.Context()).Data())
	return nil
}

// setCookie writes the session cookie. A Secure cookie sent over plain
// HTTP is dropped by browsers (except on localhost), which would make
// logins over http://<lan-ip> silently fail; so Secure — and SameSite=None,
// which needs it, for embedding in iframes — applies only to requests that
// arrived over HTTPS, directly or through a trusted proxy.
func (a *API) setCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	c := a.opts.Cookie
	https := r.TLS != nil || (a.opts.Proxy && r.Header.Get("X-Forwarded-Proto") == "https")
	cookie := &http.Cookie{
		Name:     c.Name,
		Value:    value,
		Domain:   c.Domain,
		Path:     c.Path,
		Expires:  expires,
		HttpOnly: c.HTTPOnly,
		SameSite: http.SameSiteLaxMode,
	}
	if cookie.Path == "" {
		cookie.Path = "/"
	}
	if c.Secure && https {
		cookie.Secure = true
		cookie.SameSite = http.SameSiteNoneMode
	}
	if value == "" {
		cookie.MaxAge = -1
	}
	http.SetCookie(w, cookie)
}
