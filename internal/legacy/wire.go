package legacy

// Event is a v2 event name. v2 messages are flat: {"event": ..., fields...}.
type Event string

// The v2 events, both directions.
const (
	EventSystemInit       Event = "system/init"
	EventSystemDisconnect Event = "system/disconnect"
	EventSystemError      Event = "system/error"
	EventClientHeartbeat  Event = "client/heartbeat"

	EventSignalOffer     Event = "signal/offer"
	EventSignalAnswer    Event = "signal/answer"
	EventSignalProvide   Event = "signal/provide"
	EventSignalCandidate Event = "signal/candidate"

	EventMemberList         Event = "member/list"
	EventMemberConnected    Event = "member/connected"
	EventMemberDisconnected Event = "member/disconnected"

	EventControlLocked     Event = "control/locked"
	EventControlRelease    Event = "control/release"
	EventControlRequest    Event = "control/request"
	EventControlRequesting Event = "control/requesting"
	EventControlGive       Event = "control/give"
	EventControlClipboard  Event = "control/clipboard"
	EventControlKeyboard   Event = "control/keyboard"

	EventChatMessage Event = "chat/message"
	EventChatEmote   Event = "chat/emote"

	EventFileTransferList    Event = "filetransfer/list"
	EventFileTransferRefresh Event = "filetransfer/refresh"

	EventScreenConfigurations Event = "screen/configurations"
	EventScreenResolution     Event = "screen/resolution"
	EventScreenSet            Event = "screen/set"

	EventBroadcastStatus  Event = "broadcast/status"
	EventBroadcastCreate  Event = "broadcast/create"
	EventBroadcastDestroy Event = "broadcast/destroy"

	EventAdminBan     Event = "admin/ban"
	EventAdminKick    Event = "admin/kick"
	EventAdminLock    Event = "admin/lock"
	EventAdminUnlock  Event = "admin/unlock"
	EventAdminMute    Event = "admin/mute"
	EventAdminUnmute  Event = "admin/unmute"
	EventAdminControl Event = "admin/control"
	EventAdminRelease Event = "admin/release"
	EventAdminGive    Event = "admin/give"

	EventOpenInAppInit Event = "openinapp/init"
)

// openinapp/* events pass between the protocols unchanged but flattened.
const v3OpenInAppPrefix = "openinapp/"

// Lock resources of admin/lock and system/init's locks.
const (
	resourceControl      = "control"
	resourceLogin        = "login"
	resourceFileTransfer = "file_transfer"
)

// Messages the server sends. Field order follows the recorded wire.

type msgSystemInit struct {
	Event             Event             `json:"event"`
	Locks             map[string]string `json:"locks"`
	ImplicitHosting   bool              `json:"implicit_hosting"`
	FileTransfer      bool              `json:"file_transfer"`
	HeartbeatInterval int               `json:"heartbeat_interval"`
}

type msgSystem struct {
	Event   Event  `json:"event"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message"`
}

type member struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayname"`
	Admin       bool   `json:"admin"`
	Muted       bool   `json:"muted"`
}

type msgMemberList struct {
	Event   Event    `json:"event"`
	Members []member `json:"members"`
}

type msgMember struct {
	Event Event `json:"event"`
	member
}

type msgID struct {
	Event Event  `json:"event"`
	ID    string `json:"id"`
}

type msgTarget struct {
	Event  Event  `json:"event"`
	ID     string `json:"id"`
	Target string `json:"target"`
}

type msgAdminLock struct {
	Event    Event  `json:"event"`
	Resource string `json:"resource"`
	ID       string `json:"id"`
}

// iceServer is an ICE server in the shape of the browser's RTCIceServer,
// as v2 clients receive it.
type iceServer struct {
	URLs           []string `json:"urls"`
	Username       string   `json:"username,omitempty"`
	Credential     string   `json:"credential"`
	CredentialType string   `json:"credentialType"`
}

type msgSignalProvide struct {
	Event Event       `json:"event"`
	ID    string      `json:"id"`
	SDP   string      `json:"sdp"`
	Lite  bool        `json:"lite"`
	ICE   []iceServer `json:"ice"`
}

type msgSignalSDP struct {
	Event Event  `json:"event"`
	SDP   string `json:"sdp"`
}

type msgSignalAnswer struct {
	Event       Event  `json:"event"`
	SDP         string `json:"sdp"`
	DisplayName string `json:"displayname"`
}

type msgSignalCandidate struct {
	Event Event  `json:"event"`
	Data  string `json:"data"`
}

type msgClipboard struct {
	Event Event  `json:"event"`
	Text  string `json:"text"`
}

type msgChat struct {
	Event   Event  `json:"event"`
	ID      string `json:"id"`
	Content string `json:"content"`
}

type msgEmote struct {
	Event Event  `json:"event"`
	ID    string `json:"id"`
	Emote string `json:"emote"`
}

type fileItem struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

type msgFileList struct {
	Event        Event      `json:"event"`
	Cwd          string     `json:"cwd"`
	UserDownload bool       `json:"user_download"`
	UserUpload   bool       `json:"user_upload"`
	UserDelete   bool       `json:"user_delete"`
	Files        []fileItem `json:"files"`
}

type msgResolution struct {
	Event  Event  `json:"event"`
	ID     string `json:"id,omitempty"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Rate   int    `json:"rate"`
}

type screenConfiguration struct {
	Width  int         `json:"width"`
	Height int         `json:"height"`
	Rates  map[int]int `json:"rates"`
}

type msgConfigurations struct {
	Event          Event                       `json:"event"`
	Configurations map[int]screenConfiguration `json:"configurations"`
}

type msgBroadcastStatus struct {
	Event    Event  `json:"event"`
	URL      string `json:"url"`
	IsActive bool   `json:"isActive"`
}

// Messages clients send (beyond those above, which some share).

// clientMessage holds every field a v2 client message may carry; which
// are set depends on Event.
type clientMessage struct {
	Event       Event   `json:"event"`
	ID          string  `json:"id"`
	Target      string  `json:"target"`
	SDP         string  `json:"sdp"`
	DisplayName string  `json:"displayname"`
	Data        string  `json:"data"`
	Text        string  `json:"text"`
	Content     string  `json:"content"`
	Emote       string  `json:"emote"`
	Resource    string  `json:"resource"`
	URL         string  `json:"url"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Rate        int     `json:"rate"`
	Layout      *string `json:"layout"`
	CapsLock    *bool   `json:"capsLock"`
	NumLock     *bool   `json:"numLock"`
	ScrollLock  *bool   `json:"scrollLock"`
}
