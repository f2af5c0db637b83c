// Package chat is the chat plugin: text messages relayed to every session
// allowed to receive them, with chat.can_send and chat.can_receive
// read from the room settings and member profiles.
//
// Wire (reference server/internal/plugins/chat): on connect the server
// sends chat/init {enabled}; a client sends chat/message {text}; every
// session allowed to receive (the sender included) gets chat/message
// {id, created, content: {text}} where id is the sender's session id.
// Admins may also post through POST /api/chat {text} (204). The v3 plugin
// has no emotes (v2's chat/emote is a legacy-protocol event).
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Name is the plugin's settings prefix.
const Name = "chat"

const (
	// DefaultMaxText caps one message's text, in bytes.
	DefaultMaxText = 4096
	// DefaultHistory is how many messages late joiners get.
	DefaultHistory = 100
	// DefaultRate and DefaultBurst limit messages per session.
	DefaultRate  = rate.Limit(2)
	DefaultBurst = 10
)

var (
	ErrDisabled  = errors.New("chat is disabled")
	ErrForbidden = errors.New("not allowed to send chat messages")
	ErrEmpty     = errors.New("empty chat message")
	ErrTooLong   = errors.New("chat message too long")
	ErrNotText   = errors.New("chat message is not valid UTF-8")
	ErrRate      = errors.New("chat message rate exceeded")
)

// Options configure the plugin.
type Options struct {
	Enabled  bool // chat.enabled
	Sessions *session.Manager
	// MaxText caps a message in bytes (0: DefaultMaxText).
	MaxText int
	// History is how many recent messages are replayed to a session that
	// connects (0: DefaultHistory, negative: none).
	History int
	// Rate and Burst limit each session's messages (0: defaults).
	Rate  rate.Limit
	Burst int
	// Now stamps messages (tests); time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Chat is the plugin.
type Chat struct {
	opts Options
	log  *slog.Logger

	// mu orders message fan-out against a newcomer's init + history, so a
	// newcomer sees every message exactly once and after chat/init.
	mu      sync.Mutex
	history []types.ChatMessage

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter
}

var (
	_ plugins.Plugin = (*Chat)(nil)
)

// New builds the plugin.
func New(opts Options) *Chat {
	if opts.MaxText <= 0 {
		opts.MaxText = DefaultMaxText
	}
	if opts.History == 0 {
		opts.History = DefaultHistory
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Chat{opts: opts, log: plugins.Logger(opts.Logger), limiters: map[string]*rate.Limiter{}}
	opts.Sessions.OnDeleted(func(s *session.Session) {
		c.limMu.Lock()
		delete(c.limiters, s.ID())
		c.limMu.Unlock()
	})
	return c
}

func (c *Chat) Name() string { return Name }

func (c *Chat) Handlers() map[types.Event]websocket.HandlerFunc {
	return map[types.Event]websocket.HandlerFunc{types.EventChatMessage: c.handleMessage}
}

func (c *Chat) Routes(mux *http.ServeMux, a *api.API) {
	h := a.Auth(c.post)
	mux.Handle("POST /api/chat", h)
	mux.Handle("POST /api/chat/{$}", h)
}

// OnConnect sends chat/init, then the recent history to a session that may
// receive. The history replay is ours (the reference keeps none in its
// released plugin): it goes out as ordinary chat/message events, which
// every client already shows.
func (c *Chat) OnConnect(s *session.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Send(types.EventChatInit, types.PluginInit{Enabled: c.opts.Enabled})
	if !c.canReceive(s) {
		return
	}
	for _, m := range c.history {
		s.Send(types.EventChatMessage, m)
	}
}

// Permissions of one session.
func (c *Chat) canSend(s *session.Session) bool {
	return c.opts.Enabled && plugins.Allowed(c.opts.Sessions.Settings(), s.Profile(), types.PluginChatCanSend)
}

func (c *Chat) canReceive(s *session.Session) bool {
	return c.opts.Enabled && plugins.Allowed(c.opts.Sessions.Settings(), s.Profile(), types.PluginChatCanReceive)
}

// incoming is chat/message from a client: {text}. The {content: {text}}
// shape of the outgoing event is accepted as well.
type incoming struct {
	Text    string             `json:"text"`
	Content *types.ChatContent `json:"content"`
}

func (in incoming) text() string {
	if in.Text == "" && in.Content != nil {
		return in.Content.Text
	}
	return in.Text
}

func (c *Chat) handleMessage(s *session.Session, raw json.RawMessage) error {
	var in incoming
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("chat: decode: %w", err)
	}
	return c.Send(s, in.text())
}

// Send delivers text from s to every session allowed to receive it.
func (c *Chat) Send(s *session.Session, text string) error {
	switch {
	case !c.opts.Enabled:
		return ErrDisabled
	case !c.canSend(s):
		return ErrForbidden
	case strings.TrimSpace(text) == "":
		return ErrEmpty
	case len(text) > c.opts.MaxText:
		return ErrTooLong
	case !utf8.ValidString(text):
		return ErrNotText
	case !c.limiter(s.ID()).Allow():
		return ErrRate
	}
	msg := types.ChatMessage{ID: s.ID(), Created: c.opts.Now().UTC(), Content: types.ChatContent{Text: text}}
	raw, err := session.Marshal(types.EventChatMessage, msg)
	if err != nil {
		return err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.History > 0 {
		if len(c.history) >= c.opts.History {
			n := copy(c.history, c.history[len(c.history)-c.opts.History+1:])
			c.history = c.history[:n]
		}
		c.history = append(c.history, msg)
	}
	for _, target := range c.opts.Sessions.List() {
		if c.canReceive(target) {
			target.SendRaw(raw)
		}
	}
	return nil
}

func (c *Chat) limiter(id string) *rate.Limiter {
	c.limMu.Lock()
	defer c.limMu.Unlock()
	l, ok := c.limiters[id]
	if !ok {
		l = rate.NewLimiter(c.opts.Rate, c.opts.Burst)
		c.limiters[id] = l
	}
	return l
}

// post is POST /api/chat {text}; admins only, as in the reference.
func (c *Chat) post(w http.ResponseWriter, r *http.Request) error {
	s := api.SessionFrom(r.Context())
	if !s.Profile().IsAdmin {
		return api.Error(http.StatusForbidden, "session is not an admin")
	}
	if !c.canSend(s) {
		return api.Error(http.StatusForbidden, ErrForbidden.Error())
	}
	var in incoming
	if err := api.Decode(r, &in); err != nil {
		return err
	}
	switch err := c.Send(s, in.text()); {
	case errors.Is(err, ErrRate):
		return api.Error(http.StatusTooManyRequests, err.Error())
	case err != nil:
		return api.Error(http.StatusBadRequest, err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
