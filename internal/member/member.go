// Package member defines how members are authenticated: one Provider
// interface, with the providers in sub-packages.
package member

import (
	"errors"

	"github.com/neko-webrtc/neko/pkg/types"
)

var (
	// ErrInvalidCredentials means the username or password is wrong.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUsernameRequired means the login had no username.
	ErrUsernameRequired = errors.New("username is required")
)

// Provider checks credentials and says who the member is.
type Provider interface {
	// Authenticate returns the member id and profile for the credentials.
	Authenticate(username, password string) (id string, profile types.MemberProfile, err error)
}
