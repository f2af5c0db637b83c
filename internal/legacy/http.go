package legacy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// The v2 HTTP routes. v2 had no sessions: each request carries the
// credentials in its query (?usr=&pwd=; the v2 client sends only pwd).
// /stats is answered from the session manager; /screenshot.jpg and /file
// run the v3 endpoints (/api/room/screen/shot.jpg, /api/filetransfer) in
// process, as a session of those credentials, so their checks and events
// are the v3 ones. A session the request had to create ends with it.

// v2Username names the transient session of a request without ?usr=
// (multiuser needs a name; the v2 client never sends one).
const v2Username = "v2"

func (h *Handler) registerHTTP(mux *http.ServeMux, a *api.API) {
	mux.Handle("GET /stats", a.Public(h.stats))
	mux.Handle("GET /screenshot.jpg", a.Public(func(w http.ResponseWriter, r *http.Request) error {
		q := url.Values{}
		if quality := r.URL.Query().Get("quality"); quality != "" {
			q.Set("quality", quality)
		}
		return h.asV3(mux, w, r, true, http.MethodGet, "/api/room/screen/shot.jpg", q)
	}))
	file := func(method string) http.Handler {
		return a.Public(func(w http.ResponseWriter, r *http.Request) error {
			q := url.Values{}
			if name := r.URL.Query().Get("filename"); name != "" {
				q.Set("filename", name)
			}
			return h.asV3(mux, w, r, false, method, "/api/filetransfer", q)
		})
	}
	mux.Handle("GET /file", file(http.MethodGet))
	mux.Handle("POST /file", file(http.MethodPost))
	mux.Handle("DELETE /file", file(http.MethodDelete))
}

// credentials authenticates a v2 HTTP request, refusing banned addresses
// and, when admin is set, non-admins (with the reference's statuses).
func (h *Handler) credentials(r *http.Request, admin bool) (string, types.MemberProfile, error) {
	if h.isBanned(clientIP(r)) {
		return "", types.MemberProfile{}, api.Error(http.StatusForbidden, "banned ip")
	}
	q := r.URL.Query()
	username := q.Get("usr")
	if username == "" {
		username = v2Username
	}
	id, profile, err := h.authenticate(username, q.Get("pwd"))
	if err != nil {
		return "", types.MemberProfile{}, api.Error(http.StatusForbidden, err.Error())
	}
	if admin && !profile.IsAdmin {
		return "", types.MemberProfile{}, api.Error(http.StatusUnauthorized, "bad authorization")
	}
	return id, profile, nil
}

// asV3 serves r as the v3 request method path?query of a session with r's
// credentials: the v3 handler answers (status, headers and body). A body
// (an upload) passes through; cookies do not, so a v3 session the browser
// also has cannot stand in for the credentials.
func (h *Handler) asV3(mux *http.ServeMux, w http.ResponseWriter, r *http.Request, admin bool, method, path string, query url.Values) error {
	id, profile, err := h.credentials(r, admin)
	if err != nil {
		return err
	}
	s, owned, err := h.open(id, profile)
	if err != nil {
		return api.Error(http.StatusForbidden, err.Error())
	}
	if owned {
		defer func() {
			if err := h.opts.Sessions.Delete(s.ID()); err != nil && !errors.Is(err, session.ErrNotFound) {
				h.log.Warn("legacy: delete session", "err", err)
			}
		}()
	}
	inner := r.Clone(r.Context())
	inner.Method = method
	inner.URL = &url.URL{Path: path, RawQuery: query.Encode()}
	inner.RequestURI = inner.URL.RequestURI()
	inner.Header.Del("Cookie")
	inner.Header.Set("Authorization", "Bearer "+s.Token())
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
// and bans, and the room's timestamps. Checking it creates no session.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.credentials(r, true); err != nil {
		return err
	}
	st := v2Stats{Members: []member{}, Locked: map[string]string{}}
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
	st.Banned = h.bannedBy()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(st)
}
