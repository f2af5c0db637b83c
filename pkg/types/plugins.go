package types

import "time"

// Events of the built-in plugins (chat, file transfer, open-in-app), as the
// reference's v3 plugins name them.
const (
	EventChatInit    Event = "chat/init"
	EventChatMessage Event = "chat/message"

	EventFileTransferUpdate Event = "filetransfer/update"

	EventOpenInAppInit     Event = "openinapp/init"
	EventOpenInAppOpenLink Event = "openinapp/openlink"
)

// Plugin keys read from Settings.Plugins (room) and MemberProfile.Plugins
// (member). Keys are flat, "<plugin>.<setting>"; an absent key allows.
const (
	PluginChatCanSend         = "chat.can_send"
	PluginChatCanReceive      = "chat.can_receive"
	PluginFileTransferEnabled = "filetransfer.enabled"
)

// PluginInit is chat/init and openinapp/init: whether the plugin is on.
type PluginInit struct {
	Enabled bool `json:"enabled"`
}

// ChatContent is what a client sends as chat/message (and POST /api/chat),
// and the content of a delivered message.
type ChatContent struct {
	Text string `json:"text"`
}

// ChatMessage is chat/message from the server: the sender's session id,
// when the server accepted it, and the content.
type ChatMessage struct {
	ID      string      `json:"id"`
	Created time.Time   `json:"created"`
	Content ChatContent `json:"content"`
}

// FileTransferUpdate is filetransfer/update. Files is null while the
// plugin is disabled (or the list is withheld from the receiver), an array
// otherwise.
type FileTransferUpdate struct {
	Enabled      bool               `json:"enabled"`
	RootDir      string             `json:"root_dir"`
	UserDownload bool               `json:"user_download"`
	UserUpload   bool               `json:"user_upload"`
	UserDelete   bool               `json:"user_delete"`
	Files        []FileTransferItem `json:"files"`
}

// FileTransferItemType is "file" or "dir".
type FileTransferItemType string

const (
	FileTransferItemFile FileTransferItemType = "file"
	FileTransferItemDir  FileTransferItemType = "dir"
)

// FileTransferItem is one entry of the transfer directory (not recursive).
type FileTransferItem struct {
	Name string               `json:"name"`
	Type FileTransferItemType `json:"type"`
	Size int64                `json:"size,omitempty"`
}

// OpenInAppLink is openinapp/openlink (WebSocket) and the body of POST
// /api/openinapp/openlink: the URL to open in the shared app.
type OpenInAppLink struct {
	Text string `json:"text"`
}
