package api

import (
	"fmt"
	"testing"

	"github.com/neko-webrtc/neko/pkg/types"
)

// TestPermissionMatrix checks who may call what: no credentials, a user, a
// user whose profile lacks can_host, an admin and the API token. Each
// cell is the status before any lookup or body parsing matters (bodies
// are valid, ids unknown), so it shows the permission rule alone.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t, false)
	user, _ := e.login("user", "neko")
	noHost, noHostID := e.login("nohost", "neko")
	admin, _ := e.login("admin", "admin")
	p := types.MemberProfile{Name: "nohost", CanLogin: true, CanConnect: true, CanWatch: true}
	if err := e.sessions.UpdateProfile(noHostID, p); err != nil {
		t.Fatal(err)
	}
	const (
		ok  = 0 // any 2xx
		any = -1
	)
	rows := []struct {
		method, path, body                  string
		none, user, noHost, admin, apiToken int
	}{
		{"GET", "/api/whoami", "", 401, ok, ok, ok, ok},
		{"GET", "/api/sessions", "", 401, ok, ok, ok, ok},
		{"GET", "/api/sessions/nope", "", 401, 403, 403, 404, 404},
		{"DELETE", "/api/sessions/nope", "", 401, 403, 403, 400, 400},
		{"POST", "/api/sessions/nope/disconnect", "", 401, 403, 403, 400, 400},
		{"GET", "/api/stats", "", 401, ok, ok, ok, ok},
		{"GET", "/api/room/settings", "", 401, ok, ok, ok, ok},
		{"POST", "/api/room/settings", `{}`, 401, 403, 403, ok, ok},
		{"GET", "/api/room/control", "", 401, ok, 403, ok, any},
		{"POST", "/api/room/control/give/nope", "", 401, 403, 403, 404, any},
		{"POST", "/api/room/control/take", "", 401, 403, 403, ok, any},
		{"POST", "/api/room/control/reset", "", 401, 403, 403, ok, any},
		{"GET", "/api/members", "", 401, 403, 403, ok, ok},
		{"GET", "/api/members/nope", "", 401, 403, 403, 404, 404},
		{"POST", "/api/members_bulk/delete", `{"ids":[]}`, 401, 403, 403, any, any},
	}
	for _, r := range rows {
		for _, who := range []struct {
			name, token string
			want        int
		}{{"none", "", r.none}, {"user", user, r.user}, {"no can_host", noHost, r.noHost}, {"admin", admin, r.admin}, {"api token", "apitoken", r.apiToken}} {
			t.Run(fmt.Sprintf("%s %s as %s", r.method, r.path, who.name), func(t *testing.T) {
				code, body := e.do(r.method, r.path, who.token, r.body)
				switch who.want {
				case any:
				case ok:
					if code < 200 || code > 299 {
						t.Fatalf("status %d (%s), want 2xx", code, body)
					}
				default:
					expect(t, r.method+" "+r.path, code, body, who.want)
				}
			})
		}
	}
}
