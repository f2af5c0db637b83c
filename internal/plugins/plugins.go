// Package plugins is the small framework the built-in plugins (chat, file
// transfer, open-in-app; one sub-package each) plug into: a plugin brings
// its WebSocket handlers, REST routes and on-connect init events, and reads
// its permissions from the room settings and member profiles
// (permissions.go).
//
// The reference can also load external Go plugins (.so files) from
// plugins.dir; this server does not (see CheckDir).
package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Plugin is one feature wired into the WebSocket and the REST API. Each
// plugin takes its configuration in its constructor.
type Plugin interface {
	// Name is the plugin's key prefix in settings.plugins and
	// profile.plugins ("chat" for "chat.can_send").
	Name() string
	// Handlers are the client events the plugin serves.
	Handlers() map[types.Event]websocket.HandlerFunc
	// Routes registers the plugin's REST endpoints (full paths, /api/...).
	Routes(mux *http.ServeMux, a *api.API)
	// OnConnect sends the plugin's init events to a newly connected session.
	OnConnect(s *session.Session)
}

// Runner is a plugin with background work (the file list poller). Run
// returns when ctx ends.
type Runner interface {
	Run(ctx context.Context)
}

// Set is the plugins of one server, in the order their init events go out.
type Set []Plugin

// Handlers merges the WebSocket handlers of every plugin; two plugins
// claiming the same event is a programming error.
func (ps Set) Handlers() (map[types.Event]websocket.HandlerFunc, error) {
	out := map[types.Event]websocket.HandlerFunc{}
	for _, p := range ps {
		for ev, fn := range p.Handlers() {
			if _, dup := out[ev]; dup {
				return nil, fmt.Errorf("plugins: %s handles %s twice", p.Name(), ev)
			}
			out[ev] = fn
		}
	}
	return out, nil
}

// OnConnect lists the init senders for websocket.Options.OnConnect.
func (ps Set) OnConnect() []func(*session.Session) {
	out := make([]func(*session.Session), 0, len(ps))
	for _, p := range ps {
		out = append(out, p.OnConnect)
	}
	return out
}

// Routes lists the route registrars for api.Options.Extra.
func (ps Set) Routes() []func(*http.ServeMux, *api.API) {
	out := make([]func(*http.ServeMux, *api.API), 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Routes)
	}
	return out
}

// Run runs the background work of every Runner until ctx ends and returns
// once all of it has stopped.
func (ps Set) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range ps {
		if r, ok := p.(Runner); ok {
			wg.Go(func() { r.Run(ctx) })
		}
	}
	wg.Wait()
}

// Logger returns log, or the default logger when nil.
func Logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.Default()
	}
	return log
}
