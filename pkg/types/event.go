package types

import "encoding/json"

// Event is a WebSocket event name.
type Event string

// Message is the envelope of every WebSocket message in both directions.
// Payload stays raw until the handler for Event decodes it.
type Message struct {
	Event   Event           `json:"event"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// OutMessage is an envelope for sending; Payload is marshalled as given.
type OutMessage struct {
	Event   Event `json:"event"`
	Payload any   `json:"payload,omitempty"`
}

// NullPayload is an explicit `"payload": null`, which the running
// reference sends with signal/close (a nil payload leaves the field out,
// as with system/heartbeat).
var NullPayload = json.RawMessage("null")

const (
	EventSystemInit       Event = "system/init"
	EventSystemAdmin      Event = "system/admin"
	EventSystemSettings   Event = "system/settings"
	EventSystemLogs       Event = "system/logs"
	EventSystemDisconnect Event = "system/disconnect"
	EventSystemHeartbeat  Event = "system/heartbeat"
	EventClientHeartbeat  Event = "client/heartbeat"

	EventSignalRequest   Event = "signal/request"
	EventSignalRestart   Event = "signal/restart"
	EventSignalOffer     Event = "signal/offer"
	EventSignalAnswer    Event = "signal/answer"
	EventSignalProvide   Event = "signal/provide"
	EventSignalCandidate Event = "signal/candidate"
	EventSignalVideo     Event = "signal/video"
	EventSignalAudio     Event = "signal/audio"
	EventSignalClose     Event = "signal/close"

	EventSessionCreated Event = "session/created"
	EventSessionDeleted Event = "session/deleted"
	EventSessionProfile Event = "session/profile"
	EventSessionState   Event = "session/state"
	EventSessionCursors Event = "session/cursors"

	EventControlRequest     Event = "control/request"
	EventControlRelease     Event = "control/release"
	EventControlHost        Event = "control/host"
	EventControlMove        Event = "control/move"
	EventControlScroll      Event = "control/scroll"
	EventControlButtonPress Event = "control/buttonpress"
	EventControlButtonDown  Event = "control/buttondown"
	EventControlButtonUp    Event = "control/buttonup"
	EventControlKeyPress    Event = "control/keypress"
	EventControlKeyDown     Event = "control/keydown"
	EventControlKeyUp       Event = "control/keyup"
	EventControlTouchBegin  Event = "control/touchbegin"
	EventControlTouchUpdate Event = "control/touchupdate"
	EventControlTouchEnd    Event = "control/touchend"
	EventControlCut         Event = "control/cut"
	EventControlCopy        Event = "control/copy"
	EventControlPaste       Event = "control/paste"
	EventControlSelectAll   Event = "control/select_all"

	EventScreenUpdated Event = "screen/updated"
	EventScreenSet     Event = "screen/set"

	EventClipboardUpdated Event = "clipboard/updated"
	EventClipboardSet     Event = "clipboard/set"

	EventKeyboardModifiers Event = "keyboard/modifiers"
	EventKeyboardMap       Event = "keyboard/map"

	EventBroadcastStatus Event = "broadcast/status"

	EventSendUnicast   Event = "send/unicast"
	EventSendBroadcast Event = "send/broadcast"

	EventFileChooserDialogOpened Event = "file_chooser_dialog/opened"
	EventFileChooserDialogClosed Event = "file_chooser_dialog/closed"
)

// SystemInit is the first message a session's WebSocket receives.
type SystemInit struct {
	SessionID         string                 `json:"session_id"`
	ControlHost       ControlHost            `json:"control_host"`
	ScreenSize        ScreenSize             `json:"screen_size"`
	Sessions          map[string]SessionData `json:"sessions"`
	Settings          Settings               `json:"settings"`
	TouchEvents       bool                   `json:"touch_events"`
	ScreencastEnabled bool                   `json:"screencast_enabled"`
	WebRTC            SystemWebRTC           `json:"webrtc"`
}

// SystemWebRTC lists the video qualities a client may select.
type SystemWebRTC struct {
	Videos []string `json:"videos"`
}

// SystemAdmin is sent to admins after system/init.
type SystemAdmin struct {
	ScreenSizesList []ScreenSize    `json:"screen_sizes_list"`
	BroadcastStatus BroadcastStatus `json:"broadcast_status"`
}

// SystemDisconnect tells a client why the server closes its socket.
type SystemDisconnect struct {
	Message string `json:"message"`
}

// ControlHost announces who hosts. ID repeats HostID for older clients.
type ControlHost struct {
	ID      string `json:"id"`
	HasHost bool   `json:"has_host"`
	HostID  string `json:"host_id,omitempty"`
}

// ControlRequest tells the host that session ID asks for control.
type ControlRequest struct {
	ID string `json:"id"`
}

// ControlPos is a pointer position in remote screen pixels.
type ControlPos struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// ControlScroll carries wheel deltas; X and Y are the legacy field names.
type ControlScroll struct {
	DeltaX     int  `json:"delta_x"`
	DeltaY     int  `json:"delta_y"`
	ControlKey bool `json:"control_key"`
	X          int  `json:"x,omitempty"`
	Y          int  `json:"y,omitempty"`
}

// ControlButton is a mouse button event, optionally with a position.
type ControlButton struct {
	Code uint32 `json:"code"`
	X    *int   `json:"x,omitempty"`
	Y    *int   `json:"y,omitempty"`
}

// ControlKey is a key event by X11 keysym, optionally with a position.
type ControlKey struct {
	Keysym uint32 `json:"keysym"`
	X      *int   `json:"x,omitempty"`
	Y      *int   `json:"y,omitempty"`
}

// ControlTouch is a touch event.
type ControlTouch struct {
	TouchID  uint32 `json:"touch_id"`
	X        int    `json:"x"`
	Y        int    `json:"y"`
	Pressure uint8  `json:"pressure"`
}

// SessionID carries only a session id (session/deleted).
type SessionID struct {
	ID string `json:"id"`
}

// SessionStateEvent is session/state: the id plus the flattened state.
type SessionStateEvent struct {
	ID string `json:"id"`
	SessionState
}

// ScreenSizeEvent is screen/updated.
type ScreenSizeEvent struct {
	ID string `json:"id"`
	ScreenSize
}

// SessionProfileEvent is session/profile: the id plus the flattened profile.
type SessionProfileEvent struct {
	ID string `json:"id"`
	MemberProfile
}

// SystemSettingsEvent is system/settings: who changed them and the result.
type SystemSettingsEvent struct {
	ID string `json:"id"`
	Settings
}

// SendUnicast is send/unicast from a client; the receiver gets it with the
// sender filled in.
type SendUnicast struct {
	Sender   string          `json:"sender"`
	Receiver string          `json:"receiver"`
	Subject  string          `json:"subject"`
	Body     json.RawMessage `json:"body"`
}

// SendBroadcast is send/broadcast; everyone else gets it with the sender.
type SendBroadcast struct {
	Sender  string          `json:"sender"`
	Subject string          `json:"subject"`
	Body    json.RawMessage `json:"body"`
}

// Cursor is a pointer position in remote screen pixels.
type Cursor struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// SessionCursors is one entry of session/cursors: a session's inactive
// cursor positions (non-host pointers).
type SessionCursors struct {
	ID      string   `json:"id"`
	Cursors []Cursor `json:"cursors"`
}
