package websocket

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

func newTestServer(t *testing.T) (*httptest.Server, *session.Manager) {
	t.Helper()
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10, MercifulReconnect: true}})
	ctx, cancel := context.WithCancel(context.Background())
	h := New(ctx, Options{Sessions: sessions, Screen: func() types.ScreenSize { return types.ScreenSize{Width: 1280, Height: 720, Rate: 30} }})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { cancel(); srv.Close() })
	return srv, sessions
}

func newSession(t *testing.T, m *session.Manager, id string) *session.Session {
	t.Helper()
	s, err := m.Create(id, types.MemberProfile{Name: id, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(t *testing.T, srv *httptest.Server, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 22)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func readEvent(t *testing.T, ws *websocket.Conn, want types.Event, timeout time.Duration) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		var m types.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Event == want {
			return m.Payload
		}
	}
}

func TestInitAndRefusal(t *testing.T) {
	srv, sessions := newTestServer(t)
	s := newSession(t, sessions, "a")
	ws := dial(t, srv, s.Token())
	var init types.SystemInit
	if err := json.Unmarshal(readEvent(t, ws, types.EventSystemInit, 5*time.Second), &init); err != nil {
		t.Fatal(err)
	}
	if init.SessionID != "a" || init.ScreenSize.Width != 1280 || init.Settings.HeartbeatInterval != 10 || init.Sessions["a"].ID != "a" {
		t.Fatalf("system/init = %+v", init)
	}
	if !s.IsConnected() {
		t.Fatal("session not marked connected")
	}

	bad := dial(t, srv, "wrong")
	raw := readEvent(t, bad, types.EventSystemDisconnect, 5*time.Second)
	if !strings.Contains(string(raw), "message") {
		t.Fatalf("system/disconnect payload %s", raw)
	}
}

func TestMercifulReconnectReplacesOldConnection(t *testing.T) {
	srv, sessions := newTestServer(t)
	s := newSession(t, sessions, "a")
	first := dial(t, srv, s.Token())
	readEvent(t, first, types.EventSystemInit, 5*time.Second)
	second := dial(t, srv, s.Token())
	readEvent(t, second, types.EventSystemInit, 5*time.Second)
	readEvent(t, first, types.EventSystemDisconnect, 5*time.Second)
	if !s.IsConnected() {
		t.Fatal("session must stay connected through the replacement")
	}
}

// TestSlowClientDoesNotStallOthers: the reference blocks every broadcast
// behind a client that stops reading. Here the stuck client is cut off
// and the others keep receiving at once.
func TestSlowClientDoesNotStallOthers(t *testing.T) {
	srv, sessions := newTestServer(t)
	stuck := newSession(t, sessions, "stuck")
	good := newSession(t, sessions, "good")

	// A raw client that completes the handshake and then never reads.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", stuck.Token())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}

	ws := dial(t, srv, good.Token())
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	var received atomic.Int64
	go func() {
		ctx := context.Background()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
			received.Add(1)
		}
	}()

	// Far more than the stuck client's queue and socket buffers hold, sent
	// in batches that the reading client must get promptly each time.
	big := strings.Repeat("x", 16<<10)
	sent := received.Load()
	for batch := 0; batch < 30; batch++ {
		for i := 0; i < 100; i++ {
			sessions.Broadcast("test/flood", big, nil)
		}
		sent += 100
		deadline := time.Now().Add(5 * time.Second)
		for received.Load() < sent {
			if time.Now().After(deadline) {
				t.Fatalf("batch %d: the reading client got %d of %d messages: stalled by the stuck one", batch, received.Load(), sent)
			}
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for stuck.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("stuck client was never disconnected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !good.IsConnected() {
		t.Fatal("the reading client was disconnected")
	}
}

func TestHandlerSurvivesGarbage(t *testing.T) {
	srv, sessions := newTestServer(t)
	s := newSession(t, sessions, "a")
	ws := dial(t, srv, s.Token())
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	ctx := context.Background()
	for _, g := range []string{"", "x", "{", `{"event":null}`, `{"event":"control/keydown","payload":{"keysym":"a"}}`,
		`{"event":"control/touchbegin","payload":null}`, `{"event":"signal/request","payload":[1,2]}`} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(g)); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"control/request"}`)); err != nil {
		t.Fatal(err)
	}
	readEvent(t, ws, types.EventControlHost, 5*time.Second)
}

func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{`{"event":"control/move","payload":{"x":1,"y":2}}`, `{"event":"control/scroll","payload":{"delta_y":-1}}`,
		`{"event":"signal/candidate","payload":{"candidate":"x"}}`, `{"event":"system/logs","payload":[{"message":"m"}]}`, `null`} {
		f.Add([]byte(seed))
	}
	sessions := session.New(session.Options{Settings: types.Settings{ImplicitHosting: true}})
	h := New(context.Background(), Options{Sessions: sessions, Desktop: nopDesktop{}})
	s, _ := sessions.Create("f", types.MemberProfile{CanHost: true, CanWatch: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		h.dispatch(s, data, h.log)
	})
}

type nopDesktop struct{}

func (nopDesktop) Move(x, y int) error                                     { return nil }
func (nopDesktop) Scroll(dx, dy int, ctrl bool) error                      { return nil }
func (nopDesktop) ButtonDown(uint32) error                                 { return nil }
func (nopDesktop) ButtonUp(uint32) error                                   { return nil }
func (nopDesktop) ButtonPress(uint32) error                                { return nil }
func (nopDesktop) KeyDown(uint32) error                                    { return nil }
func (nopDesktop) KeyUp(uint32) error                                      { return nil }
func (nopDesktop) KeyPress(uint32) error                                   { return nil }
func (nopDesktop) Cut() error                                              { return nil }
func (nopDesktop) Copy() error                                             { return nil }
func (nopDesktop) Paste() error                                            { return nil }
func (nopDesktop) SelectAll() error                                        { return nil }
func (nopDesktop) SetClipboard(context.Context, types.ClipboardText) error { return nil }
func (nopDesktop) SetKeyboardMap(context.Context, types.KeyboardMap) error { return nil }
func (nopDesktop) SetKeyboardModifiers(types.KeyboardModifiers) error      { return nil }
func (nopDesktop) SetScreenSize(s types.ScreenSize, _ string) (types.ScreenSize, error) {
	return s, nil
}

func (nopDesktop) TouchBegin(uint32, int, int, uint8) error  { return nil }
func (nopDesktop) TouchUpdate(uint32, int, int, uint8) error { return nil }
func (nopDesktop) TouchEnd(uint32, int, int, uint8) error    { return nil }
func (nopDesktop) TouchEvents() bool                         { return false }

// TestOriginCheck: with server.cors the upgrade accepts listed origins and
// refuses others; same-origin upgrades always work.
func TestOriginCheck(t *testing.T) {
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10, MercifulReconnect: true}})
	h := New(context.Background(), Options{Sessions: sessions, OriginPatterns: []string{"allowed.example"}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := newSession(t, sessions, "a")
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?token=" + s.Token()
	dialOrigin := func(origin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
		if err == nil {
			ws.CloseNow()
		}
		return err
	}
	if err := dialOrigin("https://allowed.example"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if err := dialOrigin("https://evil.example"); err == nil {
		t.Fatal("foreign origin accepted")
	}
	if err := dialOrigin(srv.URL); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
}

// TestUnicastAndBroadcast: opaque messages are relayed with the sender set
// by the server, to one receiver or to everyone else.
func TestUnicastAndBroadcast(t *testing.T) {
	srv, sessions := newTestServer(t)
	a, b, c := newSession(t, sessions, "a"), newSession(t, sessions, "b"), newSession(t, sessions, "c")
	wa, wb, wc := dial(t, srv, a.Token()), dial(t, srv, b.Token()), dial(t, srv, c.Token())
	for _, ws := range []*websocket.Conn{wa, wb, wc} {
		readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	}
	ctx := context.Background()
	_ = wa.Write(ctx, websocket.MessageText, []byte(`{"event":"send/unicast","payload":{"receiver":"b","sender":"forged","subject":"hi","body":{"n":1}}}`))
	var uni types.SendUnicast
	_ = json.Unmarshal(readEvent(t, wb, types.EventSendUnicast, 5*time.Second), &uni)
	if uni.Sender != "a" || uni.Receiver != "b" || uni.Subject != "hi" || string(uni.Body) != `{"n":1}` {
		t.Fatalf("unicast %+v", uni)
	}
	_ = wc.Write(ctx, websocket.MessageText, []byte(`{"event":"send/broadcast","payload":{"subject":"all","body":"x"}}`))
	for _, ws := range []*websocket.Conn{wa, wb} {
		var bc types.SendBroadcast
		_ = json.Unmarshal(readEvent(t, ws, types.EventSendBroadcast, 5*time.Second), &bc)
		if bc.Sender != "c" || bc.Subject != "all" {
			t.Fatalf("broadcast %+v", bc)
		}
	}
}

// TestInitComesFirst: broadcasts racing with a new connection (its own
// session/state among them) never arrive before system/init.
func TestInitComesFirst(t *testing.T) {
	srv, sessions := newTestServer(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Busy, but not so fast that the send queue of a client reading
		// only its first message fills (that client is dropped as slow).
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sessions.Broadcast("test/noise", 1, nil)
			}
		}
	}()
	for i := 0; i < 20; i++ {
		s := newSession(t, sessions, fmt.Sprintf("s%d", i))
		ws := dial(t, srv, s.Token())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, data, err := ws.Read(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var m types.Message
		_ = json.Unmarshal(data, &m)
		if m.Event != types.EventSystemInit {
			t.Fatalf("connection %d: first message %s, want system/init", i, m.Event)
		}
		ws.CloseNow()
	}
}

// TestControlRequestImplicitHosting: with implicit hosting, control/request
// takes control at once (as the reference does); without it, the host is
// asked.
func TestControlRequestImplicitHosting(t *testing.T) {
	sessions := session.New(session.Options{})
	h := New(context.Background(), Options{Sessions: sessions, Desktop: nopDesktop{}})
	p := types.MemberProfile{CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true}
	a, _ := sessions.Create("a", p)
	b, _ := sessions.Create("b", p)
	for _, s := range []*session.Session{a, b} {
		if err := h.controlRequest(s); err != nil {
			t.Fatal(err)
		}
	}
	if sessions.Host() != a {
		t.Fatalf("host %v, want a (b's request goes to a)", sessions.Host())
	}
	sessions.UpdateSettings(nil, func(s *types.Settings) { s.ImplicitHosting = true })
	if err := h.controlRequest(b); err != nil || sessions.Host() != b {
		t.Fatalf("request with implicit hosting: %v, host %v", err, sessions.Host())
	}
}

// TestDisconnectGrace: a socket that drops without a close leaves its
// session connected (and hosting) for the grace period; a client that
// comes back within it, merciful reconnect or not, keeps control. One
// that does not come back is disconnected after it. A clean close
// disconnects at once.
func TestDisconnectGrace(t *testing.T) {
	// Long enough that a loaded machine cannot make a clean close look
	// like a grace, nor a reconnect miss it.
	const grace = 2 * time.Second
	sessions := session.New(session.Options{Settings: types.Settings{HeartbeatInterval: 10}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := New(ctx, Options{Sessions: sessions, DisconnectGrace: grace,
		Screen: func() types.ScreenSize { return types.ScreenSize{Width: 1280, Height: 720, Rate: 30} }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := newSession(t, sessions, "a")
	connected := func() bool { return s.IsConnected() }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	ws := dial(t, srv, s.Token())
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	sessions.SetHost(s)
	_ = ws.CloseNow() // the network goes away: no close frame
	time.Sleep(grace / 2)
	if !connected() || sessions.Host() != s {
		t.Fatalf("within the grace: connected %v, host %v", connected(), sessions.Host())
	}
	ws = dial(t, srv, s.Token()) // back in time (merciful reconnect is off)
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	time.Sleep(grace + 200*time.Millisecond)
	if !connected() || sessions.Host() != s {
		t.Fatalf("after coming back: connected %v, host %v", connected(), sessions.Host())
	}

	_ = ws.CloseNow()
	waitFor("not disconnected after the grace", func() bool { return !connected() && sessions.Host() == nil })

	// An admin's disconnect ends the wait at once.
	ws = dial(t, srv, s.Token())
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	_ = ws.CloseNow()
	time.Sleep(100 * time.Millisecond) // the server notices the drop
	start := time.Now()
	sessions.DisconnectConn(s, "bye")
	waitFor("a disconnect during the grace waited for it", func() bool { return !connected() })
	if waited := time.Since(start); waited >= grace {
		t.Fatalf("a disconnect during the grace took %v (the grace is %v)", waited, grace)
	}

	ws = dial(t, srv, s.Token())
	readEvent(t, ws, types.EventSystemInit, 5*time.Second)
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	waitFor("a clean close waited", func() bool { return !connected() })
	if waited := time.Since(start); waited >= grace {
		t.Fatalf("a clean close took %v to disconnect (the grace is %v)", waited, grace)
	}
}
