// Package api implements the REST endpoints under /api, one file per
// resource. Handlers return errors; one adapter turns them into status
// codes and {"message": ...} bodies.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/session"
)

// Options wire the API to the managers.
type Options struct {
	Sessions *session.Manager
	Members  member.Provider
	Cookie   config.Cookie
	// Proxy trusts X-Forwarded-Proto for deciding whether a request came
	// over HTTPS.
	Proxy  bool
	Logger *slog.Logger
}

// API holds the REST handlers.
type API struct {
	opts Options
	log  *slog.Logger
}

func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &API{opts: opts, log: opts.Logger}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type ctxKey struct{}

// SessionFrom returns the authenticated session of a request.
func SessionFrom(ctx context.Context) *session.Session {
	s, _ := ctx.Value(ctxKey{}).(*session.Session)
	return s
}

// Register adds every /api route to mux (paths without the server prefix).
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("POST /api/login", a.public(a.login))
	mux.Handle("POST /api/logout", a.auth(a.logout))
	mux.Handle("GET /api/whoami", a.auth(a.whoami))
	mux.Handle("/api/", a.public(func(w http.ResponseWriter, r *http.Request) error {
		return httpError(http.StatusNotFound, "no such endpoint")
	}))
}

func (a *API) public(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// auth runs fn only for a request with a valid session.
func (a *API) auth(fn handlerFunc) http.Handler {
	return a.public(func(w http.ResponseWriter, r *http.Request) error {
		token := session.TokenFromRequest(r, a.opts.Cookie.Name)
		s, ok := a.opts.Sessions.Authenticate(token)
		if !ok {
			return httpError(http.StatusUnauthorized, "invalid or missing credentials")
		}
		return fn(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *HTTPError
	if e, ok := err.(*HTTPError); ok {
		he = e
	}
	if he == nil || he.Code >= 500 {
		a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		a.log.Debug("api request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err)
}
