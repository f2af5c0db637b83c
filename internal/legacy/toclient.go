package legacy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Actions the bridge performs on behalf of a v2 admin; the translator asks
// who did them, since the v3 events do not say.
const (
	actionHost = "host"
	actionMute = "mute"
	actionKick = "kick"
	actionBan  = "ban"
)

// translator turns the v3 events that one session receives into the v2
// messages of its client. It keeps what v2 needs and v3 does not repeat:
// the members announced so far, the last host, the locks. Not safe for
// concurrent use: the connection serialises calls.
type translator struct {
	self         string // our session id
	name         string // our display name (signal/answer)
	fileTransfer bool   // filetransfer.enabled, for system/init
	// actor reports who performed action on target, when the bridge did it
	// for a v2 admin ("" when unknown). May be nil.
	actor func(action, target string) string

	members  map[string]*memberState
	lastHost string
	locks    map[string]bool
}

type memberState struct {
	member
	connected bool // member/connected (or member/list) was sent
	kickSent  bool // admin/kick or admin/ban was sent
}

func newTranslator(self, name string, fileTransfer bool, actor func(action, target string) string) *translator {
	return &translator{
		self: self, name: name, fileTransfer: fileTransfer, actor: actor,
		members: map[string]*memberState{}, locks: map[string]bool{},
	}
}

func (t *translator) actorOf(action, target string) string {
	if t.actor == nil {
		return ""
	}
	return t.actor(action, target)
}

// translate returns the v2 messages for one raw v3 message (often none).
func (t *translator) translate(raw []byte) ([]any, error) {
	var msg types.Message
	if err := json.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("legacy: malformed v3 message: %w", err)
	}
	return t.event(msg.Event, msg.Payload)
}

func decode[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	err := json.Unmarshal(raw, &v)
	return v, err
}

// event translates one v3 event. Events without a v2 twin (heartbeats,
// audio/video state, cursors, keyboard state...) give nothing.
func (t *translator) event(ev types.Event, raw json.RawMessage) ([]any, error) {
	switch ev {
	case types.EventSystemInit:
		p, err := decode[types.SystemInit](raw)
		if err != nil {
			return nil, err
		}
		return t.systemInit(p), nil
	case types.EventSystemAdmin:
		p, err := decode[types.SystemAdmin](raw)
		if err != nil {
			return nil, err
		}
		return []any{
			msgConfigurations{Event: EventScreenConfigurations, Configurations: configurations(p.ScreenSizesList)},
			msgBroadcastStatus{Event: EventBroadcastStatus, URL: p.BroadcastStatus.URL, IsActive: p.BroadcastStatus.IsActive},
		}, nil
	case types.EventSystemSettings:
		p, err := decode[types.SystemSettingsEvent](raw)
		if err != nil {
			return nil, err
		}
		return t.settings(p.ID, p.Settings), nil
	case types.EventSystemDisconnect:
		p, err := decode[types.SystemDisconnect](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgSystem{Event: EventSystemDisconnect, Message: p.Message}}, nil

	case types.EventSessionCreated:
		p, err := decode[types.SessionData](raw)
		if err != nil {
			return nil, err
		}
		// Announced on connect (session/state), not now.
		t.members[p.ID] = &memberState{member: toMember(p.ID, p.Profile)}
		return nil, nil
	case types.EventSessionDeleted:
		p, err := decode[types.SessionID](raw)
		if err != nil {
			return nil, err
		}
		return t.deleted(p.ID), nil
	case types.EventSessionState:
		p, err := decode[types.SessionStateEvent](raw)
		if err != nil {
			return nil, err
		}
		return t.state(p.ID, p.IsConnected), nil
	case types.EventSessionProfile:
		p, err := decode[types.SessionProfileEvent](raw)
		if err != nil {
			return nil, err
		}
		return t.profile(p.ID, p.MemberProfile), nil

	case types.EventSignalProvide:
		p, err := decode[types.SignalProvide](raw)
		if err != nil {
			return nil, err
		}
		ice := make([]iceServer, 0, len(p.ICEServers))
		for _, s := range p.ICEServers {
			ice = append(ice, iceServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential, CredentialType: "password"})
		}
		// Without ICE servers the v2 client builds a plain peer ("lite").
		return []any{msgSignalProvide{Event: EventSignalProvide, ID: t.self, SDP: p.SDP, Lite: len(ice) == 0, ICE: ice}}, nil
	case types.EventSignalOffer, types.EventSignalRestart:
		p, err := decode[types.SignalDescription](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgSignalSDP{Event: EventSignalOffer, SDP: p.SDP}}, nil
	case types.EventSignalAnswer:
		p, err := decode[types.SignalDescription](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgSignalAnswer{Event: EventSignalAnswer, SDP: p.SDP, DisplayName: t.name}}, nil
	case types.EventSignalCandidate:
		p, err := decode[types.SignalCandidate](raw)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		return []any{msgSignalCandidate{Event: EventSignalCandidate, Data: string(data)}}, nil

	case types.EventControlHost:
		p, err := decode[types.ControlHost](raw)
		if err != nil {
			return nil, err
		}
		return t.host(p), nil
	case types.EventControlRequest:
		p, err := decode[types.ControlRequest](raw)
		if err != nil {
			return nil, err
		}
		if p.ID == t.self {
			return []any{msgID{Event: EventControlRequest, ID: p.ID}}, nil
		}
		return []any{msgID{Event: EventControlRequesting, ID: p.ID}}, nil
	case types.EventClipboardUpdated:
		p, err := decode[types.ClipboardData](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgClipboard{Event: EventControlClipboard, Text: p.Text}}, nil

	case types.EventScreenUpdated:
		p, err := decode[types.ScreenSizeEvent](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgResolution{Event: EventScreenResolution, ID: p.ID, Width: p.Width, Height: p.Height, Rate: p.Rate}}, nil
	case types.EventBroadcastStatus:
		p, err := decode[types.BroadcastStatus](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgBroadcastStatus{Event: EventBroadcastStatus, URL: p.URL, IsActive: p.IsActive}}, nil

	case types.EventChatMessage:
		p, err := decode[types.ChatMessage](raw)
		if err != nil {
			return nil, err
		}
		return []any{msgChat{Event: EventChatMessage, ID: p.ID, Content: p.Content.Text}}, nil
	case types.EventSendBroadcast:
		p, err := decode[types.SendBroadcast](raw)
		if err != nil || p.Subject != "emote" {
			return nil, err
		}
		var emote string
		if err := json.Unmarshal(p.Body, &emote); err != nil {
			return nil, fmt.Errorf("emote body: %w", err)
		}
		return []any{msgEmote{Event: EventChatEmote, ID: p.Sender, Emote: emote}}, nil
	case types.EventFileTransferUpdate:
		p, err := decode[types.FileTransferUpdate](raw)
		if err != nil {
			return nil, err
		}
		files := make([]fileItem, 0, len(p.Files))
		for _, f := range p.Files {
			files = append(files, fileItem{Name: f.Name, Type: string(f.Type), Size: f.Size})
		}
		return []any{msgFileList{Event: EventFileTransferList, Cwd: p.RootDir,
			UserDownload: p.UserDownload, UserUpload: p.UserUpload, UserDelete: p.UserDelete, Files: files}}, nil
	}
	if strings.HasPrefix(string(ev), v3OpenInAppPrefix) {
		return flatten(Event(ev), raw)
	}
	return nil, nil
}

// flatten moves an object payload up beside the event name, the v2 shape.
func flatten(ev Event, raw json.RawMessage) ([]any, error) {
	out := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, err
		}
	}
	out["event"] = ev
	return []any{out}, nil
}

func toMember(id string, p types.MemberProfile) member {
	return member{ID: id, DisplayName: p.Name, Admin: p.IsAdmin, Muted: muted(p)}
}

// muted: v2's mute is the chat plugin's can_send turned off in the
// member's profile (read as the plugin reads it).
func muted(p types.MemberProfile) bool {
	return denied(p.Plugins, types.PluginChatCanSend)
}

// denied reports whether a plugin key ("chat.can_send") refuses, read as
// the plugins read it (internal/plugins.Flag, not imported to keep this
// package off the plugins' dependencies): the flat key, else the nested
// form; false, "false"/"0" or 0 refuse, as does a value that is not a
// boolean; an absent key allows.
func denied(m map[string]any, key string) bool {
	raw, found := m[key]
	if !found {
		plugin, sub, _ := strings.Cut(key, ".")
		if nested, ok := m[plugin].(map[string]any); ok {
			raw, found = nested[sub]
		}
	}
	if !found || raw == nil {
		return false
	}
	switch v := raw.(type) {
	case bool:
		return !v
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return err != nil || !b
	case float64:
		return v == 0
	case int:
		return v == 0
	}
	return true
}

func locksOf(s types.Settings) map[string]bool {
	l := map[string]bool{}
	if s.LockedLogins {
		l[resourceLogin] = true
	}
	if s.LockedControls {
		l[resourceControl] = true
	}
	if denied(s.Plugins, types.PluginFileTransferEnabled) {
		l[resourceFileTransfer] = true
	}
	return l
}

// systemInit: member/list, screen/resolution, control/locked when someone
// hosts, then system/init — the reference bridge's order.
func (t *translator) systemInit(p types.SystemInit) []any {
	if p.SessionID != "" {
		t.self = p.SessionID
	}
	t.members = map[string]*memberState{}
	list := []member{}
	for id, sd := range p.Sessions {
		ms := &memberState{member: toMember(id, sd.Profile), connected: sd.State.IsConnected}
		t.members[id] = ms
		if ms.connected {
			list = append(list, ms.member)
		}
	}
	slices.SortFunc(list, func(a, b member) int { return strings.Compare(a.ID, b.ID) })
	out := []any{
		msgMemberList{Event: EventMemberList, Members: list},
		msgResolution{Event: EventScreenResolution, Width: p.ScreenSize.Width, Height: p.ScreenSize.Height, Rate: p.ScreenSize.Rate},
	}
	t.lastHost = ""
	if p.ControlHost.HasHost {
		out = append(out, t.host(p.ControlHost)...)
	}
	t.locks = locksOf(p.Settings)
	locks := map[string]string{}
	for r := range t.locks {
		locks[r] = "" // v3 does not say who locked it
	}
	return append(out, msgSystemInit{
		Event: EventSystemInit, Locks: locks, ImplicitHosting: p.Settings.ImplicitHosting,
		FileTransfer: t.fileTransfer, HeartbeatInterval: p.Settings.HeartbeatInterval,
	})
}

// configurations groups screen sizes by resolution; each resolution keeps
// the index of its first appearance, its rates are numbered in order.
func configurations(sizes []types.ScreenSize) map[int]screenConfiguration {
	out := map[int]screenConfiguration{}
	first := map[[2]int]int{}
	for i, s := range sizes {
		key := [2]int{s.Width, s.Height}
		idx, seen := first[key]
		if !seen {
			first[key] = i
			out[i] = screenConfiguration{Width: s.Width, Height: s.Height, Rates: map[int]int{}}
			idx = i
		}
		c := out[idx]
		c.Rates[len(c.Rates)] = s.Rate
	}
	return out
}

// settings turns lock changes into admin/lock and admin/unlock.
func (t *translator) settings(actor string, s types.Settings) []any {
	next := locksOf(s)
	var out []any
	for _, r := range []string{resourceControl, resourceLogin, resourceFileTransfer} {
		if next[r] == t.locks[r] {
			continue
		}
		ev := EventAdminUnlock
		if next[r] {
			ev = EventAdminLock
		}
		out = append(out, msgAdminLock{Event: ev, Resource: r, ID: actor})
	}
	t.locks = next
	return out
}

func (t *translator) state(id string, connected bool) []any {
	ms, ok := t.members[id]
	if !ok || ms.connected == connected {
		return nil
	}
	ms.connected = connected
	if connected {
		return []any{msgMember{Event: EventMemberConnected, member: ms.member}}
	}
	// A kicked v3 client may disconnect before its session is deleted.
	return append(t.kicked(ms), msgID{Event: EventMemberDisconnected, ID: id})
}

func (t *translator) deleted(id string) []any {
	ms, ok := t.members[id]
	if !ok {
		return nil
	}
	delete(t.members, id)
	out := t.kicked(ms)
	if ms.connected {
		out = append(out, msgID{Event: EventMemberDisconnected, ID: id})
	}
	return out
}

// kicked announces, once, that an admin kicked or banned the member; v2
// says so before the member leaves the list.
func (t *translator) kicked(ms *memberState) []any {
	if ms.kickSent {
		return nil
	}
	for _, a := range []struct {
		action string
		ev     Event
	}{{actionBan, EventAdminBan}, {actionKick, EventAdminKick}} {
		if actor := t.actorOf(a.action, ms.ID); actor != "" {
			ms.kickSent = true
			return []any{msgTarget{Event: a.ev, ID: actor, Target: ms.ID}}
		}
	}
	return nil
}

func (t *translator) profile(id string, p types.MemberProfile) []any {
	if id == t.self {
		t.name = p.Name
	}
	ms, ok := t.members[id]
	if !ok {
		return nil
	}
	was := ms.Muted
	ms.member = toMember(id, p)
	if !ms.connected || was == ms.Muted {
		return nil
	}
	ev := EventAdminUnmute
	if ms.Muted {
		ev = EventAdminMute
	}
	return []any{msgTarget{Event: ev, ID: t.actorOf(actionMute, id), Target: id}}
}

// host maps control/host onto v2's control events. v2 distinguishes who
// caused a change: taking free control (control/locked), releasing one's
// own (control/release), an admin taking or releasing someone else's
// (admin/control, admin/release) and giving (control/give). v3's
// control/host only names the new host, so the actor comes from the bridge
// when a v2 admin acted, and otherwise the most likely one is assumed: a
// direct change from one host to another is a give by the old host.
func (t *translator) host(p types.ControlHost) []any {
	last := t.lastHost
	actor := t.actorOf(actionHost, "")
	if !p.HasHost {
		t.lastHost = ""
		switch {
		case last == "":
			return nil
		case actor != "" && actor != last:
			return []any{msgTarget{Event: EventAdminRelease, ID: actor, Target: last}}
		default:
			return []any{msgID{Event: EventControlRelease, ID: last}}
		}
	}
	host := p.HostID
	if host == "" {
		host = p.ID
	}
	t.lastHost = host
	switch {
	case last == "" && (actor == "" || actor == host):
		return []any{msgID{Event: EventControlLocked, ID: host}}
	case last == host:
		return nil
	case actor == host:
		// Taken by force (an admin); v2 names the one it was taken from.
		return []any{msgTarget{Event: EventAdminControl, ID: host, Target: last}}
	case actor != "":
		return []any{msgTarget{Event: EventControlGive, ID: actor, Target: host}}
	default:
		return []any{msgTarget{Event: EventControlGive, ID: last, Target: host}}
	}
}
