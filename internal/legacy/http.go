package legacy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/session"
)

// The v2 HTTP routes. v2 had no sessions: each request carries the
// credentials in its query (?usr=&pwd=; the v2 client sends only pwd).
// /stats is answered from the session manager; /screenshot.jpg and /file
// run the v3 endpoints (/api/room/screen/shot.jpg, /api/filetransfer) in
// process, as the member's session if it has one, else as a transient
// session that nobody else sees (the reference logs in and out for each
// request, announcing a session that lives for one request).

// v2Username names a request without ?usr= (multiuser needs a name; the
// v2 client never sends one).
const v2Username = "v2"

// Who may use a route.
const (
	anyMember = false
	adminOnly = true
)

// registerHTTP adds the v2 HTTP routes; the v3 endpoints they run are
// reached through mux, errors are answered in a's format.
func (h *Handler) registerHTTP(mux *http.ServeMux, a *api.API) {
	mux.Handle("GET /stats", a.Public(h.stats))
	mux.Handle("GET /screenshot.jpg", a.Public(func(w http.ResponseWriter, r *http.Request) error {
		q := url.Values{}
		if quality := r.URL.Query().Get("quality"); quality != "" {
			q.Set("quality", quality)
		}
		return h.asV3(mux, w, r, adminOnly, http.MethodGet, "/api/room/screen/shot.jpg", q)
	}))
	file := func(method string) http.Handler {
		return a.Public(func(w http.ResponseWriter, r *http.Request) error {
			q := url.Values{}
			if name := r.URL.Query().Get("filename"); name != "" {
				q.Set("filename", name)
			}
			return h.asV3(mux, w, r, anyMember, method, "/api/filetransfer", q)
		})
	}
	mux.Handle("GET /file", file(http.MethodGet))
	mux.Handle("POST /file", file(http.MethodPost))
	mux.Handle("DELETE /file", file(http.MethodDelete))
}

// member authenticates a v2 HTTP request: banned addresses and wrong
// credentials are refused (403, as the reference answers), and so are
// non-admins when admin is set (401). The session is the member's own
// when it has one (providers with stable ids), so its current profile
// counts and nothing about it changes; otherwise a transient one.
func (h *Handler) member(r *http.Request, admin bool) (*session.Session, error) {
	if h.isBanned(clientIP(r)) {
		return nil, api.Error(http.StatusForbidden, "banned ip")
	}
	q := r.URL.Query()
	username := q.Get("usr")
	if username == "" {
		username = v2Username
	}
	id, profile, err := h.authenticate(username, q.Get("pwd"))
	if err != nil {
		return nil, &api.HTTPError{Code: http.StatusForbidden, Msg: err.Error(), Err: err}
	}
	s, ok := h.opts.Sessions.Get(id)
	if !ok {
		if s, err = h.opts.Sessions.Transient(id, profile); err != nil {
			return nil, &api.HTTPError{Code: http.StatusForbidden, Msg: err.Error(), Err: err}
		}
	}
	if admin && !s.Profile().IsAdmin {
		return nil, api.Error(http.StatusUnauthorized, "bad authorization")
	}
	return s, nil
}

// asV3 serves r as the v3 request method path?query of r's member: the
// v3 handler answers (status, headers and body). A body (an upload)
// passes through, a HEAD stays a HEAD; cookies and the credentials do
// not, so only the member's session is in play.
func (h *Handler) asV3(mux *http.ServeMux, w http.ResponseWriter, r *http.Request, admin bool, method, path string, query url.Values) error {
	s, err := h.member(r, admin)
	if err != nil {
		return err
	}
	inner := r.Clone(api.WithSession(r.Context(), s))
	if method != http.MethodGet || r.Method != http.MethodHead {
		inner.Method = method
	}
	inner.URL = &url.URL{Path: path, RawQuery: query.Encode()}
	inner.RequestURI = inner.URL.RequestURI()
	inner.Header.Del("Cookie")
	inner.Header.Del("Authorization")
	mux.ServeHTTP(w, inner)
	return nil
}

// v2Stats is the body of GET /stats.
type v2Stats struct {
	Connections int               `json:"connections"`
	Host        string            `json:"host"`
	Members     []member          `json:"members"`
	Banned      map[string]string `json:"banned"` // IP → who banned it
	Locked      map[string]string `json:"locked"` // resource → who locked it (v3 does not know)

	ServerStartedAt time.Time  `json:"server_started_at"`
	LastAdminLeftAt *time.Time `json:"last_admin_left_at"`
	LastUserLeftAt  *time.Time `json:"last_user_left_at"`

	ControlProtection bool `json:"control_protection"`
	ImplicitControl   bool `json:"implicit_control"`
}

// stats answers GET /stats (admins): who is connected, the host, locks
// and bans, and the room's timestamps.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.member(r, adminOnly); err != nil {
		return err
	}
	st := v2Stats{Members: []member{}, Locked: map[string]string{}, Banned: h.bannedBy()}
	for _, s := range h.opts.Sessions.List() {
		if s.APIOnly() || !s.State().IsConnected {
			continue
		}
		st.Connections++
		st.Members = append(st.Members, toMember(s.ID(), s.Profile()))
	}
	room := h.opts.Sessions.Stats()
	st.Host = room.HostID
	st.ServerStartedAt = room.ServerStartedAt
	st.LastAdminLeftAt = room.LastAdminLeftAt
	st.LastUserLeftAt = room.LastUserLeftAt
	settings := h.opts.Sessions.Settings()
	for resource := range locksOf(settings) {
		st.Locked[resource] = ""
	}
	st.ControlProtection = settings.ControlProtection
	st.ImplicitControl = settings.ImplicitHosting
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
	return nil
}
