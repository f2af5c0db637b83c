package legacy

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/neko-webrtc/neko/pkg/types"
)

// readLines returns the non-comment lines of a testdata file; a comment
// line starting with "# flush" is returned as "flush".
func readLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "# flush"):
			out = append(out, "flush")
		case line == "", strings.HasPrefix(line, "#"):
		default:
			out = append(out, line)
		}
	}
	return out
}

func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// testConn is a conn without a socket: what it would write is read from
// its queue.
func testConn(tr *translator) *conn {
	c := newConn(nil, slog.New(slog.DiscardHandler))
	c.tr = tr
	return c
}

func drain(c *conn) [][]byte {
	var out [][]byte
	for {
		select {
		case raw := <-c.out:
			out = append(out, raw)
		default:
			return out
		}
	}
}

// TestConnectGolden feeds the v3 events of a connecting admin through a
// connection and expects exactly the recorded v2 sequence.
func TestConnectGolden(t *testing.T) {
	c := testConn(newTranslator("admin-PVtLL", "admin", false, nil))
	c.beginInitial()
	for _, line := range readLines(t, "connect_v3.jsonl") {
		if line == "flush" {
			c.flushInitial()
			continue
		}
		c.Send([]byte(line))
	}
	got := drain(c)
	want := readLines(t, "connect_v2.jsonl")
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("got %s", g)
		}
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !jsonEqual(t, got[i], []byte(want[i])) {
			t.Errorf("message %d:\n got  %s\n want %s", i, got[i], want[i])
		}
	}
}

func v3msg(t *testing.T, ev types.Event, payload any) []byte {
	t.Helper()
	raw, err := json.Marshal(types.OutMessage{Event: ev, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func translateAll(t *testing.T, tr *translator, ev types.Event, payload any) []string {
	t.Helper()
	msgs, err := tr.translate(v3msg(t, ev, payload))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		raw, _ := json.Marshal(m)
		out = append(out, string(raw))
	}
	return out
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
	for i := range want {
		if !jsonEqual(t, []byte(got[i]), []byte(want[i])) {
			t.Fatalf("%s: message %d:\n got  %s\n want %s", what, i, got[i], want[i])
		}
	}
}

func TestTranslateEvents(t *testing.T) {
	alice := types.MemberProfile{Name: "alice", CanHost: true}
	bob := types.MemberProfile{Name: "bob", IsAdmin: true}
	tr := newTranslator("me", "me", true, nil)
	tests := []struct {
		name    string
		ev      types.Event
		payload any
		want    []string
	}{
		{"created is quiet", types.EventSessionCreated, types.SessionData{ID: "alice", Profile: alice}, nil},
		{"connected", types.EventSessionState, types.SessionStateEvent{ID: "alice", SessionState: types.SessionState{IsConnected: true}},
			[]string{`{"event":"member/connected","id":"alice","displayname":"alice","admin":false,"muted":false}`}},
		{"watching is not a reconnect", types.EventSessionState, types.SessionStateEvent{ID: "alice", SessionState: types.SessionState{IsConnected: true, IsWatching: true}}, nil},
		{"unknown session", types.EventSessionState, types.SessionStateEvent{ID: "zed", SessionState: types.SessionState{IsConnected: true}}, nil},
		{"muted", types.EventSessionProfile, types.SessionProfileEvent{ID: "alice", MemberProfile: types.MemberProfile{Name: "alice", Plugins: map[string]any{"chat.can_send": false}}},
			[]string{`{"event":"admin/mute","id":"","target":"alice"}`}},
		{"unmuted", types.EventSessionProfile, types.SessionProfileEvent{ID: "alice", MemberProfile: alice},
			[]string{`{"event":"admin/unmute","id":"","target":"alice"}`}},
		{"disconnected", types.EventSessionState, types.SessionStateEvent{ID: "alice"},
			[]string{`{"event":"member/disconnected","id":"alice"}`}},
		{"reconnected", types.EventSessionState, types.SessionStateEvent{ID: "alice", SessionState: types.SessionState{IsConnected: true}},
			[]string{`{"event":"member/connected","id":"alice","displayname":"alice","admin":false,"muted":false}`}},
		{"deleted", types.EventSessionDeleted, types.SessionID{ID: "alice"}, []string{`{"event":"member/disconnected","id":"alice"}`}},
		{"deleted twice", types.EventSessionDeleted, types.SessionID{ID: "alice"}, nil},
		{"created admin", types.EventSessionCreated, types.SessionData{ID: "bob", Profile: bob}, nil},
		{"deleted before connecting", types.EventSessionDeleted, types.SessionID{ID: "bob"}, nil},

		{"offer", types.EventSignalOffer, types.SignalDescription{SDP: "o"}, []string{`{"event":"signal/offer","sdp":"o"}`}},
		{"restart is an offer", types.EventSignalRestart, types.SignalDescription{SDP: "r"}, []string{`{"event":"signal/offer","sdp":"r"}`}},
		{"answer", types.EventSignalAnswer, types.SignalDescription{SDP: "a"}, []string{`{"event":"signal/answer","sdp":"a","displayname":"me"}`}},
		{"provide lite", types.EventSignalProvide, types.SignalProvide{SDP: "x", ICEServers: []types.ICEServer{}},
			[]string{`{"event":"signal/provide","id":"me","sdp":"x","lite":true,"ice":[]}`}},
		{"provide turn", types.EventSignalProvide, types.SignalProvide{SDP: "x", ICEServers: []types.ICEServer{{URLs: []string{"turn:h:3478"}, Username: "u", Credential: "p"}}},
			[]string{`{"event":"signal/provide","id":"me","sdp":"x","lite":false,"ice":[{"urls":["turn:h:3478"],"username":"u","credential":"p","credentialType":"password"}]}`}},
		{"close is quiet", types.EventSignalClose, nil, nil},
		{"heartbeat is quiet", types.EventSystemHeartbeat, nil, nil},

		{"request to the host", types.EventControlRequest, types.ControlRequest{ID: "alice"}, []string{`{"event":"control/requesting","id":"alice"}`}},
		{"clipboard", types.EventClipboardUpdated, types.ClipboardData{Text: "hi"}, []string{`{"event":"control/clipboard","text":"hi"}`}},
		{"screen changed", types.EventScreenUpdated, types.ScreenSizeEvent{ID: "bob", ScreenSize: types.ScreenSize{Width: 1920, Height: 1080, Rate: 60}},
			[]string{`{"event":"screen/resolution","id":"bob","width":1920,"height":1080,"rate":60}`}},
		{"broadcast", types.EventBroadcastStatus, types.BroadcastStatus{IsActive: true, URL: "rtmp://x"}, []string{`{"event":"broadcast/status","url":"rtmp://x","isActive":true}`}},
		{"admin screens", types.EventSystemAdmin, types.SystemAdmin{ScreenSizesList: []types.ScreenSize{{Width: 1280, Height: 720, Rate: 30}, {Width: 1920, Height: 1080, Rate: 60}, {Width: 1280, Height: 720, Rate: 60}}},
			[]string{`{"event":"screen/configurations","configurations":{"0":{"width":1280,"height":720,"rates":{"0":30,"1":60}},"1":{"width":1920,"height":1080,"rates":{"0":60}}}}`,
				`{"event":"broadcast/status","url":"","isActive":false}`}},

		{"chat", "chat/message", map[string]any{"id": "alice", "created": "2026-11-25T00:00:00Z", "content": map[string]string{"text": "hello"}},
			[]string{`{"event":"chat/message","id":"alice","content":"hello"}`}},
		{"emote", types.EventSendBroadcast, types.SendBroadcast{Sender: "alice", Subject: "emote", Body: json.RawMessage(`"heart"`)},
			[]string{`{"event":"chat/emote","id":"alice","emote":"heart"}`}},
		{"other broadcast", types.EventSendBroadcast, types.SendBroadcast{Sender: "alice", Subject: "x", Body: json.RawMessage(`1`)}, nil},
		{"chat init is quiet", "chat/init", map[string]bool{"enabled": true}, nil},
		{"files", "filetransfer/update", map[string]any{"enabled": true, "root_dir": "/d", "user_download": true, "user_upload": false, "user_delete": true,
			"files": []map[string]any{{"name": "a.txt", "type": "file", "size": 3}, {"name": "sub", "type": "dir"}}},
			[]string{`{"event":"filetransfer/list","cwd":"/d","user_download":true,"user_upload":false,"user_delete":true,"files":[{"name":"a.txt","type":"file","size":3},{"name":"sub","type":"dir","size":0}]}`}},
		{"open in app", "openinapp/init", map[string]bool{"enabled": true}, []string{`{"event":"openinapp/init","enabled":true}`}},
		{"keyboard is quiet", types.EventKeyboardModifiers, types.KeyboardModifiers{}, nil},

		{"lock controls", types.EventSystemSettings, types.SystemSettingsEvent{ID: "bob", Settings: types.Settings{LockedControls: true}},
			[]string{`{"event":"admin/lock","resource":"control","id":"bob"}`}},
		{"lock login and files", types.EventSystemSettings, types.SystemSettingsEvent{ID: "bob", Settings: types.Settings{LockedControls: true, LockedLogins: true, Plugins: map[string]any{"filetransfer.enabled": false}}},
			[]string{`{"event":"admin/lock","resource":"login","id":"bob"}`, `{"event":"admin/lock","resource":"file_transfer","id":"bob"}`}},
		{"unlock all", types.EventSystemSettings, types.SystemSettingsEvent{ID: "", Settings: types.Settings{}},
			[]string{`{"event":"admin/unlock","resource":"control","id":""}`, `{"event":"admin/unlock","resource":"login","id":""}`, `{"event":"admin/unlock","resource":"file_transfer","id":""}`}},
		{"settings without lock change", types.EventSystemSettings, types.SystemSettingsEvent{Settings: types.Settings{ImplicitHosting: true}}, nil},
	}
	for _, tc := range tests {
		got := translateAll(t, tr, tc.ev, tc.payload)
		expect(t, tc.name, got, tc.want...)
	}
}

func TestTranslateSystemInit(t *testing.T) {
	tr := newTranslator("", "", true, nil)
	init := types.SystemInit{
		SessionID:   "u-1",
		ControlHost: types.ControlHost{ID: "a-1", HasHost: true, HostID: "a-1"},
		ScreenSize:  types.ScreenSize{Width: 800, Height: 600, Rate: 60},
		Sessions: map[string]types.SessionData{
			"u-1": {ID: "u-1", Profile: types.MemberProfile{Name: "me"}, State: types.SessionState{IsConnected: true}},
			"a-1": {ID: "a-1", Profile: types.MemberProfile{Name: "boss", IsAdmin: true, Plugins: map[string]any{"chat.can_send": false}}, State: types.SessionState{IsConnected: true}},
			"z-1": {ID: "z-1", Profile: types.MemberProfile{Name: "gone"}},
		},
		Settings: types.Settings{LockedLogins: true, ImplicitHosting: true, HeartbeatInterval: 120, Plugins: map[string]any{"filetransfer.enabled": false}},
	}
	expect(t, "system/init", translateAll(t, tr, types.EventSystemInit, init),
		`{"event":"member/list","members":[{"id":"a-1","displayname":"boss","admin":true,"muted":true},{"id":"u-1","displayname":"me","admin":false,"muted":false}]}`,
		`{"event":"screen/resolution","width":800,"height":600,"rate":60}`,
		`{"event":"control/locked","id":"a-1"}`,
		`{"event":"system/init","locks":{"login":"","file_transfer":""},"implicit_hosting":true,"file_transfer":true,"heartbeat_interval":120}`,
	)
	// The member that was not connected is known and announced on connect.
	expect(t, "late connect", translateAll(t, tr, types.EventSessionState, types.SessionStateEvent{ID: "z-1", SessionState: types.SessionState{IsConnected: true}}),
		`{"event":"member/connected","id":"z-1","displayname":"gone","admin":false,"muted":false}`)
	// The host released.
	expect(t, "release", translateAll(t, tr, types.EventControlHost, types.ControlHost{}),
		`{"event":"control/release","id":"a-1"}`)
}

// TestTranslateHost covers v2's distinctions of who changed control.
func TestTranslateHost(t *testing.T) {
	host := func(id string) types.ControlHost {
		if id == "" {
			return types.ControlHost{}
		}
		return types.ControlHost{ID: id, HasHost: true, HostID: id}
	}
	steps := []struct {
		name  string
		actor string
		host  string
		want  []string
	}{
		{"nobody → a (request)", "", "a", []string{`{"event":"control/locked","id":"a"}`}},
		{"same host again", "", "a", nil},
		{"a → b (given by a)", "", "b", []string{`{"event":"control/give","id":"a","target":"b"}`}},
		{"b → admin c (taken)", "c", "c", []string{`{"event":"admin/control","id":"c","target":"b"}`}},
		{"c → nobody (released)", "", "", []string{`{"event":"control/release","id":"c"}`}},
		{"nobody → nobody", "", "", nil},
		{"admin c takes free control", "c", "c", []string{`{"event":"control/locked","id":"c"}`}},
		{"admin d gives c's control to a", "d", "a", []string{`{"event":"control/give","id":"d","target":"a"}`}},
		{"admin d releases a", "d", "", []string{`{"event":"admin/release","id":"d","target":"a"}`}},
		{"admin d gives free control to b", "d", "b", []string{`{"event":"control/give","id":"d","target":"b"}`}},
		{"b releases itself", "b", "", []string{`{"event":"control/release","id":"b"}`}},
	}
	actor := ""
	tr := newTranslator("me", "me", false, func(action, target string) string {
		if action == actionHost {
			return actor
		}
		return ""
	})
	for _, st := range steps {
		actor = st.actor
		expect(t, st.name, translateAll(t, tr, types.EventControlHost, host(st.host)), st.want...)
	}
}

func TestTranslateActors(t *testing.T) {
	tr := newTranslator("me", "me", false, func(action, target string) string {
		if target == "alice" && (action == actionKick || action == actionMute) {
			return "boss"
		}
		return ""
	})
	translateAll(t, tr, types.EventSessionCreated, types.SessionData{ID: "alice", Profile: types.MemberProfile{Name: "alice"}})
	translateAll(t, tr, types.EventSessionState, types.SessionStateEvent{ID: "alice", SessionState: types.SessionState{IsConnected: true}})
	expect(t, "mute", translateAll(t, tr, types.EventSessionProfile, types.SessionProfileEvent{ID: "alice", MemberProfile: types.MemberProfile{Name: "alice", Plugins: map[string]any{"chat.can_send": false}}}),
		`{"event":"admin/mute","id":"boss","target":"alice"}`)
	expect(t, "kick", translateAll(t, tr, types.EventSessionDeleted, types.SessionID{ID: "alice"}),
		`{"event":"admin/kick","id":"boss","target":"alice"}`, `{"event":"member/disconnected","id":"alice"}`)
}

func TestTranslateMalformed(t *testing.T) {
	tr := newTranslator("me", "me", false, nil)
	if _, err := tr.translate([]byte(`{`)); err == nil {
		t.Fatal("malformed envelope accepted")
	}
	if _, err := tr.translate([]byte(`{"event":"control/host","payload":[1]}`)); err == nil {
		t.Fatal("malformed payload accepted")
	}
	if msgs, err := tr.translate([]byte(`{"event":"no/such"}`)); err != nil || msgs != nil {
		t.Fatalf("unknown event: %v %v", msgs, err)
	}
}

func TestDenied(t *testing.T) {
	tests := []struct {
		m    map[string]any
		want bool
	}{
		{nil, false},
		{map[string]any{"chat.can_send": true}, false},
		{map[string]any{"chat.can_send": false}, true},
		{map[string]any{"chat.can_send": "false"}, true},
		{map[string]any{"chat.can_send": "1"}, false},
		{map[string]any{"chat.can_send": "maybe"}, true},
		{map[string]any{"chat.can_send": float64(0)}, true},
		{map[string]any{"chat.can_send": []any{}}, true},
		{map[string]any{"chat": map[string]any{"can_send": false}}, true},
		{map[string]any{"chat": map[string]any{"can_send": false}, "chat.can_send": true}, false},
		{map[string]any{"chat.can_receive": false}, false},
	}
	for _, tc := range tests {
		if got := denied(tc.m, "chat.can_send"); got != tc.want {
			t.Errorf("denied(%v) = %v, want %v", tc.m, got, tc.want)
		}
	}
}
