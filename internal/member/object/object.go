// Package object is the member provider of a fixed list of users from the
// configuration (member.object.users), kept in memory. Its Store works, but
// only in memory: members created, changed or deleted over the API are lost
// on restart, as in the reference.
package object

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

// User is one configured user; the password is in plain text.
type User struct {
	Username string
	Password string
	Profile  types.MemberProfile
}

// Provider implements member.Provider and member.Store.
type Provider struct {
	mu      sync.RWMutex
	members map[string]entry
}

// entry keeps only a digest of the password, so comparing is constant
// time whatever the lengths.
type entry struct {
	digest  [sha256.Size]byte
	profile types.MemberProfile
}

// New checks the users (a name each, no duplicates) and keeps them.
func New(users []User) (*Provider, error) {
	p := &Provider{members: make(map[string]entry, len(users))}
	for i, u := range users {
		if strings.TrimSpace(u.Username) == "" {
			return nil, fmt.Errorf("member.object.users[%d]: username is empty", i)
		}
		if u.Password == "" {
			return nil, fmt.Errorf("member.object.users[%d] %q: password is empty", i, u.Username)
		}
		if _, err := p.Create(u.Username, u.Password, u.Profile); err != nil {
			return nil, fmt.Errorf("member.object.users[%d] %q: %w", i, u.Username, err)
		}
	}
	return p, nil
}

// Authenticate checks the password of the user named username; the id is
// the username.
func (p *Provider) Authenticate(username, password string) (string, types.MemberProfile, error) {
	if strings.TrimSpace(username) == "" {
		return "", types.MemberProfile{}, errs.ErrUsernameRequired
	}
	p.mu.RLock()
	e, ok := p.members[username]
	p.mu.RUnlock()
	d := sha256.Sum256([]byte(password))
	// Compare even for an unknown user, so timing does not tell names.
	match := subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1
	if !ok || !match || password == "" {
		return "", types.MemberProfile{}, errs.ErrInvalidCredentials
	}
	return username, clone(e.profile), nil
}

func (p *Provider) List(limit, offset int) ([]types.MemberData, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids := slices.Sorted(maps.Keys(p.members))
	out := []types.MemberData{}
	for _, id := range page(ids, limit, offset) {
		out = append(out, types.MemberData{ID: id, Profile: clone(p.members[id].profile)})
	}
	return out, nil
}

func (p *Provider) Get(id string) (types.MemberProfile, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	e, ok := p.members[id]
	if !ok {
		return types.MemberProfile{}, errs.ErrNotFound
	}
	return clone(e.profile), nil
}

func (p *Provider) Create(username, password string, profile types.MemberProfile) (string, error) {
	if profile.Name == "" {
		profile.Name = username
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.members[username]; ok {
		return "", errs.ErrExists
	}
	p.members[username] = entry{digest: sha256.Sum256([]byte(password)), profile: clone(profile)}
	return username, nil
}

func (p *Provider) UpdateProfile(id string, profile types.MemberProfile) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.members[id]
	if !ok {
		return errs.ErrNotFound
	}
	e.profile = clone(profile)
	p.members[id] = e
	return nil
}

func (p *Provider) UpdatePassword(id, password string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.members[id]
	if !ok {
		return errs.ErrNotFound
	}
	e.digest = sha256.Sum256([]byte(password))
	p.members[id] = e
	return nil
}

func (p *Provider) Delete(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.members[id]; !ok {
		return errs.ErrNotFound
	}
	delete(p.members, id)
	return nil
}

// clone copies the plugins map, the one part of a profile shared by value.
func clone(p types.MemberProfile) types.MemberProfile {
	p.Plugins = maps.Clone(p.Plugins)
	return p
}

// page cuts sorted ids to offset and limit (0: no limit).
func page(ids []string, limit, offset int) []string {
	if offset < 0 {
		offset = 0
	}
	if offset >= len(ids) {
		return nil
	}
	ids = ids[offset:]
	if limit > 0 && limit < len(ids) {
		ids = ids[:limit]
	}
	return ids
}
