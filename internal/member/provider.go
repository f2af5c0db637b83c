package member

import (
	"fmt"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/member/file"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/internal/member/noauth"
	"github.com/neko-webrtc/neko/internal/member/object"
)

var (
	_ Provider = (*multiuser.Provider)(nil)
	_ Provider = (*noauth.Provider)(nil)
	_ Store    = (*file.Provider)(nil)
	_ Provider = (*file.Provider)(nil)
	_ Store    = (*object.Provider)(nil)
	_ Provider = (*object.Provider)(nil)
)

// FromConfig builds the provider member.provider names. The file provider
// creates a missing file and fails on one that does not parse.
func FromConfig(c config.Member) (Provider, error) {
	switch c.Provider {
	case "", "multiuser":
		return multiuser.New(multiuser.Options{
			AdminPassword: c.Multiuser.AdminPassword,
			UserPassword:  c.Multiuser.UserPassword,
			AdminProfile:  c.Multiuser.AdminProfile,
			UserProfile:   c.Multiuser.UserProfile,
		}), nil
	case "file":
		return file.New(file.Options{Path: c.File.Path, Hash: c.File.Hash, Defaults: config.DefaultUserProfile()})
	case "object":
		users := make([]object.User, len(c.Object.Users))
		for i, u := range c.Object.Users {
			users[i] = object.User{Username: u.Username, Password: u.Password, Profile: u.Profile}
		}
		return object.New(users)
	case "noauth":
		return noauth.New(), nil
	default:
		return nil, fmt.Errorf("member.provider %q: want multiuser, file, object or noauth", c.Provider)
	}
}
