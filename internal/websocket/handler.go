// Package websocket serves /api/ws: one WebSocket per session, the events a
// client may send (signalling, control, input), and what the server sends on
// connect. Broadcasts go through the session manager.
package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Desktop is the desktop as the handlers need it: input, and the screen,
// clipboard and keyboard events of desktop.go.
type Desktop interface {
	Move(x, y int) error
	Scroll(deltaX, deltaY int, controlKey bool) error
	ButtonDown(code uint32) error
	ButtonUp(code uint32) error
	ButtonPress(code uint32) error
	KeyDown(keysym uint32) error
	KeyUp(keysym uint32) error
	KeyPress(keysym uint32) error
	TouchBegin(id uint32, x, y int, pressure uint8) error
	TouchUpdate(id uint32, x, y int, pressure uint8) error
	TouchEnd(id uint32, x, y int, pressure uint8) error
	// TouchEvents is system/init's touch_events: whether real touch
	// events reach the app (false: single touch drives the pointer).
	TouchEvents() bool

	// Cut, Copy, Paste and SelectAll press Control+x, c, v or a.
	Cut() error
	Copy() error
	Paste() error
	SelectAll() error
	// SetScreenSize switches the mode; actor (the session id) goes into
	// the screen/updated broadcast, which the desktop's listener sends.
	SetScreenSize(size types.ScreenSize, actor string) (types.ScreenSize, error)
	SetClipboard(ctx context.Context, c types.ClipboardText) error
	SetKeyboardMap(ctx context.Context, m types.KeyboardMap) error
	SetKeyboardModifiers(m types.KeyboardModifiers) error
}

// WebRTC is the signalling side of the media plane.
type WebRTC interface {
	Request(s *session.Session, req types.SignalRequest) error
	Answer(s *session.Session, sdp string) error
	Candidate(s *session.Session, c types.SignalCandidate) error
	Close(s *session.Session)
}

// Options wire the handler to the rest of the server.
type Options struct {
	Sessions *session.Manager
	Desktop  Desktop
	WebRTC   WebRTC
	// Screen reports the current screen size; Screens the sizes offered.
	Screen  func() types.ScreenSize
	Screens func() []types.ScreenSize
	// Broadcast reports the RTMP broadcast for system/admin (nil: inactive).
	Broadcast func() types.BroadcastStatus
	// Videos lists the video quality ids.
	Videos            []string
	ScreencastEnabled bool
	// OriginPatterns are extra allowed Origin hosts (server.cors); same-origin
	// upgrades are always allowed.
	OriginPatterns []string
	// Extra are handlers for events of plugins, keyed by event name.
	Extra map[types.Event]HandlerFunc
	// OnConnect runs after system/init is sent to a new connection (plugins
	// send their own init events there).
	OnConnect []func(s *session.Session)
	// CookieName is the session cookie (session.cookie.name).
	CookieName string
	// DisconnectGrace is how long a session whose socket dropped without a
	// close (a network hiccup) still counts as connected: a client that
	// comes back within it keeps its control, as with the reference (5 s).
	// 0: disconnected at once.
	DisconnectGrace time.Duration
	Metrics         *Metrics
	Logger          *slog.Logger
}

// Handler serves the WebSocket endpoint.
type Handler struct {
	opts     Options
	log      *slog.Logger
	handlers map[types.Event]handlerFunc
	ctx      context.Context
}

const (
	// readLimit caps one client message; SDP answers are a few KiB, the
	// clipboard is capped separately.
	readLimit = 1 << 20
	// Input can legitimately arrive at a few hundred events a second;
	// beyond that messages are dropped, not the connection.
	msgRate  = 1000
	msgBurst = 2000
)

// New builds the handler. ctx ends every connection when cancelled.
func New(ctx context.Context, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CookieName == "" {
		opts.CookieName = "NEKO_SESSION"
	}
	h := &Handler{opts: opts, log: opts.Logger, ctx: ctx}
	h.handlers = h.table()
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		h.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(readLimit)

	sess, reason := h.authenticate(r)
	log := h.log.With("session_id", "")
	if sess != nil {
		log = h.log.With("session_id", sess.ID())
	}
	c := newConn(ws, log, h.opts.Metrics)
	h.opts.Metrics.connected(1)
	defer h.opts.Metrics.connected(-1)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		// system/heartbeat goes out with the pings, every ~10 s, as the
		// running reference sends it; settings.heartbeat_interval is the
		// clients' own cadence (client/heartbeat), up to an hour.
		c.writeLoop(ctx, pingInterval)
	}()
	// The reference upgrades first and then explains the refusal in-band;
	// clients rely on reading system/disconnect.
	if sess == nil {
		c.Close(reason)
		<-writerDone
		return
	}
	if err := h.opts.Sessions.Connect(sess, c); err != nil {
		c.Close(err.Error())
		<-writerDone
		return
	}
	log.Info("websocket connected", "remote", r.RemoteAddr)
	// Broadcasts may reach the connection as soon as it is attached (its
	// own session/state among them); system/init must still come first.
	c.prime(h.initMessages(sess))
	for _, fn := range h.opts.OnConnect {
		fn(sess)
	}

	abrupt := h.readLoop(ctx, sess, c, log)
	c.Close("")
	<-writerDone
	if abrupt && h.opts.DisconnectGrace > 0 && ctx.Err() == nil {
		// Disconnect does nothing once a new socket replaced this one.
		log.Info("websocket lost; the session waits for a reconnect", "grace", h.opts.DisconnectGrace)
		time.AfterFunc(h.opts.DisconnectGrace, func() { h.opts.Sessions.Disconnect(sess, c) })
		return
	}
	h.opts.Sessions.Disconnect(sess, c)
	log.Info("websocket disconnected")
}

func (h *Handler) authenticate(r *http.Request) (*session.Session, string) {
	token := session.TokenFromRequest(r, h.opts.CookieName)
	s, ok := h.opts.Sessions.Authenticate(token)
	switch {
	case !ok:
		return nil, "invalid or missing credentials"
	case s.APIOnly():
		return nil, "the API token cannot connect"
	case !s.Profile().CanLogin:
		return nil, "login is disabled for this session"
	case !s.Profile().CanConnect:
		return nil, "not allowed to connect"
	}
	return s, ""
}

// readLoop dispatches the client's messages until the socket ends; abrupt
// is an end without a close from either side (the network went away).
func (h *Handler) readLoop(ctx context.Context, s *session.Session, c *conn, log *slog.Logger) (abrupt bool) {
	// Read returns once the writer closes the socket after c.Close.
	limiter := rate.NewLimiter(msgRate, msgBurst)
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				return false
			}
			log.Debug("websocket read ended", "err", err)
			select {
			case <-c.done:
				// Closed on purpose (a reason was given, or cut for
				// falling behind), or by a write that failed on the same
				// broken socket.
				return c.reason == "" && !c.cut.Load()
			default:
				return true
			}
		}
		select {
		case <-c.done:
			return false
		default:
		}
		if typ != websocket.MessageText {
			log.Debug("ignoring binary websocket message")
			continue
		}
		if !limiter.Allow() {
			log.Debug("websocket message rate exceeded, dropping")
			h.opts.Metrics.drop()
			continue
		}
		h.dispatch(s, data, log)
	}
}

func (h *Handler) dispatch(s *session.Session, data []byte, log *slog.Logger) {
	var msg types.Message
	if err := json.Unmarshal(data, &msg); err != nil {
		log.Debug("malformed websocket message", "err", err)
		h.opts.Metrics.drop()
		return
	}
	fn, ok := h.handlers[msg.Event]
	if !ok {
		log.Debug("unknown websocket event", "event", msg.Event)
		h.opts.Metrics.eventIn("unknown")
		h.opts.Metrics.drop()
		return
	}
	h.opts.Metrics.eventIn(string(msg.Event))
	defer func() {
		// A handler bug must cost one message, not the connection.
		if r := recover(); r != nil {
			log.Error("websocket handler panic", "event", msg.Event, "panic", fmt.Sprint(r))
		}
	}()
	if err := fn(s, msg.Payload); err != nil {
		log.Debug("websocket event refused", "event", msg.Event, "err", err)
		h.opts.Metrics.drop()
	}
}

func (h *Handler) sendInit(s *session.Session) {
	for _, raw := range h.initMessages(s) {
		s.SendRaw(raw)
	}
}

// initMessages are system/init and, for admins, system/admin.
func (h *Handler) initMessages(s *session.Session) [][]byte {
	sessions := map[string]types.SessionData{}
	for _, other := range h.opts.Sessions.List() {
		sessions[other.ID()] = other.Data()
	}
	init := types.SystemInit{
		SessionID:         s.ID(),
		ControlHost:       session.ControlHost(h.opts.Sessions.Host()),
		ScreenSize:        h.screen(),
		Sessions:          sessions,
		Settings:          h.opts.Sessions.Settings(),
		TouchEvents:       h.opts.Desktop != nil && h.opts.Desktop.TouchEvents(),
		ScreencastEnabled: h.opts.ScreencastEnabled,
		WebRTC:            types.SystemWebRTC{Videos: h.opts.Videos},
	}
	if init.WebRTC.Videos == nil {
		init.WebRTC.Videos = []string{}
	}
	var out [][]byte
	add := func(ev types.Event, payload any) {
		if raw, err := session.Marshal(ev, payload); err == nil {
			out = append(out, raw)
		}
	}
	add(types.EventSystemInit, init)
	if s.Profile().IsAdmin {
		var sizes []types.ScreenSize
		if h.opts.Screens != nil {
			sizes = h.opts.Screens()
		}
		if sizes == nil {
			sizes = []types.ScreenSize{}
		}
		admin := types.SystemAdmin{ScreenSizesList: sizes}
		if h.opts.Broadcast != nil {
			admin.BroadcastStatus = h.opts.Broadcast()
		}
		add(types.EventSystemAdmin, admin)
	}
	return out
}

func (h *Handler) screen() types.ScreenSize {
	if h.opts.Screen == nil {
		return types.ScreenSize{}
	}
	return h.opts.Screen()
}
