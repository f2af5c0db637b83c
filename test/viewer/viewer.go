// Package viewer is a scripted neko client for tests and benchmarks: it
// logs in over REST, speaks the v3 WebSocket protocol, receives media over
// a real pion peer connection and decodes the video with GStreamer.
package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Client is one logged-in session with its WebSocket.
type Client struct {
	Base      string // server URL with trailing slash
	HTTP      *http.Client
	Token     string
	SessionID string
	Init      types.SystemInit

	ws     *websocket.Conn
	mu     sync.Mutex
	subs   map[types.Event][]chan json.RawMessage
	events []types.Message // every event received, for assertions
	closed chan struct{}
}

// NewClient returns a client that will use token without logging in.
func NewClient(base, token string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Base: strings.TrimSuffix(base, "/") + "/", HTTP: &http.Client{Jar: jar, Timeout: 10 * time.Second},
		Token: token, subs: map[types.Event][]chan json.RawMessage{}, closed: make(chan struct{})}
}

// Login logs in and returns a client without a WebSocket yet.
func Login(ctx context.Context, base, username, password string) (*Client, error) {
	c := NewClient(base, "")
	jar := c.HTTP.Jar
	body, _ := json.Marshal(types.LoginRequest{Username: username, Password: password})
	var resp types.LoginResponse
	status, err := c.Do(ctx, http.MethodPost, "api/login", body, &resp)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("login: status %d", status)
	}
	c.SessionID = resp.ID
	c.Token = resp.Token
	if c.Token == "" {
		u, _ := url.Parse(c.Base)
		for _, ck := range jar.Cookies(u) {
			if ck.Name == "NEKO_SESSION" {
				c.Token = ck.Value
			}
		}
	}
	if c.Token == "" {
		return nil, errors.New("login: no token or cookie")
	}
	return c, nil
}

// Do sends a REST request; out, if set, receives the JSON answer.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// Connect opens the WebSocket and waits for system/init.
func (c *Client) Connect(ctx context.Context) error {
	u := strings.Replace(c.Base, "http", "ws", 1) + "api/ws?token=" + url.QueryEscape(c.Token)
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return fmt.Errorf("dial websocket: %w", err)
	}
	ws.SetReadLimit(8 << 20)
	c.ws = ws
	initCh := c.Subscribe(types.EventSystemInit)
	go c.readLoop()
	select {
	case raw := <-initCh:
		return json.Unmarshal(raw, &c.Init)
	case <-ctx.Done():
		return fmt.Errorf("waiting for system/init: %w", ctx.Err())
	case <-c.closed:
		return errors.New("websocket closed before system/init")
	}
}

func (c *Client) readLoop() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		var msg types.Message
		if json.Unmarshal(data, &msg) != nil {
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, msg)
		subs := c.subs[msg.Event]
		c.mu.Unlock()
		for _, ch := range subs {
			select {
			case ch <- msg.Payload:
			default: // a test that does not read loses events, never blocks
			}
		}
	}
}

// Subscribe returns a channel of the payloads of one event.
func (c *Client) Subscribe(ev types.Event) <-chan json.RawMessage {
	ch := make(chan json.RawMessage, 256)
	c.mu.Lock()
	c.subs[ev] = append(c.subs[ev], ch)
	c.mu.Unlock()
	return ch
}

// Events returns every event received so far.
func (c *Client) Events() []types.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]types.Message(nil), c.events...)
}

// Closed is closed when the WebSocket ends.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Send sends one event.
func (c *Client) Send(ctx context.Context, ev types.Event, payload any) error {
	raw, err := json.Marshal(types.OutMessage{Event: ev, Payload: payload})
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, raw)
}

// SendRaw sends raw bytes as one text message.
func (c *Client) SendRaw(ctx context.Context, raw []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, raw)
}

// Close closes the WebSocket.
func (c *Client) Close() {
	if c.ws != nil {
		_ = c.ws.Close(websocket.StatusNormalClosure, "bye")
	}
}

// Wait returns the next payload from ch or fails after timeout.
func Wait(ch <-chan json.RawMessage, timeout time.Duration) (json.RawMessage, error) {
	select {
	case raw := <-ch:
		return raw, nil
	case <-time.After(timeout):
		return nil, errors.New("timed out waiting for event")
	}
}
