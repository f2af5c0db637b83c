package session

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// fakeConn records what a session's WebSocket would have sent.
type fakeConn struct {
	mu     sync.Mutex
	events []types.Message
	closed string
}

func (c *fakeConn) Send(raw []byte) {
	var m types.Message
	_ = json.Unmarshal(raw, &m)
	c.mu.Lock()
	c.events = append(c.events, m)
	c.mu.Unlock()
}

func (c *fakeConn) Close(reason string) {
	c.mu.Lock()
	c.closed = reason
	c.mu.Unlock()
}

func (c *fakeConn) names() []types.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []types.Event
	for _, e := range c.events {
		out = append(out, e.Event)
	}
	return out
}

func has(list []types.Event, e types.Event) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

var user = types.MemberProfile{Name: "u", CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true}
var admin = types.MemberProfile{Name: "a", IsAdmin: true, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true}

func newManager(t *testing.T, s types.Settings) *Manager {
	t.Helper()
	s.HeartbeatInterval = 10
	return New(Options{Settings: s})
}

func TestLifecycleAndEvents(t *testing.T) {
	m := newManager(t, types.Settings{MercifulReconnect: true})
	a, _ := m.Create("a", admin)
	ca := &fakeConn{}
	if err := m.Connect(a, ca); err != nil {
		t.Fatal(err)
	}
	if st := a.State(); !st.IsConnected || st.ConnectedSince == nil || st.NotConnectedSince != nil {
		t.Fatalf("state after connect: %+v", st)
	}
	u, _ := m.Create("u", user)
	if !has(ca.names(), types.EventSessionCreated) {
		t.Fatal("session/created not broadcast")
	}
	if got, ok := m.Authenticate(u.Token()); !ok || got != u {
		t.Fatal("token lookup failed")
	}
	if _, ok := m.Authenticate("nope"); ok {
		t.Fatal("bad token accepted")
	}

	m.SetHost(u)
	if !u.IsHost() || !has(ca.names(), types.EventControlHost) {
		t.Fatal("host change not applied or not broadcast")
	}
	cu := &fakeConn{}
	_ = m.Connect(u, cu)
	m.Disconnect(u, cu)
	if m.Host() != nil {
		t.Fatal("a host that disconnects keeps control")
	}
	if st := u.State(); st.IsConnected || st.NotConnectedSince == nil {
		t.Fatalf("state after disconnect: %+v", st)
	}
	if err := m.Delete("u"); err != nil {
		t.Fatal(err)
	}
	if !has(ca.names(), types.EventSessionDeleted) {
		t.Fatal("session/deleted not broadcast")
	}
	if err := m.Delete("u"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, ok := m.Authenticate(u.Token()); ok {
		t.Fatal("deleted session's token still works")
	}
}

func TestMercifulReconnect(t *testing.T) {
	m := newManager(t, types.Settings{MercifulReconnect: true})
	s, _ := m.Create("s", user)
	first, second := &fakeConn{}, &fakeConn{}
	_ = m.Connect(s, first)
	if err := m.Connect(s, second); err != nil {
		t.Fatal(err)
	}
	if first.closed == "" {
		t.Fatal("old connection not closed")
	}
	m.Disconnect(s, first) // the old one ending must not disconnect the session
	if !s.IsConnected() {
		t.Fatal("replaced connection disconnected the session")
	}

	strict := newManager(t, types.Settings{MercifulReconnect: false})
	s2, _ := strict.Create("s", user)
	_ = strict.Connect(s2, &fakeConn{})
	if err := strict.Connect(s2, &fakeConn{}); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second connection without merciful reconnect: %v", err)
	}
}

func TestControlRules(t *testing.T) {
	m := newManager(t, types.Settings{})
	u, _ := m.Create("u", user)
	a, _ := m.Create("a", admin)
	if err := m.AuthorizeInput(u); !errors.Is(err, ErrNotHost) {
		t.Fatalf("input from non-host: %v", err)
	}
	m.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = true })
	if err := m.AuthorizeInput(u); err != nil || m.Host() != u {
		t.Fatalf("implicit hosting: %v, host %v", err, m.Host())
	}
	// Input does not take control from a host (control would flap).
	if err := m.AuthorizeInput(a); !errors.Is(err, ErrNotHost) || m.Host() != u {
		t.Fatalf("implicit hosting with a host: %v, host %v", err, m.Host())
	}
	// Moves: the host's apply, others' are inactive cursors; with nobody
	// hosting they apply without taking control (hovering is not taking).
	if !m.MovePointer(u) || m.MovePointer(a) {
		t.Fatal("moves with a host")
	}
	m.SetHost(nil)
	if !m.MovePointer(a) || m.Host() != nil {
		t.Fatalf("a move with implicit hosting and nobody hosting: host %v", m.Host())
	}
	m.SetHost(u)
	m.UpdateSettings(a, func(s *types.Settings) { s.PrivateMode = true })
	if err := m.MayHost(u); !errors.Is(err, ErrPrivateMode) {
		t.Fatalf("private mode: %v", err)
	}
	if err := m.MayHost(a); err != nil {
		t.Fatalf("admin in private mode: %v", err)
	}
	m.UpdateSettings(a, func(s *types.Settings) { s.PrivateMode = false })
	m.UpdateSettings(a, func(s *types.Settings) { s.LockedControls = true })
	if m.Host() != nil {
		t.Fatal("locking controls must take control from a non-admin host")
	}
	if err := m.MayHost(u); !errors.Is(err, ErrControlsLocked) {
		t.Fatalf("locked: %v", err)
	}
	if err := m.MayHost(a); err != nil {
		t.Fatalf("admin while locked: %v", err)
	}
	m.UpdateSettings(a, func(s *types.Settings) { s.LockedControls = false; s.ControlProtection = true })
	if err := m.MayHost(u); !errors.Is(err, ErrControlProtected) {
		t.Fatalf("protection without admin: %v", err)
	}
	_ = m.Connect(a, &fakeConn{})
	if err := m.MayHost(u); err != nil {
		t.Fatalf("protection with admin connected: %v", err)
	}
	noHost := user
	noHost.CanHost = false
	m.SetHost(u)
	if err := m.UpdateProfile("u", noHost); err != nil || m.Host() != nil {
		t.Fatalf("losing can_host must end hosting: %v %v", err, m.Host())
	}
}

func TestLockedLogins(t *testing.T) {
	m := newManager(t, types.Settings{LockedLogins: true})
	if _, err := m.Create("u", user); !errors.Is(err, ErrLoginLocked) {
		t.Fatalf("user login while locked: %v", err)
	}
	if _, err := m.Create("a", admin); err != nil {
		t.Fatalf("admin login while locked: %v", err)
	}
}

func TestSessionFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	m := New(Options{File: file, Settings: types.Settings{HeartbeatInterval: 10}})
	s, _ := m.Create("keep", user)
	gone, _ := m.Create("gone", user)
	_ = m.Delete(gone.ID())

	m2 := New(Options{File: file})
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	got, ok := m2.Authenticate(s.Token())
	if !ok || got.ID() != "keep" || got.Profile().Name != "u" {
		t.Fatalf("session not restored: %v %v", got, ok)
	}
	if _, ok := m2.Get("gone"); ok {
		t.Fatal("deleted session restored")
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	if err := os.WriteFile(file, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := New(Options{File: file}).Restore(); err == nil {
		t.Fatal("corrupt session file accepted")
	}
}

func TestStats(t *testing.T) {
	m := newManager(t, types.Settings{})
	u, _ := m.Create("u", user)
	a, _ := m.Create("a", admin)
	cu, ca := &fakeConn{}, &fakeConn{}
	_ = m.Connect(u, cu)
	_ = m.Connect(a, ca)
	st := m.Stats()
	if st.TotalUsers != 1 || st.TotalAdmins != 1 || st.LastUserLeftAt != nil || st.ServerStartedAt.IsZero() {
		t.Fatalf("stats %+v", st)
	}
	// last_user_left_at: set when the last user leaves, not while others
	// stay; cleared when one connects again.
	u2, _ := m.Create("u2", user)
	cu2 := &fakeConn{}
	_ = m.Connect(u2, cu2)
	m.Disconnect(u, cu)
	if st := m.Stats(); st.TotalUsers != 1 || st.LastUserLeftAt != nil {
		t.Fatalf("stats after a user left, another staying %+v", st)
	}
	m.Disconnect(u2, cu2)
	if st := m.Stats(); st.TotalUsers != 0 || st.LastUserLeftAt == nil || st.LastAdminLeftAt != nil {
		t.Fatalf("stats after the last user left %+v", st)
	}
	_ = m.Connect(u, &fakeConn{})
	if st := m.Stats(); st.LastUserLeftAt != nil {
		t.Fatalf("stats after a user came back %+v", st)
	}
	// Deleting the last connected user (a logout with its socket open)
	// counts as leaving.
	if err := m.Delete("u"); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.LastUserLeftAt == nil {
		t.Fatalf("stats after the last user was deleted %+v", st)
	}
}

func TestInactiveCursors(t *testing.T) {
	m := newManager(t, types.Settings{})
	moverProfile := user
	moverProfile.SendsInactiveCursor = true
	mover, _ := m.Create("mover", moverProfile)
	viewerProfile := user
	viewerProfile.CanSeeInactiveCursors = true
	watcher, _ := m.Create("watcher", viewerProfile)
	blind, _ := m.Create("blind", user)
	cw, cb := &fakeConn{}, &fakeConn{}
	_ = m.Connect(watcher, cw)
	_ = m.Connect(blind, cb)
	_ = m.Connect(mover, &fakeConn{})

	m.InactiveCursor(mover, 10, 20) // setting off: nothing
	time.Sleep(2 * cursorFlush)
	if has(cw.names(), types.EventSessionCursors) {
		t.Fatal("cursors sent with inactive_cursors off")
	}
	m.UpdateSettings(nil, func(s *types.Settings) { s.InactiveCursors = true })
	for i := 0; i < 5; i++ { // a burst becomes one message
		m.InactiveCursor(mover, 10+i, 20)
	}
	var got []types.SessionCursors
	n := 0
	last := func() bool {
		got, n = nil, 0
		cw.mu.Lock()
		events := append([]types.Message(nil), cw.events...)
		cw.mu.Unlock()
		for _, e := range events {
			if e.Event == types.EventSessionCursors {
				n++
				_ = json.Unmarshal(e.Payload, &got)
			}
		}
		return len(got) == 1 && len(got[0].Cursors) == 1 && got[0].Cursors[0].X == 14
	}
	for deadline := time.Now().Add(5 * time.Second); !last() && time.Now().Before(deadline); {
		time.Sleep(cursorFlush / 5)
	}
	// Nothing more while the pointer is still: the list is not sent again
	// at every flush (only, once it rests long enough, cleared).
	cw.mu.Lock()
	seen := len(cw.events)
	cw.mu.Unlock()
	time.Sleep(3 * cursorFlush)
	cw.mu.Lock()
	later := append([]types.Message(nil), cw.events[seen:]...)
	cw.mu.Unlock()
	for _, e := range later {
		var list []types.SessionCursors
		if e.Event == types.EventSessionCursors && json.Unmarshal(e.Payload, &list) == nil && len(list) > 0 {
			t.Fatalf("cursors sent again without a move: %s", e.Payload)
		}
	}
	// One message for the burst; two if a loaded machine paused this
	// test for a whole flush interval in the middle of it.
	if n < 1 || n > 2 || len(got) != 1 || got[0].ID != "mover" || got[0].Cursors[0] != (types.Cursor{X: 14, Y: 20}) {
		t.Fatalf("%d session/cursors messages, last %+v", n, got)
	}
	if has(cb.names(), types.EventSessionCursors) {
		t.Fatal("a session without can_see_inactive_cursors got cursors")
	}
	// Once the pointers rest, the list is cleared: clients replace theirs
	// with each message.
	deadline := time.Now().Add(cursorQuiet + 2*time.Second)
	for {
		cw.mu.Lock()
		last := cw.events[len(cw.events)-1]
		cw.mu.Unlock()
		if last.Event == types.EventSessionCursors && string(last.Payload) == "[]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no empty session/cursors after the pointers rested; last %s %s", last.Event, last.Payload)
		}
		time.Sleep(20 * time.Millisecond)
	}
	quiet := user
	quiet.SendsInactiveCursor = false
	_ = m.UpdateProfile("mover", quiet)
	before := len(cw.names())
	m.InactiveCursor(mover, 1, 1)
	time.Sleep(3 * cursorFlush)
	for _, e := range cw.names()[before:] {
		if e == types.EventSessionCursors {
			t.Fatal("cursor of a session without sends_inactive_cursor was sent")
		}
	}
}

// TestInactiveCursorsTogether: every message lists every pointer still
// shown (clients replace their list), so a resting pointer stays while
// another moves, until it rested for cursorQuiet.
func TestInactiveCursorsTogether(t *testing.T) {
	m := newManager(t, types.Settings{InactiveCursors: true})
	sender := user
	sender.SendsInactiveCursor = true
	a, _ := m.Create("a", sender)
	b, _ := m.Create("b", sender)
	seer := user
	seer.CanSeeInactiveCursors = true
	w, _ := m.Create("w", seer)
	cw := &fakeConn{}
	for _, s := range []*Session{a, b} {
		_ = m.Connect(s, &fakeConn{})
	}
	_ = m.Connect(w, cw)
	last := func() []types.SessionCursors {
		cw.mu.Lock()
		defer cw.mu.Unlock()
		var got []types.SessionCursors
		for _, e := range cw.events {
			if e.Event == types.EventSessionCursors {
				got = nil
				_ = json.Unmarshal(e.Payload, &got)
			}
		}
		return got
	}
	ids := func(list []types.SessionCursors) string {
		out := ""
		for _, c := range list {
			out += c.ID
		}
		return out
	}
	m.InactiveCursor(a, 1, 1)
	time.Sleep(3 * cursorFlush)
	m.InactiveCursor(b, 2, 2) // a rests
	deadline := time.Now().Add(cursorQuiet / 2)
	for got := ids(last()); got != "ab"; got = ids(last()) {
		if time.Now().After(deadline) {
			t.Fatalf("pointers shown %q, want a (resting) and b", got)
		}
		time.Sleep(cursorFlush / 5)
	}
	// b keeps moving past a's quiet time: a goes, b stays.
	deadline = time.Now().Add(cursorQuiet + 2*time.Second)
	for ids(last()) != "b" {
		if time.Now().After(deadline) {
			t.Fatalf("pointers shown %q, want b alone once a rested", ids(last()))
		}
		m.InactiveCursor(b, 3, 3)
		time.Sleep(cursorFlush)
	}
	// b becomes host: its pointer is not an inactive cursor any more.
	m.SetHost(b)
	deadline = time.Now().Add(2 * time.Second)
	for list := last(); list == nil || len(list) != 0; list = last() {
		if time.Now().After(deadline) {
			t.Fatalf("pointers shown %q after b became host", ids(list))
		}
		time.Sleep(cursorFlush)
	}
}

// TestMarshalEnvelope: events are framed as the running reference frames
// them, an explicit null payload included (signal/close) and a missing
// one left out (system/heartbeat).
func TestMarshalEnvelope(t *testing.T) {
	for _, tc := range []struct {
		event   types.Event
		payload any
		want    string
	}{
		{types.EventSignalClose, types.NullPayload, `{"event":"signal/close","payload":null}`},
		{types.EventSystemHeartbeat, nil, `{"event":"system/heartbeat"}`},
	} {
		got, err := Marshal(tc.event, tc.payload)
		if err != nil || string(got) != tc.want {
			t.Fatalf("%s: %s %v, want %s", tc.event, got, err, tc.want)
		}
	}
}

// TestKick: Kick closes the session's socket with the reason and tells
// the kick listeners (the media ends there); the session stays.
func TestKick(t *testing.T) {
	m := New(Options{})
	s, _ := m.Create("carol", types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true})
	conn := &fakeConn{}
	if err := m.Connect(s, conn); err != nil {
		t.Fatal(err)
	}
	var kicked []*Session
	m.OnKicked(func(k *Session) { kicked = append(kicked, k) })
	m.Kick(s, "disconnected by an admin")
	conn.mu.Lock()
	reason := conn.closed
	conn.mu.Unlock()
	if reason != "disconnected by an admin" {
		t.Fatalf("socket closed with %q", reason)
	}
	if len(kicked) != 1 || kicked[0] != s {
		t.Fatalf("kick listeners got %v", kicked)
	}
	if _, ok := m.Get("carol"); !ok {
		t.Fatal("the kicked session was removed")
	}
}
