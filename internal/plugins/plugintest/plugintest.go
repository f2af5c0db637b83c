// Package plugintest runs plugins behind a real WebSocket and REST server
// (internal/websocket, internal/api, internal/session; no X, no media) for
// tests, with clients that read events in order.
package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/session"
	nekows "github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// EventBarrier is a test-only client event: the server broadcasts it back
// to everyone. Sent after another event on the same socket, it arrives at
// every client after anything that event caused (one socket's events are
// handled in order, and each socket's writes are FIFO).
const EventBarrier types.Event = "test/barrier"

// Env is a running server.
type Env struct {
	T        testing.TB
	Sessions *session.Manager
	URL      string
}

// New builds a server for set. build runs with the session manager so
// plugins can be constructed against it.
func New(t testing.TB, settings types.Settings, build func(*session.Manager) plugins.Set) *Env {
	t.Helper()
	if settings.HeartbeatInterval == 0 {
		settings.HeartbeatInterval = 10
	}
	sessions := session.New(session.Options{Settings: settings, APIToken: "apitoken"})
	set := build(sessions)
	handlers, err := set.Handlers()
	if err != nil {
		t.Fatal(err)
	}
	handlers[EventBarrier] = func(s *session.Session, raw json.RawMessage) error {
		sessions.Broadcast(EventBarrier, raw, nil)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	ws := nekows.New(ctx, nekows.Options{Sessions: sessions, Extra: handlers, OnConnect: set.OnConnect(), Logger: quiet})
	a := api.New(api.Options{Sessions: sessions, Extra: set.Routes(), Logger: quiet})
	mux := http.NewServeMux()
	mux.Handle("GET /api/ws", ws)
	a.Register(mux)
	srv := httptest.NewServer(mux)
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
	})
	return &Env{T: t, Sessions: sessions, URL: srv.URL}
}

// Admin and User are the usual profiles.
func Admin(name string) types.MemberProfile {
	p := User(name)
	p.IsAdmin = true
	return p
}

func User(name string) types.MemberProfile {
	return types.MemberProfile{Name: name, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true}
}

// Session creates a session.
func (e *Env) Session(id string, p types.MemberProfile) *session.Session {
	e.T.Helper()
	s, err := e.Sessions.Create(id, p)
	if err != nil {
		e.T.Fatal(err)
	}
	return s
}

// Client is one connected WebSocket.
type Client struct {
	t       testing.TB
	ws      *websocket.Conn
	Session *session.Session
	n       int
}

// Connect opens s's WebSocket and waits for system/init.
func (e *Env) Connect(s *session.Session) *Client {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.URL, "http")+"/api/ws?token="+s.Token(), nil)
	if err != nil {
		e.T.Fatal(err)
	}
	ws.SetReadLimit(1 << 22)
	e.T.Cleanup(func() { ws.CloseNow() })
	c := &Client{t: e.T, ws: ws, Session: s}
	c.Expect(types.EventSystemInit)
	if s.Profile().IsAdmin {
		c.Expect(types.EventSystemAdmin)
	}
	return c
}

// Send sends one event.
func (c *Client) Send(ev types.Event, payload any) {
	c.t.Helper()
	raw, err := json.Marshal(types.OutMessage{Event: ev, Payload: payload})
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(raw)
}

// SendRaw sends a text frame as is.
func (c *Client) SendRaw(raw []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, raw); err != nil {
		c.t.Fatal(err)
	}
}

// Next reads the next message that is not connection noise (session/*,
// system/heartbeat).
func (c *Client) Next() types.Message {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m types.Message
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatal(err)
		}
		if strings.HasPrefix(string(m.Event), "session/") || m.Event == types.EventSystemHeartbeat {
			continue
		}
		return m
	}
}

// Expect reads the next message and fails unless it is ev.
func (c *Client) Expect(ev types.Event) json.RawMessage {
	c.t.Helper()
	m := c.Next()
	if m.Event != ev {
		c.t.Fatalf("%s: got %s %s, want %s", c.Session.ID(), m.Event, m.Payload, ev)
	}
	return m.Payload
}

// ExpectInto reads ev into v.
func (c *Client) ExpectInto(ev types.Event, v any) {
	c.t.Helper()
	if err := json.Unmarshal(c.Expect(ev), v); err != nil {
		c.t.Fatal(err)
	}
}

// Barrier sends a barrier through c and returns its id; see EventBarrier.
func (c *Client) Barrier() string {
	c.n++
	id := fmt.Sprintf("%s-%d", c.Session.ID(), c.n)
	c.Send(EventBarrier, id)
	return id
}

// Until returns every message before the barrier id (other barriers and
// noise skipped).
func (c *Client) Until(id string) []types.Message {
	c.t.Helper()
	var out []types.Message
	for {
		m := c.Next()
		if m.Event == EventBarrier {
			var got string
			_ = json.Unmarshal(m.Payload, &got)
			if got == id {
				return out
			}
			continue
		}
		out = append(out, m)
	}
}

// Do sends an HTTP request with a bearer token and returns the response
// with its body read.
func (e *Env) Do(method, path, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		e.T.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// HashDir fingerprints a tree: every entry's path, type, size, content and
// link target.
func HashDir(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %v %d\n", rel, info.Mode(), info.Size())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", target)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Quiet is a logger that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
