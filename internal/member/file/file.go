// Package file is the member provider of a JSON file of users, the same
// file the reference reads:
//
//	{"<username>": {"password": "<password>", "profile": {<MemberProfile>}}}
//
// With hashing on, the password is the sha256 of the password in standard
// base64 (`echo -n pw | openssl sha256 -binary | base64`, or `neko
// password`); a hex digest is accepted too. The member id is the username.
//
// The file is read on every call, so hand edits apply without a restart,
// and written atomically (temporary file, fsync, rename) on every change.
// Only one process may change the file; within the process calls are
// serialised. Fields this package does not know are kept on rewrite.
package file

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Options say where the file is and how passwords are kept.
type Options struct {
	Path string
	// Hash stores and expects sha256 digests instead of plain passwords.
	Hash bool
	// Defaults fill the profile fields an entry leaves out (hand-written
	// files); entries written by this package carry every field.
	Defaults types.MemberProfile
}

// Provider implements member.Provider and member.Store.
type Provider struct {
	opts Options
	mu   sync.Mutex // serialises read-modify-write of the file
}

// entry is one member as stored in the file.
type entry struct {
	Password string              `json:"password"`
	Profile  types.MemberProfile `json:"profile"`
}

// members is the parsed file: each entry decoded, and its raw JSON kept so
// unknown fields survive a rewrite.
type members struct {
	entries map[string]entry
	raw     map[string]json.RawMessage
}

// New opens the file, creating it empty (and its directory) if missing,
// and checks that it parses.
func New(opts Options) (*Provider, error) {
	if opts.Path == "" {
		return nil, errors.New("member.file.path is required by the file member provider")
	}
	p := &Provider{opts: opts}
	if _, err := os.Stat(opts.Path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
			return nil, fmt.Errorf("members file: %w", err)
		}
		if err := p.write(&members{raw: map[string]json.RawMessage{}}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("members file: %w", err)
	}
	if _, err := p.read(); err != nil {
		return nil, err
	}
	return p, nil
}

// Authenticate checks the password of the member named username.
func (p *Provider) Authenticate(username, password string) (string, types.MemberProfile, error) {
	if strings.TrimSpace(username) == "" {
		return "", types.MemberProfile{}, errs.ErrUsernameRequired
	}
	p.mu.Lock()
	m, err := p.read()
	p.mu.Unlock()
	if err != nil {
		return "", types.MemberProfile{}, err
	}
	e, ok := m.entries[username]
	// Check even for an unknown name, so timing does not tell names.
	match := p.verify(e.Password, password)
	if !ok || !match || password == "" {
		return "", types.MemberProfile{}, errs.ErrInvalidCredentials
	}
	return username, e.Profile, nil
}

func (p *Provider) List(limit, offset int) ([]types.MemberData, error) {
	p.mu.Lock()
	m, err := p.read()
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []types.MemberData{}
	for _, id := range page(slices.Sorted(maps.Keys(m.entries)), limit, offset) {
		out = append(out, types.MemberData{ID: id, Profile: m.entries[id].Profile})
	}
	return out, nil
}

func (p *Provider) Get(id string) (types.MemberProfile, error) {
	p.mu.Lock()
	m, err := p.read()
	p.mu.Unlock()
	if err != nil {
		return types.MemberProfile{}, err
	}
	e, ok := m.entries[id]
	if !ok {
		return types.MemberProfile{}, errs.ErrNotFound
	}
	return e.Profile, nil
}

func (p *Provider) Create(username, password string, profile types.MemberProfile) (string, error) {
	if profile.Name == "" {
		profile.Name = username
	}
	err := p.change(func(m *members) error {
		if _, ok := m.entries[username]; ok {
			return errs.ErrExists
		}
		return m.set(username, map[string]any{"password": p.stored(password), "profile": profile})
	})
	if err != nil {
		return "", err
	}
	return username, nil
}

func (p *Provider) UpdateProfile(id string, profile types.MemberProfile) error {
	return p.change(func(m *members) error {
		if _, ok := m.entries[id]; !ok {
			return errs.ErrNotFound
		}
		return m.set(id, map[string]any{"profile": profile})
	})
}

func (p *Provider) UpdatePassword(id, password string) error {
	return p.change(func(m *members) error {
		if _, ok := m.entries[id]; !ok {
			return errs.ErrNotFound
		}
		return m.set(id, map[string]any{"password": p.stored(password)})
	})
}

func (p *Provider) Delete(id string) error {
	return p.change(func(m *members) error {
		if _, ok := m.entries[id]; !ok {
			return errs.ErrNotFound
		}
		delete(m.entries, id)
		delete(m.raw, id)
		return nil
	})
}

// change reads the file, applies fn and writes the result, all under the
// lock; an error from fn leaves the file alone.
func (p *Provider) change(fn func(*members) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.read()
	if err != nil {
		return err
	}
	if err := fn(m); err != nil {
		return err
	}
	return p.write(m)
}

// set overwrites fields of a member's raw JSON, keeping the others.
func (m *members) set(id string, fields map[string]any) error {
	obj := map[string]json.RawMessage{}
	if raw, ok := m.raw[id]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("members file: member %q: %w", id, err)
		}
	}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		obj[k] = b
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	m.raw[id] = b
	m.entries[id] = entry{} // only presence matters until the next read
	return nil
}

// read loads the file; a missing file (deleted while running) is empty
// and is created again by the next change.
func (p *Provider) read() (*members, error) {
	data, err := os.ReadFile(p.opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("members file: %w", err)
	}
	m, err := parse(data, p.opts.Defaults)
	if err != nil {
		return nil, fmt.Errorf("members file %s: %w", p.opts.Path, err)
	}
	return m, nil
}

// parse decodes the file. Empty content (or null) is no members; an entry
// that is not an object with a string password and a profile is an error.
func parse(data []byte, defaults types.MemberProfile) (*members, error) {
	m := &members{entries: map[string]entry{}, raw: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m.raw); err != nil {
		return nil, fmt.Errorf("want a JSON object of username → {password, profile}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if m.raw == nil {
		m.raw = map[string]json.RawMessage{}
	}
	for name, raw := range m.raw {
		e := entry{Profile: defaults}
		e.Profile.Plugins = maps.Clone(defaults.Plugins)
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		if e.Profile.Name == "" {
			e.Profile.Name = name
		}
		m.entries[name] = e
	}
	return m, nil
}

// write replaces the file atomically: a temporary file in the same
// directory is written, synced and renamed over the old one.
func (p *Provider) write(m *members) error {
	data, err := json.MarshalIndent(m.raw, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	path := p.opts.Path
	// Replace the target of a symlink (a mounted secret, say), not the link.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := fs.FileMode(0o600) // password hashes: owner only by default
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("members file: %w", err)
	}
	ok = true
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// stored is a password as the file keeps it.
func (p *Provider) stored(password string) string {
	if !p.opts.Hash {
		return password
	}
	return Hash(password)
}

// Hash is the sha256 of a password in standard base64, the form the file
// keeps with hashing on (and the reference expects).
func Hash(password string) string {
	d := sha256.Sum256([]byte(password))
	return base64.StdEncoding.EncodeToString(d[:])
}

// verify compares in constant time (for a given stored value).
func (p *Provider) verify(stored, password string) bool {
	given := sha256.Sum256([]byte(password))
	if !p.opts.Hash {
		want := sha256.Sum256([]byte(stored))
		return subtle.ConstantTimeCompare(given[:], want[:]) == 1
	}
	want, err := base64.StdEncoding.DecodeString(stored)
	if len(stored) == 2*sha256.Size {
		want, err = hex.DecodeString(stored)
	}
	if err != nil || len(want) != sha256.Size {
		want = make([]byte, sha256.Size)
		subtle.ConstantTimeCompare(given[:], want)
		return false
	}
	return subtle.ConstantTimeCompare(given[:], want) == 1
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
