package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func waitPointer(t *testing.T, p *stack.Painter, x, y int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		px, py, err := p.Pointer()
		if err != nil {
			t.Fatal(err)
		}
		if px == x && py == y {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pointer at (%d,%d), want (%d,%d)", px, py, x, y)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openDataChannel waits for the server's data channel of md to open.
func openDataChannel(t *testing.T, md *viewer.Media) interface{ Send([]byte) error } {
	t.Helper()
	select {
	case d := <-md.DataChannel:
		opened := make(chan struct{})
		d.OnOpen(func() { close(opened) })
		select {
		case <-opened:
		case <-time.After(10 * time.Second):
			t.Fatal("data channel did not open")
		}
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no data channel from the server")
	}
	return nil
}

func waitHost(t *testing.T, ch <-chan json.RawMessage, id string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case raw := <-ch:
			h := decode[types.ControlHost](t, raw)
			if h.HostID == id && h.HasHost == (id != "") {
				return
			}
		case <-deadline:
			t.Fatalf("no control/host for %q", id)
		}
	}
}

// TestControlAndInput: only the host's input moves the real X pointer;
// requests from others reach the host; release frees control.
func TestControlAndInput(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	alice := login(t, s, "alice", "neko")
	bob := login(t, s, "bob", "neko")
	aliceHost := alice.Subscribe(types.EventControlHost)
	bobHost := bob.Subscribe(types.EventControlHost)
	aliceReq := alice.Subscribe(types.EventControlRequest)

	// Not host: input is ignored.
	start := [2]int{}
	start[0], start[1], _ = paint.Pointer()
	_ = bob.Send(ctx, types.EventControlMove, types.ControlPos{X: 11, Y: 12})

	if err := alice.Send(ctx, types.EventControlRequest, nil); err != nil {
		t.Fatal(err)
	}
	waitHost(t, aliceHost, alice.SessionID)
	waitHost(t, bobHost, alice.SessionID)
	if x, y, _ := paint.Pointer(); x == 11 && y == 12 {
		t.Fatal("non-host input moved the pointer")
	}

	_ = alice.Send(ctx, types.EventControlMove, types.ControlPos{X: 321, Y: 123})
	waitPointer(t, paint, 321, 123)
	_ = bob.Send(ctx, types.EventControlMove, types.ControlPos{X: 5, Y: 6})
	x0, y0 := 200, 100
	_ = alice.Send(ctx, types.EventControlButtonPress, types.ControlButton{Code: 1, X: &x0, Y: &y0})
	waitPointer(t, paint, 200, 100)

	// Bob asks: alice (host) is told who asks; control stays with alice.
	_ = bob.Send(ctx, types.EventControlRequest, nil)
	raw, err := viewer.Wait(aliceReq, 5*time.Second)
	if err != nil {
		t.Fatal("host was not told about the request")
	}
	if got := decode[types.ControlRequest](t, raw); got.ID != bob.SessionID {
		t.Fatalf("control/request id = %q, want %q", got.ID, bob.SessionID)
	}

	// Release by a non-host is refused; by the host it frees control.
	_ = bob.Send(ctx, types.EventControlRelease, nil)
	_ = alice.Send(ctx, types.EventControlRelease, nil)
	waitHost(t, bobHost, "")
	_ = bob.Send(ctx, types.EventControlRequest, nil)
	waitHost(t, aliceHost, bob.SessionID)

	// Input over the data channel (binary v3 layout) from the new host.
	md, err := bob.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	dc := openDataChannel(t, md)
	move := []byte{0x01, 0, 7, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(move[3:], 640)
	binary.BigEndian.PutUint16(move[5:], 360)
	if err := dc.Send(move); err != nil {
		t.Fatal(err)
	}
	waitPointer(t, paint, 640, 360)
	// Malformed data-channel messages are dropped, the channel stays usable.
	for _, bad := range [][]byte{{}, {0x01}, {0x01, 0, 99}, {0xee, 0, 3}} {
		_ = dc.Send(bad)
	}
	binary.BigEndian.PutUint16(move[3:], 10)
	binary.BigEndian.PutUint16(move[5:], 20)
	_ = dc.Send(move)
	waitPointer(t, paint, 10, 20)

	// Input over the data channel from a session that is not host (alice
	// released control) leaves the desktop alone. A ping after the move
	// on the same (ordered) channel is answered once the move has been
	// handled.
	amd, err := alice.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer amd.Close()
	adc := openDataChannel(t, amd)
	binary.BigEndian.PutUint16(move[3:], 300)
	binary.BigEndian.PutUint16(move[5:], 200)
	if err := adc.Send(move); err != nil {
		t.Fatal(err)
	}
	if err := adc.Send([]byte{0x07, 0, 11, 0, 0, 0, 0, 0, 0, 0, 42}); err != nil {
		t.Fatal(err)
	}
	ponged := false
	for deadline := time.After(5 * time.Second); !ponged; {
		select {
		case msg := <-amd.DataMessages():
			ponged = len(msg) == 19 && msg[0] == 0x03 && msg[10] == 42
		case <-deadline:
			t.Fatal("no pong on the non-host's data channel")
		}
	}
	// The server's XTest request goes over its own X connection: give
	// the X server a moment, and look more than once.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if x, y, _ := paint.Pointer(); x != 10 || y != 20 {
			t.Fatalf("a non-host's data-channel move put the pointer at (%d,%d)", x, y)
		}
	}

	// The room shows in the metrics.
	resp, err := http.Get(s.URL + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"neko_sessions 2", "neko_sessions_connected 2", "neko_sessions_watching 2",
		"neko_webrtc_peers 2", `neko_ws_events_in_total{event="control/request"}`, "neko_host_changes_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The malformed messages were counted (the empty one may not reach
	// the server as a message at all); the move after them was taken,
	// so they have all been handled.
	if v := scrape(t, s.URL)["neko_webrtc_datachannel_malformed_total"]; v < 3 {
		t.Errorf("neko_webrtc_datachannel_malformed_total = %v, want at least 3", v)
	}
}

// TestBadInput: clear errors, never a crash or a dropped connection.
func TestBadInput(t *testing.T) {
	s := stack.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	post := func(path, body string) (int, types.ErrorMessage) {
		resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var msg types.ErrorMessage
		_ = json.NewDecoder(resp.Body).Decode(&msg)
		return resp.StatusCode, msg
	}
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"username":"x","password":"wrong"}`, 401},
		{`{"username":"x","password":`, 400},
		{`not json`, 400},
		{`{"username":"x","password":"neko"} trailing`, 400},
		{`{"username":"","password":"neko"}`, 400},
		{`[]`, 400},
	} {
		code, msg := post("api/login", tc.body)
		if code != tc.code || msg.Message == "" {
			t.Errorf("login %q: %d %+v, want %d with a message", tc.body, code, msg, tc.code)
		}
	}
	resp, err := http.Get(s.URL + "api/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("whoami without credentials: %d, want 401", resp.StatusCode)
	}

	c := login(t, s, "fuzzer", "neko")
	hostCh := c.Subscribe(types.EventControlHost)
	garbage := []string{
		`not json`, `{}`, `[]`, `null`, `{"event":42}`, `{"event":"no/such/event"}`,
		`{"event":"control/move","payload":null}`, `{"event":"control/move","payload":"x"}`,
		`{"event":"control/move","payload":{"x":"1","y":[]}}`,
		`{"event":"control/touchbegin","payload":null}`,
		`{"event":"control/scroll","payload":{"delta_x":1e99}}`,
		`{"event":"control/keydown","payload":{"keysym":-1}}`,
		`{"event":"signal/answer","payload":{"sdp":"garbage"}}`,
		`{"event":"signal/candidate","payload":{"candidate":"nonsense"}}`,
		`{"event":"signal/request","payload":{"video":{"selector":{"id":"nope","type":"weird"}}}}`,
		`{"event":"system/logs","payload":[{"level":"info","message":"hi"}]}`,
		`{"event":"system/logs","payload":{"not":"a list"}}`,
		strings.Repeat(`{"event":"control/move","payload":{"x":1,"y":1}}`, 1),
	}
	for _, g := range garbage {
		if err := c.SendRaw(ctx, []byte(g)); err != nil {
			t.Fatalf("send %q: %v", g, err)
		}
	}
	// The connection still works: a request is answered.
	if err := c.Send(ctx, types.EventControlRequest, nil); err != nil {
		t.Fatal(err)
	}
	waitHost(t, hostCh, c.SessionID)

	// A WebSocket without credentials is told why and closed.
	bad := viewer.NewClient(s.URL, "invalid-token")
	if err := bad.Connect(ctx); err == nil {
		t.Fatal("connect without valid token succeeded")
	}
	var sawDisconnect bool
	for _, ev := range bad.Events() {
		if ev.Event == types.EventSystemDisconnect {
			sawDisconnect = true
		}
	}
	if !sawDisconnect {
		t.Fatal("no system/disconnect before close")
	}
}
