// Package noauth is the member provider without authentication: any name
// logs in with any password, and every login becomes a member of its own.
// It is meant for testing; it stores no members (no member.Store).
package noauth

import (
	"strings"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Profile is what every noauth login gets. As in the reference (whose docs
// warn that noauth "allows anyone to log in and control neko as an
// admin"), everyone is an admin: without one nobody could change settings.
func Profile() types.MemberProfile {
	return types.MemberProfile{
		IsAdmin:               true,
		CanLogin:              true,
		CanConnect:            true,
		CanWatch:              true,
		CanHost:               true,
		CanShareMedia:         true,
		CanAccessClipboard:    true,
		SendsInactiveCursor:   true,
		CanSeeInactiveCursors: true,
	}
}

// Provider implements member.Provider.
type Provider struct{}

func New() *Provider { return &Provider{} }

// maxUsername matches the multiuser provider's cap.
const maxUsername = 64

// Authenticate accepts any password; only a name is required.
func (*Provider) Authenticate(username, _ string) (string, types.MemberProfile, error) {
	username = strings.TrimSpace(username)
	if username == "" {
		return "", types.MemberProfile{}, errs.ErrUsernameRequired
	}
	if len(username) > maxUsername {
		username = username[:maxUsername]
	}
	p := Profile()
	p.Name = username
	return multiuser.NewID(username), p, nil
}
