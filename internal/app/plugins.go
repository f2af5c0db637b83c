package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/plugins/chat"
	"github.com/neko-webrtc/neko/internal/plugins/filetransfer"
	"github.com/neko-webrtc/neko/internal/plugins/openinapp"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// plugins builds the built-in plugins from a.cfg.Plugins and starts their
// background work under ctx. The built-ins are always there, each
// honouring its own enabled option (a disabled one still sends its init
// event saying so, as the reference does). display is the X display the
// open-in-app command runs on. A plugin that cannot start is skipped
// with an error logged, or fails the start when plugins.required is set.
func (a *App) plugins(ctx context.Context, display string) (map[types.Event]websocket.HandlerFunc, []func(*session.Session), []func(*http.ServeMux, *api.API), error) {
	cfg := a.cfg.Plugins
	log := a.log.With("component", "plugins")
	if err := plugins.CheckDir(cfg.Enabled, cfg.Required, cfg.Dir, log); err != nil {
		return nil, nil, nil, err
	}

	var set plugins.Set
	ft, err := filetransfer.New(filetransfer.Options{
		Enabled:         cfg.FileTransfer.Enabled,
		Dir:             cfg.FileTransfer.Dir,
		RefreshInterval: cfg.FileTransfer.RefreshInterval,
		UserDownload:    cfg.FileTransfer.UserDownload,
		UserUpload:      cfg.FileTransfer.UserUpload,
		UserDelete:      cfg.FileTransfer.UserDelete,
		Sessions:        a.sessions,
		Logger:          log.With("plugin", filetransfer.Name),
	})
	switch {
	case err != nil && cfg.Required:
		return nil, nil, nil, fmt.Errorf("app: %w", err)
	case err != nil:
		log.Error("file transfer plugin not started", "err", err)
	default:
		set = append(set, ft)
	}
	set = append(set,
		chat.New(chat.Options{
			Enabled:  cfg.Chat.Enabled,
			Sessions: a.sessions,
			Logger:   log.With("plugin", chat.Name),
		}),
		openinapp.New(openinapp.Options{
			Enabled:  cfg.OpenInApp.Enabled,
			Command:  cfg.OpenInApp.OpenCommand,
			Display:  display,
			Context:  ctx,
			Sessions: a.sessions,
			Logger:   log.With("plugin", openinapp.Name),
		}),
	)

	handlers, err := set.Handlers()
	if err != nil {
		return nil, nil, nil, err
	}
	go set.Run(ctx)
	return handlers, set.OnConnect(), set.Routes(), nil
}
