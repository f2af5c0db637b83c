package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/member/file"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/internal/member/object"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// memEnv is an API over a real session manager and a member provider.
// An admin and a user are logged in through POST /api/login when the
// provider knows them (object, file), else created as sessions directly.
type memEnv struct {
	t        testing.TB
	mux      *http.ServeMux
	sessions *session.Manager
	members  member.Provider
	admin    string // tokens
	user     string
}

func newMemEnv(t testing.TB, p member.Provider) *memEnv {
	t.Helper()
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10}})
	a := New(Options{
		Sessions: sessions,
		Members:  p,
		Cookie:   config.Cookie{Name: "NEKO_SESSION"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := &memEnv{t: t, mux: http.NewServeMux(), sessions: sessions, members: p}
	a.Register(e.mux)
	if s, err := member.StoreOf(p); err == nil {
		admin := config.DefaultAdminProfile()
		admin.Name = "Boss"
		if _, err := s.Create("boss", "boss-pw", admin); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create("guest", "guest-pw", config.DefaultUserProfile()); err != nil {
			t.Fatal(err)
		}
		e.admin = e.login("boss", "boss-pw")
		e.user = e.login("guest", "guest-pw")
	} else {
		as, _ := sessions.Create("boss-AAAAA", config.DefaultAdminProfile())
		us, _ := sessions.Create("guest-BBBBB", config.DefaultUserProfile())
		e.admin, e.user = as.Token(), us.Token()
	}
	return e
}

func (e *memEnv) login(name, pass string) string {
	e.t.Helper()
	code, body := e.do("POST", "/api/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, name, pass))
	if code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, code, body)
	}
	var r types.LoginResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		e.t.Fatalf("login response %s: %v", body, err)
	}
	return r.Token
}

func (e *memEnv) do(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// want checks a status, and that errors carry a message.
func (e *memEnv) want(what string, code int, body []byte, want int) {
	e.t.Helper()
	if code != want {
		e.t.Fatalf("%s: status %d (%s), want %d", what, code, body, want)
	}
	if code >= 400 {
		var m types.ErrorMessage
		if json.Unmarshal(body, &m) != nil || m.Message == "" {
			e.t.Fatalf("%s: error body %q has no message", what, body)
		}
	}
}

func (e *memEnv) profile(id string) types.MemberProfile {
	e.t.Helper()
	code, body := e.do("GET", "/api/members/"+id, e.admin, "")
	e.want("get "+id, code, body, http.StatusOK)
	var p types.MemberProfile
	if err := json.Unmarshal(body, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func storeProviders(t *testing.T) map[string]func(testing.TB) member.Provider {
	return map[string]func(testing.TB) member.Provider{
		"object": func(testing.TB) member.Provider {
			p, err := object.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		"file": func(tb testing.TB) member.Provider {
			p, err := file.New(file.Options{Path: filepath.Join(tb.TempDir(), "members.json"), Hash: true})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
}

var memberEndpoints = []struct{ method, path, body string }{
	{"GET", "/api/members", ""},
	{"POST", "/api/members", `{"username":"x","password":"y"}`},
	{"GET", "/api/members/nobody", ""},
	{"POST", "/api/members/nobody", `{}`},
	{"DELETE", "/api/members/nobody", ""},
	{"POST", "/api/members/nobody/password", `{"password":"x"}`},
	{"POST", "/api/members_bulk/update", `{"ids":["nobody"],"profile":{}}`},
	{"POST", "/api/members_bulk/delete", `{"ids":["nobody"]}`},
}

// Permission answers before lookup: 401 without credentials, 403 for a
// user even for unknown ids.
func TestMembersPermissions(t *testing.T) {
	e := newMemEnv(t, storeProviders(t)["object"](t))
	for _, ep := range memberEndpoints {
		code, body := e.do(ep.method, ep.path, "", ep.body)
		e.want(ep.method+" "+ep.path+" anonymous", code, body, http.StatusUnauthorized)
		code, body = e.do(ep.method, ep.path, e.user, ep.body)
		e.want(ep.method+" "+ep.path+" as user", code, body, http.StatusForbidden)
	}
}

func TestMembersCRUD(t *testing.T) {
	for name, newProvider := range storeProviders(t) {
		t.Run(name, func(t *testing.T) {
			e := newMemEnv(t, newProvider(t))

			// Create: defaults, then the body's fields.
			code, body := e.do("POST", "/api/members", e.admin, `{"username":"alice","password":"pw","profile":{"can_host":false,"plugins":{"chat.can_send":true}}}`)
			e.want("create", code, body, http.StatusOK)
			var created types.MemberData
			if err := json.Unmarshal(body, &created); err != nil {
				t.Fatal(err)
			}
			p := created.Profile
			if created.ID != "alice" || p.Name != "alice" || p.IsAdmin || p.CanHost || !p.CanLogin || !p.CanWatch || p.Plugins["chat.can_send"] != true {
				t.Fatalf("created %s", body)
			}
			for what, tc := range map[string]struct {
				body string
				want int
			}{
				"duplicate":        {`{"username":"alice","password":"x"}`, http.StatusUnprocessableEntity},
				"no username":      {`{"password":"x"}`, http.StatusBadRequest},
				"blank username":   {`{"username":"  ","password":"x"}`, http.StatusBadRequest},
				"control username": {`{"username":"a\u0000b","password":"x"}`, http.StatusBadRequest},
				"long username":    {`{"username":"` + strings.Repeat("a", 200) + `","password":"x"}`, http.StatusBadRequest},
				"no password":      {`{"username":"zed"}`, http.StatusBadRequest},
				"bad JSON":         {`{"username":`, http.StatusBadRequest},
				"wrong type":       {`{"username":"zed","password":"x","profile":{"is_admin":"yes"}}`, http.StatusBadRequest},
			} {
				code, body := e.do("POST", "/api/members", e.admin, tc.body)
				e.want("create "+what, code, body, tc.want)
			}

			// The new member logs in.
			alice := e.login("alice", "pw")

			// List, sorted by id, paged.
			code, body = e.do("GET", "/api/members", e.admin, "")
			e.want("list", code, body, http.StatusOK)
			var list []types.MemberData
			_ = json.Unmarshal(body, &list)
			if len(list) != 3 || list[0].ID != "alice" || list[1].ID != "boss" || list[2].ID != "guest" {
				t.Fatalf("list %s", body)
			}
			code, body = e.do("GET", "/api/members?limit=1&offset=1", e.admin, "")
			e.want("list page", code, body, http.StatusOK)
			if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0].ID != "boss" {
				t.Fatalf("page %s", body)
			}
			code, body = e.do("GET", "/api/members?offset=10", e.admin, "")
			if code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
				t.Fatalf("past the end: %d %s", code, body)
			}
			for _, q := range []string{"limit=-1", "offset=-1", "limit=ten", "offset=1.5"} {
				code, body := e.do("GET", "/api/members?"+q, e.admin, "")
				e.want("list "+q, code, body, http.StatusBadRequest)
			}

			// Partial update: fields left out keep their value, and the live
			// session follows.
			code, body = e.do("POST", "/api/members/alice", e.admin, `{"name":"Alice","can_watch":false}`)
			e.want("update", code, body, http.StatusNoContent)
			p = e.profile("alice")
			if p.Name != "Alice" || p.CanWatch || p.CanHost || !p.CanLogin || p.Plugins["chat.can_send"] != true {
				t.Fatalf("after update %+v", p)
			}
			if s, ok := e.sessions.Get("alice"); !ok || s.Profile().Name != "Alice" || s.Profile().CanWatch {
				t.Fatalf("session did not follow")
			}
			if s, err := member.StoreOf(e.members); err != nil {
				t.Fatal(err)
			} else if sp, _ := s.Get("alice"); sp.Name != "Alice" || sp.CanWatch {
				t.Fatalf("store not updated: %+v", sp)
			}
			code, body = e.do("POST", "/api/members/alice", e.admin, `{"can_watch":`)
			e.want("update bad JSON", code, body, http.StatusBadRequest)

			// Password.
			code, body = e.do("POST", "/api/members/alice/password", e.admin, `{"password":"new"}`)
			e.want("password", code, body, http.StatusNoContent)
			if _, _, err := e.members.Authenticate("alice", "new"); err != nil {
				t.Fatalf("new password: %v", err)
			}
			code, body = e.do("POST", "/api/members/alice/password", e.admin, `{"password":""}`)
			e.want("empty password", code, body, http.StatusBadRequest)
			code, body = e.do("POST", "/api/members/alice/password", e.admin, `nope`)
			e.want("password bad JSON", code, body, http.StatusBadRequest)

			// Unknown ids.
			for _, ep := range memberEndpoints[2:6] {
				code, body := e.do(ep.method, ep.path, e.admin, ep.body)
				e.want(ep.method+" "+ep.path, code, body, http.StatusNotFound)
			}

			// Bulk update: all or nothing.
			code, body = e.do("POST", "/api/members_bulk/update", e.admin, `{"ids":["guest","nobody"],"profile":{"can_host":false}}`)
			e.want("bulk update with unknown", code, body, http.StatusNotFound)
			if !e.profile("guest").CanHost {
				t.Fatal("bulk update changed a member before failing")
			}
			code, body = e.do("POST", "/api/members_bulk/update", e.admin, `{"ids":["guest","alice","guest"],"profile":{"can_share_media":false}}`)
			e.want("bulk update", code, body, http.StatusNoContent)
			for _, id := range []string{"guest", "alice"} {
				if p := e.profile(id); p.CanShareMedia || !p.CanLogin {
					t.Fatalf("%s after bulk update: %+v", id, p)
				}
			}
			if p := e.profile("alice"); p.Name != "Alice" || p.CanWatch {
				t.Fatalf("bulk update lost fields: %+v", p)
			}
			code, body = e.do("POST", "/api/members_bulk/update", e.admin, `{"ids":["guest"],"profile":{"can_host":"no"}}`)
			e.want("bulk update wrong type", code, body, http.StatusBadRequest)

			// Delete ends the member's session.
			code, body = e.do("DELETE", "/api/members/alice", e.admin, "")
			e.want("delete", code, body, http.StatusNoContent)
			code, body = e.do("GET", "/api/members/alice", e.admin, "")
			e.want("get deleted", code, body, http.StatusNotFound)
			if _, ok := e.sessions.Get("alice"); ok {
				t.Fatal("deleted member keeps its session")
			}
			code, body = e.do("GET", "/api/whoami", alice, "")
			e.want("deleted member's token", code, body, http.StatusUnauthorized)

			// Bulk delete: all or nothing.
			code, body = e.do("POST", "/api/members_bulk/delete", e.admin, `{"ids":["guest","nobody"]}`)
			e.want("bulk delete with unknown", code, body, http.StatusNotFound)
			e.profile("guest")
			code, body = e.do("POST", "/api/members_bulk/delete", e.admin, `{"ids":["guest","guest"]}`)
			e.want("bulk delete", code, body, http.StatusNoContent)
			code, body = e.do("GET", "/api/members/guest", e.admin, "")
			e.want("get bulk-deleted", code, body, http.StatusNotFound)
			code, body = e.do("POST", "/api/members_bulk/delete", e.admin, `{"ids":`)
			e.want("bulk delete bad JSON", code, body, http.StatusBadRequest)
		})
	}
}

// Ids are path segments: a name with a slash is reachable escaped.
func TestMembersEscapedID(t *testing.T) {
	e := newMemEnv(t, storeProviders(t)["object"](t))
	code, body := e.do("POST", "/api/members", e.admin, `{"username":"a/b c","password":"x"}`)
	e.want("create", code, body, http.StatusOK)
	if p := e.profile("a%2Fb%20c"); p.Name != "a/b c" {
		t.Fatalf("profile %+v", p)
	}
	code, body = e.do("DELETE", "/api/members/a%2Fb%20c", e.admin, "")
	e.want("delete", code, body, http.StatusNoContent)
}

// With multiuser (and noauth) members are not stored: a member is its live
// session. Reading and updating act on it; the rest is a 400, never a 5xx.
func TestMembersWithoutStore(t *testing.T) {
	e := newMemEnv(t, multiuser.New(multiuser.Options{
		AdminPassword: "admin", UserPassword: "neko",
		AdminProfile: config.DefaultAdminProfile(), UserProfile: config.DefaultUserProfile(),
	}))
	code, body := e.do("GET", "/api/members", e.admin, "")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("list: %d %s", code, body)
	}
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "/api/members", `{"username":"x","password":"y"}`},
		{"DELETE", "/api/members/guest-BBBBB", ""},
		{"POST", "/api/members/guest-BBBBB/password", `{"password":"x"}`},
		{"POST", "/api/members_bulk/delete", `{"ids":["guest-BBBBB"]}`},
	} {
		code, body := e.do(ep.method, ep.path, e.admin, ep.body)
		e.want(ep.method+" "+ep.path, code, body, http.StatusBadRequest)
		if !strings.Contains(string(body), "not stored") {
			t.Fatalf("%s %s: message %s", ep.method, ep.path, body)
		}
	}
	if _, ok := e.sessions.Get("guest-BBBBB"); !ok {
		t.Fatal("a refused delete removed the session")
	}

	if p := e.profile("guest-BBBBB"); p.IsAdmin || !p.CanHost {
		t.Fatalf("session profile %+v", p)
	}
	code, body = e.do("POST", "/api/members/guest-BBBBB", e.admin, `{"can_host":false}`)
	e.want("update session member", code, body, http.StatusNoContent)
	if s, _ := e.sessions.Get("guest-BBBBB"); s.Profile().CanHost || !s.Profile().CanWatch {
		t.Fatalf("session after update %+v", s.Profile())
	}
	code, body = e.do("POST", "/api/members_bulk/update", e.admin, `{"ids":["guest-BBBBB"],"profile":{"can_watch":false}}`)
	e.want("bulk update session member", code, body, http.StatusNoContent)
	if s, _ := e.sessions.Get("guest-BBBBB"); s.Profile().CanWatch || s.Profile().CanHost {
		t.Fatalf("session after bulk update %+v", s.Profile())
	}
	for _, ep := range []struct{ method, path, body string }{
		{"GET", "/api/members/nobody", ""},
		{"POST", "/api/members/nobody", `{}`},
		{"POST", "/api/members_bulk/update", `{"ids":["nobody"],"profile":{}}`},
	} {
		code, body := e.do(ep.method, ep.path, e.admin, ep.body)
		e.want(ep.method+" "+ep.path, code, body, http.StatusNotFound)
	}
}

// A broken members file is the server's fault: 500, with a message.
func TestMembersBrokenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	p, err := file.New(file.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e := newMemEnv(t, p)
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := e.do("GET", "/api/members", e.admin, "")
	e.want("list broken file", code, body, http.StatusInternalServerError)
}

// FuzzMembersBody sends arbitrary bodies to every body-taking members
// endpoint: whatever the body, the answer is never a 5xx.
func FuzzMembersBody(f *testing.F) {
	f.Add(uint8(0), `{"username":"a","password":"b","profile":{"is_admin":true}}`)
	f.Add(uint8(1), `{"name":"x","plugins":{"a":{"b":[1,2]}}}`)
	f.Add(uint8(2), `{"password":"x"}`)
	f.Add(uint8(3), `{"ids":["boss","guest"],"profile":{"can_host":false}}`)
	f.Add(uint8(4), `{"ids":["guest"]}`)
	f.Add(uint8(3), `{"ids":null,"profile":null}`)
	f.Add(uint8(0), `{"username":"\ud800","password":"\u0000"}`)
	f.Add(uint8(1), `[]`)
	paths := []string{"/api/members", "/api/members/guest", "/api/members/guest/password", "/api/members_bulk/update", "/api/members_bulk/delete"}
	p, err := object.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	e := newMemEnv(f, p)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		e.t = t
		path := paths[int(which)%len(paths)]
		code, resp := e.do("POST", path, e.admin, body)
		if code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, code, resp)
		}
		// Keep the admin able to act for the next input.
		_ = p.UpdateProfile("boss", config.DefaultAdminProfile())
		if s, ok := e.sessions.Get("boss"); ok {
			_ = e.sessions.UpdateProfile(s.ID(), config.DefaultAdminProfile())
		} else {
			_ = p.Delete("boss")
			_, _ = p.Create("boss", "boss-pw", config.DefaultAdminProfile())
			e.admin = e.login("boss", "boss-pw")
		}
	})
}
