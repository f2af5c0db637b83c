package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

type fakeEvents struct {
	screen    func(desktop.ScreenChange)
	clipboard func()
	chooser   func(bool)
	text      string
}

func (f *fakeEvents) OnScreenChange(fn func(desktop.ScreenChange)) { f.screen = fn }
func (f *fakeEvents) OnClipboardChange(fn func())                  { f.clipboard = fn }
func (f *fakeEvents) OnFileChooser(fn func(bool))                  { f.chooser = fn }
func (f *fakeEvents) Clipboard(context.Context) (types.ClipboardText, error) {
	return types.ClipboardText{Text: f.text, HTML: "<p>" + f.text + "</p>"}, nil
}

// inbox is a session connection that keeps what it is sent.
type inbox struct {
	mu   sync.Mutex
	msgs []types.Message
}

func (c *inbox) Send(raw []byte) {
	var m types.Message
	_ = json.Unmarshal(raw, &m)
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}
func (c *inbox) Close(string) {}

func (c *inbox) take(ev types.Event) []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []json.RawMessage
	for _, m := range c.msgs {
		if m.Event == ev {
			out = append(out, m.Payload)
		}
	}
	c.msgs = nil
	return out
}

func TestWireDesktopEvents(t *testing.T) {
	sessions := session.New(session.Options{})
	connect := func(id string, p types.MemberProfile) (*session.Session, *inbox) {
		s, err := sessions.Create(id, p)
		if err != nil {
			t.Fatal(err)
		}
		c := &inbox{}
		if err := sessions.Connect(s, c); err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	host, hostIn := connect("host", types.MemberProfile{CanHost: true, CanAccessClipboard: true})
	_, otherIn := connect("other", types.MemberProfile{CanHost: true, CanAccessClipboard: true})
	noclip, noclipIn := connect("noclip", types.MemberProfile{CanHost: true})

	ev := &fakeEvents{text: "copied"}
	restarts := 0
	restartErr := error(nil)
	greet := wireDesktopEvents(ev, sessions, func() error { restarts++; return restartErr }, slog.New(slog.DiscardHandler))

	// A screen change restarts the video and reaches everyone.
	ev.screen(desktop.ScreenChange{ScreenSize: types.ScreenSize{Width: 720, Height: 1280, Rate: 30}, Actor: "host"})
	restartErr = errors.New("pipeline broke")
	ev.screen(desktop.ScreenChange{ScreenSize: types.ScreenSize{Width: 1280, Height: 720, Rate: 30}})
	if restarts != 2 {
		t.Fatalf("video restarted %d times, want 2", restarts)
	}
	for name, in := range map[string]*inbox{"host": hostIn, "other": otherIn, "noclip": noclipIn} {
		got := in.take(types.EventScreenUpdated)
		if len(got) != 2 || string(got[0]) != `{"id":"host","width":720,"height":1280,"rate":30}` ||
			string(got[1]) != `{"id":"","width":1280,"height":720,"rate":30}` {
			t.Errorf("%s got screen/updated %s", name, got)
		}
	}

	// Clipboard changes go to the host only, and only with clipboard access.
	ev.clipboard()
	if got := hostIn.take(types.EventClipboardUpdated); len(got) != 0 {
		t.Fatalf("clipboard/updated without a host: %s", got)
	}
	sessions.SetHost(host)
	ev.clipboard()
	if got := hostIn.take(types.EventClipboardUpdated); len(got) != 1 || string(got[0]) != `{"text":"copied"}` {
		t.Fatalf("host got clipboard/updated %s", got)
	}
	if got := otherIn.take(types.EventClipboardUpdated); len(got) != 0 {
		t.Fatalf("a non-host got clipboard/updated %s", got)
	}
	sessions.SetHost(noclip)
	ev.clipboard()
	if got := noclipIn.take(types.EventClipboardUpdated); len(got) != 0 {
		t.Fatalf("a host without clipboard access got clipboard/updated %s", got)
	}

	// File chooser dialogs: everyone learns who holds it, and so does a
	// session that connects while it is open.
	sessions.SetHost(host)
	late, err := sessions.Create("late", types.MemberProfile{})
	if err != nil {
		t.Fatal(err)
	}
	lateIn := &inbox{}
	greet(late) // not connected yet: nothing to tell
	ev.chooser(true)
	for name, in := range map[string]*inbox{"host": hostIn, "other": otherIn, "noclip": noclipIn} {
		if got := in.take(types.EventFileChooserDialogOpened); len(got) != 1 || string(got[0]) != `{"id":"host"}` {
			t.Errorf("%s got file_chooser_dialog/opened %s", name, got)
		}
	}
	if err := sessions.Connect(late, lateIn); err != nil {
		t.Fatal(err)
	}
	greet(late)
	if got := lateIn.take(types.EventFileChooserDialogOpened); len(got) != 1 || string(got[0]) != `{"id":"host"}` {
		t.Errorf("a late session got file_chooser_dialog/opened %s", got)
	}
	ev.chooser(false)
	for name, in := range map[string]*inbox{"host": hostIn, "other": otherIn, "late": lateIn} {
		if got := in.take(types.EventFileChooserDialogClosed); len(got) != 1 || string(got[0]) != `{}` {
			t.Errorf("%s got file_chooser_dialog/closed %s", name, got)
		}
	}
	greet(late)
	if got := lateIn.take(types.EventFileChooserDialogOpened); len(got) != 0 {
		t.Errorf("greeted with a closed dialog: %s", got)
	}
	sessions.SetHost(nil)
	ev.chooser(true)
	if got := otherIn.take(types.EventFileChooserDialogOpened); len(got) != 1 || string(got[0]) != `{"id":""}` {
		t.Errorf("without a host, file_chooser_dialog/opened %s", got)
	}
}
