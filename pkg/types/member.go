package types

// MemberProfile is what a member may do. Every flag is serialised even when
// false: clients read them directly.
type MemberProfile struct {
	Name                  string         `json:"name"`
	IsAdmin               bool           `json:"is_admin"`
	CanLogin              bool           `json:"can_login"`
	CanConnect            bool           `json:"can_connect"`
	CanWatch              bool           `json:"can_watch"`
	CanHost               bool           `json:"can_host"`
	CanShareMedia         bool           `json:"can_share_media"`
	CanAccessClipboard    bool           `json:"can_access_clipboard"`
	SendsInactiveCursor   bool           `json:"sends_inactive_cursor"`
	CanSeeInactiveCursors bool           `json:"can_see_inactive_cursors"`
	Plugins               map[string]any `json:"plugins"`
}

// MemberData is a stored member: GET /api/members lists them, POST
// /api/members answers one.
type MemberData struct {
	ID      string        `json:"id"`
	Profile MemberProfile `json:"profile"`
}

// MemberCreate is the body of POST /api/members. Profile fields it leaves
// out take the create defaults (every right but admin).
type MemberCreate struct {
	Username string        `json:"username"`
	Password string        `json:"password"`
	Profile  MemberProfile `json:"profile"`
}

// MemberPassword is the body of POST /api/members/{id}/password.
type MemberPassword struct {
	Password string `json:"password"`
}

// MemberBulkUpdate is the body of POST /api/members_bulk/update: profile
// fields it carries are set on every listed member, the others kept.
type MemberBulkUpdate struct {
	IDs     []string      `json:"ids"`
	Profile MemberProfile `json:"profile"`
}

// MemberBulkDelete is the body of POST /api/members_bulk/delete.
type MemberBulkDelete struct {
	IDs []string `json:"ids"`
}

// SessionState is a session's connection and media state. The *_since
// fields are set only for the state the session is in (or left last).
type SessionState struct {
	IsConnected       bool  `json:"is_connected"`
	ConnectedSince    *Time `json:"connected_since,omitempty"`
	NotConnectedSince *Time `json:"not_connected_since,omitempty"`
	IsWatching        bool  `json:"is_watching"`
	WatchingSince     *Time `json:"watching_since,omitempty"`
	NotWatchingSince  *Time `json:"not_watching_since,omitempty"`
}

// SessionData is a session as REST and WebSocket report it.
type SessionData struct {
	ID      string        `json:"id"`
	Profile MemberProfile `json:"profile"`
	State   SessionState  `json:"state"`
}

// LoginRequest is the body of POST /api/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is SessionData plus the token when cookies are off.
type LoginResponse struct {
	SessionData
	Token string `json:"token,omitempty"`
}

// ErrorMessage is the body of every 4xx/5xx answer. The running reference
// also sends a numeric code; clients read only message.
type ErrorMessage struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}
