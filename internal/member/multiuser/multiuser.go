// Package multiuser is the member provider of two shared passwords: any
// username may log in, the password picks the admin or the user profile, and
// every login becomes a member of its own.
package multiuser

import (
	"crypto/rand"
	"crypto/subtle"
	"strings"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Options are the two passwords and the profile templates.
type Options struct {
	AdminPassword, UserPassword string
	AdminProfile, UserProfile   types.MemberProfile
}

// Provider implements member.Provider. It stores no members: it does not
// implement member.Store.
type Provider struct{ opts Options }

func New(opts Options) *Provider { return &Provider{opts: opts} }

// maxUsername keeps display names sane; the UI shows them everywhere.
const maxUsername = 64

func (p *Provider) Authenticate(username, password string) (string, types.MemberProfile, error) {
	username = strings.TrimSpace(username)
	if username == "" {
		return "", types.MemberProfile{}, errs.ErrUsernameRequired
	}
	if len(username) > maxUsername {
		username = username[:maxUsername]
	}
	var profile types.MemberProfile
	switch {
	case equal(password, p.opts.AdminPassword):
		profile = p.opts.AdminProfile
	case equal(password, p.opts.UserPassword):
		profile = p.opts.UserProfile
	default:
		return "", types.MemberProfile{}, errs.ErrInvalidCredentials
	}
	// A template name wins; the documented default template has none.
	if profile.Name == "" {
		profile.Name = username
	}
	return NewID(username), profile, nil
}

// NewID returns a fresh member id for a login name. The same name may log
// in twice (two tabs, two people): each login is its own member, so the id
// gets a random suffix like the reference's.
func NewID(username string) string {
	return idPrefix(username) + "-" + suffix(5)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// idPrefix keeps ids safe in URL paths (/api/sessions/{id}).
func idPrefix(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' || r == '.' {
			b.WriteRune(r)
		} else if b.Len() > 0 {
			b.WriteByte('_')
		}
		if b.Len() >= 32 {
			break
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func suffix(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	for i, c := range buf {
		buf[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(buf)
}
