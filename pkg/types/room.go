package types

import "time"

// Settings are the room settings shared by every session.
type Settings struct {
	PrivateMode       bool           `json:"private_mode"`
	LockedLogins      bool           `json:"locked_logins"`
	LockedControls    bool           `json:"locked_controls"`
	ControlProtection bool           `json:"control_protection"`
	ImplicitHosting   bool           `json:"implicit_hosting"`
	InactiveCursors   bool           `json:"inactive_cursors"`
	MercifulReconnect bool           `json:"merciful_reconnect"`
	HeartbeatInterval int            `json:"heartbeat_interval"`
	Plugins           map[string]any `json:"plugins"`
}

// ScreenSize is a display mode. Rate is in Hz.
type ScreenSize struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	Rate   int `json:"rate"`
}

// ControlStatus answers GET /api/room/control.
type ControlStatus struct {
	HasHost bool   `json:"has_host"`
	HostID  string `json:"host_id,omitempty"`
}

// BroadcastStatus is the RTMP broadcast state.
type BroadcastStatus struct {
	IsActive bool   `json:"is_active"`
	URL      string `json:"url,omitempty"`
}

// Stats answers GET /api/stats. Times are null until the event happened.
type Stats struct {
	HasHost         bool       `json:"has_host"`
	HostID          string     `json:"host_id"`
	ServerStartedAt time.Time  `json:"server_started_at"`
	TotalUsers      int        `json:"total_users"`
	LastUserLeftAt  *time.Time `json:"last_user_left_at"`
	TotalAdmins     int        `json:"total_admins"`
	LastAdminLeftAt *time.Time `json:"last_admin_left_at"`
}
