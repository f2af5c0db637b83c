// Package legacy is the v2 compatibility layer: it serves the v2
// WebSocket (/ws) and translates, in-process, between v2 messages and the
// v3 core. A v2 client logs in with ?username=&password= on the socket; the
// bridge gives it a normal v3 session whose connection is a translator, so
// v2 and v3 users see each other's actions. Client messages become v3
// events run through the v3 handlers, or manager calls where v2 has no v3
// event (the admin actions). The v2 data-channel layout is decoded by the
// datachannel sub-package.
package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Core is the v3 WebSocket layer as the bridge uses it
// (*websocket.Handler).
type Core interface {
	// Dispatch runs one v3 client event of s through the v3 handlers.
	Dispatch(s *session.Session, event types.Event, payload json.RawMessage) error
	// Connected sends what a new v3 connection receives first.
	Connected(s *session.Session)
	// ScreenSize is the current screen size; ScreenSizes those offered.
	ScreenSize() types.ScreenSize
	ScreenSizes() []types.ScreenSize
}

// Members checks credentials (member.Provider).
type Members interface {
	Authenticate(username, password string) (id string, profile types.MemberProfile, err error)
}

// Broadcaster starts and stops the RTMP broadcast (v2 broadcast/create and
// broadcast/destroy); it reports changes itself with broadcast/status.
type Broadcaster interface {
	StartBroadcast(url string) error
	StopBroadcast() error
}

// Options wire the bridge to the core.
type Options struct {
	Sessions *session.Manager
	Members  Members
	Core     Core
	// Broadcast is optional; without it broadcast/* is refused.
	Broadcast Broadcaster
	// FileTransfer is filetransfer.enabled (system/init's file_transfer).
	FileTransfer bool
	// Video is the video id v2 clients request ("" for the default); a
	// stream with the cursor drawn in suits them, they cannot draw it.
	Video string
	// OriginPatterns are extra allowed Origin hosts (server.cors), as for
	// /api/ws; same-origin upgrades are always allowed.
	OriginPatterns []string
	Logger         *slog.Logger
}

// Handler serves /ws.
type Handler struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context

	mu     sync.Mutex
	ips    map[string]string // session id → client IP, for admin/ban
	banned map[string]string // IP → the admin's session that banned it
	acts   map[string]string // action/target → actor, while the bridge acts
	kicks  map[string]bool   // sessions an admin is kicking
}

const (
	readLimit = 1 << 20
	msgRate   = 1000
	msgBurst  = 2000
)

// New builds the handler; ctx ends every connection when cancelled.
func New(ctx context.Context, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{opts: opts, log: opts.Logger, ctx: ctx,
		ips: map[string]string{}, banned: map[string]string{}, acts: map[string]string{}, kicks: map[string]bool{}}
}

// Register adds the v2 routes to mux, the API's (extra routes): the
// WebSocket at /ws, and the HTTP routes of http.go, which answer through
// a's error format and reach the v3 endpoints through mux.
func (h *Handler) Register(mux *http.ServeMux, a *api.API) {
	mux.Handle("GET /ws", h)
	h.registerHTTP(mux, a)
}

// Disconnect reasons and titles the v2 client shows.
const (
	titleLogin  = "couldn't create a new session"
	titleBanned = "banned ip"
	titleError  = "backend response error"
	reasonKick  = "kicked" // the v2 client logs out on this exact message
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		h.log.Debug("legacy websocket upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(readLimit)
	c := newConn(ws, h.log)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()
	defer func() { <-writerDone }()

	// Like the reference, upgrade first and explain a refusal in-band.
	ip := clientIP(r)
	if h.isBanned(ip) {
		c.closeWith(&msgSystem{Event: EventSystemDisconnect, Title: titleBanned, Message: "you are banned"})
		return
	}
	q := r.URL.Query()
	s, owned, err := h.login(q.Get("username"), q.Get("password"))
	if err != nil {
		c.closeWith(&msgSystem{Event: EventSystemDisconnect, Title: titleLogin, Message: err.Error()})
		return
	}
	log := h.log.With("session_id", s.ID())
	c.mu.Lock()
	c.log = log
	c.tr = newTranslator(s.ID(), s.Profile().Name, h.opts.FileTransfer, h.actor)
	c.mu.Unlock()

	c.beginInitial()
	if err := h.opts.Sessions.Connect(s, c); err != nil {
		c.closeWith(&msgSystem{Event: EventSystemDisconnect, Title: titleLogin, Message: err.Error()})
		if owned {
			_ = h.opts.Sessions.Delete(s.ID())
		}
		return
	}
	h.mu.Lock()
	h.ips[s.ID()] = ip
	h.mu.Unlock()
	log.Info("legacy websocket connected", "remote", r.RemoteAddr)

	h.opts.Core.Connected(s)
	c.flushInitial()
	// v2 clients never ask for media: the server offers it at once.
	if err := h.opts.Core.Dispatch(s, types.EventSignalRequest, h.signalRequest()); err != nil {
		log.Debug("legacy: no media for this session", "err", err)
	}

	cl := &client{h: h, s: s, c: c, log: log}
	h.readLoop(ctx, cl)
	c.Close("")
	<-writerDone
	h.mu.Lock()
	delete(h.ips, s.ID())
	kicked := h.kicks[s.ID()]
	h.mu.Unlock()
	if kicked {
		log.Info("legacy websocket kicked")
		return
	}
	h.opts.Sessions.Disconnect(s, c)
	// A v2 login lasts as long as its socket, as with the reference's
	// bridge (which logs out); a session it found existing stays.
	if owned {
		if err := h.opts.Sessions.Delete(s.ID()); err != nil && !errors.Is(err, session.ErrNotFound) {
			log.Warn("legacy: delete session", "err", err)
		}
	}
	log.Info("legacy websocket disconnected")
}

// login authenticates with the member provider (multiuser: the password
// picks admin or user) and creates the session. owned is false when the
// member already had a session (providers with stable ids), which then
// outlives this socket.
func (h *Handler) login(username, password string) (s *session.Session, owned bool, err error) {
	id, profile, err := h.authenticate(username, password)
	if err != nil {
		return nil, false, err
	}
	if !profile.CanConnect {
		return nil, false, errors.New("not allowed to connect")
	}
	_, existed := h.opts.Sessions.Get(id)
	if s, err = h.opts.Sessions.Create(id, profile); err != nil {
		return nil, false, err
	}
	return s, !existed, nil
}

// authenticate checks credentials and the profile's right to log in (the
// socket also needs can_connect; the HTTP routes do not, as with the
// reference, which logs them in over /api/login); provider failures are
// logged, not shown.
func (h *Handler) authenticate(username, password string) (string, types.MemberProfile, error) {
	id, profile, err := h.opts.Members.Authenticate(username, password)
	switch {
	case errors.Is(err, errs.ErrInvalidCredentials), errors.Is(err, errs.ErrUsernameRequired):
		return "", types.MemberProfile{}, err
	case err != nil:
		h.log.Error("legacy: member provider failed", "err", err)
		return "", types.MemberProfile{}, errors.New("login failed")
	}
	if !profile.CanLogin {
		return "", types.MemberProfile{}, errors.New("login is not allowed for this member")
	}
	return id, profile, nil
}

func (h *Handler) signalRequest() json.RawMessage {
	req := types.SignalRequest{}
	if h.opts.Video != "" {
		req.Video.Selector = &types.VideoSelector{ID: h.opts.Video, Type: "exact"}
	}
	raw, _ := json.Marshal(req)
	return raw
}

func (h *Handler) readLoop(ctx context.Context, cl *client) {
	limiter := rate.NewLimiter(msgRate, msgBurst)
	for {
		typ, data, err := cl.c.ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, context.Canceled) {
				cl.log.Debug("legacy websocket read ended", "err", err)
			}
			return
		}
		select {
		case <-cl.c.done:
			return
		default:
		}
		if typ != websocket.MessageText || !limiter.Allow() {
			continue
		}
		cl.handle(data)
	}
}

// act runs fn, recording that actor performs action on target while it
// runs: the v3 events fn broadcasts are translated during fn, and v2
// names the actor where v3 does not.
func (h *Handler) act(action, target, actor string, fn func() error) error {
	key := action + "/" + target
	h.mu.Lock()
	h.acts[key] = actor
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.acts, key)
		h.mu.Unlock()
	}()
	return fn()
}

func (h *Handler) actor(action, target string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acts[action+"/"+target]
}

func (h *Handler) setKicking(id string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		h.kicks[id] = true
	} else {
		delete(h.kicks, id)
	}
}

func (h *Handler) isBanned(ip string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.banned[ip]
	return ok
}

// ban refuses further v2 logins from the session's address (in memory, as
// the reference does).
func (h *Handler) ban(id, by string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ip, ok := h.ips[id]
	if !ok {
		return session.ErrNotFound
	}
	h.banned[ip] = by
	return nil
}

// bannedBy is a copy of the bans: IP → who banned it.
func (h *Handler) bannedBy() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.banned)
}

// clientIP is the request's address without the port (RemoteAddr is
// already the forwarded client when server.proxy is on).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
