package app

import (
	"context"
	"maps"
	"net/http"
	"slices"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/capture"
	"github.com/neko-webrtc/neko/internal/legacy"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// legacyRoutes builds the v2 bridge (legacy mode) and returns the route
// that serves it at /ws, beside /api (an extra API route). The bridge runs
// v2 clients' events through core, the v3 WebSocket handler, and logs
// them in with members.
func (a *App) legacyRoutes(ctx context.Context, core *websocket.Handler, members legacy.Members) func(*http.ServeMux, *api.API) {
	cfg := a.cfg
	// locks=file_transfer: the file transfer plugin reads this room setting.
	if cfg.Legacy.FileTransferLocked {
		a.sessions.UpdateSettings(nil, func(s *types.Settings) {
			plugins := maps.Clone(s.Plugins)
			if plugins == nil {
				plugins = map[string]any{}
			}
			plugins[types.PluginFileTransferEnabled] = false
			s.Plugins = plugins
		})
	}
	video := ""
	if slices.Contains(a.webrtc.VideoIDs(), capture.LegacyID) {
		video = capture.LegacyID
	}
	h := legacy.New(ctx, legacy.Options{
		Sessions:       a.sessions,
		Members:        members,
		Core:           core,
		Broadcast:      legacyBroadcast{a.rtmp},
		FileTransfer:   cfg.Plugins.FileTransfer.Enabled,
		Video:          video,
		OriginPatterns: originPatterns(cfg.Server.CORS),
		Logger:         a.log.With("component", "legacy"),
	})
	return h.Register
}

// legacyBroadcast lets v2 admins start and stop the RTMP broadcast
// (broadcast/create, broadcast/destroy); status changes reach them as the
// v3 broadcast/status the bridge translates.
type legacyBroadcast struct{ b *capture.Broadcast }

func (l legacyBroadcast) StartBroadcast(url string) error { return l.b.Start(url) }
func (l legacyBroadcast) StopBroadcast() error            { return l.b.Stop() }
