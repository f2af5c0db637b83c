// Package api implements the REST endpoints under /api, one file per
// resource. Handlers return errors; one adapter turns them into status
// codes and {"code", "message"} bodies.
package api

import (
	"context"
	"errors"
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
	Proxy bool
	// Desktop and Media serve the room endpoints that need the X display
	// and the capture pipelines (room_desktop.go, room_media.go).
	Desktop Desktop
	Media   Media
	// Extra registers more routes (plugins); they use Auth and SessionFrom.
	Extra  []func(mux *http.ServeMux, a *API)
	Logger *slog.Logger
}

// API holds the REST handlers.
type API struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux // for batch items
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

// WithSession returns ctx carrying s as the authenticated session of a
// request served in process (the v2 routes run v3 endpoints this way):
// the auth checks take it instead of a token. Only code can put it there,
// never a client.
func WithSession(ctx context.Context, s *session.Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// Register adds every /api route to mux (paths without the server prefix).
// Each resource registers its own routes from its own file.
func (a *API) Register(mux *http.ServeMux) {
	a.registerSession(mux)
	a.registerSessions(mux)
	a.registerRoom(mux)
	a.registerControl(mux)
	a.registerMembers(mux)
	a.registerDesktop(mux)
	a.registerMedia(mux)
	a.registerBatch(mux)
	for _, fn := range a.opts.Extra {
		fn(mux, a)
	}
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

// Auth serves fn for authenticated requests (SessionFrom gives the
// session); errors returned as *HTTPError become their status code.
func (a *API) Auth(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return a.auth(fn)
}

// Public serves fn without authentication, with the same error handling.
func (a *API) Public(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return a.public(fn)
}

// Decode reads one JSON value from a request body (1 MiB max; trailing
// data is an error) and answers 400/413 through the returned error.
func Decode(r *http.Request, v any) error { return decode(r, v) }

// Error returns an error that becomes the given status and message.
func Error(code int, msg string) error { return httpError(code, msg) }

// auth runs fn only for a request with a valid session.
func (a *API) auth(fn handlerFunc) http.Handler {
	return a.public(a.authFunc(fn))
}

func (a *API) authFunc(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s := SessionFrom(r.Context())
		if s == nil {
			var ok bool
			token := session.TokenFromRequest(r, a.opts.Cookie.Name)
			if s, ok = a.opts.Sessions.Authenticate(token); !ok {
				return httpError(http.StatusUnauthorized, "invalid or missing credentials")
			}
		}
		// A profile changed to forbid logging in ends what the session
		// may do, not only its socket (as the reference answers).
		if !s.Profile().CanLogin {
			return httpError(http.StatusForbidden, "login is disabled for this session")
		}
		return fn(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	}
}

// Permission checks run before the handler looks anything up, so a caller
// without the right gets 403 whatever the target (as the reference does).

// admin runs fn only for admins.
func (a *API) admin(fn handlerFunc) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request) error {
		if !SessionFrom(r.Context()).Profile().IsAdmin {
			return httpError(http.StatusForbidden, "session is not an admin")
		}
		return fn(w, r)
	})
}

// canHost runs fn only for sessions whose profile may host; in private
// mode, only for admins (422, as the running reference answers).
func (a *API) canHost(fn handlerFunc) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request) error {
		p := SessionFrom(r.Context()).Profile()
		if !p.CanHost {
			return httpError(http.StatusForbidden, "session cannot host")
		}
		if !p.IsAdmin && a.opts.Sessions.Settings().PrivateMode {
			return httpError(http.StatusUnprocessableEntity, session.ErrPrivateMode.Error())
		}
		return fn(w, r)
	})
}

// host runs fn only for the hosting session (or, with implicit hosting
// and nobody hosting, a session that may take control).
func (a *API) host(fn handlerFunc) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request) error {
		if err := a.asHost(SessionFrom(r.Context())); err != nil {
			return err
		}
		return fn(w, r)
	})
}

// asHost checks that s may act as the host: it hosts, or implicit hosting
// is on, nobody hosts and s may take control (the rules of input).
func (a *API) asHost(s *session.Session) error {
	if !s.Profile().CanHost {
		return httpError(http.StatusForbidden, "session cannot host")
	}
	host := a.opts.Sessions.Host()
	if host == s {
		return nil
	}
	if host != nil || !a.opts.Sessions.Settings().ImplicitHosting {
		return httpError(http.StatusForbidden, "session is not the host")
	}
	if err := a.opts.Sessions.MayHost(s); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, session.ErrPrivateMode) {
			code = http.StatusUnprocessableEntity
		}
		return &HTTPError{Code: code, Msg: err.Error(), Err: err}
	}
	return nil
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
