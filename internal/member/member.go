// Package member defines how members are authenticated and stored: one
// Provider interface, an optional Store for providers that keep members,
// and FromConfig to pick a provider. The providers live in sub-packages.
package member

import (
	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

// The sentinel errors every provider returns (defined in package errs so
// the providers need not import this package).
var (
	ErrInvalidCredentials = errs.ErrInvalidCredentials
	ErrUsernameRequired   = errs.ErrUsernameRequired
	ErrNotFound           = errs.ErrNotFound
	ErrExists             = errs.ErrExists
	ErrNotSupported       = errs.ErrNotSupported
)

// Provider checks credentials and says who the member is.
type Provider interface {
	// Authenticate returns the member id and profile for the credentials.
	// Wrong credentials are ErrInvalidCredentials, an empty username
	// ErrUsernameRequired; any other error is the provider's own failure.
	Authenticate(username, password string) (id string, profile types.MemberProfile, err error)
}

// Store is implemented by providers that keep a list of members (file,
// object). The member id is the username. Methods are safe for concurrent
// use and return copies: callers may modify what they get.
type Store interface {
	// List returns members sorted by id, skipping offset of them and
	// returning at most limit (0: no limit).
	List(limit, offset int) ([]types.MemberData, error)
	// Get returns a member's profile or ErrNotFound.
	Get(id string) (types.MemberProfile, error)
	// Create adds a member (ErrExists if the username is taken) and returns
	// its id. An empty profile name becomes the username.
	Create(username, password string, profile types.MemberProfile) (id string, err error)
	// UpdateProfile replaces a member's profile or returns ErrNotFound.
	UpdateProfile(id string, profile types.MemberProfile) error
	// UpdatePassword replaces a member's password or returns ErrNotFound.
	UpdatePassword(id, password string) error
	// Delete removes a member or returns ErrNotFound.
	Delete(id string) error
}

// StoreOf returns p's Store, or ErrNotSupported for providers that create
// members on login instead of storing them (multiuser, noauth).
func StoreOf(p Provider) (Store, error) {
	if s, ok := p.(Store); ok {
		return s, nil
	}
	return nil, ErrNotSupported
}
