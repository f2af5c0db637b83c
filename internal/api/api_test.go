package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

type env struct {
	t        testing.TB
	srv      *httptest.Server
	sessions *session.Manager
}

func newEnv(t testing.TB, cookies bool) *env {
	t.Helper()
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10, MercifulReconnect: true}, APIToken: "apitoken"})
	a := New(Options{
		Sessions: sessions,
		Members: multiuser.New(multiuser.Options{
			AdminPassword: "admin", UserPassword: "neko",
			AdminProfile: config.DefaultAdminProfile(), UserProfile: config.DefaultUserProfile(),
		}),
		Cookie: config.Cookie{Enabled: cookies, Name: "NEKO_SESSION", Expiration: time.Hour, HTTPOnly: true, Secure: true},
	})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, sessions: sessions}
}

// do sends a request with an optional bearer token; it returns the status
// and the body.
func (e *env) do(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) login(name, pass string) (token, id string) {
	e.t.Helper()
	code, body := e.do("POST", "/api/login", "", `{"username":"`+name+`","password":"`+pass+`"}`)
	if code != 200 {
		e.t.Fatalf("login %s: %d %s", name, code, body)
	}
	var r types.LoginResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		e.t.Fatalf("login response %s: %v", body, err)
	}
	return r.Token, r.ID
}

func expect(t *testing.T, what string, code int, body []byte, want int) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: status %d (%s), want %d", what, code, body, want)
	}
	if code >= 400 {
		var m types.ErrorMessage
		if json.Unmarshal(body, &m) != nil || m.Message == "" {
			t.Fatalf("%s: error body %q has no message", what, body)
		}
	}
}

func TestLoginCookieAndToken(t *testing.T) {
	e := newEnv(t, true)
	resp, err := http.Post(e.srv.URL+"/api/login", "application/json", strings.NewReader(`{"username":"a","password":"admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "NEKO_SESSION" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Secure {
		t.Fatalf("cookie %+v: want HttpOnly, and not Secure over plain HTTP", cookie)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/whoami", nil)
	req.AddCookie(cookie)
	r2, _ := http.DefaultClient.Do(req)
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("whoami with cookie: %d", r2.StatusCode)
	}
	code, body := e.do("GET", "/api/whoami?token="+cookie.Value, "", "")
	expect(t, "whoami with ?token=", code, body, 200)
	code, body = e.do("GET", "/api/whoami", cookie.Value, "")
	expect(t, "whoami with bearer", code, body, 200)

	// Logout ends the session.
	code, body = e.do("POST", "/api/logout", cookie.Value, "")
	expect(t, "logout", code, body, 200)
	code, body = e.do("GET", "/api/whoami", cookie.Value, "")
	expect(t, "whoami after logout", code, body, 401)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, false)
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/login", `{"username":"a","password":"x"}`, 401},
		{"POST", "/api/login", `{"username":"a"`, 400},
		{"POST", "/api/login", `{"username":"a","password":"neko"}{}`, 400},
		{"POST", "/api/login", `"str"`, 400},
		{"POST", "/api/login", `{"username":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"GET", "/api/whoami", "", 401},
		{"GET", "/api/no/such/thing", "", 404},
		{"GET", "/api/sessions", "", 401},
	} {
		code, body := e.do(tc.method, tc.path, "", tc.body)
		expect(t, tc.method+" "+tc.path, code, body, tc.want)
	}
}

func TestSessionsPermissions(t *testing.T) {
	e := newEnv(t, false)
	admin, adminID := e.login("root", "admin")
	user, userID := e.login("joe", "neko")

	code, body := e.do("GET", "/api/sessions", user, "")
	expect(t, "list as user", code, body, 200)
	var list []types.SessionData
	_ = json.Unmarshal(body, &list)
	if len(list) != 2 {
		t.Fatalf("sessions list %s", body)
	}
	// A user gets 403 before any lookup, even for unknown ids.
	code, body = e.do("GET", "/api/sessions/nope", user, "")
	expect(t, "get unknown as user", code, body, 403)
	code, body = e.do("GET", "/api/sessions/nope", admin, "")
	expect(t, "get unknown as admin", code, body, 404)
	code, body = e.do("GET", "/api/sessions/"+userID, admin, "")
	expect(t, "get as admin", code, body, 200)
	code, body = e.do("POST", "/api/sessions/nope/disconnect", admin, "")
	expect(t, "disconnect unknown", code, body, 400)
	code, body = e.do("DELETE", "/api/sessions/nope", admin, "")
	expect(t, "delete unknown", code, body, 400)
	code, body = e.do("DELETE", "/api/sessions/"+adminID, admin, "")
	expect(t, "delete own", code, body, 400)
	code, body = e.do("DELETE", "/api/sessions/"+userID, user, "")
	expect(t, "delete as user", code, body, 403)
	code, body = e.do("DELETE", "/api/sessions/"+userID, admin, "")
	expect(t, "delete user", code, body, 204)
	code, body = e.do("GET", "/api/whoami", user, "")
	expect(t, "deleted session's token", code, body, 401)

	// The API token is an admin over REST.
	code, body = e.do("GET", "/api/sessions/"+adminID, "apitoken", "")
	expect(t, "api token", code, body, 200)
}

func TestControlRules(t *testing.T) {
	e := newEnv(t, false)
	admin, adminID := e.login("root", "admin")
	alice, aliceID := e.login("alice", "neko")
	bob, bobID := e.login("bob", "neko")

	code, body := e.do("POST", "/api/room/control/release", alice, "")
	expect(t, "release without host", code, body, 422)
	code, body = e.do("POST", "/api/room/control/request", alice, "")
	expect(t, "request free control", code, body, 204)
	code, body = e.do("GET", "/api/room/control", bob, "")
	if code != 200 || !strings.Contains(string(body), aliceID) {
		t.Fatalf("control status %d %s", code, body)
	}
	code, body = e.do("POST", "/api/room/control/request", bob, "")
	expect(t, "request taken control", code, body, 202)
	if !strings.Contains(string(body), "control request sent") {
		t.Fatalf("202 body %s", body)
	}
	code, body = e.do("POST", "/api/room/control/release", bob, "")
	expect(t, "release by non-host", code, body, 422)
	code, body = e.do("POST", "/api/room/control/give/"+aliceID, bob, "")
	expect(t, "give by non-admin non-host", code, body, 403)
	code, body = e.do("POST", "/api/room/control/give/nope", bob, "")
	expect(t, "give unknown by non-admin (403 before 404)", code, body, 403)
	code, body = e.do("POST", "/api/room/control/give/"+bobID, alice, "")
	expect(t, "host gives control", code, body, 204)
	if h := e.sessions.Host(); h == nil || h.ID() != bobID {
		t.Fatalf("host after give: %v", h)
	}
	code, body = e.do("POST", "/api/room/control/give/nope", admin, "")
	expect(t, "give unknown", code, body, 404)
	code, body = e.do("POST", "/api/room/control/take", alice, "")
	expect(t, "take by user", code, body, 403)
	code, body = e.do("POST", "/api/room/control/take", admin, "")
	expect(t, "take by admin", code, body, 204)
	if h := e.sessions.Host(); h == nil || h.ID() != adminID {
		t.Fatalf("host after take: %v", h)
	}
	code, body = e.do("POST", "/api/room/control/reset", alice, "")
	expect(t, "reset by user", code, body, 403)
	code, body = e.do("POST", "/api/room/control/reset", admin, "")
	expect(t, "reset", code, body, 204)
	if e.sessions.Host() != nil {
		t.Fatal("host after reset")
	}

	// Implicit hosting: a request takes control at once.
	code, body = e.do("POST", "/api/room/control/request", alice, "")
	expect(t, "request free control again", code, body, 204)
	e.sessions.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = true })
	code, body = e.do("POST", "/api/room/control/request", bob, "")
	expect(t, "request with implicit hosting", code, body, 204)
	if h := e.sessions.Host(); h == nil || h.ID() != bobID {
		t.Fatalf("host after a request with implicit hosting: %v", h)
	}
	e.sessions.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = false })

	// Private mode: only admins may drive (422, as the running reference).
	code, body = e.do("POST", "/api/room/settings", admin, `{"private_mode": true}`)
	expect(t, "private mode on", code, body, 204)
	if e.sessions.Host() != nil {
		t.Fatal("a user still hosts in private mode")
	}
	code, body = e.do("POST", "/api/room/control/request", alice, "")
	expect(t, "request in private mode", code, body, 422)
	code, body = e.do("POST", "/api/room/control/request", admin, "")
	expect(t, "admin request in private mode", code, body, 204)
	code, body = e.do("POST", "/api/room/control/reset", admin, "")
	expect(t, "reset in private mode", code, body, 204)
	code, body = e.do("POST", "/api/room/settings", admin, `{"private_mode": false}`)
	expect(t, "private mode off", code, body, 204)

	// Locked controls: users cannot take control.
	code, body = e.do("POST", "/api/room/settings", admin, `{"locked_controls": true}`)
	expect(t, "lock controls", code, body, 204)
	code, body = e.do("POST", "/api/room/control/request", alice, "")
	expect(t, "request while locked", code, body, 403)

	// A profile without can_host gets 403 on every control endpoint.
	if err := e.sessions.UpdateProfile(aliceID, types.MemberProfile{Name: "alice", CanLogin: true, CanConnect: true}); err != nil {
		t.Fatal(err)
	}
	code, body = e.do("GET", "/api/room/control", alice, "")
	expect(t, "control without can_host", code, body, 403)
}

func TestSettingsAndProfile(t *testing.T) {
	e := newEnv(t, false)
	admin, _ := e.login("root", "admin")
	user, _ := e.login("joe", "neko")
	code, body := e.do("POST", "/api/room/settings", user, `{"private_mode":true}`)
	expect(t, "settings by user", code, body, 403)
	code, body = e.do("POST", "/api/room/settings", admin, `{"private_mode":true}`)
	expect(t, "settings by admin", code, body, 204)
	code, body = e.do("GET", "/api/room/settings", user, "")
	var s types.Settings
	if code != 200 || json.Unmarshal(body, &s) != nil || !s.PrivateMode || !s.MercifulReconnect || s.HeartbeatInterval != 10 {
		t.Fatalf("settings after partial update: %d %s", code, body)
	}
	code, body = e.do("POST", "/api/room/settings", admin, `{"private_mode":1}`)
	expect(t, "settings with wrong type", code, body, 400)

	code, body = e.do("POST", "/api/profile", user, `{"name":"Joe"}`)
	if code != 200 || strings.TrimSpace(string(body)) != "true" {
		t.Fatalf("rename: %d %s", code, body)
	}
	code, body = e.do("POST", "/api/profile", user, `{"is_admin":true}`)
	expect(t, "self-promotion", code, body, 403)
	code, body = e.do("GET", "/api/whoami", user, "")
	if !strings.Contains(string(body), `"name":"Joe"`) || strings.Contains(string(body), `"is_admin":true`) {
		t.Fatalf("whoami after profile changes: %s", body)
	}
}

// TestProfilePlugins: a user's profile update cannot reach its plugin
// permissions, not even through a refused request (decoding used to
// write into the live session's map).
func TestProfilePlugins(t *testing.T) {
	e := newEnv(t, false)
	user, id := e.login("joe", "neko")
	s, ok := e.sessions.Get(id)
	if !ok {
		t.Fatal("no session")
	}
	p := s.Profile()
	p.Plugins = map[string]any{"chat.can_send": false}
	if err := e.sessions.UpdateProfile(id, p); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"name":"Joe","plugins":{"chat.can_send":true}}`, `{"is_admin":true,"plugins":{"chat.can_send":true}}`} {
		e.do("POST", "/api/profile", user, body)
		if got := s.Profile().Plugins["chat.can_send"]; got != false {
			t.Fatalf("after %s: chat.can_send = %v", body, got)
		}
	}
	code, body := e.do("POST", "/api/profile", user, `{"is_admin":true}`)
	var msg types.ErrorMessage
	if code != 403 || json.Unmarshal(body, &msg) != nil || msg.Code != 403 || msg.Message == "" {
		t.Fatalf("refused update: %d %s (want the running server's {code, message})", code, body)
	}
}

// TestLoginDisabled: a session whose profile loses can_login can do
// nothing more over the API (403), as with the reference.
func TestLoginDisabled(t *testing.T) {
	e := newEnv(t, false)
	user, id := e.login("joe", "neko")
	s, _ := e.sessions.Get(id)
	p := s.Profile()
	p.CanLogin = false
	if err := e.sessions.UpdateProfile(id, p); err != nil {
		t.Fatal(err)
	}
	code, body := e.do("GET", "/api/whoami", user, "")
	expect(t, "whoami without can_login", code, body, 403)
}

func TestBatch(t *testing.T) {
	e := newEnv(t, false)
	token, _ := e.login("root", "admin")
	items := `[{"path":"/api/whoami","method":"GET"},{"path":"/api/room/settings","method":"POST","body":{"locked_logins":true}},` +
		`{"path":"/api/batch","method":"POST"},{"path":"/api/whoami","method":"PUT"}]`
	code, body := e.do("POST", "/api/batch", "", items)
	if code != 200 {
		t.Fatalf("batch without credentials: %d %s", code, body)
	}
	var out []struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	_ = json.Unmarshal(body, &out)
	if len(out) != 4 || out[0].Status != 401 || out[1].Status != 401 || out[2].Status != 400 || out[3].Status != 400 {
		t.Fatalf("unauthenticated batch: %s", body)
	}
	code, body = e.do("POST", "/api/batch", token, items)
	_ = json.Unmarshal(body, &out)
	if code != 200 || out[0].Status != 200 || out[1].Status != 204 || !bytes.Contains(out[0].Body, []byte(`"name":"root"`)) {
		t.Fatalf("batch: %d %s", code, body)
	}
	if !e.sessions.Settings().LockedLogins {
		t.Fatal("batch item did not apply")
	}
	code, body = e.do("POST", "/api/batch", token, `{"not":"a list"}`)
	expect(t, "batch with bad body", code, body, 400)
}

func TestStats(t *testing.T) {
	e := newEnv(t, false)
	token, _ := e.login("root", "admin")
	code, body := e.do("GET", "/api/stats", token, "")
	var st map[string]any
	if code != 200 || json.Unmarshal(body, &st) != nil {
		t.Fatalf("stats %d %s", code, body)
	}
	for _, k := range []string{"has_host", "host_id", "server_started_at", "total_users", "last_user_left_at", "total_admins", "last_admin_left_at"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats lacks %s: %s", k, body)
		}
	}
}
