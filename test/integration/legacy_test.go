package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/legacy/datachannel"
	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
)

// legacyClient is a scripted v2 client, written from the v2 wire (seed's
// legacy section, wire-examples.md): it logs in on /ws with ?password= and
// ?username=, answers the server's offer with a real pion peer, and sends
// input in the v2 little-endian data-channel layout.
type legacyClient struct {
	t    *testing.T
	name string
	ws   *websocket.Conn

	mu   sync.Mutex
	msgs []map[string]any
	seen map[int]bool
	// changed is closed (and replaced) whenever a message arrives, so any
	// number of waiters wake up.
	changed chan struct{}
	done    chan struct{}

	pc        *webrtc.PeerConnection
	dc        chan *webrtc.DataChannel
	connected chan struct{}
	videoPkts atomic.Int64
}

func dialLegacy(t *testing.T, s *stack.Stack, name, password, origin string) (*legacyClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.Replace(s.URL, "http", "ws", 1) + "ws?password=" + url.QueryEscape(password) + "&username=" + url.QueryEscape(name)
	var opts *websocket.DialOptions
	if origin != "" {
		opts = &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}}
	}
	conn, _, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(8 << 20)
	c := &legacyClient{t: t, name: name, ws: conn, seen: map[int]bool{}, changed: make(chan struct{}), done: make(chan struct{}),
		dc: make(chan *webrtc.DataChannel, 1), connected: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		conn.CloseNow()
		if c.pc != nil {
			_ = c.pc.Close()
		}
	})
	return c, nil
}

func (c *legacyClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// wait returns the first message not yet waited for whose event is ev and
// whose fields include match.
func (c *legacyClient) wait(ev string, match map[string]any) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		for i, m := range c.msgs {
			if !c.seen[i] && m["event"] == ev && fieldsMatch(m, match) {
				c.seen[i] = true
				c.mu.Unlock()
				return m
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			c.t.Fatalf("%s: no %s %v; received %v", c.name, ev, match, c.events())
		}
	}
}

// events summarises what arrived (SDP and candidates by name only).
func (c *legacyClient) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m["event"] == "signal/provide" || m["event"] == "signal/candidate" {
			out = append(out, fmt.Sprint(m["event"]))
			continue
		}
		out = append(out, fmt.Sprint(m))
	}
	return out
}

func fieldsMatch(m, want map[string]any) bool {
	for k, v := range want {
		got, _ := json.Marshal(m[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			return false
		}
	}
	return true
}

func (c *legacyClient) send(m map[string]any) {
	c.t.Helper()
	raw, _ := json.Marshal(m)
	if err := c.ws.Write(context.Background(), websocket.MessageText, raw); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// answer waits for signal/provide and answers it as the v2 client does.
func (c *legacyClient) answer(id string) {
	c.t.Helper()
	provide := c.wait("signal/provide", map[string]any{"id": id})
	var servers []webrtc.ICEServer
	if raw, err := json.Marshal(provide["ice"]); err == nil {
		_ = json.Unmarshal(raw, &servers)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		c.t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		c.t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	cfg := webrtc.Configuration{}
	if lite, _ := provide["lite"].(bool); !lite {
		cfg.ICEServers = servers
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.pc = pc
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		select {
		case c.dc <- dc:
		default:
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				c.videoPkts.Add(1)
			}
		}
	})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		data, _ := json.Marshal(cand.ToJSON())
		raw, _ := json.Marshal(map[string]any{"event": "signal/candidate", "data": string(data)})
		_ = c.ws.Write(context.Background(), websocket.MessageText, raw)
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: provide["sdp"].(string)}); err != nil {
		c.t.Fatal(err)
	}
	// Candidates the server trickled (before and after the offer).
	go func() {
		for {
			m := c.nextCandidate()
			if m == nil {
				return
			}
			var init webrtc.ICECandidateInit
			if json.Unmarshal([]byte(m["data"].(string)), &init) == nil {
				_ = pc.AddICECandidate(init)
			}
		}
	}()
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		c.t.Fatal(err)
	}
	c.send(map[string]any{"event": "signal/answer", "sdp": answer.SDP, "displayname": c.name})
}

// nextCandidate returns the next signal/candidate (nil once closed).
func (c *legacyClient) nextCandidate() map[string]any {
	for {
		c.mu.Lock()
		for i, m := range c.msgs {
			if !c.seen[i] && m["event"] == "signal/candidate" {
				c.seen[i] = true
				c.mu.Unlock()
				return m
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
			return nil
		}
	}
}

// TestLegacyClient drives the server with a v2 client next to a v3 one:
// login, member list, media over a real peer, control, v2 data-channel
// input moving the real X pointer, chat, and each side seeing the other.
func TestLegacyClient(t *testing.T) {
	s := stack.Start(t, map[string]any{"server.cors": []string{"http://allowed.example"}})
	paint, err := stack.NewPainter(s.Display, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A wrong password is explained in-band, then the socket closes.
	bad, err := dialLegacy(t, s, "mallory", "nope", "")
	if err != nil {
		t.Fatal(err)
	}
	bad.wait("system/disconnect", map[string]any{"message": "invalid username or password"})
	select {
	case <-bad.done:
	case <-time.After(5 * time.Second):
		t.Fatal("refused v2 socket stays open")
	}

	carol := login(t, s, "carol", "neko")
	created := carol.Subscribe(types.EventSessionCreated)
	carolHost := carol.Subscribe(types.EventControlHost)
	carolReq := carol.Subscribe(types.EventControlRequest)
	carolChat := carol.Subscribe(types.EventChatMessage)

	boss, err := dialLegacy(t, s, "boss", "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	list := boss.wait("member/list", nil)
	names := map[string]string{}
	for _, m := range list["members"].([]any) {
		mm := m.(map[string]any)
		names[mm["displayname"].(string)] = mm["id"].(string)
	}
	bossID, ok := names["boss"]
	if !ok || names["carol"] != carol.SessionID {
		t.Fatalf("member/list = %v", list)
	}
	boss.wait("system/init", map[string]any{"heartbeat_interval": 10})
	boss.wait("screen/configurations", nil) // admin

	// The v3 user sees the v2 user arrive, with its name.
	raw, err := waitFor(created, func(raw json.RawMessage) bool {
		return decode[types.SessionData](t, raw).Profile.Name == "boss"
	})
	if err != nil {
		t.Fatal("v3 client got no session/created for the v2 user")
	}
	if id := decode[types.SessionData](t, raw).ID; id != bossID {
		t.Fatalf("session/created id %q, member/list id %q", id, bossID)
	}

	// Media: the server offers at once; a real peer answers and receives video.
	boss.answer(bossID)
	select {
	case <-boss.connected:
	case <-ctx.Done():
		t.Fatal("v2 peer did not connect")
	}
	deadline := time.Now().Add(10 * time.Second)
	for boss.videoPkts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no video reached the v2 peer")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A v3 user takes control: the v2 client sees control/locked.
	_ = carol.Send(ctx, types.EventControlRequest, nil)
	waitHost(t, carolHost, carol.SessionID)
	boss.wait("control/locked", map[string]any{"id": carol.SessionID})

	// The v2 user asks: the v3 host is asked, the v2 user told who has it.
	boss.send(map[string]any{"event": "control/request"})
	if raw, err := waitFor(carolReq, nil); err != nil || decode[types.ControlRequest](t, raw).ID != bossID {
		t.Fatalf("v3 host not asked by the v2 user: %v", err)
	}
	boss.wait("control/request", map[string]any{"id": carol.SessionID})
	_ = carol.Send(ctx, types.EventControlRelease, nil)
	boss.wait("control/release", map[string]any{"id": carol.SessionID})

	// The v2 user takes control: the v3 user sees control/host.
	boss.send(map[string]any{"event": "control/request"})
	boss.wait("control/locked", map[string]any{"id": bossID})
	waitHost(t, carolHost, bossID)

	// v2 data-channel input (little-endian) moves the real pointer.
	var dc *webrtc.DataChannel
	select {
	case dc = <-boss.dc:
	case <-ctx.Done():
		t.Fatal("no data channel")
	}
	opened := make(chan struct{})
	var openOnce sync.Once
	dc.OnOpen(func() { openOnce.Do(func() { close(opened) }) })
	if dc.ReadyState() == webrtc.DataChannelStateOpen {
		openOnce.Do(func() { close(opened) })
	}
	select {
	case <-opened:
	case <-ctx.Done():
		t.Fatal("data channel did not open")
	}
	if err := dc.Send(datachannel.Move(321, 123)); err != nil {
		t.Fatal(err)
	}
	waitPointer(t, paint, 321, 123)
	for _, b := range [][]byte{
		datachannel.Key(datachannel.OpKeyDown, 1), datachannel.Key(datachannel.OpKeyUp, 1), // left click
		datachannel.Scroll(0, 1),
		datachannel.Key(datachannel.OpKeyDown, 0xffe1), datachannel.Key(datachannel.OpKeyUp, 0xffe1), // shift
		{0x01, 0x07}, {0x09, 0x03, 0x00}, // malformed: dropped
	} {
		if err := dc.Send(b); err != nil {
			t.Fatal(err)
		}
	}
	_ = dc.Send(datachannel.Move(600, 400))
	waitPointer(t, paint, 600, 400)
	// The v3 user is not host: its input is ignored.
	_ = carol.Send(ctx, types.EventControlMove, types.ControlPos{X: 5, Y: 5})
	_ = dc.Send(datachannel.Move(610, 410))
	waitPointer(t, paint, 610, 410)

	// Chat both ways through the v3 chat plugin.
	boss.send(map[string]any{"event": "chat/message", "content": "hello from v2"})
	if _, err := waitFor(carolChat, func(raw json.RawMessage) bool {
		m := decode[types.ChatMessage](t, raw)
		return m.ID == bossID && m.Content.Text == "hello from v2"
	}); err != nil {
		t.Fatal("v3 user did not get the v2 user's chat message")
	}
	_ = carol.Send(ctx, types.EventChatMessage, types.ChatContent{Text: "hello from v3"})
	boss.wait("chat/message", map[string]any{"id": carol.SessionID, "content": "hello from v3"})

	// The v2 user leaves: the v3 user sees its session go.
	deleted := carol.Subscribe(types.EventSessionDeleted)
	_ = boss.ws.Close(websocket.StatusNormalClosure, "")
	if _, err := waitFor(deleted, func(raw json.RawMessage) bool { return decode[types.SessionID](t, raw).ID == bossID }); err != nil {
		t.Fatal("v2 session not deleted after its socket closed")
	}

	// server.cors: /ws accepts an allowed Origin and refuses another.
	ok2, err := dialLegacy(t, s, "ally", "neko", "http://allowed.example")
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	ok2.wait("system/init", nil)
	if _, err := dialLegacy(t, s, "eve", "neko", "http://evil.example"); err == nil {
		t.Fatal("/ws accepted a foreign origin")
	}
}

// waitFor returns the first payload from ch that ok accepts (nil: any).
func waitFor(ch <-chan json.RawMessage, ok func(json.RawMessage) bool) (json.RawMessage, error) {
	deadline := time.After(10 * time.Second)
	for {
		select {
		case raw := <-ch:
			if ok == nil || ok(raw) {
				return raw, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("timed out")
		}
	}
}
