package websocket

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// recDesktop records the desktop calls the handlers make.
type recDesktop struct {
	nopDesktop
	mu    sync.Mutex
	calls []string
}

func (r *recDesktop) rec(format string, args ...any) error {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	return nil
}

func (r *recDesktop) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recDesktop) Cut() error       { return r.rec("cut") }
func (r *recDesktop) Copy() error      { return r.rec("copy") }
func (r *recDesktop) Paste() error     { return r.rec("paste") }
func (r *recDesktop) SelectAll() error { return r.rec("select_all") }
func (r *recDesktop) SetClipboard(_ context.Context, c types.ClipboardText) error {
	return r.rec("clipboard %q", c.Text)
}
func (r *recDesktop) SetKeyboardMap(_ context.Context, m types.KeyboardMap) error {
	return r.rec("map %s/%s", m.Layout, m.Variant)
}
func (r *recDesktop) SetKeyboardModifiers(m types.KeyboardModifiers) error {
	s := func(b *bool) string {
		if b == nil {
			return "-"
		}
		return fmt.Sprint(*b)
	}
	return r.rec("modifiers caps=%s num=%s shift=%s", s(m.CapsLock), s(m.NumLock), s(m.Shift))
}
func (r *recDesktop) SetScreenSize(size types.ScreenSize, actor string) (types.ScreenSize, error) {
	return size, r.rec("screen %dx%d@%d by %s", size.Width, size.Height, size.Rate, actor)
}

func TestDesktopEvents(t *testing.T) {
	sessions := session.New(session.Options{})
	desk := &recDesktop{}
	h := New(context.Background(), Options{Sessions: sessions, Desktop: desk})
	mk := func(id string, p types.MemberProfile) *session.Session {
		s, err := sessions.Create(id, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	user := types.MemberProfile{CanConnect: true, CanWatch: true, CanHost: true, CanAccessClipboard: true}
	admin := user
	admin.IsAdmin = true
	noclip := user
	noclip.CanAccessClipboard = false
	sAdmin, sHost, sUser, sNoclip := mk("admin", admin), mk("host", user), mk("user", user), mk("noclip", noclip)
	sessions.SetHost(sHost)

	cases := []struct {
		who  *session.Session
		msg  string
		want []string
	}{
		{sAdmin, `{"event":"screen/set","payload":{"width":720,"height":1280,"rate":30}}`, []string{"screen 720x1280@30 by admin"}},
		{sHost, `{"event":"screen/set","payload":{"width":720,"height":1280,"rate":30}}`, nil},
		{sAdmin, `{"event":"screen/set","payload":"big"}`, nil},

		{sHost, `{"event":"clipboard/set","payload":{"text":"hi"}}`, []string{`clipboard "hi"`}},
		{sUser, `{"event":"clipboard/set","payload":{"text":"hi"}}`, nil},
		{sAdmin, `{"event":"clipboard/set","payload":{"text":"hi"}}`, nil},

		{sHost, `{"event":"control/cut"}`, []string{"cut"}},
		{sHost, `{"event":"control/copy","payload":null}`, []string{"copy"}},
		{sHost, `{"event":"control/select_all"}`, []string{"select_all"}},
		{sHost, `{"event":"control/paste"}`, []string{"paste"}},
		{sHost, `{"event":"control/paste","payload":{"text":"seed"}}`, []string{`clipboard "seed"`, "paste"}},
		{sUser, `{"event":"control/copy"}`, nil},
		{sUser, `{"event":"control/select_all"}`, nil},

		{sHost, `{"event":"keyboard/map","payload":{"layout":"de","variant":"nodeadkeys"}}`, []string{"map de/nodeadkeys"}},
		{sUser, `{"event":"keyboard/map","payload":{"layout":"de"}}`, nil},
		{sHost, `{"event":"keyboard/map","payload":[1]}`, nil},
		{sHost, `{"event":"keyboard/modifiers","payload":{"capslock":true}}`, []string{"modifiers caps=true num=- shift=-"}},
		{sHost, `{"event":"keyboard/modifiers","payload":{"numlock":false,"shift":true}}`, []string{"modifiers caps=- num=false shift=true"}},
		{sUser, `{"event":"keyboard/modifiers","payload":{"capslock":true}}`, nil},
	}
	for _, c := range cases {
		h.dispatch(c.who, []byte(c.msg), h.log)
		if got := desk.take(); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s sends %s: desktop got %q, want %q", c.who.ID(), c.msg, got, c.want)
		}
	}

	// Without clipboard access the host may still select all, not copy.
	sessions.SetHost(sNoclip)
	for msg, want := range map[string]string{
		`{"event":"control/select_all"}`:                   "select_all",
		`{"event":"control/copy"}`:                         "",
		`{"event":"control/paste","payload":{"text":"x"}}`: "",
		`{"event":"clipboard/set","payload":{"text":"x"}}`: "",
		`{"event":"keyboard/modifiers","payload":{}}`:      "modifiers caps=- num=- shift=-",
	} {
		h.dispatch(sNoclip, []byte(msg), h.log)
		if got := strings.Join(desk.take(), "|"); got != want {
			t.Errorf("noclip host sends %s: desktop got %q, want %q", msg, got, want)
		}
	}

	// With implicit hosting a clipboard event makes its sender the host,
	// but a refused one does not.
	sessions.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = true })
	sessions.SetHost(nil)
	h.dispatch(sNoclip, []byte(`{"event":"control/copy"}`), h.log)
	if sessions.Host() != nil {
		t.Fatal("a refused copy took control")
	}
	h.dispatch(sUser, []byte(`{"event":"control/copy"}`), h.log)
	if sessions.Host() != sUser || strings.Join(desk.take(), "|") != "copy" {
		t.Fatal("copy with implicit hosting did not take control and copy")
	}
}
