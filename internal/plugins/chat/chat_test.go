package chat_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/plugins/chat"
	pt "github.com/neko-webrtc/neko/internal/plugins/plugintest"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

func newEnv(t *testing.T, room map[string]any, opts chat.Options) *pt.Env {
	return pt.New(t, types.Settings{Plugins: room, MercifulReconnect: true}, func(m *session.Manager) plugins.Set {
		opts.Sessions = m
		return plugins.Set{chat.New(opts)}
	})
}

// connect connects s and reads chat/init.
func connect(t *testing.T, e *pt.Env, s *session.Session, enabled bool) *pt.Client {
	t.Helper()
	c := e.Connect(s)
	var init types.PluginInit
	c.ExpectInto(types.EventChatInit, &init)
	if init.Enabled != enabled {
		t.Fatalf("chat/init enabled = %v", init.Enabled)
	}
	return c
}

// texts returns the chat/message texts among msgs, checking the sender.
func texts(t *testing.T, msgs []types.Message, from string) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		if m.Event != types.EventChatMessage {
			t.Fatalf("unexpected %s %s", m.Event, m.Payload)
		}
		var cm types.ChatMessage
		if err := json.Unmarshal(m.Payload, &cm); err != nil {
			t.Fatal(err)
		}
		if cm.ID != from || cm.Created.IsZero() {
			t.Fatalf("chat/message %s: want id %s and a time", m.Payload, from)
		}
		out = append(out, cm.Content.Text)
	}
	return out
}

func with(p types.MemberProfile, plugins map[string]any) types.MemberProfile {
	p.Plugins = plugins
	return p
}

// TestPermissions: each combination of room setting and profile, for
// sending and receiving, with admins exempt from the room setting only.
func TestPermissions(t *testing.T) {
	sendOff := map[string]any{types.PluginChatCanSend: false}
	sendOn := map[string]any{types.PluginChatCanSend: true}
	recvOff := map[string]any{types.PluginChatCanReceive: false}
	for _, tt := range []struct {
		name             string
		room             map[string]any
		sender, receiver types.MemberProfile
		sent, received   bool // does the sender see its own message; does the receiver
	}{
		{"defaults", nil, pt.User("s"), pt.User("r"), true, true},
		{"room can_send off", sendOff, pt.User("s"), pt.User("r"), false, false},
		{"room can_send off, profile on", sendOff, with(pt.User("s"), sendOn), pt.User("r"), false, false},
		{"room can_send off, admin sends", sendOff, pt.Admin("s"), pt.User("r"), true, true},
		{"profile can_send off", nil, with(pt.User("s"), sendOff), pt.User("r"), false, false},
		{"profile can_send off binds admins", nil, with(pt.Admin("s"), sendOff), pt.User("r"), false, false},
		{"room can_send as string", map[string]any{types.PluginChatCanSend: "false"}, pt.User("s"), pt.User("r"), false, false},
		{"room can_send unreadable denies", map[string]any{types.PluginChatCanSend: "maybe"}, pt.User("s"), pt.User("r"), false, false},
		{"room can_receive off", recvOff, pt.Admin("s"), pt.User("r"), true, false},
		{"room can_receive off, admin receives", recvOff, pt.User("s"), pt.Admin("r"), false, true},
		{"profile can_receive off", nil, pt.User("s"), with(pt.User("r"), recvOff), true, false},
		{"profile can_receive off binds admins", nil, pt.User("s"), with(pt.Admin("r"), recvOff), true, false},
		{"nested form", map[string]any{"chat": map[string]any{"can_receive": false}}, pt.User("s"), pt.User("r"), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.room, chat.Options{Enabled: true})
			sc := connect(t, e, e.Session("s", tt.sender), true)
			rc := connect(t, e, e.Session("r", tt.receiver), true)
			sc.Send(types.EventChatMessage, types.ChatContent{Text: "hello"})
			id := sc.Barrier()
			want := func(ok bool) []string {
				if ok {
					return []string{"hello"}
				}
				return nil
			}
			if got := texts(t, sc.Until(id), "s"); !equal(got, want(tt.sent)) {
				t.Errorf("sender got %q", got)
			}
			if got := texts(t, rc.Until(id), "s"); !equal(got, want(tt.received)) {
				t.Errorf("receiver got %q", got)
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	e := newEnv(t, nil, chat.Options{Enabled: false})
	a := connect(t, e, e.Session("a", pt.Admin("a")), false)
	b := connect(t, e, e.Session("b", pt.User("b")), false)
	a.Send(types.EventChatMessage, types.ChatContent{Text: "x"})
	id := a.Barrier()
	if got := b.Until(id); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	resp, _ := e.Do("POST", "/api/chat", a.Session.Token(), strings.NewReader(`{"text":"x"}`), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /api/chat while disabled: %d", resp.StatusCode)
	}
}

func TestHistoryForLateJoiner(t *testing.T) {
	e := newEnv(t, map[string]any{types.PluginChatCanReceive: false}, chat.Options{Enabled: true, History: 2})
	a := connect(t, e, e.Session("a", pt.Admin("a")), true)
	for _, s := range []string{"one", "two", "three"} {
		a.Send(types.EventChatMessage, types.ChatContent{Text: s})
	}
	id := a.Barrier()
	if got := texts(t, a.Until(id), "a"); !equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("sender got %q", got)
	}

	// An admin joining later gets chat/init, then the last two messages.
	late := connect(t, e, e.Session("late", pt.Admin("late")), true)
	id = late.Barrier()
	if got := texts(t, late.Until(id), "a"); !equal(got, []string{"two", "three"}) {
		t.Fatalf("late joiner got %q", got)
	}
	// A user the room does not let receive gets no history.
	user := connect(t, e, e.Session("user", pt.User("user")), true)
	id = user.Barrier()
	if got := user.Until(id); len(got) != 0 {
		t.Fatalf("user without can_receive got %v", got)
	}
}

// TestGarbageIgnored: malformed, oversize and empty messages are dropped
// without costing the connection.
func TestGarbageIgnored(t *testing.T) {
	e := newEnv(t, nil, chat.Options{Enabled: true})
	a := connect(t, e, e.Session("a", pt.User("a")), true)
	b := connect(t, e, e.Session("b", pt.User("b")), true)
	for _, raw := range []string{
		`}{`,
		`{"event":"chat/message"}`,
		`{"event":"chat/message","payload":"text"}`,
		`{"event":"chat/message","payload":{"text":123}}`,
		`{"event":"chat/message","payload":{"text":"   "}}`,
		`{"event":"chat/message","payload":{"text":"` + strings.Repeat("x", chat.DefaultMaxText+1) + `"}}`,
		`{"event":"chat/message","payload":[1,2]}`,
	} {
		a.SendRaw([]byte(raw))
	}
	a.Send(types.EventChatMessage, types.ChatContent{Text: strings.Repeat("y", chat.DefaultMaxText)})
	a.Send(types.EventChatMessage, map[string]any{"content": map[string]string{"text": "nested"}})
	id := a.Barrier()
	got := texts(t, b.Until(id), "a")
	if len(got) != 2 || len(got[0]) != chat.DefaultMaxText || got[1] != "nested" {
		t.Fatalf("receiver got %d messages", len(got))
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, nil, chat.Options{Enabled: true, Rate: rate.Every(1 << 40), Burst: 3})
	a := connect(t, e, e.Session("a", pt.User("a")), true)
	b := connect(t, e, e.Session("b", pt.User("b")), true)
	for range 6 {
		a.Send(types.EventChatMessage, types.ChatContent{Text: "spam"})
	}
	id := a.Barrier()
	if got := texts(t, b.Until(id), "a"); len(got) != 3 {
		t.Fatalf("got %d messages through a burst of 3", len(got))
	}
	a.Until(id)
	// Another session has its own budget.
	b.Send(types.EventChatMessage, types.ChatContent{Text: "mine"})
	id = b.Barrier()
	if got := texts(t, a.Until(id), "b"); len(got) != 1 {
		t.Fatalf("got %q", got)
	}
}

func TestPostAPI(t *testing.T) {
	e := newEnv(t, nil, chat.Options{Enabled: true})
	admin := connect(t, e, e.Session("admin", pt.Admin("admin")), true)
	user := connect(t, e, e.Session("user", pt.User("user")), true)
	for _, tt := range []struct {
		token, body string
		want        int
	}{
		{user.Session.Token(), `{"text":"x"}`, http.StatusForbidden},
		{"", `{"text":"x"}`, http.StatusUnauthorized},
		{admin.Session.Token(), `{"text":""}`, http.StatusBadRequest},
		{admin.Session.Token(), `nope`, http.StatusBadRequest},
		{admin.Session.Token(), `{"text":"from rest"}`, http.StatusNoContent},
	} {
		resp, body := e.Do("POST", "/api/chat", tt.token, strings.NewReader(tt.body), nil)
		if resp.StatusCode != tt.want {
			t.Fatalf("POST /api/chat %s as %q: %d %s, want %d", tt.body, tt.token, resp.StatusCode, body, tt.want)
		}
	}
	id := admin.Barrier()
	if got := texts(t, user.Until(id), "admin"); !equal(got, []string{"from rest"}) {
		t.Fatalf("got %q", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
