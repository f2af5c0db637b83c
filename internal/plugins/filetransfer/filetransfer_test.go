package filetransfer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/plugins/filetransfer"
	pt "github.com/neko-webrtc/neko/internal/plugins/plugintest"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

type fixture struct {
	*pt.Env
	dir     string // the transfer directory
	outside string // a sibling directory that must never change
	admin   *session.Session
	user    *session.Session
}

func newFixture(t *testing.T, room map[string]any, opts filetransfer.Options) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{dir: filepath.Join(base, "Downloads"), outside: filepath.Join(base, "outside")}
	write(t, filepath.Join(f.outside, "secret.txt"), "secret")
	write(t, filepath.Join(f.dir, "a.txt"), "0123456789")
	if err := os.Mkdir(filepath.Join(f.dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/etc", filepath.Join(f.dir, "etc"))
	symlink(t, "/etc/passwd", filepath.Join(f.dir, "passwd"))
	symlink(t, "../outside/secret.txt", filepath.Join(f.dir, "up"))
	symlink(t, "a.txt", filepath.Join(f.dir, "inside"))
	opts.Dir = f.dir
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = time.Hour
	}
	f.Env = pt.New(t, types.Settings{Plugins: room, MercifulReconnect: true}, func(m *session.Manager) plugins.Set {
		opts.Sessions, opts.Logger = m, pt.Quiet()
		ft, err := filetransfer.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ft.Close() })
		return plugins.Set{ft}
	})
	f.admin = f.Session("admin", pt.Admin("admin"))
	f.user = f.Session("user", pt.User("user"))
	return f
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed into place: the plugin polls the
	// directory and could list a file being written at a size of 0.
	tmp := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) update(c *pt.Client) types.FileTransferUpdate {
	f.T.Helper()
	var u types.FileTransferUpdate
	c.ExpectInto(types.EventFileTransferUpdate, &u)
	return u
}

// fingerprint covers the transfer directory and its surroundings.
func (f *fixture) fingerprint() string {
	return pt.HashDir(f.T, filepath.Dir(f.dir)) + pt.HashDir(f.T, "/etc/passwd")
}

func TestUpdateOnConnect(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true, UserDownload: true})
	c := f.Connect(f.user)
	raw := c.Expect(types.EventFileTransferUpdate)
	want := fmt.Sprintf(`{"enabled":true,"root_dir":%q,"user_download":true,"user_upload":false,"user_delete":false,`+
		`"files":[{"name":"a.txt","type":"file","size":10},{"name":"inside","type":"file","size":10},{"name":"sub","type":"dir"}]}`, f.dir)
	if string(raw) != want {
		t.Fatalf("filetransfer/update\n got %s\nwant %s", raw, want)
	}
}

// TestDisabledUpdate matches the update the reference sends at defaults.
func TestDisabledUpdate(t *testing.T) {
	e := pt.New(t, types.Settings{}, func(m *session.Manager) plugins.Set {
		ft, err := filetransfer.New(filetransfer.Options{Dir: "/home/neko/Downloads", Sessions: m})
		if err != nil {
			t.Fatal(err)
		}
		return plugins.Set{ft}
	})
	admin := e.Session("admin", pt.Admin("admin"))
	raw := e.Connect(admin).Expect(types.EventFileTransferUpdate)
	const want = `{"enabled":false,"root_dir":"/home/neko/Downloads","user_download":false,"user_upload":false,"user_delete":false,"files":null}`
	if string(raw) != want {
		t.Fatalf("got %s", raw)
	}
	resp, _ := e.Do("GET", "/api/filetransfer?filename=a.txt", admin.Token(), nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("download while disabled: %d", resp.StatusCode)
	}
	if _, err := os.Stat("/home/neko/Downloads"); err == nil {
		t.Log("(directory exists on this machine)")
	}
}

func TestListWithheldWithoutPermission(t *testing.T) {
	f := newFixture(t, map[string]any{types.PluginFileTransferEnabled: false}, filetransfer.Options{Enabled: true})
	if u := f.update(f.Connect(f.user)); !u.Enabled || u.Files != nil {
		t.Fatalf("user under a room without file transfer: %+v", u)
	}
	admin := f.Connect(f.admin)
	if u := f.update(admin); len(u.Files) != 3 {
		t.Fatalf("admin: %+v", u)
	}
	// The room turns it on: everyone gets the list.
	user2 := f.Connect(f.Session("user2", pt.User("user2")))
	f.update(user2)
	f.Sessions.UpdateSettings(nil, func(s *types.Settings) { s.Plugins = nil })
	for {
		m := user2.Next()
		if m.Event != types.EventFileTransferUpdate {
			continue
		}
		var u types.FileTransferUpdate
		_ = json.Unmarshal(m.Payload, &u)
		if len(u.Files) != 3 {
			t.Fatalf("after the room allowed it: %+v", u)
		}
		break
	}
}

// TestPermissions: who may download, upload and delete.
func TestPermissions(t *testing.T) {
	off := map[string]any{types.PluginFileTransferEnabled: false}
	type can struct{ down, up, del bool }
	for _, tt := range []struct {
		name    string
		room    map[string]any
		opts    filetransfer.Options
		profile types.MemberProfile
		want    can
	}{
		{"admin, defaults", nil, filetransfer.Options{Enabled: true}, pt.Admin("x"), can{true, true, true}},
		{"user, defaults", nil, filetransfer.Options{Enabled: true}, pt.User("x"), can{}},
		{"user, user_download", nil, filetransfer.Options{Enabled: true, UserDownload: true}, pt.User("x"), can{down: true}},
		{"user, user_upload", nil, filetransfer.Options{Enabled: true, UserUpload: true}, pt.User("x"), can{up: true}},
		{"user, user_delete", nil, filetransfer.Options{Enabled: true, UserDelete: true}, pt.User("x"), can{del: true}},
		{"user, all, room off", off, filetransfer.Options{Enabled: true, UserDownload: true, UserUpload: true, UserDelete: true}, pt.User("x"), can{}},
		{"admin, room off", off, filetransfer.Options{Enabled: true}, pt.Admin("x"), can{true, true, true}},
		{"admin, profile off", nil, filetransfer.Options{Enabled: true}, with(pt.Admin("x"), off), can{}},
		{"user, all, profile off", nil, filetransfer.Options{Enabled: true, UserDownload: true, UserUpload: true, UserDelete: true}, with(pt.User("x"), off), can{}},
		{"plugin disabled", nil, filetransfer.Options{UserDownload: true, UserUpload: true, UserDelete: true}, pt.Admin("x"), can{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.room, tt.opts)
			s := f.Session("x", tt.profile)
			status := func(ok bool) int {
				if ok {
					return http.StatusOK
				}
				return http.StatusForbidden
			}
			resp, _ := f.Do("GET", "/api/filetransfer?filename=a.txt", s.Token(), nil, nil)
			if resp.StatusCode != status(tt.want.down) {
				t.Errorf("download: %d", resp.StatusCode)
			}
			resp, _ = f.upload(s.Token(), file{"new.txt", "new"})
			if resp.StatusCode != status(tt.want.up) {
				t.Errorf("upload: %d", resp.StatusCode)
			}
			resp, _ = f.Do("DELETE", "/api/filetransfer?filename=a.txt", s.Token(), nil, nil)
			if resp.StatusCode != status(tt.want.del) {
				t.Errorf("delete: %d", resp.StatusCode)
			}
			_, err := os.Stat(filepath.Join(f.dir, "new.txt"))
			if (err == nil) != tt.want.up {
				t.Errorf("new.txt exists: %v", err == nil)
			}
			_, err = os.Stat(filepath.Join(f.dir, "a.txt"))
			if (err != nil) != tt.want.del {
				t.Errorf("a.txt deleted: %v", err != nil)
			}
		})
	}
}

func with(p types.MemberProfile, plugins map[string]any) types.MemberProfile {
	p.Plugins = plugins
	return p
}

func TestDownload(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true})
	tok := f.admin.Token()
	resp, body := f.Do("GET", "/api/filetransfer?filename=a.txt", tok, nil, nil)
	if resp.StatusCode != 200 || string(body) != "0123456789" {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"Content-Disposition":    `attachment; filename=a.txt`,
		"Accept-Ranges":          "bytes",
		"Content-Length":         "10",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Error("no Last-Modified")
	}

	// Resuming: a range.
	resp, body = f.Do("GET", "/api/filetransfer?filename=a.txt", tok, nil, http.Header{"Range": {"bytes=4-"}})
	if resp.StatusCode != http.StatusPartialContent || string(body) != "456789" || resp.Header.Get("Content-Range") != "bytes 4-9/10" {
		t.Fatalf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	resp, _ = f.Do("GET", "/api/filetransfer?filename=a.txt", tok, nil, http.Header{"Range": {"bytes=20-"}})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("bad range: %d", resp.StatusCode)
	}
	resp, body = f.Do("HEAD", "/api/filetransfer/?filename=a.txt", tok, nil, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != "10" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}

	// A link that stays inside is followed.
	resp, body = f.Do("GET", "/api/filetransfer?filename=inside", tok, nil, nil)
	if resp.StatusCode != 200 || string(body) != "0123456789" {
		t.Fatalf("inside link: %d %q", resp.StatusCode, body)
	}
	// Odd but legal names round-trip, with the disposition encoded.
	write(t, filepath.Join(f.dir, `ü "q".bin`), "x")
	resp, _ = f.Do("GET", "/api/filetransfer?filename="+url.QueryEscape(`ü "q".bin`), tok, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename*=utf-8''%C3%BC%20%22q%22.bin` {
		t.Fatalf("unicode name: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}

	for name, want := range map[string]int{"missing.txt": 404, "sub": 400} {
		resp, _ = f.Do("GET", "/api/filetransfer?filename="+name, tok, nil, nil)
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
		}
	}
}

// TestTraversalRefused: names that leave the directory, and links that
// point out of it, are refused and nothing changes anywhere.
func TestTraversalRefused(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true})
	tok := f.admin.Token()
	before := f.fingerprint()
	queries := []string{
		"filename=../outside/secret.txt",
		"filename=%2e%2e%2foutside%2fsecret.txt",
		"filename=%2E%2E/outside/secret.txt",
		"filename=..%2f..%2f..%2fetc%2fpasswd",
		"filename=/etc/passwd",
		"filename=%2fetc%2fpasswd",
		"filename=..",
		"filename=.",
		"filename=",
		"",
		"filename=sub/../a.txt",
		"filename=sub%5c..%5ca.txt",
		"filename=a.txt%00.png",
		"filename=a%0a.txt",
		"filename=" + strings.Repeat("a", 256),
		"filename=.neko-upload-0123",
	}
	for _, q := range queries {
		for _, method := range []string{"GET", "DELETE"} {
			resp, body := f.Do(method, "/api/filetransfer?"+q, tok, nil, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s ?%s: %d %s, want 400", method, q, resp.StatusCode, body)
			}
		}
	}
	for _, name := range []string{"etc", "passwd", "up"} {
		for _, method := range []string{"GET", "DELETE"} {
			resp, body := f.Do(method, "/api/filetransfer?filename="+name, tok, nil, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s (link out): %d %s, want 403", method, name, resp.StatusCode, body)
			}
		}
	}
	for _, name := range []string{"../evil.txt", "/tmp/evil.txt", "sub/evil.txt", "..", "", "a\x01b", `..\evil.txt`, "x\x00y"} {
		resp, body := f.upload(tok, file{name, "evil"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("upload %q: %d %s, want 400", name, resp.StatusCode, body)
		}
	}
	// A good file before a bad one: the request is refused as a whole.
	resp, _ := f.upload(tok, file{"good.txt", "good"}, file{"../bad.txt", "bad"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mixed upload: %d", resp.StatusCode)
	}
	if after := f.fingerprint(); after != before {
		t.Fatal("the tree changed")
	}
}

// TestUploadReplacesLinkNotTarget: uploading onto the name of a link that
// points out replaces the link; the target is untouched.
func TestUploadReplacesLinkNotTarget(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true})
	secret := pt.HashDir(t, f.outside)
	passwd := pt.HashDir(t, "/etc/passwd")
	for _, name := range []string{"up", "passwd"} {
		if resp, body := f.upload(f.admin.Token(), file{name, "mine"}); resp.StatusCode != 200 {
			t.Fatalf("upload %s: %d %s", name, resp.StatusCode, body)
		}
		if b, err := os.ReadFile(filepath.Join(f.dir, name)); err != nil || string(b) != "mine" {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	if pt.HashDir(t, f.outside) != secret || pt.HashDir(t, "/etc/passwd") != passwd {
		t.Fatal("a link target changed")
	}
}

type file struct{ name, content string }

// upload posts files as the browser does; names are sent raw.
func (f *fixture) upload(token string, files ...file) (*http.Response, []byte) {
	f.T.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("note", "ignored")
	for _, fl := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename="%s"`, strings.ReplaceAll(fl.name, `"`, `\"`)))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			f.T.Fatal(err)
		}
		_, _ = w.Write([]byte(fl.content))
	}
	_ = mw.Close()
	return f.Do("POST", "/api/filetransfer", token, &buf, http.Header{"Content-Type": {mw.FormDataContentType()}})
}

func TestUploadAndDelete(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true, MaxUpload: 1 << 20})
	watcher := f.Connect(f.Session("watcher", pt.Admin("watcher")))
	f.update(watcher)
	tok := f.admin.Token()

	big := strings.Repeat("z", 1<<20)
	resp, body := f.upload(tok, file{"one.txt", "1"}, file{"big.bin", big[1:]})
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("upload: %d %q", resp.StatusCode, body)
	}
	if u := f.update(watcher); !contains(u.Files, "one.txt", 1) || !contains(u.Files, "big.bin", 1<<20-1) {
		t.Fatalf("update after upload: %+v", u.Files)
	}
	// Overwrite.
	if resp, _ := f.upload(tok, file{"one.txt", "22"}); resp.StatusCode != 200 {
		t.Fatalf("overwrite: %d", resp.StatusCode)
	}
	if u := f.update(watcher); !contains(u.Files, "one.txt", 2) {
		t.Fatalf("update after overwrite: %+v", u.Files)
	}

	// Too big: refused, nothing left behind.
	before := f.fingerprint()
	if resp, _ := f.upload(tok, file{"huge.bin", big + "!"}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize upload: %d", resp.StatusCode)
	}
	if resp, _ := f.upload(tok, file{"a.bin", big[:1<<19]}, file{"b.bin", big[:1<<19+1]}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize total: %d", resp.StatusCode)
	}
	if resp, _ := f.upload(tok, file{"sub", "x"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("upload onto a directory: %d", resp.StatusCode)
	}
	if resp, _ := f.Do("POST", "/api/filetransfer", tok, strings.NewReader("x"), nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("not multipart: %d", resp.StatusCode)
	}
	if resp, _ := f.upload(tok); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no files: %d", resp.StatusCode)
	}
	if f.fingerprint() != before {
		t.Fatal("refused uploads changed the tree")
	}

	resp, body = f.Do("DELETE", "/api/filetransfer?filename=one.txt", tok, nil, nil)
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("delete: %d %q", resp.StatusCode, body)
	}
	if u := f.update(watcher); contains(u.Files, "one.txt", 2) {
		t.Fatalf("update after delete: %+v", u.Files)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "one.txt")); !os.IsNotExist(err) {
		t.Fatal("one.txt still there")
	}
	for name, want := range map[string]int{"one.txt": 404, "sub": 400} {
		if resp, _ := f.Do("DELETE", "/api/filetransfer?filename="+name, tok, nil, nil); resp.StatusCode != want {
			t.Errorf("delete %s: %d, want %d", name, resp.StatusCode, want)
		}
	}
	// Deleting a link inside removes the link, not its target.
	if resp, _ := f.Do("DELETE", "/api/filetransfer?filename=inside", tok, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete inside link: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "a.txt")); err != nil {
		t.Fatal("link target removed")
	}
}

func contains(files []types.FileTransferItem, name string, size int64) bool {
	for _, f := range files {
		if f.Name == name && f.Size == size && f.Type == types.FileTransferItemFile {
			return true
		}
	}
	return false
}

// TestRefresh: a file appearing on disk is announced within an interval,
// and an unchanged directory is not re-announced.
func TestRefresh(t *testing.T) {
	f := newFixture(t, nil, filetransfer.Options{Enabled: true, RefreshInterval: 20 * time.Millisecond})
	c := f.Connect(f.admin)
	f.update(c)
	write(t, filepath.Join(f.dir, "dropped.txt"), "abc")
	if u := f.update(c); !contains(u.Files, "dropped.txt", 3) {
		t.Fatalf("refresh: %+v", u.Files)
	}
	time.Sleep(200 * time.Millisecond) // ten quiet polls
	id := c.Barrier()
	if got := c.Until(id); len(got) != 0 {
		t.Fatalf("unchanged directory re-announced: %v", got)
	}
	// A client asking gets the list (no change: only to itself).
	other := f.Connect(f.user)
	f.update(other)
	c.Send(types.EventFileTransferUpdate, nil)
	if u := f.update(c); !contains(u.Files, "dropped.txt", 3) {
		t.Fatalf("requested update: %+v", u.Files)
	}
	id = c.Barrier()
	if got := other.Until(id); len(got) != 0 {
		t.Fatalf("other session got %v", got)
	}
}
