package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// fakeDesktop records what the endpoints ask of the desktop.
type fakeDesktop struct {
	mu        sync.Mutex
	screen    types.ScreenSize
	actor     string
	clip      types.ClipboardText
	image     []byte
	kbd       types.KeyboardMap
	mods      types.KeyboardModifiers
	lastMods  types.KeyboardModifiers
	lastShotQ int

	uploads, dialog bool
	root            string            // where UploadDir makes directories
	dropped         map[string]string // file name → content of the last drop
	dropAt          [2]int
	// chooser: a dialog is open; chosen: file name → content of the last
	// upload to it; chooserErr: what the next upload or close returns.
	chooser    bool
	chosen     map[string]string
	chooserErr error
	closes     int
}

func (f *fakeDesktop) Screen() (types.ScreenSize, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.screen, nil
}

func (f *fakeDesktop) ScreenConfigurations() ([]types.ScreenSize, error) {
	return []types.ScreenSize{{Width: 1920, Height: 1080, Rate: 30}, {Width: 1280, Height: 720, Rate: 30}}, nil
}

func (f *fakeDesktop) SetScreenSize(s types.ScreenSize, actor string) (types.ScreenSize, error) {
	if s.Width > 4096 || s.Width <= 0 || s.Height <= 0 {
		return types.ScreenSize{}, fmt.Errorf("%w: %dx%d", desktop.ErrScreenUnsupported, s.Width, s.Height)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.screen, f.actor = s, actor
	return s, nil
}

func (f *fakeDesktop) ScreenshotJPEG(q int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastShotQ = q
	return []byte("\xff\xd8jpeg"), nil
}

func (f *fakeDesktop) Clipboard(context.Context) (types.ClipboardText, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clip, nil
}

func (f *fakeDesktop) ClipboardImage(context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.image == nil {
		return nil, desktop.ErrClipboardNoImage
	}
	return f.image, nil
}

func (f *fakeDesktop) SetClipboard(_ context.Context, c types.ClipboardText) error {
	if len(c.Text) > desktop.MaxClipboardSize || len(c.HTML) > desktop.MaxClipboardSize {
		return desktop.ErrClipboardTooLarge
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clip = c
	return nil
}

func (f *fakeDesktop) KeyboardMap() (types.KeyboardMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kbd, nil
}

func (f *fakeDesktop) SetKeyboardMap(_ context.Context, m types.KeyboardMap) error {
	if err := desktop.CheckKeyboardMap(m); err != nil {
		return err
	}
	if m.Layout == "zz" {
		return fmt.Errorf("%w: no layout zz", desktop.ErrUnknownKeyboardMap)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kbd = m
	return nil
}

func (f *fakeDesktop) KeyboardModifiers() (types.KeyboardModifiers, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mods, nil
}

func (f *fakeDesktop) SetKeyboardModifiers(m types.KeyboardModifiers) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastMods = m
	return nil
}

func (f *fakeDesktop) UploadDropEnabled() bool        { return f.uploads }
func (f *fakeDesktop) FileChooserDialogEnabled() bool { return f.dialog }
func (f *fakeDesktop) UploadDir() (string, error)     { return os.MkdirTemp(f.root, "drop-*") }

func (f *fakeDesktop) DropFiles(_ context.Context, x, y int, paths []string) error {
	if x < 0 || y < 0 || x >= 1280 || y >= 720 {
		return fmt.Errorf("%w: %d,%d", desktop.ErrDropOutside, x, y)
	}
	if x == 1000 {
		return desktop.ErrDropNoTarget
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropAt = [2]int{x, y}
	f.dropped = map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if filepath.Dir(filepath.Dir(p)) != f.root {
			return fmt.Errorf("%s is outside the upload directory", p)
		}
		f.dropped[filepath.Base(p)] = string(b)
	}
	return nil
}

func (f *fakeDesktop) FileChooserOpen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chooser
}

func (f *fakeDesktop) FileChooserUpload(_ context.Context, paths []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.dialog:
		return desktop.ErrFileChooserDisabled
	case !f.chooser:
		return desktop.ErrNoFileChooser
	case f.chooserErr != nil:
		return f.chooserErr
	}
	f.chosen = map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if filepath.Dir(filepath.Dir(p)) != f.root {
			return fmt.Errorf("%s is outside the upload directory", p)
		}
		f.chosen[filepath.Base(p)] = string(b)
	}
	f.chooser = false
	return nil
}

func (f *fakeDesktop) FileChooserClose(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.dialog:
		return desktop.ErrFileChooserDisabled
	case !f.chooser:
		return desktop.ErrNoFileChooser
	case f.chooserErr != nil:
		return f.chooserErr
	}
	f.chooser = false
	f.closes++
	return nil
}

var _ Desktop = (*fakeDesktop)(nil)

// desktopEnv is an API with a fake desktop and sessions of each kind:
// admin, host (a user who hosts), user (may host, does not), viewer (may
// only watch), noclip (hosts, but without clipboard access) and blind
// (may not watch).
type desktopEnv struct {
	*env
	desk   *fakeDesktop
	tokens map[string]string
}

func newDesktopEnv(t *testing.T, d Desktop) *desktopEnv {
	t.Helper()
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10}})
	a := New(Options{Sessions: sessions, Desktop: d})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &desktopEnv{env: &env{t: t, srv: srv, sessions: sessions}, tokens: map[string]string{}}
	e.desk, _ = d.(*fakeDesktop)

	user := types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true, CanAccessClipboard: true}
	admin := user
	admin.IsAdmin = true
	noclip := user
	noclip.CanAccessClipboard = false
	viewer := types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true, CanAccessClipboard: true}
	blind := types.MemberProfile{CanLogin: true, CanConnect: true, CanHost: true}
	for id, p := range map[string]types.MemberProfile{
		"admin": admin, "host": user, "user": user, "viewer": viewer, "noclip": noclip, "blind": blind,
	} {
		s, err := sessions.Create(id, p)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[id] = s.Token()
	}
	e.setHost("host")
	return e
}

func (e *desktopEnv) setHost(id string) {
	s, _ := e.sessions.Get(id)
	e.sessions.SetHost(s)
}

func (e *desktopEnv) call(method, path, who, body string) (int, []byte) {
	e.t.Helper()
	return e.do(method, path, e.tokens[who], body)
}

func TestDesktopPermissions(t *testing.T) {
	e := newDesktopEnv(t, &fakeDesktop{})
	// Bodies are bad on purpose where a permission must refuse first.
	cases := []struct {
		method, path, body string
		allowed            []string // sessions that pass the permission check
	}{
		{"GET", "/api/room/screen", "", []string{"admin", "host", "user", "viewer", "noclip"}},
		{"POST", "/api/room/screen", "{bad", []string{"admin"}},
		{"GET", "/api/room/screen/configurations", "", []string{"admin"}},
		{"GET", "/api/room/screen/shot.jpg?quality=nope", "", []string{"admin"}},
		{"GET", "/api/room/clipboard", "", []string{"host"}},
		{"POST", "/api/room/clipboard", "{bad", []string{"host"}},
		{"GET", "/api/room/clipboard/image.png", "", []string{"host"}},
		{"GET", "/api/room/keyboard/map", "", []string{"admin", "host", "user", "noclip", "blind"}},
		{"POST", "/api/room/keyboard/map", "{bad", []string{"host"}},
		{"GET", "/api/room/keyboard/modifiers", "", []string{"admin", "host", "user", "noclip", "blind"}},
		{"POST", "/api/room/keyboard/modifiers", "{bad", []string{"host"}},
	}
	for _, c := range cases {
		code, body := e.do(c.method, c.path, "", c.body)
		expect(t, c.method+" "+c.path+" without credentials", code, body, http.StatusUnauthorized)
		for _, who := range []string{"admin", "host", "user", "viewer", "noclip", "blind"} {
			code, body := e.call(c.method, c.path, who, c.body)
			allowed := false
			for _, a := range c.allowed {
				allowed = allowed || a == who
			}
			if !allowed {
				expect(t, fmt.Sprintf("%s %s as %s", c.method, c.path, who), code, body, http.StatusForbidden)
			} else if code == http.StatusForbidden || code == http.StatusUnauthorized {
				t.Errorf("%s %s as %s: %d %s, want past the permission check", c.method, c.path, who, code, body)
			}
		}
	}

	// With implicit hosting, while someone hosts, the others are not host.
	e.sessions.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = true })
	code, body := e.call("GET", "/api/room/clipboard", "user", "")
	expect(t, "clipboard as user with implicit hosting and a host", code, body, http.StatusForbidden)
	// Nobody hosts: anyone who may take control counts as host.
	e.sessions.SetHost(nil)
	code, body = e.call("GET", "/api/room/clipboard", "user", "")
	expect(t, "clipboard as user with implicit hosting", code, body, http.StatusOK)
	code, body = e.call("GET", "/api/room/clipboard", "noclip", "")
	expect(t, "clipboard as noclip with implicit hosting", code, body, http.StatusForbidden)
	code, body = e.call("POST", "/api/room/keyboard/modifiers", "viewer", "{}")
	expect(t, "modifiers as viewer with implicit hosting", code, body, http.StatusForbidden)
}

func TestScreenEndpoints(t *testing.T) {
	e := newDesktopEnv(t, &fakeDesktop{screen: types.ScreenSize{Width: 1280, Height: 720, Rate: 30}})

	code, body := e.call("GET", "/api/room/screen", "user", "")
	expect(t, "get screen", code, body, http.StatusOK)
	if string(body) != `{"width":1280,"height":720,"rate":30}`+"\n" {
		t.Fatalf("screen = %s", body)
	}

	code, body = e.call("POST", "/api/room/screen", "admin", `{"width":720,"height":1280,"rate":30}`)
	expect(t, "set screen", code, body, http.StatusOK)
	var got types.ScreenSize
	if json.Unmarshal(body, &got) != nil || got != (types.ScreenSize{Width: 720, Height: 1280, Rate: 30}) {
		t.Fatalf("set screen answered %s", body)
	}
	if e.desk.actor != "admin" {
		t.Fatalf("actor %q, want the caller", e.desk.actor)
	}
	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"width":99999,"height":1280,"rate":30}`, http.StatusUnprocessableEntity},
		{`{"width":0,"height":0}`, http.StatusUnprocessableEntity},
		{`{"width":"wide"}`, http.StatusBadRequest},
		{`{"width":1280,"height":720,"rate":30} trailing`, http.StatusBadRequest},
		{`{"width":1e10}`, http.StatusBadRequest},
		{``, http.StatusBadRequest},
		{`null`, http.StatusUnprocessableEntity}, // zero size
	} {
		code, body := e.call("POST", "/api/room/screen", "admin", bad.body)
		expect(t, "set screen "+bad.body, code, body, bad.want)
	}
	if got, _ := e.desk.Screen(); got != (types.ScreenSize{Width: 720, Height: 1280, Rate: 30}) {
		t.Fatalf("refused requests changed the screen to %v", got)
	}

	code, body = e.call("GET", "/api/room/screen/configurations", "admin", "")
	expect(t, "configurations", code, body, http.StatusOK)
	if !strings.HasPrefix(string(body), `[{"width":1920,"height":1080,"rate":30}`) {
		t.Fatalf("configurations = %s", body)
	}

	for _, c := range []struct {
		query string
		code  int
		q     int
	}{{"", 200, 90}, {"?quality=0", 200, 0}, {"?quality=100", 200, 100}, {"?quality=55", 200, 55},
		{"?quality=101", 400, 0}, {"?quality=-1", 400, 0}, {"?quality=abc", 400, 0}, {"?quality=1e3", 400, 0}} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/room/screen/shot.jpg"+c.query, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["admin"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("shot.jpg%s: %d, want %d", c.query, resp.StatusCode, c.code)
			continue
		}
		if c.code == 200 {
			if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
				t.Errorf("shot.jpg content type %q", ct)
			}
			if e.desk.lastShotQ != c.q {
				t.Errorf("shot.jpg%s used quality %d, want %d", c.query, e.desk.lastShotQ, c.q)
			}
		}
	}
}

func TestClipboardEndpoints(t *testing.T) {
	e := newDesktopEnv(t, &fakeDesktop{})
	code, body := e.call("GET", "/api/room/clipboard", "host", "")
	expect(t, "empty clipboard", code, body, http.StatusOK)
	if strings.TrimSpace(string(body)) != `{}` {
		t.Fatalf("empty clipboard = %s", body)
	}
	code, body = e.call("POST", "/api/room/clipboard", "host", `{"text":"hello","html":"<b>hello</b>"}`)
	expect(t, "set clipboard", code, body, http.StatusNoContent)
	code, body = e.call("GET", "/api/room/clipboard", "host", "")
	expect(t, "get clipboard", code, body, http.StatusOK)
	if strings.TrimSpace(string(body)) != `{"text":"hello","html":"\u003cb\u003ehello\u003c/b\u003e"}` {
		t.Fatalf("clipboard = %s", body)
	}

	code, body = e.call("GET", "/api/room/clipboard/image.png", "host", "")
	expect(t, "no image", code, body, http.StatusNotFound)
	e.desk.image = []byte("\x89PNG")
	code, body = e.call("GET", "/api/room/clipboard/image.png", "host", "")
	expect(t, "image", code, body, http.StatusOK)
	if string(body) != "\x89PNG" {
		t.Fatalf("image body %q", body)
	}

	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"text":1}`, http.StatusBadRequest},
		{`{"text":"a"}{}`, http.StatusBadRequest},
		{`[`, http.StatusBadRequest},
		// Over the clipboard cap but within the body limit: the desktop says no.
		{`{"text":"` + strings.Repeat("x", desktop.MaxClipboardSize+1) + `"}`, http.StatusRequestEntityTooLarge},
		// Over the body limit.
		{`{"text":"` + strings.Repeat("x", clipboardBodyLimit) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		code, body := e.call("POST", "/api/room/clipboard", "host", bad.body)
		expect(t, fmt.Sprintf("set clipboard (%d bytes)", len(bad.body)), code, body, bad.want)
	}
	// Contents up to the cap are fine, beyond the 1 MiB of other bodies.
	big := strings.Repeat("y", 3<<20)
	code, body = e.call("POST", "/api/room/clipboard", "host", `{"text":"`+big+`"}`)
	expect(t, "set 3 MiB clipboard", code, body, http.StatusNoContent)
}

func TestKeyboardEndpoints(t *testing.T) {
	e := newDesktopEnv(t, &fakeDesktop{kbd: types.KeyboardMap{Layout: "us"}})
	code, body := e.call("GET", "/api/room/keyboard/map", "user", "")
	expect(t, "get map", code, body, http.StatusOK)
	if strings.TrimSpace(string(body)) != `{"layout":"us","variant":""}` {
		t.Fatalf("map = %s", body)
	}
	code, body = e.call("POST", "/api/room/keyboard/map", "host", `{"layout":"de","variant":"nodeadkeys"}`)
	expect(t, "set map", code, body, http.StatusNoContent)
	if e.desk.kbd != (types.KeyboardMap{Layout: "de", Variant: "nodeadkeys"}) {
		t.Fatalf("map set to %+v", e.desk.kbd)
	}
	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"layout":"` + strings.Repeat("a", 100000) + `"}`, http.StatusBadRequest},
		{"{\"layout\":\"\xff\xfe\"}", http.StatusBadRequest},
		{`{"layout":"us\u0000"}`, http.StatusBadRequest},
		{`{"layout":"-print"}`, http.StatusBadRequest},
		{`{"layout":"us","variant":"a b"}`, http.StatusBadRequest},
		{`{"layout":"zz"}`, http.StatusUnprocessableEntity},
		{`{"layout":5}`, http.StatusBadRequest},
		{`{"layout":"` + strings.Repeat("a", 2<<20) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		code, body := e.call("POST", "/api/room/keyboard/map", "host", bad.body)
		expect(t, fmt.Sprintf("set map %.40q", bad.body), code, body, bad.want)
	}
	if e.desk.kbd != (types.KeyboardMap{Layout: "de", Variant: "nodeadkeys"}) {
		t.Fatalf("refused requests changed the map to %+v", e.desk.kbd)
	}

	yes := true
	e.desk.mods = types.KeyboardModifiers{CapsLock: &yes}
	code, body = e.call("GET", "/api/room/keyboard/modifiers", "user", "")
	expect(t, "get modifiers", code, body, http.StatusOK)
	if strings.TrimSpace(string(body)) != `{"capslock":true}` {
		t.Fatalf("modifiers = %s", body)
	}
	code, body = e.call("POST", "/api/room/keyboard/modifiers", "host", `{"numlock":true,"capslock":false}`)
	expect(t, "set modifiers", code, body, http.StatusNoContent)
	m := e.desk.lastMods
	if m.NumLock == nil || !*m.NumLock || m.CapsLock == nil || *m.CapsLock || m.Shift != nil {
		t.Fatalf("modifiers set to %+v", m)
	}
	code, body = e.call("POST", "/api/room/keyboard/modifiers", "host", `{"numlock":"on"}`)
	expect(t, "set modifiers with a string", code, body, http.StatusBadRequest)
}

func TestDesktopEndpointsWithoutDesktop(t *testing.T) {
	e := newDesktopEnv(t, nil)
	code, body := e.call("GET", "/api/room/screen", "admin", "")
	expect(t, "screen without a desktop", code, body, http.StatusServiceUnavailable)
	code, body = e.call("POST", "/api/room/keyboard/map", "host", `{"layout":"us"}`)
	expect(t, "keyboard map without a desktop", code, body, http.StatusServiceUnavailable)
}
