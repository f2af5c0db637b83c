package file

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

// referenceFile is a members file as the reference's docs show it.
const referenceFile = `{
  "admin": {
    "password": "%s",
    "profile": {"name": "Administrator", "is_admin": true, "can_login": true, "can_connect": true,
      "can_watch": true, "can_host": true, "can_share_media": true, "can_access_clipboard": true,
      "sends_inactive_cursor": true, "can_see_inactive_cursors": true, "plugins": {}}
  },
  "user": {
    "password": "%s",
    "profile": {"name": "User", "is_admin": false, "can_login": true, "can_connect": true,
      "can_watch": true, "can_host": true, "can_share_media": true, "can_access_clipboard": true,
      "sends_inactive_cursor": true, "can_see_inactive_cursors": false, "plugins": {}}
  }
}`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "members.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, opts Options) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hexHash(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func TestHashMatchesOpenSSL(t *testing.T) {
	// echo -n secret | openssl sha256 -binary | base64
	if got := Hash("secret"); got != "K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=" {
		t.Fatalf("Hash = %q", got)
	}
}

func TestAuthenticate(t *testing.T) {
	files := map[string]Options{
		"plain":       {Path: writeFile(t, fmt.Sprintf(referenceFile, "admin", "neko"))},
		"hash base64": {Path: writeFile(t, fmt.Sprintf(referenceFile, Hash("admin"), Hash("neko"))), Hash: true},
		"hash hex":    {Path: writeFile(t, fmt.Sprintf(referenceFile, hexHash("admin"), hexHash("neko"))), Hash: true},
	}
	tests := []struct {
		name, user, pass string
		admin            bool
		err              error
	}{
		{"admin", "admin", "admin", true, nil},
		{"user", "user", "neko", false, nil},
		{"wrong password", "user", "admin", false, errs.ErrInvalidCredentials},
		{"empty password", "user", "", false, errs.ErrInvalidCredentials},
		{"unknown user", "bob", "neko", false, errs.ErrInvalidCredentials},
		{"no username", "", "neko", false, errs.ErrUsernameRequired},
	}
	for fname, opts := range files {
		p := open(t, opts)
		for _, tt := range tests {
			t.Run(fname+"/"+tt.name, func(t *testing.T) {
				id, prof, err := p.Authenticate(tt.user, tt.pass)
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if err == nil && (id != tt.user || prof.IsAdmin != tt.admin || !prof.CanLogin) {
					t.Fatalf("got id=%q profile=%+v", id, prof)
				}
			})
		}
	}
	// The stored hash is not a password: with hashing on, sending it fails.
	p := open(t, files["hash base64"])
	if _, _, err := p.Authenticate("user", Hash("neko")); !errors.Is(err, errs.ErrInvalidCredentials) {
		t.Fatalf("hash accepted as password: %v", err)
	}
	// With hashing off, a hash in the file is just a strange password.
	p = open(t, Options{Path: files["hash base64"].Path})
	if _, _, err := p.Authenticate("user", "neko"); !errors.Is(err, errs.ErrInvalidCredentials) {
		t.Fatalf("plain mode hashed the password: %v", err)
	}
}

func TestMissingFileCreatedEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "members.json")
	p := open(t, Options{Path: path, Hash: true})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if list, err := p.List(0, 0); err != nil || len(list) != 0 {
		t.Fatalf("list: %v %v", list, err)
	}
	// An empty (0-byte) file, as the reference creates, is no members too.
	empty := writeFile(t, "")
	if _, err := New(Options{Path: empty}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("no path accepted")
	}
}

func TestCorruptFile(t *testing.T) {
	for name, content := range map[string]string{
		"not json":        "{nope",
		"array":           `[{"username": "a"}]`,
		"entry not obj":   `{"a": "pw"}`,
		"password number": `{"a": {"password": 5}}`,
		"profile wrong":   `{"a": {"password": "x", "profile": {"is_admin": "yes"}}}`,
		"trailing":        `{} {}`,
	} {
		path := writeFile(t, content)
		_, err := New(Options{Path: path})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, path)
		}
	}
}

func TestPersistence(t *testing.T) {
	for _, hash := range []bool{false, true} {
		t.Run(fmt.Sprint("hash=", hash), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "members.json")
			p := open(t, Options{Path: path, Hash: hash})
			if _, err := p.Create("alice", "pw1", types.MemberProfile{CanLogin: true, Plugins: map[string]any{"chat.can_send": true}}); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Create("bob", "pw2", types.MemberProfile{CanLogin: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Create("bob", "x", types.MemberProfile{}); !errors.Is(err, errs.ErrExists) {
				t.Fatalf("duplicate: %v", err)
			}
			if err := p.UpdatePassword("alice", "pw3"); err != nil {
				t.Fatal(err)
			}
			if err := p.UpdateProfile("alice", types.MemberProfile{Name: "Alice", CanLogin: true, CanHost: true}); err != nil {
				t.Fatal(err)
			}
			if err := p.Delete("bob"); err != nil {
				t.Fatal(err)
			}

			raw, _ := os.ReadFile(path)
			if strings.Contains(string(raw), "pw3") == hash {
				t.Fatalf("hash=%v but file is %s", hash, raw)
			}

			// Reopen: the state survived.
			p = open(t, Options{Path: path, Hash: hash})
			id, prof, err := p.Authenticate("alice", "pw3")
			if err != nil || id != "alice" || prof.Name != "Alice" || !prof.CanHost {
				t.Fatalf("after reopen: %q %+v %v", id, prof, err)
			}
			if _, _, err := p.Authenticate("alice", "pw1"); err == nil {
				t.Fatal("old password works")
			}
			if _, err := p.Get("bob"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("deleted member: %v", err)
			}
			list, err := p.List(0, 0)
			if err != nil || len(list) != 1 || list[0].ID != "alice" {
				t.Fatalf("list: %+v %v", list, err)
			}
			for _, fn := range []func() error{
				func() error { return p.UpdateProfile("zed", types.MemberProfile{}) },
				func() error { return p.UpdatePassword("zed", "x") },
				func() error { return p.Delete("zed") },
			} {
				if err := fn(); !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("unknown member: %v", err)
				}
			}
			assertNoTemp(t, filepath.Dir(path))
		})
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "members.json" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestHandEditsAndUnknownFieldsKept(t *testing.T) {
	path := writeFile(t, `{
		"old": {"password": "x", "profile": {"can_login": true, "avatar": "a.png"}, "note": "keep me"},
		"partial": {"password": "y"}
	}`)
	p := open(t, Options{Path: path, Defaults: types.MemberProfile{CanLogin: true, CanWatch: true}})
	prof, err := p.Get("partial")
	if err != nil || prof.Name != "partial" || !prof.CanLogin || !prof.CanWatch {
		t.Fatalf("defaults not applied: %+v %v", prof, err)
	}
	if err := p.UpdatePassword("old", "z"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create("new", "pw", types.MemberProfile{}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, want := range []string{`"note": "keep me"`, `"avatar": "a.png"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("lost %s: %s", want, raw)
		}
	}
	// An edit by hand while running applies at once.
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	delete(m, "new")
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get("new"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("hand edit not seen: %v", err)
	}
}

func TestSymlinkTargetReplaced(t *testing.T) {
	target := writeFile(t, "{}")
	link := filepath.Join(t.TempDir(), "members.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	p := open(t, Options{Path: link})
	if _, err := p.Create("a", "b", types.MemberProfile{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", st, err)
	}
	if raw, _ := os.ReadFile(target); !strings.Contains(string(raw), `"a"`) {
		t.Fatalf("target not written: %s", raw)
	}
}

func TestConcurrentCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	p := open(t, Options{Path: path, Hash: true})
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprint("user", i)
			if _, err := p.Create(name, "pw", types.MemberProfile{CanLogin: true}); err != nil {
				t.Error(err)
				return
			}
			if _, _, err := p.Authenticate(name, "pw"); err != nil {
				t.Error(err)
			}
			_, _ = p.List(5, 0)
		})
	}
	wg.Wait()
	p = open(t, Options{Path: path, Hash: true})
	list, err := p.List(0, 0)
	if err != nil || len(list) != n {
		t.Fatalf("%d members after reopen (%v), want %d", len(list), err, n)
	}
	assertNoTemp(t, filepath.Dir(path))
}

// FuzzFileLoad feeds arbitrary files to the parser: it must not panic, and
// whatever it accepts must survive a write and a re-read unchanged.
func FuzzFileLoad(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(referenceFile, "a", "b")))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"a": null}`))
	f.Add([]byte(`{"a": {"password": "x", "profile": {"plugins": {"k": [1, {"z": null}]}}, "extra": 1}}`))
	f.Add([]byte(`{"a": {"password": 1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		defaults := types.MemberProfile{CanLogin: true}
		m, err := parse(data, defaults)
		if err != nil {
			return
		}
		p := &Provider{opts: Options{Path: filepath.Join(t.TempDir(), "m.json"), Defaults: defaults}}
		if err := p.write(m); err != nil {
			t.Fatalf("write of a parsed file: %v", err)
		}
		again, err := p.read()
		if err != nil {
			t.Fatalf("re-read of a written file: %v", err)
		}
		if len(again.entries) != len(m.entries) {
			t.Fatalf("%d entries, then %d", len(m.entries), len(again.entries))
		}
		for id, e := range m.entries {
			a := again.entries[id]
			ea, _ := json.Marshal(e)
			aa, _ := json.Marshal(a)
			if string(ea) != string(aa) {
				t.Fatalf("entry %q changed: %s → %s", id, ea, aa)
			}
		}
	})
}
