package legacy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/member/object"
	"github.com/neko-webrtc/neko/internal/plugins/filetransfer"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

func get(t *testing.T, method, u string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestV2RoutesStableMember: with a provider whose members keep their id
// (here the object provider), a v2 HTTP request of a member who is
// connected runs as that session, with the profile it has now (an admin
// muted alice), and leaves it alone: it is not replaced, reset, deleted or
// announced. Members without can_connect may still use the routes (only
// the socket needs it). HEAD stays HEAD.
func TestV2RoutesStableMember(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true}
	members, err := object.New([]object.User{
		{Username: "alice", Password: "a", Profile: user},
		{Username: "bot", Password: "b", Profile: types.MemberProfile{CanLogin: true}},
		{Username: "boss", Password: "x", Profile: types.MemberProfile{IsAdmin: true, CanLogin: true, CanConnect: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newBridgeWith(t, members, func(sessions *session.Manager) []func(*http.ServeMux, *api.API) {
		f, err := filetransfer.New(filetransfer.Options{Enabled: true, Dir: dir, UserDownload: true, Sessions: sessions})
		if err != nil {
			t.Fatal(err)
		}
		return []func(*http.ServeMux, *api.API){f.Routes}
	})

	alice := b.v2(t, "alice", "a")
	alice.wait(EventSystemInit, nil)
	before, ok := b.sessions.Get(b.find(t, "alice"))
	if !ok {
		t.Fatal("alice has no session")
	}
	p := before.Profile()
	p.Plugins = map[string]any{types.PluginChatCanSend: false}
	if err := b.sessions.UpdateProfile(before.ID(), p); err != nil {
		t.Fatal(err)
	}
	boss := b.v2(t, "boss", "x")
	boss.wait(EventSystemInit, nil)
	boss.mu.Lock()
	mark := len(boss.msgs) // only what follows matters
	boss.mu.Unlock()

	code, body := get(t, http.MethodGet, b.srv.URL+"/file?usr=alice&pwd=a&filename=a.txt")
	if code != http.StatusOK || string(body) != "hello" {
		t.Fatalf("GET /file as alice: %d %q", code, body)
	}
	code, body = get(t, http.MethodHead, b.srv.URL+"/file?usr=alice&pwd=a&filename=a.txt")
	if code != http.StatusOK || len(body) != 0 {
		t.Fatalf("HEAD /file: %d %q", code, body)
	}
	// A member who may not connect may still download.
	if code, body = get(t, http.MethodGet, b.srv.URL+"/file?usr=bot&pwd=b&filename=a.txt"); code != http.StatusOK {
		t.Fatalf("GET /file as a member without can_connect: %d %s", code, body)
	}
	// Alice is a user: /stats is refused with her current profile.
	if code, body = get(t, http.MethodGet, b.srv.URL+"/stats?usr=alice&pwd=a"); code != http.StatusUnauthorized {
		t.Fatalf("/stats as alice: %d %s", code, body)
	}
	code, body = get(t, http.MethodGet, b.srv.URL+"/stats?usr=boss&pwd=x")
	if code != http.StatusOK {
		t.Fatalf("/stats as boss: %d %s", code, body)
	}
	var st v2Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, m := range st.Members {
		if m.ID == before.ID() {
			seen = m.Muted
		}
	}
	if st.Connections != 2 || !seen || st.Banned == nil {
		t.Fatalf("/stats: %s", body)
	}

	after, ok := b.sessions.Get(before.ID())
	if !ok || after != before || !after.State().IsConnected || !muted(after.Profile()) {
		t.Fatalf("alice's session after her v2 requests: same %v, connected %v, profile %+v", after == before, ok && after.State().IsConnected, after.Profile())
	}
	if len(b.sessions.List()) != 2 {
		t.Fatalf("%d sessions, want alice's and boss's", len(b.sessions.List()))
	}
	// Nothing was announced: no member came or went.
	time.Sleep(100 * time.Millisecond)
	boss.mu.Lock()
	defer boss.mu.Unlock()
	for _, m := range boss.msgs[mark:] {
		if ev, _ := m["event"].(string); strings.HasPrefix(ev, "member/") {
			t.Fatalf("the v2 requests were announced: %v", m)
		}
	}
}

// TestV2RoutesCredentials: the reference's refusals, and usr/pwd never
// reach the v3 endpoint (its query is rebuilt).
func TestV2RoutesCredentials(t *testing.T) {
	b := newBridge(t)
	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/stats?pwd=wrong", http.StatusForbidden, "invalid"},
		{"/stats?pwd=neko", http.StatusUnauthorized, "bad authorization"},
		{"/screenshot.jpg?pwd=neko", http.StatusUnauthorized, "bad authorization"},
		{"/file?pwd=wrong&filename=x", http.StatusForbidden, "invalid"},
	} {
		code, body := get(t, http.MethodGet, b.srv.URL+tc.path)
		if code != tc.code || !bytes.Contains(body, []byte(tc.msg)) {
			t.Errorf("%s: %d %s, want %d with %q", tc.path, code, body, tc.code, tc.msg)
		}
	}
	// An admin's screenshot reaches the v3 endpoint, which has no desktop
	// here: its own answer comes back.
	code, body := get(t, http.MethodGet, b.srv.URL+"/screenshot.jpg?pwd=admin&quality=5")
	if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusOK {
		t.Fatalf("/screenshot.jpg without a desktop: %d %s", code, body)
	}
	if len(b.sessions.List()) != 0 {
		t.Fatalf("the requests left %d sessions", len(b.sessions.List()))
	}
}
