package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/internal/session"
	ws "github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

type bridge struct {
	srv      *httptest.Server
	sessions *session.Manager
	legacy   *Handler
}

// newBridge serves /ws (the bridge) and /api/ws (the v3 handler it uses as
// its core) without desktop or media, with a stand-in for the v3 chat
// plugin (the real one is in the whole-stack test).
func newBridge(t *testing.T, origins ...string) *bridge {
	t.Helper()
	members := multiuser.New(multiuser.Options{
		AdminPassword: "admin", UserPassword: "neko",
		AdminProfile: types.MemberProfile{IsAdmin: true, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true},
		UserProfile:  types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true},
	})
	return newBridgeWith(t, members, nil, origins...)
}

// newBridgeWith is newBridge with another member provider and more API
// routes (plugins).
func newBridgeWith(t *testing.T, members Members, extra func(*session.Manager) []func(*http.ServeMux, *api.API), origins ...string) *bridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10, MercifulReconnect: true}})
	log := slog.New(slog.DiscardHandler)
	screen := func() types.ScreenSize { return types.ScreenSize{Width: 1280, Height: 720, Rate: 30} }
	core := ws.New(ctx, ws.Options{
		Sessions: sessions,
		Screen:   screen,
		Screens:  func() []types.ScreenSize { return []types.ScreenSize{{Width: 1280, Height: 720, Rate: 30}} },
		Extra:    map[types.Event]ws.HandlerFunc{types.EventChatMessage: fakeChat(sessions)},
		Logger:   log,
	})
	h := New(ctx, Options{Sessions: sessions, Members: members, Core: core, OriginPatterns: origins, Logger: log})
	mux := http.NewServeMux()
	routes := []func(*http.ServeMux, *api.API){h.Register}
	if extra != nil {
		routes = append(routes, extra(sessions)...)
	}
	api.New(api.Options{Sessions: sessions, Logger: log, Extra: routes}).Register(mux)
	mux.Handle("GET /api/ws", core)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { cancel(); srv.Close() })
	return &bridge{srv: srv, sessions: sessions, legacy: h}
}

// v2client is a scripted v2 client: every message it receives is kept and
// can be awaited by event.
type v2client struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	next int
	cond chan struct{}
	done chan struct{}
}

func (b *bridge) dialV2(t *testing.T, username, password string, header http.Header) (*v2client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/ws?password=" + url.QueryEscape(password) + "&username=" + url.QueryEscape(username)
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, err
	}
	c := &v2client{t: t, ws: conn, cond: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
			select {
			case c.cond <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c, nil
}

func (b *bridge) v2(t *testing.T, username, password string) *v2client {
	t.Helper()
	c, err := b.dialV2(t, username, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wait returns the next message of event ev (skipping others) whose
// fields include match.
func (c *v2client) wait(ev Event, match map[string]any) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		for ; c.next < len(c.msgs); c.next++ {
			m := c.msgs[c.next]
			if m["event"] == string(ev) && matches(m, match) {
				c.next++
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.cond:
		case <-c.done:
			c.mu.Lock()
			left := c.next < len(c.msgs)
			c.mu.Unlock()
			if !left {
				c.t.Fatalf("connection closed while waiting for %s %v", ev, match)
			}
		case <-deadline:
			c.t.Fatalf("no %s %v; got %v", ev, match, c.all())
		}
	}
}

func (c *v2client) all() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.msgs...)
}

// matches reports whether m has the fields of want; nested objects of
// want match as subsets too.
func matches(m, want map[string]any) bool {
	for k, v := range want {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			got, ok := m[k].(map[string]any)
			if !ok || !matches(got, sub) {
				return false
			}
			continue
		}
		got, _ := json.Marshal(m[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			return false
		}
	}
	return true
}

func (c *v2client) send(m map[string]any) {
	c.t.Helper()
	raw, _ := json.Marshal(m)
	if err := c.ws.Write(context.Background(), websocket.MessageText, raw); err != nil {
		c.t.Fatal(err)
	}
}

// v3client is a plain /api/ws client.
type v3client struct {
	*v2client // same reader; messages are {event, payload}
	id        string
}

func (b *bridge) v3(t *testing.T, name string) *v3client {
	t.Helper()
	s, err := b.sessions.Create(name, types.MemberProfile{Name: name, IsAdmin: false, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/api/ws?token="+s.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &v2client{t: t, ws: conn, cond: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
			select {
			case c.cond <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	v := &v3client{v2client: c, id: s.ID()}
	v.waitV3(types.EventSystemInit, nil)
	return v
}

// waitV3 waits for a v3 event whose payload fields include match.
func (c *v3client) waitV3(ev types.Event, match map[string]any) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		for ; c.next < len(c.msgs); c.next++ {
			m := c.msgs[c.next]
			p, _ := m["payload"].(map[string]any)
			if m["event"] == string(ev) && matches(p, match) {
				c.next++
				c.mu.Unlock()
				return p
			}
		}
		c.mu.Unlock()
		select {
		case <-c.cond:
		case <-deadline:
			c.t.Fatalf("no v3 %s %v; got %v", ev, match, c.all())
		}
	}
}

func (c *v3client) sendV3(ev types.Event, payload any) {
	c.t.Helper()
	raw, _ := json.Marshal(types.OutMessage{Event: ev, Payload: payload})
	if err := c.ws.Write(context.Background(), websocket.MessageText, raw); err != nil {
		c.t.Fatal(err)
	}
}

func TestLoginRefused(t *testing.T) {
	b := newBridge(t)
	c := b.v2(t, "mallory", "wrong")
	c.wait(EventSystemDisconnect, map[string]any{"title": "couldn't create a new session", "message": "invalid username or password"})
	<-c.done
	c = b.v2(t, "", "neko")
	c.wait(EventSystemDisconnect, map[string]any{"message": "username is required"})

	b.sessions.UpdateSettings(nil, func(s *types.Settings) { s.LockedLogins = true })
	c = b.v2(t, "late", "neko")
	c.wait(EventSystemDisconnect, map[string]any{"message": session.ErrLoginLocked.Error()})
	if n := len(b.sessions.List()); n != 0 {
		t.Fatalf("%d sessions left by refused logins", n)
	}
}

func TestConnectSequence(t *testing.T) {
	b := newBridge(t)
	admin := b.v2(t, "boss", "admin")
	want := []Event{EventMemberList, EventScreenResolution, EventSystemInit, EventScreenConfigurations, EventBroadcastStatus}
	list := admin.wait(EventMemberList, nil)
	members := list["members"].([]any)
	if len(members) != 1 || !matches(members[0].(map[string]any), map[string]any{"displayname": "boss", "admin": true, "muted": false}) {
		t.Fatalf("member/list = %v", list)
	}
	admin.wait(EventBroadcastStatus, nil)
	got := admin.all()
	for i, ev := range want {
		if got[i]["event"] != string(ev) {
			t.Fatalf("message %d is %v, want %s (all: %v)", i, got[i]["event"], ev, got)
		}
	}
	if !matches(got[2], map[string]any{"locks": map[string]any{}, "implicit_hosting": false, "file_transfer": false, "heartbeat_interval": 10}) {
		t.Fatalf("system/init = %v", got[2])
	}
	if !matches(got[3], map[string]any{"configurations": map[string]any{"0": map[string]any{"width": 1280, "height": 720, "rates": map[string]any{"0": 30}}}}) {
		t.Fatalf("screen/configurations = %v", got[3])
	}

	// A user gets no admin messages.
	user := b.v2(t, "alice", "neko")
	user.wait(EventSystemInit, nil)
	admin.wait(EventMemberConnected, map[string]any{"displayname": "alice", "admin": false})
	user.send(map[string]any{"event": "client/heartbeat"})
	user.send(map[string]any{"event": "screen/configurations"})
	user.wait(EventSystemError, map[string]any{"message": errNotAdmin.Error()})
	for _, m := range user.all() {
		if m["event"] == string(EventScreenConfigurations) {
			t.Fatal("a user got screen/configurations")
		}
	}
	user.send(map[string]any{"event": "screen/resolution"})
	user.wait(EventScreenResolution, map[string]any{"width": 1280, "height": 720, "rate": 30})

	// Leaving ends the v2 session.
	_ = user.ws.Close(websocket.StatusNormalClosure, "")
	admin.wait(EventMemberDisconnected, nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(b.sessions.List()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("v2 session not deleted: %d sessions", len(b.sessions.List()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInterop: v2 and v3 users see each other's actions.
func TestInterop(t *testing.T) {
	b := newBridge(t)
	boss := b.v2(t, "boss", "admin")
	boss.wait(EventSystemInit, nil)
	carol := b.v3(t, "carol")
	boss.wait(EventMemberConnected, map[string]any{"id": carol.id, "displayname": "carol"})

	alice := b.v2(t, "alice", "neko")
	aliceInit := alice.wait(EventMemberList, nil)
	if n := len(aliceInit["members"].([]any)); n != 3 {
		t.Fatalf("alice sees %d members, want 3", n)
	}
	created := carol.waitV3(types.EventSessionCreated, map[string]any{"profile": map[string]any{"name": "alice"}})
	aliceID := created["id"].(string)
	bossID := b.find(t, "boss")

	// v3 takes control: v2 sees control/locked.
	carol.sendV3(types.EventControlRequest, nil)
	boss.wait(EventControlLocked, map[string]any{"id": carol.id})
	alice.wait(EventControlLocked, map[string]any{"id": carol.id})

	// v2 asks: the v3 host is asked, the v2 requester told who hosts.
	alice.send(map[string]any{"event": "control/request"})
	carol.waitV3(types.EventControlRequest, map[string]any{"id": aliceID})
	alice.wait(EventControlRequest, map[string]any{"id": carol.id})

	// A v2 admin takes control from the v3 host.
	boss.send(map[string]any{"event": "admin/control"})
	carol.waitV3(types.EventControlHost, map[string]any{"has_host": true, "host_id": bossID})
	alice.wait(EventAdminControl, map[string]any{"id": bossID, "target": carol.id})

	// ... gives it to alice, then releases it.
	boss.send(map[string]any{"event": "control/give", "id": aliceID})
	alice.wait(EventControlGive, map[string]any{"id": bossID, "target": aliceID})
	carol.waitV3(types.EventControlHost, map[string]any{"host_id": aliceID})
	boss.send(map[string]any{"event": "admin/release"})
	alice.wait(EventAdminRelease, map[string]any{"id": bossID, "target": aliceID})
	carol.waitV3(types.EventControlHost, map[string]any{"has_host": false})

	// The host releases its own control.
	alice.send(map[string]any{"event": "control/request"})
	boss.wait(EventControlLocked, map[string]any{"id": aliceID})
	alice.send(map[string]any{"event": "control/release"})
	boss.wait(EventControlRelease, map[string]any{"id": aliceID})

	// Locks become room settings.
	boss.send(map[string]any{"event": "admin/lock", "resource": "control"})
	alice.wait(EventAdminLock, map[string]any{"resource": "control", "id": bossID})
	carol.waitV3(types.EventSystemSettings, map[string]any{"locked_controls": true, "id": bossID})
	boss.send(map[string]any{"event": "admin/unlock", "resource": "control"})
	alice.wait(EventAdminUnlock, map[string]any{"resource": "control", "id": bossID})
	alice.send(map[string]any{"event": "admin/lock", "resource": "login"})
	alice.wait(EventSystemError, map[string]any{"title": titleError, "message": errNotAdmin.Error()})
	if b.sessions.Settings().LockedLogins {
		t.Fatal("a user locked logins")
	}

	// Chat both ways, through the v3 chat events.
	alice.send(map[string]any{"event": "chat/message", "content": "hi from v2"})
	boss.wait(EventChatMessage, map[string]any{"id": aliceID, "content": "hi from v2"})
	carol.waitV3("chat/message", map[string]any{"id": aliceID, "content": map[string]any{"text": "hi from v2"}})
	carol.sendV3("chat/message", map[string]any{"text": "hi from v3"})
	alice.wait(EventChatMessage, map[string]any{"id": carol.id, "content": "hi from v3"})
	alice.send(map[string]any{"event": "chat/emote", "emote": "heart"})
	alice.wait(EventChatEmote, map[string]any{"id": aliceID, "emote": "heart"})
	boss.wait(EventChatEmote, map[string]any{"id": aliceID, "emote": "heart"})
	carol.waitV3(types.EventSendBroadcast, map[string]any{"sender": aliceID, "subject": "emote", "body": "heart"})

	// Mute is the chat plugin's can_send.
	boss.send(map[string]any{"event": "admin/mute", "id": aliceID})
	alice.wait(EventAdminMute, map[string]any{"id": bossID, "target": aliceID})
	carol.waitV3(types.EventSessionProfile, map[string]any{"id": aliceID, "plugins": map[string]any{"chat.can_send": false}})
	alice.send(map[string]any{"event": "chat/message", "content": "muted"})
	alice.send(map[string]any{"event": "screen/resolution"}) // a round trip: the chat was handled
	alice.wait(EventScreenResolution, nil)
	boss.send(map[string]any{"event": "admin/unmute", "id": aliceID})
	boss.wait(EventAdminUnmute, map[string]any{"id": bossID, "target": aliceID})
	alice.send(map[string]any{"event": "chat/message", "content": "back"})
	boss.wait(EventChatMessage, map[string]any{"id": aliceID, "content": "back"})
	for _, m := range boss.all() {
		if m["content"] == "muted" {
			t.Fatalf("a muted member's message was delivered: %v", m)
		}
	}

	// Kick: the target is told "kicked"; everyone sees it leave.
	boss.send(map[string]any{"event": "admin/kick", "id": aliceID})
	alice.wait(EventSystemDisconnect, map[string]any{"message": "kicked"})
	boss.wait(EventAdminKick, map[string]any{"id": bossID, "target": aliceID})
	boss.wait(EventMemberDisconnected, map[string]any{"id": aliceID})
	carol.waitV3(types.EventSessionDeleted, map[string]any{"id": aliceID})

	// The v3 user leaves: v2 sees it.
	carol.ws.Close(websocket.StatusNormalClosure, "")
	boss.wait(EventMemberDisconnected, map[string]any{"id": carol.id})
}

func (b *bridge) find(t *testing.T, name string) string {
	t.Helper()
	for _, s := range b.sessions.List() {
		if s.Profile().Name == name {
			return s.ID()
		}
	}
	t.Fatalf("no session named %s", name)
	return ""
}

func TestBan(t *testing.T) {
	b := newBridge(t)
	boss := b.v2(t, "boss", "admin")
	boss.wait(EventSystemInit, nil)
	// Both clients come from 127.0.0.1: ban a second admin's address is
	// the only way to test it here, so the banned one is the other tab.
	eve := b.v2(t, "eve", "neko")
	eve.wait(EventSystemInit, nil)
	eveID := b.find(t, "eve")
	boss.send(map[string]any{"event": "admin/ban", "id": eveID})
	eve.wait(EventSystemDisconnect, map[string]any{"message": "kicked"})
	boss.wait(EventAdminBan, map[string]any{"target": eveID})
	again := b.v2(t, "eve", "neko")
	again.wait(EventSystemDisconnect, map[string]any{"title": "banned ip", "message": "you are banned"})

	// /stats names who banned the address; here the caller is banned too.
	if by := b.legacy.bannedBy()["127.0.0.1"]; by != b.find(t, "boss") {
		t.Fatalf("banned by %q", by)
	}
	resp, err := http.Get(b.srv.URL + "/stats?pwd=admin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "banned ip") {
		t.Fatalf("/stats from a banned address: %d %s", resp.StatusCode, body)
	}
}

func TestOrigin(t *testing.T) {
	b := newBridge(t, "allowed.example")
	ok, err := b.dialV2(t, "a", "neko", http.Header{"Origin": {"http://allowed.example"}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	ok.wait(EventSystemInit, nil)
	if _, err := b.dialV2(t, "b", "neko", http.Header{"Origin": {"http://evil.example"}}); err == nil {
		t.Fatal("foreign origin accepted")
	}
	// Without an Origin header (not a browser) the upgrade is allowed.
	plain, err := b.dialV2(t, "c", "neko", nil)
	if err != nil {
		t.Fatal(err)
	}
	plain.wait(EventSystemInit, nil)
}

// TestClientMessages runs the recorded v2 client messages and expects the
// v3 events of client_v3.jsonl.
func TestClientMessagesGolden(t *testing.T) {
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10}})
	s, _ := sessions.Create("admin-PVtLL", types.MemberProfile{Name: "admin", IsAdmin: true, CanHost: true})
	core := &recordingCore{}
	h := New(context.Background(), Options{Sessions: sessions, Core: core, Logger: slog.New(slog.DiscardHandler)})
	cl := &client{h: h, s: s, c: testConn(newTranslator(s.ID(), "admin", false, nil)), log: h.log}
	for _, line := range readLines(t, "client_v2.jsonl") {
		cl.handle([]byte(line))
	}
	want := readLines(t, "client_v3.jsonl")
	if len(core.events) != len(want) {
		t.Fatalf("got %d v3 events %q, want %d", len(core.events), core.events, len(want))
	}
	for i := range want {
		if !jsonEqual(t, []byte(core.events[i]), []byte(want[i])) {
			t.Errorf("event %d:\n got  %s\n want %s", i, core.events[i], want[i])
		}
	}
}

func TestClientMessages(t *testing.T) {
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10}})
	s, _ := sessions.Create("me", types.MemberProfile{IsAdmin: true, CanHost: true})
	core := &recordingCore{}
	h := New(context.Background(), Options{Sessions: sessions, Core: core, Logger: slog.New(slog.DiscardHandler)})
	c := testConn(newTranslator(s.ID(), "", false, nil))
	cl := &client{h: h, s: s, c: c, log: h.log}
	tests := []struct {
		in   string
		want []string
	}{
		{`{"event":"signal/offer","sdp":"o"}`, []string{`{"event":"signal/offer","payload":{"sdp":"o"}}`}},
		{`{"event":"control/clipboard","text":"t"}`, []string{`{"event":"clipboard/set","payload":{"text":"t"}}`}},
		{`{"event":"control/keyboard","layout":"de","capsLock":true,"scrollLock":true}`, []string{
			`{"event":"keyboard/map","payload":{"layout":"de","variant":""}}`,
			`{"event":"keyboard/modifiers","payload":{"capslock":true}}`}},
		{`{"event":"control/keyboard","numLock":false}`, []string{`{"event":"keyboard/modifiers","payload":{"numlock":false}}`}},
		{`{"event":"control/release"}`, []string{`{"event":"control/release"}`}},
		{`{"event":"chat/message","content":"hello"}`, []string{`{"event":"chat/message","payload":{"text":"hello"}}`}},
		{`{"event":"filetransfer/refresh"}`, []string{`{"event":"filetransfer/update"}`}},
		{`{"event":"screen/set","width":1920,"height":1080,"rate":60}`, []string{`{"event":"screen/set","payload":{"width":1920,"height":1080,"rate":60}}`}},
		{`{"event":"openinapp/openlink","text":"https://x"}`, []string{`{"event":"openinapp/openlink","payload":{"text":"https://x"}}`}},
		// A v3-style envelope is read too.
		{`{"event":"signal/answer","payload":{"sdp":"a","displayname":"me"}}`, []string{`{"event":"signal/answer","payload":{"sdp":"a"}}`}},
		{`{"event":"no/such"}`, nil},
		{`not json`, nil},
		{`{"event":"signal/candidate","data":"not json"}`, nil},
	}
	for _, tc := range tests {
		core.events = nil
		cl.handle([]byte(tc.in))
		if len(core.events) != len(tc.want) {
			t.Fatalf("%s: got %q, want %q", tc.in, core.events, tc.want)
		}
		for i := range tc.want {
			if !jsonEqual(t, []byte(core.events[i]), []byte(tc.want[i])) {
				t.Fatalf("%s: got %s, want %s", tc.in, core.events[i], tc.want[i])
			}
		}
	}
	// The display name from signal/answer fills an empty profile name.
	if s.Profile().Name != "me" {
		t.Fatalf("name = %q", s.Profile().Name)
	}
	// Without a broadcaster, broadcast/create is refused with system/error.
	drain(c)
	cl.handle([]byte(`{"event":"broadcast/create","url":"rtmp://x"}`))
	out := drain(c)
	if len(out) != 1 || !strings.Contains(string(out[0]), errNoBroadcast.Error()) {
		t.Fatalf("broadcast/create without broadcaster: %s", out)
	}
}

type recordingCore struct{ events []string }

func (r *recordingCore) Dispatch(_ *session.Session, ev types.Event, payload json.RawMessage) error {
	raw, _ := json.Marshal(types.Message{Event: ev, Payload: payload})
	r.events = append(r.events, string(raw))
	return nil
}

func (r *recordingCore) Connected(*session.Session)      {}
func (r *recordingCore) ScreenSize() types.ScreenSize    { return types.ScreenSize{} }
func (r *recordingCore) ScreenSizes() []types.ScreenSize { return nil }

// fakeChat is the v3 chat plugin's wire: chat/message {text} in,
// chat/message {id, created, content: {text}} to everyone out, refused
// when the profile's chat.can_send is false.
func fakeChat(sessions *session.Manager) ws.HandlerFunc {
	return func(s *session.Session, raw json.RawMessage) error {
		var in types.ChatContent
		if err := json.Unmarshal(raw, &in); err != nil {
			return err
		}
		if denied(s.Profile().Plugins, types.PluginChatCanSend) {
			return errors.New("muted")
		}
		sessions.Broadcast(types.EventChatMessage, types.ChatMessage{ID: s.ID(), Created: time.Now(), Content: in}, nil)
		return nil
	}
}

// TestSlowClientDropped: a v2 client that stops reading is disconnected
// once its queue is full, instead of blocking broadcasts.
func TestSlowClientDropped(t *testing.T) {
	b := newBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/ws?password=neko&username=sloth"
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == ""; {
		if time.Now().After(deadline) {
			t.Fatal("v2 session not created")
		}
		for _, s := range b.sessions.List() {
			id = s.ID()
		}
		time.Sleep(5 * time.Millisecond)
	}
	text := strings.Repeat("x", 16<<10)
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; i < 4*sendQueue; i++ {
			b.sessions.Broadcast(types.EventChatMessage, types.ChatMessage{ID: "x", Content: types.ChatContent{Text: text}}, nil)
			if _, ok := b.sessions.Get(id); !ok {
				return
			}
		}
	}()
	select {
	case <-flooded:
	case <-time.After(30 * time.Second):
		t.Fatal("broadcasts blocked on a client that does not read")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := b.sessions.Get(id); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a client that does not read was not dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
